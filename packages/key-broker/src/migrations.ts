/** The broker's schema in the shared storage (namespace `key-broker`): one set of migrations for PGlite and PostgreSQL. */
import type { MigrationSet } from '@cloister/storage';

export const KEY_BROKER_MIGRATIONS: MigrationSet = {
  namespace: 'key-broker',
  migrations: [
    {
      id: '001-init',
      sql: `CREATE TABLE kb_keys (
  name text NOT NULL,
  version text NOT NULL,
  seq bigserial,
  kty text NOT NULL,
  key_size integer,
  crv text,
  key_ops jsonb NOT NULL,
  public_jwk jsonb NOT NULL,
  wrapped bytea NOT NULL,
  attributes jsonb NOT NULL,
  tags jsonb NOT NULL,
  release_policy jsonb,
  PRIMARY KEY (name, version)
);
CREATE INDEX kb_keys_latest ON kb_keys (name, seq);
CREATE TABLE kb_sealed (id text PRIMARY KEY, blob bytea NOT NULL, signing_kid text NOT NULL, created timestamptz NOT NULL DEFAULT now());
CREATE TABLE kb_meta (k text PRIMARY KEY, v jsonb NOT NULL);
CREATE TABLE kb_ledger (seq integer PRIMARY KEY, entry text NOT NULL, hash text NOT NULL, sig text NOT NULL);
CREATE TABLE kb_members (kid text PRIMARY KEY, jwk jsonb NOT NULL);
CREATE TABLE kb_proposals (id text PRIMARY KEY, jws text NOT NULL, actions jsonb NOT NULL, proposer text NOT NULL, state text NOT NULL, outcome jsonb, created timestamptz NOT NULL DEFAULT now());
CREATE TABLE kb_ballots (proposal text NOT NULL, member text NOT NULL, vote text NOT NULL, jws text NOT NULL, PRIMARY KEY (proposal, member));
CREATE TABLE kb_recovery_shares (member text PRIMARY KEY, share text NOT NULL, threshold integer NOT NULL);
CREATE TABLE kb_audit (seq bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), key_name text NOT NULL, key_version text, granted boolean NOT NULL, code text NOT NULL, detail jsonb NOT NULL);`,
    },
  ],
};
