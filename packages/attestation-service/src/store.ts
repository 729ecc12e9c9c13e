/**
 * Persistent state on @cloister/storage (PGlite by default, PostgreSQL for replicas; one set of migrations):
 * policies, policy-signer certificates and signing keys per instance ('' = the real instance, 'simulated'), and the
 * append-only audit log. Storage failures surface as ServiceError 503 STORAGE_UNAVAILABLE (the caller's request is
 * not at fault); every other storage failure is a 500.
 */
import { StorageError, type MigrationSet, type Queryable, type SqlValue, type Storage } from '@cloister/storage';
import { ServiceError } from '@cloister/service-kit';

export const ATTESTATION_MIGRATIONS: MigrationSet = {
  namespace: 'attestation',
  migrations: [
    {
      id: '001-initial',
      sql: `CREATE TABLE attestation_policies (
  instance text NOT NULL,
  attestation_type text NOT NULL,
  policy_jws text NOT NULL,
  policy_text text NOT NULL,
  signer jsonb,
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, attestation_type)
);
CREATE TABLE attestation_policy_certificates (
  instance text NOT NULL,
  sha256 text NOT NULL,
  certificate bytea NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance, sha256)
);
CREATE TABLE attestation_signing_keys (
  instance text NOT NULL,
  generation integer NOT NULL,
  kid text NOT NULL,
  certificate bytea NOT NULL,
  private_key bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  not_after timestamptz NOT NULL,
  retire_at timestamptz,
  PRIMARY KEY (instance, generation)
);
CREATE TABLE attestation_audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  instance text NOT NULL,
  kind text NOT NULL,
  actor text,
  attestation_type text,
  outcome text NOT NULL,
  code text,
  evidence_hash text,
  evidence bytea,
  claims jsonb,
  claims_hash text,
  tcb_status text,
  advisories jsonb,
  policy_hash text,
  steps jsonb,
  detail jsonb
);
CREATE INDEX attestation_audit_at ON attestation_audit (at);
CREATE INDEX attestation_audit_evidence ON attestation_audit (evidence_hash);`,
    },
  ],
};

/** Maps storage failures to the HTTP answer: 503 when the database is unreachable, 500 otherwise. */
export function storageFault(e: unknown): unknown {
  if (e instanceof StorageError) {
    if (e.code === 'STORAGE_UNAVAILABLE') return new ServiceError('STORAGE_UNAVAILABLE', 503, 'the database is unavailable; retry later');
    return new ServiceError('STORAGE_FAILED', 500, 'storage error');
  }
  return e;
}

export async function q<Row>(db: Queryable, sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
  try {
    return (await db.query<Row>(sql, params)).rows;
  } catch (e) {
    throw storageFault(e);
  }
}

export interface StoredPolicy {
  readonly jws: string;
  readonly text: string;
  readonly signer: Record<string, unknown> | null;
  readonly version: string;
}

export async function loadPolicy(db: Storage, instance: string, type: string): Promise<StoredPolicy | undefined> {
  const rows = await q<{ policy_jws: string; policy_text: string; signer: Record<string, unknown> | null; version: string }>(
    db,
    'SELECT policy_jws, policy_text, signer, version::text AS version FROM attestation_policies WHERE instance = $1 AND attestation_type = $2',
    [instance, type],
  );
  const r = rows[0];
  return r === undefined ? undefined : { jws: r.policy_jws, text: r.policy_text, signer: r.signer, version: r.version };
}

export interface AuditRecord {
  readonly at: Date;
  readonly instance: string;
  readonly kind: 'attestation' | 'policy' | 'certificate' | 'signing-key';
  readonly actor: string | null;
  readonly attestationType: string | null;
  readonly outcome: string;
  readonly code: string | null;
  readonly evidenceHash: string | null;
  readonly evidence: Uint8Array | null;
  readonly claims: unknown;
  /** `JSON.stringify(claims)` when the caller has it already (it is stored instead of serialising claims again). */
  readonly claimsJson?: string;
  readonly claimsHash: string | null;
  readonly tcbStatus: string | null;
  readonly advisories: readonly string[] | null;
  readonly policyHash: string | null;
  readonly steps: unknown;
  readonly detail: unknown;
}

const AUDIT_COLUMNS = 16;

