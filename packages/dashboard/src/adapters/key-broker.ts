/**
 * `keyBrokerSource`: the dashboard's view of Cloister's key broker, read from its storage
 * (packages/key-broker/src/migrations.ts: kb_keys — never the `wrapped` column —, kb_audit, kb_members, kb_meta,
 * kb_proposals, kb_ballots, kb_ledger) plus the broker's public ledger-signing key. Typed structurally, so the
 * dashboard does not depend on the broker package.
 */
import type { BallotView, BrokerKeyView, GovernanceView, KeyBrokerSource, LedgerPage, ProposalView, ReleaseQuery, ReleaseRecord } from '../types.js';
import { iso, json, type SqlQueryable } from './sql.js';

export interface KeyBrokerSourceOptions {
  readonly storage: SqlQueryable;
  /** The broker's ledger-signing public JWK (GET /broker/identity's signingKey); undefined while it has no KEK. */
  readonly signingKey: () => JsonWebKey | undefined;
}

const MAX_PROPOSALS = 200;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Key Vault's KeyReleasePolicy.data is base64url of the policy JSON; shown decoded. */
function releasePolicyOf(stored: unknown): unknown {
  const p = json(stored);
  if (typeof p !== 'object' || p === null) return null;
  const data = (p as Record<string, unknown>)['data'];
  if (typeof data !== 'string') return p;
  try {
    return JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as unknown;
  } catch {
    return p;
  }
}

function timeOf(v: unknown): string | undefined {
  // Key Vault attributes carry Unix seconds.
  if (typeof v === 'number' && Number.isFinite(v)) return new Date(v * 1000).toISOString();
  return iso(v);
}

export function keyBrokerSource(o: KeyBrokerSourceOptions): KeyBrokerSource {
  const db = o.storage;
  return {
    async keys(): Promise<readonly BrokerKeyView[]> {
      // The latest version of each key. Never the wrapped key material.
      const r = await db.query<{ name: string; version: string; kty: string; key_size: number | null; crv: string | null; key_ops: unknown; attributes: unknown; release_policy: unknown }>(
        `SELECT DISTINCT ON (name) name, version, kty, key_size, crv, key_ops, attributes, release_policy FROM kb_keys ORDER BY name, seq DESC`,
      );
      return r.rows.map((k) => {
        const attrs = (json(k.attributes) ?? {}) as Record<string, unknown>;
        const ops = json(k.key_ops);
        const created = timeOf(attrs['created']);
        return {
          name: k.name,
          version: k.version,
          kty: k.kty,
          ...(k.key_size !== null ? { keySize: Number(k.key_size) } : {}),
          ...(k.crv !== null ? { crv: k.crv } : {}),
          keyOps: Array.isArray(ops) ? ops.filter((x): x is string => typeof x === 'string') : [],
          exportable: attrs['exportable'] === true,
          enabled: attrs['enabled'] !== false,
          ...(created !== undefined ? { created } : {}),
          releasePolicy: releasePolicyOf(k.release_policy),
        };
      });
    },

    async releases(q: ReleaseQuery): Promise<readonly ReleaseRecord[]> {
      const r = await db.query<{ seq: string; at: unknown; key_name: string; key_version: string | null; granted: boolean; code: string; detail: unknown }>(
        `SELECT seq::text AS seq, at, key_name, key_version, granted, code, detail FROM kb_audit
         WHERE ($1::text IS NULL OR key_name = $1) AND ($2::boolean IS NULL OR granted = $2) ORDER BY seq DESC LIMIT $3`,
        [q.key ?? null, q.granted ?? null, q.limit],
      );
      return r.rows.map((x) => {
        const d = (json(x.detail) ?? {}) as Record<string, unknown>;
        const reason = str(d['reason']);
        const rule = str(d['rule']);
        const authority = str(d['authority']) ?? str(d['iss']);
        const mrenclave = str(d['mrenclave']);
        const mrsigner = str(d['mrsigner']);
        const attestationType = str(d['attestationType']);
        return {
          id: x.seq,
          time: iso(x.at) ?? '',
          key: x.key_name,
          ...(x.key_version !== null ? { version: x.key_version } : {}),
          granted: x.granted === true,
          code: x.code,
          ...(reason !== undefined ? { reason } : {}),
          ...(rule !== undefined ? { rule } : {}),
          ...(authority !== undefined ? { authority } : {}),
          ...(mrenclave !== undefined ? { mrenclave } : {}),
          ...(mrsigner !== undefined ? { mrsigner } : {}),
          ...(attestationType !== undefined ? { attestationType } : {}),
        };
      });
    },

    async governance(): Promise<GovernanceView> {
      const members = (await db.query<{ kid: string; jwk: unknown }>('SELECT kid, jwk FROM kb_members ORDER BY kid')).rows;
      const meta = (await db.query<{ v: unknown }>("SELECT v FROM kb_meta WHERE k = 'threshold'")).rows[0];
      const threshold = Number(json(meta?.v));
      const proposals = (
        await db.query<{ id: string; proposer: string; state: string; actions: unknown; outcome: unknown; created: unknown }>(
          'SELECT id, proposer, state, actions, outcome, created FROM kb_proposals ORDER BY created DESC, id LIMIT $1',
          [MAX_PROPOSALS],
        )
      ).rows;
      const ballots = new Map<string, BallotView[]>();
      if (proposals.length > 0) {
        const b = await db.query<{ proposal: string; member: string; vote: string }>('SELECT proposal, member, vote FROM kb_ballots WHERE proposal = ANY($1) ORDER BY member', [proposals.map((p) => p.id)]);
        for (const x of b.rows) ballots.set(x.proposal, [...(ballots.get(x.proposal) ?? []), { member: x.member, vote: x.vote }]);
      }
      return {
        enabled: members.length > 0,
        ...(Number.isInteger(threshold) && threshold > 0 ? { threshold } : {}),
        members: members.map((m) => {
          const jwk = json(m.jwk) as Record<string, unknown> | null;
          // Public members only: drop anything that is not a public JWK member.
          const pub = jwk === null ? undefined : Object.fromEntries(Object.entries(jwk).filter(([k]) => ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg'].includes(k)));
          return pub === undefined ? { id: m.kid } : { id: m.kid, publicKey: pub };
        }),
        proposals: proposals.map((p): ProposalView => {
          const created = iso(p.created);
          const outcome = json(p.outcome);
          return {
            id: p.id,
            proposer: p.proposer,
            state: p.state,
            ...(created !== undefined ? { created } : {}),
            actions: json(p.actions),
            ballots: ballots.get(p.id) ?? [],
            ...(outcome !== null && outcome !== undefined ? { outcome } : {}),
          };
        }),
      };
    },

    async ledger(from: number, limit: number): Promise<LedgerPage> {
      const lines = await db.query<{ entry: string; hash: string; sig: string }>('SELECT entry, hash, sig FROM kb_ledger WHERE seq >= $1 ORDER BY seq LIMIT $2', [from, limit]);
      const total = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM kb_ledger');
      let signingKey: Readonly<Record<string, unknown>> | undefined;
      try {
        signingKey = o.signingKey() as Readonly<Record<string, unknown>> | undefined;
      } catch {
        signingKey = undefined;
      }
      const page = { lines: lines.rows.map((l) => ({ entry: l.entry, hash: l.hash, sig: l.sig })), total: Number(total.rows[0]?.n ?? '0') };
      return signingKey === undefined ? page : { ...page, signingKey: { kty: signingKey['kty'], n: signingKey['n'], e: signingKey['e'], ...(signingKey['kid'] !== undefined ? { kid: signingKey['kid'] } : {}) } };
    },
  };
}
