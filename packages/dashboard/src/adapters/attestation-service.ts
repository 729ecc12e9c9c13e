/**
 * `attestationServiceSource`: the dashboard's view of Cloister's attestation service, read from its storage
 * (packages/attestation-service/src/store.ts: attestation_audit, attestation_policies, attestation_signing_keys,
 * attestation_policy_certificates — never the private_key column) and its instances (policy text, draft-policy
 * replay through the instance's own `attest`, saving through its own `setPolicy`). Typed structurally, so the
 * dashboard does not depend on the service package.
 *
 * Policy keys: `SgxEnclave`, `OpenEnclave` for the real instance, `simulated:SgxEnclave`, `simulated:OpenEnclave`
 * for the simulated one (its own policies, issuer and keys).
 */
import { parseQuote, sgxClaims, unwrapEvidence } from '@cloister/dcap';
import { ServiceError } from '@cloister/service-kit';
import type {
  AttestationDetail,
  AttestationListQuery,
  AttestationOutcome,
  AttestationSource,
  AttestationSummary,
  CountBucket,
  CountsQuery,
  PolicyParseResult,
  PolicySignerView,
  PolicyTestResult,
  PolicyView,
  SigningKeyView,
  VerificationStep,
} from '../types.js';
import { certificateView } from './certificate.js';
import { iso, json, type SqlQueryable } from './sql.js';

export type AttestationInstanceName = 'real' | 'simulated';

/** What the adapter uses of an AttestationInstance (packages/attestation-service/src/instance.ts). */
export interface AttestationInstanceLike {
  policy(type: never): Promise<{ readonly text: string; readonly hash: string; readonly signer: unknown }>;
  setPolicy(type: never, jwsText: string, actor: string): Promise<string>;
  attest(type: never, req: { readonly evidence: Uint8Array; readonly draftPolicyForAttestation: string }, actor: string): Promise<string>;
}

export interface AttestationServiceSourceOptions {
  readonly storage: SqlQueryable;
  /** The instance by name (called per request: the service may still be starting). */
  readonly instance: (name: AttestationInstanceName) => AttestationInstanceLike;
  /** Whether the simulated instance exists. */
  readonly simulated: boolean;
  /** The service's policy parser (`parseMaaPolicy`): throws an error with `code`, `line`, `column`. */
  readonly parsePolicy: (text: string) => unknown;
  /** Attestation types (default SgxEnclave, OpenEnclave). */
  readonly types?: readonly string[];
  /** Offer saving policies from the dashboard (default true; the admin token is still required). */
  readonly editable?: boolean;
}

const NOT_DRAFT = "coalesce(detail->>'draftPolicy', 'false') <> 'true'";
const MAX_STEP_DETAIL = 400;

function outcomeOf(outcome: string, code: string | null): AttestationOutcome {
  if (outcome === 'issued') return 'permitted';
  if (code === 'POLICY_DENIED') return 'denied';
  return 'error';
}

function splitKey(key: string): { instance: AttestationInstanceName; type: string } {
  return key.startsWith('simulated:') ? { instance: 'simulated', type: key.slice('simulated:'.length) } : { instance: 'real', type: key };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

interface Identity {
  mrenclave?: string;
  mrsigner?: string;
  productId?: number;
  svn?: number;
  debug?: boolean;
}

/** The enclave identity in stored evidence (for refusals, which carry no claims): dcap's own quote parser. */
export function evidenceIdentity(evidence: Uint8Array): Identity {
  try {
    const quote = parseQuote(unwrapEvidence(evidence).quote);
    if (quote.body.kind !== 'sgx') return {};
    const c = sgxClaims(quote.body.report);
    return { mrenclave: c.mrenclave, mrsigner: c.mrsigner, productId: c.isvProdId, svn: c.isvSvn, debug: c.debug };
  } catch {
    return {};
  }
}

/** The evidence-rule checks of @cloister/policy: `{rule, actual, outcome, expected}` each. */
function isChecks(v: unknown): v is Record<string, unknown>[] {
  return Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'object' && c !== null && 'rule' in c && 'outcome' in c);
}

