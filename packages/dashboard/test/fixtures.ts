/**
 * In-memory data sources implementing the dashboard's interfaces, with realistic, deterministic data (a seeded
 * generator, fixed clock offsets), and a real loopback server (service-kit app + mountDashboard) to browse.
 * The ledger is written in the key broker's exact format and signed with a real RSA key, so the browser's verify
 * checks real hashes and real RS256 signatures.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createLogger, createServiceApp, createServiceMetrics, startService, type ServiceHandle } from '@cloister/service-kit';
import {
  canonicalJson,
  mountDashboard,
  type AttestationDetail,
  type AttestationListQuery,
  type AttestationSource,
  type BrokerKeyView,
  type CountBucket,
  type CountsQuery,
  type DashboardOptions,
  type GovernanceView,
  type KeyBrokerSource,
  type LedgerLine,
  type PolicyParseResult,
  type PolicyTestResult,
  type PolicyView,
  type ReleaseRecord,
} from '../src/index.js';

/** Mulberry32: a small seeded generator, so every run shows the same data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(r: () => number, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) s += Math.floor(r() * 256).toString(16).padStart(2, '0');
  return s;
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

export const DEFAULT_POLICY = `version= 1.0;
authorizationrules
{
    c:[type=="$is-debuggable"] => permit();
};
issuancerules
{
    c:[type=="$is-debuggable"] => issue(type="is-debuggable", value=c.value);
    c:[type=="$sgx-mrsigner"] => issue(type="sgx-mrsigner", value=c.value);
    c:[type=="$sgx-mrenclave"] => issue(type="sgx-mrenclave", value=c.value);
    c:[type=="$product-id"] => issue(type="product-id", value=c.value);
    c:[type=="$svn"] => issue(type="svn", value=c.value);
    c:[type=="$tee"] => issue(type="tee", value=c.value);
};
`;

/**
 * A stand-in for the service's policy parser, good enough to locate bracket errors: it reports the first
 * unbalanced or mismatched bracket with its 1-based line and column (the real service reports its own parser's).
 */
