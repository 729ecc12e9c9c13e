/**
 * Trustee KBS protocol (confidential-containers/trustee kbs/docs/kbs_attestation_protocol.md, RCAR), for
 * Confidential Containers clients, over the broker's keys and release policies:
 *
 * 1. `POST /kbs/v0/auth` `{"version":"0.4.0","tee":"sgx","extra-params":…}` → `{"nonce":<base64 32 bytes>,
 *    "extra-params":""}` and `Set-Cookie: kbs-session-id=…`. Only version 0.4.0 and tee `sgx` are served.
 * 2. `POST /kbs/v0/attest` (cookie) `{"runtime-data":{"nonce","tee-pubkey"},"tee-evidence":{"quote":<base64>}}`:
 *    the nonce must be the session's; the SGX quote is verified here (@cloister/dcap, collateral, evidence rules of
 *    @cloister/policy) and its REPORTDATA must start with SHA-384 (Trustee's hash) or SHA-256 of the runtime data as
 *    canonical JSON (sorted keys, as serde_json writes a json! value), zero-padded. → `{"token":<JWT>}` signed by
 *    the broker's key (RS256), claims `iss: "kbs"`, `exp`, `iat`, `tee-pubkey` and the SGX claims under their MAA
 *    names (`x-ms-sgx-mrenclave`, …).
 * 3. `GET /kbs/v0/resource/<repository>/<type>/<tag>` (cookie, or `Authorization: Bearer <that token>`): the key
 *    named `<repository>-<type>-<tag>`, if its release policy accepts the claims under authority `kbs`; answered as
 *    a flattened JWE to `tee-pubkey` made inside the enclave.
 *
 * Errors are RFC 7807-style `{"type":"https://github.com/confidential-containers/kbs/errors/<Type>","detail"}`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { jwtVerify, importJWK } from 'jose';
import { QuoteVerifier, parseQuote, unwrapEvidence, trustAnchorFromCertificate, type TrustAnchor } from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import { enclaveIdentity, evaluateEvidenceRules, parseEvidenceRules, type EvidenceRulesInput } from '@cloister/policy';
import { readJson } from '@cloister/service-kit';
import type { KeyBroker } from './broker.js';
import { canonicalJson } from './canonical.js';
import { KeyBrokerError } from './errors.js';

export const KBS_VERSION = '0.4.0';
export const KBS_ISSUER = 'kbs';
const ERROR_TYPE = 'https://github.com/confidential-containers/kbs/errors/';
const COOKIE = 'kbs-session-id';
const MAX_BODY = 128 * 1024;

export interface KbsOptions {
  /** Collateral for a quote (a PCCS client, or the simulated platform's bundle). */
  readonly collateral: (quote: Uint8Array) => Promise<object>;
  /** PCK trust roots (PEM); default Intel's root. */
  readonly trustRootsPem?: readonly string[];
  /** @cloister/policy evidence rules (allowDebug, acceptedTcbStatuses, allowSimulated, …). */
  readonly evidenceRules?: EvidenceRulesInput;
  readonly sessionTtlMs?: number;
  readonly maxSessions?: number;
  /** Lifetime of the attestation-results token (default 300 s). */
  readonly tokenLifetimeSec?: number;
}

interface Session {
  readonly nonce: string;
  readonly expires: number;
  claims?: Record<string, unknown>;
  teePubkey?: JsonWebKey;
}

class KbsError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, status: number, detail: string) {
    super(detail);
    this.type = type;
    this.status = status;
  }
}

function problem(c: Context, e: unknown): Response {
  if (e instanceof KbsError) return c.json({ type: `${ERROR_TYPE}${e.type}`, detail: e.message }, e.status as 400);
  if (e instanceof KeyBrokerError) {
    const type = e.code === 'KeyNotFound' ? 'ResourceNotFound' : e.code === 'ReleasePolicyNotSatisfied' ? 'PolicyDeny' : e.status === 503 ? 'ServiceUnavailable' : e.status >= 500 ? 'InternalError' : 'InvalidRequest';
    const status = e.code === 'ReleasePolicyNotSatisfied' || e.code === 'KeyNotExportable' ? 403 : e.status;
    return c.json({ type: `${ERROR_TYPE}${type}`, detail: e.message, ...(e.details ?? {}) }, status as 400);
  }
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.length > 0) return c.json({ type: `${ERROR_TYPE}AttestationFailed`, detail: `${code}: ${(e as Error).message}`.slice(0, 400) }, 401);
  return c.json({ type: `${ERROR_TYPE}InternalError`, detail: 'internal error' }, 500);
}