const AUDIT_COLUMN_LIST = 'at, instance, kind, actor, attestation_type, outcome, code, evidence_hash, evidence, claims, claims_hash, tcb_status, advisories, policy_hash, steps, detail';
const AUDIT_INSERT = `INSERT INTO attestation_audit (${AUDIT_COLUMN_LIST}) VALUES `;

/** The VALUES list of a batch of `n` rows (batch sizes repeat: the text is built once each). */
const valuesText = new Map<number, string>();

function valuesFor(n: number): string {
  let text = valuesText.get(n);
  if (text === undefined) {
    const rows: string[] = [];
    for (let r = 0; r < n; r++) {
      const base = r * AUDIT_COLUMNS;
      rows.push(`(${Array.from({ length: AUDIT_COLUMNS }, (_, i) => `$${base + i + 1}`).join(', ')})`);
    }
    text = rows.join(', ');
    if (valuesText.size >= 1024) valuesText.clear();
    valuesText.set(n, text);
  }
  return text;
}

/**
 * One statement text for every batch size: the batch is one jsonb array parameter whose elements become rows
 * (jsonb_to_recordset); the evidence travels as base64 text the database decodes.
 */
const AUDIT_INSERT_JSONB = `INSERT INTO attestation_audit (${AUDIT_COLUMN_LIST})
SELECT at, instance, kind, actor, attestation_type, outcome, code, evidence_hash, decode(evidence, 'base64'), claims, claims_hash, tcb_status, advisories, policy_hash, steps, detail
FROM jsonb_to_recordset($1::jsonb) AS r(at timestamptz, instance text, kind text, actor text, attestation_type text, outcome text, code text,
  evidence_hash text, evidence text, claims jsonb, claims_hash text, tcb_status text, advisories jsonb, policy_hash text, steps jsonb, detail jsonb)`;

export interface InsertAuditOptions {
  /**
   * How a batch travels. 'values' (PostgreSQL, the default): a multi-row VALUES list, the evidence as a bytea
   * parameter (node-postgres sends its bytes as they are). 'jsonb' (PGlite): one jsonb parameter holding the batch —
   * PGlite parses and plans every statement anew, and a VALUES list of n rows × 16 parameters costs more to parse
   * than one jsonb document (whose claims are the JSON text the attestation already has), and it serialises a bytea
   * parameter byte by byte in JavaScript, so the evidence goes as base64 text.
   */
  readonly form?: 'values' | 'jsonb';
}

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
const bytesOf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The jsonb array of a batch (keys as the recordset's column names); each claims object is its JSON text as is. */
function batchJson(records: readonly AuditRecord[]): string {
  const j = (v: unknown): string => json(v) ?? 'null';
  const parts = records.map(
    (r) =>
      `{"at":${j(r.at.toISOString())},"instance":${j(r.instance)},"kind":${j(r.kind)},"actor":${j(r.actor)},"attestation_type":${j(r.attestationType)},` +
      `"outcome":${j(r.outcome)},"code":${j(r.code)},"evidence_hash":${j(r.evidenceHash)},"evidence":${r.evidence === null ? 'null' : `"${bytesOf(r.evidence).toString('base64')}"`},` +
      `"claims":${r.claimsJson ?? j(r.claims)},"claims_hash":${j(r.claimsHash)},"tcb_status":${j(r.tcbStatus)},"advisories":${j(r.advisories)},` +
      `"policy_hash":${j(r.policyHash)},"steps":${j(r.steps)},"detail":${j(r.detail)}}`,
  );
  return `[${parts.join(',')}]`;
}

/** Inserts records in one statement; claims are stored from their JSON text when the record has it. */
export async function insertAudit(db: Queryable, records: readonly AuditRecord[], options: InsertAuditOptions = {}): Promise<void> {
  if (records.length === 0) return;
  if (options.form === 'jsonb') {
    await db.query(AUDIT_INSERT_JSONB, [batchJson(records)]);
    return;
  }
  const params: SqlValue[] = [];
  for (const r of records) {
    params.push(
      r.at,
      r.instance,
      r.kind,
      r.actor,
      r.attestationType,
      r.outcome,
      r.code,
      r.evidenceHash,
      r.evidence === null ? null : bytesOf(r.evidence),
      r.claimsJson ?? json(r.claims),
      r.claimsHash,
      r.tcbStatus,
      json(r.advisories),
      r.policyHash,
      json(r.steps),
      json(r.detail),
    );
  }
  await db.query(`${AUDIT_INSERT}${valuesFor(records.length)}`, params);
}