export function fixtureParse(text: string): PolicyParseResult {
  const stack: { ch: string; line: number; column: number }[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  let line = 1;
  let column = 1;
  let inString = false;
  for (const ch of text) {
    if (inString) {
      if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '(' || ch === '[' || ch === '{') stack.push({ ch, line, column });
    else if (ch === ')' || ch === ']' || ch === '}') {
      const open = stack.pop();
      if (open === undefined || open.ch !== pairs[ch]) {
        return { ok: false, problem: { code: 'POLICY_SYNTAX', message: `unexpected '${ch}'`, line, column } };
      }
    }
    if (ch === '\n') {
      line++;
      column = 1;
    } else column++;
  }
  const open = stack.pop();
  if (open !== undefined) return { ok: false, problem: { code: 'POLICY_SYNTAX', message: `'${open.ch}' is never closed`, line: open.line, column: open.column } };
  if (!/^\s*version\s*=\s*1\.[012]\s*;/.test(text)) return { ok: false, problem: { code: 'POLICY_SYNTAX', message: 'expected version=1.0, 1.1 or 1.2', line: 1, column: 1 } };
  return { ok: true };
}

const TCB = ['UpToDate', 'UpToDate', 'UpToDate', 'UpToDate', 'SWHardeningNeeded', 'SWHardeningNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'Revoked'] as const;
const ADVISORIES: Readonly<Record<string, readonly string[]>> = {
  UpToDate: [],
  SWHardeningNeeded: ['INTEL-SA-00334', 'INTEL-SA-00615'],
  ConfigurationAndSWHardeningNeeded: ['INTEL-SA-00219', 'INTEL-SA-00289', 'INTEL-SA-00334', 'INTEL-SA-00615'],
  OutOfDate: ['INTEL-SA-00828', 'INTEL-SA-00837'],
  Revoked: ['INTEL-SA-00233'],
};

export class MemoryAttestationSource implements AttestationSource {
  readonly records: AttestationDetail[] = [];
  readonly policies = new Map<string, PolicyView>();
  readonly evidence = new Set<string>();

  constructor(now: number, count = 120) {
    const r = rng(7);
    const enclaves = Array.from({ length: 5 }, () => ({ mrenclave: hex(r, 32), mrsigner: hex(r, 32), productId: 1 + Math.floor(r() * 3), svn: 1 + Math.floor(r() * 4) }));
    for (let i = 0; i < count; i++) {
      const t = now - Math.floor(r() * 23.5 * 3600 * 1000) - 60_000;
      const e = pick(r, enclaves);
      const simulated = r() < 0.2;
      const type = r() < 0.7 ? 'SgxEnclave' : 'OpenEnclave';
      const tcbStatus = simulated ? 'UpToDate' : pick(r, TCB);
      const debug = r() < 0.1;
      const verifyFails = r() < 0.05;
      const outcome = verifyFails ? 'error' : tcbStatus === 'Revoked' || debug ? 'denied' : 'permitted';
      this.add(
        {
          id: String(1000 + i),
          time: new Date(t).toISOString(),
          type,
          outcome,
          ...(outcome === 'denied' ? { code: 'POLICY_DENIED' } : outcome === 'error' ? { code: 'QUOTE_SIGNATURE_INVALID' } : {}),
          simulated,
          mrenclave: e.mrenclave,
          mrsigner: e.mrsigner,
          productId: e.productId,
          svn: e.svn,
          debug,
          tcbStatus,
          advisoryIds: ADVISORIES[tcbStatus] ?? [],
          claims: null,
          steps: [],
          evidenceRetained: true,
          evidenceHash: hex(r, 32),
          claimsHash: hex(r, 32),
          policyHash: hex(r, 32),
        },
        true,
      );
    }
    this.records.sort((a, b) => b.time.localeCompare(a.time));
    const t0 = new Date(now - 3 * 86400 * 1000).toISOString();
    this.policies.set('SgxEnclave', { type: 'SgxEnclave', text: DEFAULT_POLICY, signed: false, isDefault: true, hash: 'tJ8S0d2ZcUE5bGq6a0lW0tNm4c3Vd9Z1kq2s3t4u5v6' });
    this.policies.set('OpenEnclave', { type: 'OpenEnclave', text: DEFAULT_POLICY, signed: true, signer: 'CN=Contoso policy signer', isDefault: false, version: '3', updated: t0, hash: 'x3Jd0p2ZcUE5bGq6a0lW0tNm4c3Vd9Z1kq2s3t4u5v6' });
  }

  /** Adds a record; fills claims and steps the way the service would when `fill` is set. */
  add(rec: AttestationDetail, fill = false): void {
    const full: AttestationDetail = fill
      ? {
          ...rec,
          claims:
            rec.outcome === 'error'
              ? null
              : {
                  'x-ms-attestation-type': rec.simulated ? 'sgx-simulated' : 'sgx',
                  'x-ms-sgx-is-debuggable': rec.debug ?? false,
                  'x-ms-sgx-mrenclave': rec.mrenclave ?? '',
                  'x-ms-sgx-mrsigner': rec.mrsigner ?? '',
                  'x-ms-sgx-product-id': rec.productId ?? 0,
                  'x-ms-sgx-svn': rec.svn ?? 0,
                  'x-ms-sgx-tcbstatus': rec.tcbStatus ?? '',
                  'x-ms-sgx-advisory-ids': rec.advisoryIds,
                  'x-ms-ver': '1.0',
                  'x-ms-runtime': { keys: [{ kty: 'RSA', kid: 'enclave-key', e: 'AQAB', n: 'u1Wc…' }], service: 'ocr' },
                  ...(rec.simulated ? { 'x-ms-cloister-simulated': true } : {}),
                },
          steps: [
            { name: 'evidence parsed', ok: true, detail: `${rec.type === 'OpenEnclave' ? 'OE report' : 'SGX quote'} v3, ECDSA-256 with P-256` },
            { name: 'quote signature and PCK chain', ok: rec.outcome !== 'error', detail: rec.outcome === 'error' ? 'the quote signature does not verify with the attestation key' : rec.simulated ? 'chained to the configured simulation root' : 'chained to Intel SGX Root CA' },
            ...(rec.outcome === 'error'
              ? []
              : [
                  { name: 'collateral', ok: true, detail: 'TCB info and QE identity from the offline bundle; CRLs current' },
                  { name: 'TCB level', ok: rec.tcbStatus !== 'Revoked', detail: `${rec.tcbStatus ?? ''}${rec.advisoryIds.length > 0 ? ` (${rec.advisoryIds.join(', ')})` : ''}` },
                  { name: 'runtime data binding', ok: true, detail: 'SHA-256(runtimeData) equals REPORTDATA[0..32]' },
                  { name: 'policy', ok: rec.outcome === 'permitted', detail: rec.outcome === 'permitted' ? 'authorization rules permit' : 'no authorization rule permits' },
                ]),
          ],
        }
      : rec;
    this.records.unshift(full);
    if (full.evidenceRetained) this.evidence.add(full.id);
  }

  policyTypes(): readonly string[] {
    return ['SgxEnclave', 'OpenEnclave'];
  }

  async list(q: AttestationListQuery): Promise<readonly AttestationDetail[]> {
    const f = q.filters;
    return this.records
      .filter((a) => (f.type === undefined || a.type === f.type) && (f.outcome === undefined || a.outcome === f.outcome) && (f.tcbStatus === undefined || a.tcbStatus === f.tcbStatus) && (f.simulated === undefined || a.simulated === f.simulated))
      .slice(0, q.limit);
  }

  async get(id: string): Promise<AttestationDetail | undefined> {
    return this.records.find((a) => a.id === id);
  }

  async counts(q: CountsQuery): Promise<readonly CountBucket[]> {
    const size = q.bucketSeconds * 1000;
    const n = Math.ceil((q.until.getTime() - q.since.getTime()) / size);
    const buckets = Array.from({ length: n }, (_, i) => ({ start: new Date(q.since.getTime() + i * size).toISOString(), byOutcome: {} as Record<string, number>, byTcbStatus: {} as Record<string, number>, byType: {} as Record<string, number> }));
    for (const a of this.records) {
      const i = Math.floor((Date.parse(a.time) - q.since.getTime()) / size);
      const b = buckets[i];
      if (b === undefined) continue;
      b.byOutcome[a.outcome] = (b.byOutcome[a.outcome] ?? 0) + 1;
      const tcb = a.tcbStatus ?? 'none';
      b.byTcbStatus[tcb] = (b.byTcbStatus[tcb] ?? 0) + 1;
      b.byType[a.type] = (b.byType[a.type] ?? 0) + 1;
    }
    return buckets;
  }

  async policy(type: string): Promise<PolicyView | undefined> {
    return this.policies.get(type);
  }

  async parsePolicy(_type: string, text: string): Promise<PolicyParseResult> {
    return fixtureParse(text);
  }

  async testPolicy(_type: string, text: string, id: string): Promise<PolicyTestResult> {
    const parsed = fixtureParse(text);
    if (!parsed.ok) return { outcome: 'error', code: parsed.problem.code, message: parsed.problem.message, problem: parsed.problem };
    const rec = this.records.find((a) => a.id === id);
    if (rec === undefined || !this.evidence.has(id)) return { outcome: 'error', code: 'EVIDENCE_NOT_RETAINED', message: 'the evidence of this attestation is not kept' };
    if (!text.includes('permit()')) return { outcome: 'denied', code: 'POLICY_DENIED', message: 'no authorization rule permits this evidence' };
    return { outcome: 'permitted', claims: { 'x-ms-sgx-mrenclave': rec.mrenclave ?? '', 'x-ms-sgx-svn': rec.svn ?? 0 } };
  }

  async setPolicy(type: string, text: string): Promise<PolicyView> {
    const prev = this.policies.get(type);
    const v: PolicyView = { type, text, signed: false, isDefault: false, version: String(Number(prev?.version ?? '0') + 1), updated: new Date().toISOString() };
    this.policies.set(type, v);
    return v;
  }

  async signingKeys(): Promise<Awaited<ReturnType<AttestationSource['signingKeys']>>> {
    return [
      { kid: 'Zk3c9a1Q0m8w', instance: 'real', alg: 'RS256', status: 'active', created: '2026-11-20T08:00:00.000Z', certificate: { subject: 'CN=https://attest.cloister.example', issuer: 'CN=https://attest.cloister.example', serialNumber: '5f0c6b2e91d4a7c3', notBefore: '2026-11-20T08:00:00.000Z', notAfter: '2027-11-20T08:00:00.000Z', sha256: 'a3f1c2d4e5b6978812ab34cd56ef7890a1b2c3d4e5f60718293a4b5c6d7e8f90' } },
      { kid: 'Qp7x2b4R9n1v', instance: 'real', alg: 'RS256', status: 'retiring', created: '2026-05-20T08:00:00.000Z', certificate: { subject: 'CN=https://attest.cloister.example', issuer: 'CN=https://attest.cloister.example', serialNumber: '1a2b3c4d5e6f7081', notBefore: '2026-05-20T08:00:00.000Z', notAfter: '2026-12-10T08:00:00.000Z', sha256: '0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e' } },
      { kid: 'Sm1n4t8E2d6k', instance: 'simulated', alg: 'RS256', status: 'active', created: '2026-11-20T08:00:00.000Z', certificate: { subject: 'CN=https://attest.cloister.example/simulated', issuer: 'CN=https://attest.cloister.example/simulated', serialNumber: '7c6b5a4d3e2f1a0b', notBefore: '2026-11-20T08:00:00.000Z', notAfter: '2027-11-20T08:00:00.000Z', sha256: 'f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f' } },
    ];
  }

  async policySigners(): Promise<Awaited<ReturnType<AttestationSource['policySigners']>>> {
    return [{ instance: 'real', added: '2026-11-21T10:00:00.000Z', certificate: { subject: 'CN=Contoso policy signer', issuer: 'CN=Contoso policy signer', serialNumber: '3e4f5a6b7c8d9e0f', notBefore: '2026-11-01T00:00:00.000Z', notAfter: '2027-11-01T00:00:00.000Z', sha256: '9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b' } }];
  }
}

// ---------------------------------------------------------------------------------------------------------------

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

export class MemoryKeyBrokerSource implements KeyBrokerSource {
  readonly lines: LedgerLine[] = [];
  readonly releasesList: ReleaseRecord[] = [];
  readonly #key: KeyObject;
  readonly publicJwk: Record<string, unknown>;
  readonly #start: number;

  constructor(now: number) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#key = privateKey;
    this.publicJwk = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    this.#start = now - 2 * 86400 * 1000;
    const r = rng(11);
    const member = (kid: string): Record<string, unknown> => ({ kty: 'EC', crv: 'P-256', kid, x: hex(r, 32), y: hex(r, 32) });
    this.append('genesis', { members: [member('alice'), member('bob'), member('carol')], threshold: 2 });
    const p1 = hex(r, 32);
    this.append('proposal', { id: p1, proposer: 'alice', proposal: 'eyJhbGciOiJFUzI1NiJ9.eyJhY3Rpb25zIjpbXX0.c2ln' });
    this.append('ballot', { proposal: p1, member: 'bob', vote: 'accept', ballot: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' });
    this.append('ballot', { proposal: p1, member: 'carol', vote: 'accept', ballot: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' });
    this.append('enacted', { proposal: p1, accepts: 2, outcome: [{ type: 'create_key', name: 'ocr-model-key' }] });
    const p2 = hex(r, 32);
    this.append('proposal', { id: p2, proposer: 'bob', proposal: 'eyJhbGciOiJFUzI1NiJ9.eyJhY3Rpb25zIjpbXX0.c2ln' });
    this.append('ballot', { proposal: p2, member: 'alice', vote: 'accept', ballot: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' });
    const mr = hex(r, 32);
    const signer = hex(r, 32);
    const reasons: [string, string, string][] = [
      ['POLICY_NOT_SATISFIED', 'claim x-ms-sgx-mrenclave is not the required value', 'claim'],
      ['TOKEN_EXPIRED', 'the attestation token expired 4 minutes ago', 'exp'],
      ['UNKNOWN_AUTHORITY', 'the token issuer https://evil.example is not a configured authority', 'authority'],
      ['POLICY_NOT_SATISFIED', 'claim x-ms-sgx-is-debuggable must equal false', 'claim'],
    ];
    for (let i = 0; i < 14; i++) {
      const granted = r() < 0.65;
      const reason = pick(r, reasons);
      this.releasesList.push({
        id: String(i + 1),
        time: new Date(now - (14 - i) * 47 * 60 * 1000).toISOString(),
        key: r() < 0.7 ? 'ocr-model-key' : 'db-password',
        version: hex(r, 16),
        granted,
        code: granted ? 'RELEASED' : reason[0],
        ...(granted ? {} : { reason: reason[1], rule: reason[2] }),
        authority: granted || reason[0] !== 'UNKNOWN_AUTHORITY' ? 'https://127.0.0.1:8443' : 'https://evil.example',
        mrenclave: granted ? mr : hex(r, 32),
        mrsigner: signer,
        attestationType: 'sgx',
      });
    }
    this.releasesList.reverse();
  }

  append(type: string, body: unknown): void {
    const seq = this.lines.length;
    const prev = seq === 0 ? '0'.repeat(64) : this.lines[seq - 1]!.hash;
    const entry = canonicalJson({ at: new Date(this.#start + seq * 3600 * 1000).toISOString(), body, prev, seq, type });
    const hash = createHash('sha256').update(entry, 'utf8').digest('hex');
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'cloister-kb-ledger+jwt' }));
    const payload = b64url(canonicalJson({ hash, seq }));
    const sig = b64url(sign('sha256', Buffer.from(`${header}.${payload}`), this.#key));
    this.lines.push({ entry, hash, sig: `${header}.${payload}.${sig}` });
  }

  async keys(): Promise<readonly BrokerKeyView[]> {
    return [
      {
        name: 'ocr-model-key', version: '8c1f4b2a9d7e6c5b', kty: 'oct-HSM', keySize: 256, keyOps: ['wrapKey', 'unwrapKey', 'encrypt', 'decrypt'], exportable: true, enabled: true, created: new Date(this.#start + 4 * 3600 * 1000).toISOString(),
        releasePolicy: { version: '1.0.0', anyOf: [{ authority: 'https://127.0.0.1:8443', allOf: [{ claim: 'x-ms-sgx-mrsigner', equals: 'c7f1…' }, { claim: 'x-ms-sgx-is-debuggable', equals: false }, { claim: 'x-ms-sgx-product-id', equals: 1 }] }] },
      },
      { name: 'db-password', version: '2e9a7c5b3d1f0e8a', kty: 'RSA-HSM', keySize: 2048, keyOps: ['unwrapKey', 'decrypt'], exportable: true, enabled: true, created: new Date(this.#start + 6 * 3600 * 1000).toISOString(), releasePolicy: { version: '1.0.0', anyOf: [{ authority: 'https://127.0.0.1:8443', allOf: [{ claim: 'x-ms-attestation-type', equals: 'sgx' }] }] } },
      { name: 'signing-key', version: '5d4c3b2a19081726', kty: 'EC-HSM', crv: 'P-256', keyOps: ['sign', 'verify'], exportable: false, enabled: true, releasePolicy: null },
    ];
  }

  async releases(q: { limit: number; key?: string; granted?: boolean }): Promise<readonly ReleaseRecord[]> {
    return this.releasesList.filter((x) => (q.key === undefined || x.key === q.key) && (q.granted === undefined || x.granted === q.granted)).slice(0, q.limit);
  }

  async governance(): Promise<GovernanceView> {
    const ec = (x: string): Record<string, unknown> => ({ kty: 'EC', crv: 'P-256', x, y: x });
    return {
      enabled: true,
      threshold: 2,
      members: [{ id: 'alice', publicKey: ec('a') }, { id: 'bob', publicKey: ec('b') }, { id: 'carol', publicKey: ec('c') }],
      proposals: [
        { id: '6f1d0c2e8a4b9f3e7d5c1a0b2c3d4e5f', proposer: 'alice', state: 'open', created: new Date(this.#start + 40 * 3600 * 1000).toISOString(), actions: [{ type: 'rotate_key', name: 'ocr-model-key' }], ballots: [{ member: 'alice', vote: 'accept' }] },
        { id: '1a2b3c4d5e6f708192a3b4c5d6e7f809', proposer: 'bob', state: 'enacted', created: new Date(this.#start + 5 * 3600 * 1000).toISOString(), actions: [{ type: 'set_release_policy', name: 'ocr-model-key', release_policy: { version: '1.0.0', anyOf: [{ authority: 'https://127.0.0.1:8443', allOf: [{ claim: 'x-ms-sgx-is-debuggable', equals: false }] }] } }], ballots: [{ member: 'bob', vote: 'accept' }, { member: 'carol', vote: 'accept' }] },
        { id: '9f8e7d6c5b4a39281706f5e4d3c2b1a0', proposer: 'carol', state: 'rejected', created: new Date(this.#start + 20 * 3600 * 1000).toISOString(), actions: [{ type: 'delete_key', name: 'db-password' }], ballots: [{ member: 'alice', vote: 'reject' }, { member: 'bob', vote: 'reject' }] },
      ],
    };
  }

  async ledger(from: number, limit: number): Promise<{ signingKey: Record<string, unknown>; lines: LedgerLine[]; total: number }> {
    return { signingKey: this.publicJwk, lines: this.lines.slice(from, from + limit), total: this.lines.length };
  }
}

export interface TestServer {
  readonly url: string;
  readonly handle: ServiceHandle;
  close(): Promise<void>;
}

export async function startDashboardServer(options: DashboardOptions): Promise<TestServer> {
  const logger = createLogger({ component: 'dashboard-test', level: 'silent' });
  const metrics = createServiceMetrics({ prefix: 'dashboard_test' });
  const app = createServiceApp({ logger, metrics });
  mountDashboard(app, options);
  const handle = await startService({ app, host: '127.0.0.1', port: 0, logger });
  return { url: handle.url, handle, close: () => handle.close() };
}