function describeStep(s: Record<string, unknown>): VerificationStep {
  const name = typeof s['step'] === 'string' ? s['step'] : typeof s['name'] === 'string' ? s['name'] : 'step';
  const rest = Object.entries(s)
    .filter(([k]) => k !== 'step' && k !== 'name' && k !== 'ok')
    .filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : isChecks(v) ? v.map((c) => `${String(c['rule'])} ${String(c['outcome'])} (${String(c['actual'])})`).join('; ') : JSON.stringify(v)}`)
    .join(', ');
  const detail = rest.length > MAX_STEP_DETAIL ? `${rest.slice(0, MAX_STEP_DETAIL - 1)}…` : rest;
  return detail === '' ? { name, ok: s['ok'] === true } : { name, ok: s['ok'] === true, detail };
}

interface AuditRow {
  id: string;
  at: unknown;
  instance: string;
  attestation_type: string | null;
  outcome: string;
  code: string | null;
  tcb_status: string | null;
  advisories: unknown;
  mrenclave: string | null;
  mrsigner: string | null;
  product_id: string | null;
  svn: string | null;
  debug: string | null;
  evidence: Uint8Array | null;
}

function summary(r: AuditRow): AttestationSummary {
  const claimed: Identity = {};
  const mrenclave = str(r.mrenclave);
  if (mrenclave !== undefined) claimed.mrenclave = mrenclave;
  const mrsigner = str(r.mrsigner);
  if (mrsigner !== undefined) claimed.mrsigner = mrsigner;
  const productId = num(r.product_id);
  if (productId !== undefined) claimed.productId = productId;
  const svn = num(r.svn);
  if (svn !== undefined) claimed.svn = svn;
  const debug = bool(r.debug);
  if (debug !== undefined) claimed.debug = debug;
  const id = claimed.mrenclave === undefined && r.evidence !== null ? evidenceIdentity(new Uint8Array(r.evidence)) : claimed;
  const advisories = json(r.advisories);
  return {
    id: r.id,
    time: iso(r.at) ?? '',
    type: r.attestation_type ?? 'unknown',
    outcome: outcomeOf(r.outcome, r.code),
    ...(r.code !== null ? { code: r.code } : {}),
    simulated: r.instance === 'simulated',
    ...id,
    ...(r.tcb_status !== null ? { tcbStatus: r.tcb_status } : {}),
    advisoryIds: Array.isArray(advisories) ? advisories.filter((a): a is string => typeof a === 'string') : [],
  };
}

const SUMMARY_COLUMNS = `id::text AS id, at, instance, attestation_type, outcome, code, tcb_status, advisories,
  claims->>'x-ms-sgx-mrenclave' AS mrenclave, claims->>'x-ms-sgx-mrsigner' AS mrsigner,
  claims->>'x-ms-sgx-product-id' AS product_id, claims->>'x-ms-sgx-svn' AS svn, claims->>'x-ms-sgx-is-debuggable' AS debug,
  CASE WHEN claims IS NULL THEN evidence END AS evidence`;

export function attestationServiceSource(o: AttestationServiceSourceOptions): AttestationSource {
  const types = o.types ?? ['SgxEnclave', 'OpenEnclave'];
  const keys = [...types, ...(o.simulated ? types.map((t) => `simulated:${t}`) : [])];
  const db = o.storage;

  const policy = async (key: string): Promise<PolicyView | undefined> => {
    const { instance, type } = splitKey(key);
    if (!types.includes(type)) return undefined;
    const p = await o.instance(instance).policy(type as never);
    const rows = await db.query<{ version: string; updated_at: unknown }>(
      'SELECT version::text AS version, updated_at FROM attestation_policies WHERE instance = $1 AND attestation_type = $2',
      [instance === 'real' ? '' : 'simulated', type],
    );
    const row = rows.rows[0];
    const signer = p.signer as Record<string, unknown> | null;
    const signerName = signer === null || signer === undefined ? undefined : str(signer['kid']) ?? (Array.isArray(signer['x5c']) ? 'x5c certificate' : undefined);
    return {
      type: key,
      text: p.text,
      signed: signer !== null && signer !== undefined,
      ...(signerName !== undefined ? { signer: signerName } : {}),
      hash: p.hash,
      ...(row !== undefined ? { version: row.version } : {}),
      ...(row !== undefined && iso(row.updated_at) !== undefined ? { updated: iso(row.updated_at)! } : {}),
      isDefault: row === undefined,
    };
  };

  const parsePolicy = async (_key: string, text: string): Promise<PolicyParseResult> => {
    try {
      o.parsePolicy(text);
      return { ok: true };
    } catch (e) {
      const x = e as { code?: unknown; line?: unknown; column?: unknown; message?: unknown };
      if (typeof x.line !== 'number' || typeof x.column !== 'number') throw e;
      const message = typeof x.message === 'string' ? x.message.replace(/ \(line \d+, column \d+\)$/, '') : 'syntax error';
      return { ok: false, problem: { code: typeof x.code === 'string' ? x.code : 'POLICY_SYNTAX', message, line: x.line, column: x.column } };
    }
  };

  const source: AttestationSource = {
    policyTypes: () => keys,

    async list(q: AttestationListQuery): Promise<readonly AttestationSummary[]> {
      const where = ["kind = 'attestation'", NOT_DRAFT];
      const params: (string | number | boolean)[] = [];
      const add = (sql: string, v: string | number | boolean): void => {
        params.push(v);
        where.push(sql.replace('?', `$${params.length}`));
      };
      const f = q.filters;
      if (f.type !== undefined) add('attestation_type = ?', f.type);
      if (f.tcbStatus !== undefined) add('tcb_status = ?', f.tcbStatus);
      if (f.simulated !== undefined) add('instance = ?', f.simulated ? 'simulated' : '');
      if (f.outcome === 'permitted') where.push("outcome = 'issued'");
      if (f.outcome === 'denied') where.push("outcome <> 'issued' AND code = 'POLICY_DENIED'");
      if (f.outcome === 'error') where.push("outcome <> 'issued' AND code IS DISTINCT FROM 'POLICY_DENIED'");
      if (q.before !== undefined && /^\d{1,18}$/.test(q.before)) add('id < ?::bigint', q.before);
      params.push(q.limit);
      const r = await db.query<AuditRow>(`SELECT ${SUMMARY_COLUMNS} FROM attestation_audit WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`, params);
      return r.rows.map(summary);
    },

    async get(id: string): Promise<AttestationDetail | undefined> {
      if (!/^\d{1,18}$/.test(id)) return undefined;
      const r = await db.query<AuditRow & { claims: unknown; steps: unknown; detail: unknown; evidence_hash: string | null; claims_hash: string | null; policy_hash: string | null; kept: boolean; actor: string | null }>(
        `SELECT ${SUMMARY_COLUMNS}, claims, steps, detail, evidence_hash, claims_hash, policy_hash, evidence IS NOT NULL AS kept, actor
         FROM attestation_audit WHERE id = $1::bigint AND kind = 'attestation'`,
        [id],
      );
      const row = r.rows[0];
      if (row === undefined) return undefined;
      const claims = json(row.claims);
      const steps = json(row.steps);
      const detail = json(row.detail);
      return {
        ...summary(row),
        claims: typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null,
        steps: Array.isArray(steps) ? steps.filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null).map(describeStep) : [],
        ...(row.evidence_hash !== null ? { evidenceHash: row.evidence_hash } : {}),
        ...(row.claims_hash !== null ? { claimsHash: row.claims_hash } : {}),
        ...(row.policy_hash !== null ? { policyHash: row.policy_hash } : {}),
        evidenceRetained: row.kept === true,
        detail: { client: row.actor, ...(typeof detail === 'object' && detail !== null ? detail : {}) },
      };
    },

    async counts(q: CountsQuery): Promise<readonly CountBucket[]> {
      const r = await db.query<{ b: string; attestation_type: string | null; tcb_status: string | null; outcome: string; code: string | null; n: number | string }>(
        `SELECT floor(extract(epoch FROM at) / $3)::bigint::text AS b, attestation_type, tcb_status, outcome, code, count(*) AS n
         FROM attestation_audit WHERE kind = 'attestation' AND ${NOT_DRAFT} AND at >= $1 AND at < $2
         GROUP BY 1, 2, 3, 4, 5`,
        [q.since, q.until, q.bucketSeconds],
      );
      const size = q.bucketSeconds * 1000;
      const n = Math.ceil((q.until.getTime() - q.since.getTime()) / size);
      const buckets = Array.from({ length: n }, (_, i) => ({ start: new Date(q.since.getTime() + i * size).toISOString(), byOutcome: {} as Record<string, number>, byTcbStatus: {} as Record<string, number>, byType: {} as Record<string, number> }));
      for (const row of r.rows) {
        const b = buckets[Math.floor((Number(row.b) * q.bucketSeconds * 1000 - q.since.getTime()) / size)];
        if (b === undefined) continue;
        const count = Number(row.n);
        const outcome = outcomeOf(row.outcome, row.code);
        b.byOutcome[outcome] = (b.byOutcome[outcome] ?? 0) + count;
        const tcb = row.tcb_status ?? 'not verified';
        b.byTcbStatus[tcb] = (b.byTcbStatus[tcb] ?? 0) + count;
        const type = row.attestation_type ?? 'unknown';
        b.byType[type] = (b.byType[type] ?? 0) + count;
      }
      return buckets;
    },

    policy,
    parsePolicy,

    async testPolicy(key: string, text: string, attestationId: string): Promise<PolicyTestResult> {
      const parsed = await parsePolicy(key, text);
      if (!parsed.ok) return { outcome: 'error', code: parsed.problem.code, message: parsed.problem.message, problem: parsed.problem };
      const { instance, type } = splitKey(key);
      if (!/^\d{1,18}$/.test(attestationId)) return { outcome: 'error', code: 'NOT_FOUND', message: 'no such attestation' };
      const r = await db.query<{ instance: string; attestation_type: string | null; evidence: Uint8Array | null }>(
        "SELECT instance, attestation_type, evidence FROM attestation_audit WHERE id = $1::bigint AND kind = 'attestation'",
        [attestationId],
      );
      const row = r.rows[0];
      if (row === undefined) return { outcome: 'error', code: 'NOT_FOUND', message: 'no such attestation' };
      if (row.evidence === null) return { outcome: 'error', code: 'EVIDENCE_NOT_RETAINED', message: 'the evidence of this attestation is no longer kept (retention)' };
      if (row.attestation_type !== type || row.instance !== (instance === 'real' ? '' : 'simulated')) {
        return { outcome: 'error', code: 'WRONG_ATTESTATION', message: `this attestation was made with ${row.instance === 'simulated' ? 'simulated:' : ''}${row.attestation_type ?? '?'}, not ${key}` };
      }
      try {
        const token = await o.instance(instance).attest(type as never, { evidence: new Uint8Array(row.evidence), draftPolicyForAttestation: text }, 'dashboard (draft policy)');
        const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
        const issued = payload['x-ms-policy'];
        return { outcome: 'permitted', claims: typeof issued === 'object' && issued !== null ? (issued as Record<string, unknown>) : {} };
      } catch (e) {
        if (!(e instanceof ServiceError) && typeof (e as { code?: unknown }).code !== 'string') throw e;
        const code = String((e as { code: unknown }).code);
        const message = e instanceof Error ? e.message : 'refused';
        return { outcome: code === 'POLICY_DENIED' ? 'denied' : 'error', code, message };
      }
    },

    async signingKeys(): Promise<readonly SigningKeyView[]> {
      // Never the private_key column.
      const r = await db.query<{ instance: string; generation: number; kid: string; certificate: Uint8Array; created_at: unknown; retire_at: unknown }>(
        'SELECT instance, generation, kid, certificate, created_at, retire_at FROM attestation_signing_keys ORDER BY instance, generation DESC',
      );
      const now = Date.now();
      return r.rows.map((k) => {
        const retire = iso(k.retire_at);
        const cert = certificateView(new Uint8Array(k.certificate));
        return {
          kid: k.kid,
          instance: k.instance === 'simulated' ? 'simulated' : 'real',
          alg: 'RS256',
          status: retire === undefined ? 'active' : Date.parse(retire) > now ? 'retiring' : 'retired',
          created: iso(k.created_at) ?? '',
          ...(cert !== undefined ? { certificate: cert } : {}),
        };
      });
    },

    async policySigners(): Promise<readonly PolicySignerView[]> {
      const r = await db.query<{ instance: string; certificate: Uint8Array; added_at: unknown }>('SELECT instance, certificate, added_at FROM attestation_policy_certificates ORDER BY instance, added_at');
      const out: PolicySignerView[] = [];
      for (const s of r.rows) {
        const cert = certificateView(new Uint8Array(s.certificate));
        if (cert === undefined) continue;
        const added = iso(s.added_at);
        out.push({ instance: s.instance === 'simulated' ? 'simulated' : 'real', ...(added !== undefined ? { added } : {}), certificate: cert });
      }
      return out;
    },
  };
  if (o.editable !== false) {
    source.setPolicy = async (key: string, text: string): Promise<PolicyView> => {
      const { instance, type } = splitKey(key);
      // An unsigned StoredAttestationPolicy JWS (RFC 7515 with alg none, as MAA's SDK sends unsigned policies).
      const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
      const payload = Buffer.from(JSON.stringify({ AttestationPolicy: Buffer.from(text, 'utf8').toString('base64url') })).toString('base64url');
      await o.instance(instance).setPolicy(type as never, `${header}.${payload}.`, 'admin (dashboard)');
      const v = await policy(key);
      if (v === undefined) throw new ServiceError('NOT_FOUND', 404, 'no policy for this attestation type');
      return v;
    };
  }
  return source;
}