function cookie(c: Context): string | undefined {
  const h = c.req.header('cookie');
  if (h === undefined) return undefined;
  for (const part of h.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === COOKIE && v !== undefined && /^[0-9a-f]{32}$/.test(v)) return v;
  }
  return undefined;
}

function evidenceQuote(ev: unknown): Uint8Array {
  let v = ev;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new KbsError('InvalidRequest', 400, 'tee-evidence is not JSON');
    }
  }
  if (typeof v === 'object' && v !== null && 'primary_evidence' in v) v = (v as { primary_evidence: unknown }).primary_evidence;
  const q = (v as { quote?: unknown } | null)?.quote;
  if (typeof q !== 'string' || q.length > 64 * 1024) throw new KbsError('InvalidRequest', 400, 'tee-evidence must be {"quote": base64 SGX quote}');
  return new Uint8Array(Buffer.from(q.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

function teePubkeyOf(v: unknown): JsonWebKey {
  const k = v as Record<string, unknown> | null;
  if (typeof k !== 'object' || k === null) throw new KbsError('InvalidRequest', 400, 'runtime-data.tee-pubkey must be a JWK');
  if (k['kty'] === 'RSA' && typeof k['n'] === 'string' && typeof k['e'] === 'string') return { kty: 'RSA', n: k['n'], e: k['e'], alg: 'RSA-OAEP-256' };
  if (k['kty'] === 'EC' && typeof k['crv'] === 'string' && typeof k['x'] === 'string' && typeof k['y'] === 'string') return { kty: 'EC', crv: k['crv'], x: k['x'], y: k['y'], alg: 'ECDH-ES+A256KW' };
  throw new KbsError('InvalidRequest', 400, 'tee-pubkey must be an RSA (n, e) or EC (crv, x, y) JWK');
}

export function addKbsRoutes(app: Hono, broker: KeyBroker, o: KbsOptions): void {
  const sessions = new Map<string, Session>();
  const ttl = o.sessionTtlMs ?? 300_000;
  const maxSessions = o.maxSessions ?? 10_000;
  const rules = parseEvidenceRules(o.evidenceRules ?? {});
  const anchors: TrustAnchor[] | undefined = o.trustRootsPem !== undefined && o.trustRootsPem.length > 0 ? o.trustRootsPem.map((p) => trustAnchorFromCertificate(p)) : undefined;
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider(), ...(anchors !== undefined ? { trustAnchors: anchors } : {}) });
  const sweep = (now: number): void => {
    for (const [id, s] of sessions) if (s.expires <= now) sessions.delete(id);
  };

  app.post('/kbs/v0/auth', async (c) => {
    try {
      const b = (await readJson(c, MAX_BODY)) as Record<string, unknown> | null;
      if (typeof b !== 'object' || b === null) throw new KbsError('InvalidRequest', 400, 'the body is {version, tee, extra-params}');
      if (b['version'] !== KBS_VERSION) throw new KbsError('ProtocolVersion', 400, `protocol version ${String(b['version']).slice(0, 20)} is not ${KBS_VERSION}`);
      if (b['tee'] !== 'sgx') throw new KbsError('InvalidRequest', 400, `tee ${String(b['tee']).slice(0, 20)} is not served here (sgx only)`);
      const now = Date.now();
      if (sessions.size >= maxSessions) sweep(now);
      if (sessions.size >= maxSessions) throw new KbsError('TooManySessions', 503, 'too many open sessions; retry later');
      const id = randomBytes(16).toString('hex');
      const nonce = randomBytes(32).toString('base64');
      sessions.set(id, { nonce, expires: now + ttl });
      c.header('set-cookie', `${COOKIE}=${id}; Path=/kbs; HttpOnly; Max-Age=${Math.floor(ttl / 1000)}`);
      return c.json({ nonce, 'extra-params': '' });
    } catch (e) {
      return problem(c, e);
    }
  });

  app.post('/kbs/v0/attest', async (c) => {
    try {
      const id = cookie(c);
      const s = id !== undefined ? sessions.get(id) : undefined;
      if (s === undefined || s.expires <= Date.now()) throw new KbsError('UnAuthenticated', 401, 'no valid kbs-session-id: POST /kbs/v0/auth first');
      const b = (await readJson(c, MAX_BODY)) as Record<string, unknown> | null;
      const rd = (b as { 'runtime-data'?: Record<string, unknown> } | null)?.['runtime-data'];
      if (typeof rd !== 'object' || rd === null) throw new KbsError('InvalidRequest', 400, 'runtime-data is required');
      if (rd['nonce'] !== s.nonce) throw new KbsError('InvalidRequest', 401, 'runtime-data.nonce is not the challenge nonce');
      const teePubkey = teePubkeyOf(rd['tee-pubkey']);
      const quote = evidenceQuote(b?.['tee-evidence']);
      const parsed = parseQuote(unwrapEvidence(quote).quote.slice());
      if (parsed.body.kind !== 'sgx') throw new KbsError('AttestationFailed', 401, 'the evidence is not an SGX quote');
      const result = await verifier.verify(parsed, (await o.collateral(quote)) as never, {});
      evaluateEvidenceRules(rules, result);
      const reportData = Buffer.from(parsed.body.report.reportData);
      const runtime = Buffer.from(canonicalJson(rd));
      const bound = [createHash('sha384').update(runtime).digest(), createHash('sha256').update(runtime).digest()].some(
        (h) => reportData.subarray(0, h.length).equals(h) && reportData.subarray(h.length).every((x) => x === 0),
      );
      if (!bound) throw new KbsError('AttestationFailed', 401, 'REPORTDATA does not bind the runtime data (SHA-384 or SHA-256 of its canonical JSON)');
      const identity = enclaveIdentity(result.claims);
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: KBS_ISSUER,
        iat: now,
        exp: now + (o.tokenLifetimeSec ?? 300),
        'tee-pubkey': teePubkey,
        'x-ms-attestation-type': 'sgx',
        'x-ms-sgx-mrenclave': identity.mrenclave,
        'x-ms-sgx-mrsigner': identity.mrsigner,
        'x-ms-sgx-product-id': identity.isvProdId,
        'x-ms-sgx-svn': identity.isvSvn,
        'x-ms-sgx-is-debuggable': identity.debug,
        'tcb-status': result.status,
      };
      s.claims = claims;
      s.teePubkey = teePubkey;
      const token = await broker.enclave.ecalls.sign({ payload: Buffer.from(JSON.stringify(claims)), typ: 'JWT' });
      return c.json({ token });
    } catch (e) {
      return problem(c, e);
    }
  });

  app.get('/kbs/v0/resource/:repo/:type/:tag', async (c) => {
    try {
      const seg = [c.req.param('repo'), c.req.param('type'), c.req.param('tag')];
      if (!seg.every((x) => /^[0-9A-Za-z]{1,40}$/.test(x))) throw new KbsError('InvalidRequest', 400, 'resource path segments are 1-40 letters and digits');
      let claims: Record<string, unknown> | undefined;
      let teePubkey: JsonWebKey | undefined;
      const auth = c.req.header('authorization');
      if (auth !== undefined && /^Bearer /i.test(auth)) {
        try {
          const { payload } = await jwtVerify(auth.replace(/^Bearer\s+/i, ''), await importJWK(broker.signingJwk as Parameters<typeof importJWK>[0], 'RS256'), { issuer: KBS_ISSUER, algorithms: ['RS256'], requiredClaims: ['exp'] });
          claims = payload as Record<string, unknown>;
          teePubkey = teePubkeyOf(payload['tee-pubkey']);
        } catch (e) {
          if (e instanceof KbsError) throw e;
          throw new KbsError('UnAuthenticated', 401, 'the bearer token is not a valid attestation-results token of this KBS');
        }
      } else {
        const id = cookie(c);
        const s = id !== undefined ? sessions.get(id) : undefined;
        if (s === undefined || s.expires <= Date.now() || s.claims === undefined) throw new KbsError('UnAuthenticated', 401, 'not attested: POST /kbs/v0/auth and /kbs/v0/attest first');
        claims = s.claims;
        teePubkey = s.teePubkey;
      }
      return c.json((await broker.releaseToTee(seg.join('-'), claims, teePubkey!)) as object);
    } catch (e) {
      return problem(c, e);
    }
  });
}
