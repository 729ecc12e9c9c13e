/**
 * Hostile and malformed requests over a real loopback socket: each is a 4xx with a stable code, and the service keeps
 * answering; every attestation outcome lands in the audit log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { startAttestationService, type AttestationServiceHandle } from '../src/index.js';
import { simFixture, type SimFixture } from './fixtures.js';

let sim: SimFixture;
let svc: AttestationServiceHandle;
const V = 'api-version=2020-10-01';

before(async () => {
  sim = await simFixture();
  svc = await startAttestationService({
    allowSimulated: true,
    trustRoots: [sim.rootPem],
    collateral: [sim.collateralJson],
    adminToken: 'admin-token-0123456789abcdef',
    maxRequestBytes: 64 * 1024,
    logLevel: 'silent',
  });
});
after(() => svc.close());

async function post(path: string, body: string | object, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const r = await fetch(`${svc.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text === '' ? undefined : JSON.parse(text) };
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

test('malformed attest requests: 4xx with a code each', async () => {
  const quote = b64(sim.quote());
  const cases: [string, string, string | object, number, string][] = [
    ['oversized body', `/simulated/attest/SgxEnclave?${V}`, { quote: 'A'.repeat(70 * 1024) }, 413, 'BODY_TOO_LARGE'],
    ['not JSON', `/simulated/attest/SgxEnclave?${V}`, '{"quote":', 400, 'INVALID_JSON'],
    ['array body', `/simulated/attest/SgxEnclave?${V}`, [quote], 400, 'INVALID_REQUEST'],
    ['quote is a number', `/simulated/attest/SgxEnclave?${V}`, { quote: 5 }, 400, 'INVALID_REQUEST'],
    ['bad base64', `/simulated/attest/SgxEnclave?${V}`, { quote: 'not base64!' }, 400, 'INVALID_BASE64'],
    ['runtimeData a string', `/simulated/attest/SgxEnclave?${V}`, { quote, runtimeData: 'x' }, 400, 'INVALID_REQUEST'],
    ['unknown dataType', `/simulated/attest/SgxEnclave?${V}`, { quote, runtimeData: { data: 'AA', dataType: 'Xml' } }, 400, 'UNKNOWN_DATA_TYPE'],
    ['JSON runtime data that is not JSON', `/simulated/attest/SgxEnclave?${V}`, { quote, runtimeData: { data: b64(new TextEncoder().encode('nope')), dataType: 'JSON' } }, 400, 'RUNTIME_DATA_MISMATCH'],
    ['OE report posted as a quote', `/simulated/attest/SgxEnclave?${V}`, { quote: b64(sim.oeReport()) }, 400, 'WRONG_EVIDENCE_TYPE'],
    ['quote posted as a report', `/simulated/attest/OpenEnclave?${V}`, { report: quote }, 400, 'WRONG_EVIDENCE_TYPE'],
    ['report field to SgxEnclave', `/simulated/attest/SgxEnclave?${V}`, { report: quote }, 400, 'WRONG_EVIDENCE_TYPE'],
    ['garbage evidence', `/simulated/attest/SgxEnclave?${V}`, { quote: b64(new Uint8Array(100).fill(7)) }, 400, 'EVIDENCE_INVALID'],
    ['no api-version', '/simulated/attest/SgxEnclave', { quote }, 400, 'MISSING_API_VERSION'],
    ['unknown api-version', '/simulated/attest/SgxEnclave?api-version=1999-01-01', { quote }, 400, 'UNSUPPORTED_API_VERSION'],
    ['unknown attestation type', `/simulated/attest/Tpm?${V}`, { data: 'AA' }, 400, 'UNSUPPORTED_ATTESTATION_TYPE'],
    ['draft policy with a syntax error', `/simulated/attest/SgxEnclave?${V}`, { quote, draftPolicyForAttestation: 'version=1.0;\nauthorizationrules { => allow(); };' }, 400, 'POLICY_INVALID'],
    ['simulated evidence at the real instance', `/attest/SgxEnclave?${V}`, { quote }, 400, 'EVIDENCE_REFUSED'],
  ];
  for (const [name, path, body, status, code] of cases) {
    const r = await post(path, body);
    assert.equal(r.status, status, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json?.error?.code, code, name);
    assert.equal(typeof r.json?.error?.message, 'string', name);
  }
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  assert.match(metrics, /cloister_attestation_attestations_total\{instance="simulated",type="SgxEnclave",outcome="refused",code="WRONG_EVIDENCE_TYPE"\} 1/);
  assert.match(metrics, /cloister_attestation_attestations_total\{instance="simulated",type="OpenEnclave",outcome="refused",code="WRONG_EVIDENCE_TYPE"\} 1/);
  assert.match(metrics, /cloister_attestation_errors_total\{kind="INVALID_BASE64"\} 1/);
  const health = await fetch(`${svc.url}/healthz`);
  assert.equal(health.status, 200);
  const ok = await post(`/simulated/attest/SgxEnclave?${V}`, { quote });
  assert.equal(ok.status, 200, 'the service still attests');
});

test('JSON runtime data that is not JSON (but is bound) is INVALID_RUNTIME_JSON', async () => {
  const data = new TextEncoder().encode('nope');
  const r = await post(`/simulated/attest/SgxEnclave?${V}`, { quote: b64(sim.quote(data)), runtimeData: { data: b64(data), dataType: 'JSON' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'INVALID_RUNTIME_JSON');
});

test('a tampered quote is QUOTE_INVALID with the verifier code', async () => {
  const q = sim.quote();
  q[100] = q[100]! ^ 1; // inside the report body: the QE's signature no longer matches
  const r = await post(`/simulated/attest/SgxEnclave?${V}`, { quote: b64(q) });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'QUOTE_INVALID');
  assert.equal(typeof r.json.error.dcapCode, 'string');
});

test('draft policy: an unsigned token (alg none); nonce with api-version 2022-08-01 only', async () => {
  const quote = b64(sim.quote());
  const draft = await post(`/simulated/attest/SgxEnclave?${V}`, { quote, draftPolicyForAttestation: 'version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type="draft", value=true); };' });
  assert.equal(draft.status, 200);
  const [h, p, s] = String(draft.json.token).split('.');
  assert.deepEqual(JSON.parse(Buffer.from(h!, 'base64url').toString()), { alg: 'none' });
  assert.equal(s, '');
  assert.deepEqual(JSON.parse(Buffer.from(p!, 'base64url').toString())['x-ms-policy'], { draft: true });
  const withNonce = await post('/simulated/attest/SgxEnclave?api-version=2022-08-01', { quote, nonce: 'n-123' });
  assert.equal(JSON.parse(Buffer.from(String(withNonce.json.token).split('.')[1]!, 'base64url').toString())['nonce'], 'n-123');
  const old = await post(`/simulated/attest/SgxEnclave?${V}`, { quote, nonce: 'n-123' });
  assert.equal(JSON.parse(Buffer.from(String(old.json.token).split('.')[1]!, 'base64url').toString())['nonce'], undefined);
});

test('management needs the admin token: 401 without, 403 when wrong; /certs and metadata are open', async () => {
  const none = await fetch(`${svc.url}/policies/SgxEnclave?${V}`);
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as any).error.code, 'UNAUTHENTICATED');
  const wrong = await fetch(`${svc.url}/policies/SgxEnclave?${V}`, { headers: { authorization: 'Bearer nope-nope-nope-nope' } });
  assert.equal(wrong.status, 403);
  const bad = await fetch(`${svc.url}/policies/SgxEnclave?${V}`, { method: 'PUT', headers: { authorization: 'Bearer admin-token-0123456789abcdef', 'content-type': 'text/plain' }, body: 'not a jws' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as any).error.code, 'INVALID_REQUEST');
  for (const path of ['/certs', '/certs/', '/.well-known/openid-configuration', '/simulated/certs']) {
    const r = await fetch(`${svc.url}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  }
});

test('every attestation outcome is in the audit log with the evidence hash, claims and steps', async () => {
  await svc.audit.flush();
  const rows = await svc.storage.query<{ outcome: string; code: string | null; evidence_hash: string | null; evidence: Uint8Array | null; steps: unknown; claims: unknown; tcb_status: string | null }>(
    "SELECT outcome, code, evidence_hash, evidence, steps, claims, tcb_status FROM attestation_audit WHERE kind = 'attestation' ORDER BY id",
  );
  assert.ok(rows.rows.length >= 8);
  const issued = rows.rows.filter((r) => r.outcome === 'issued');
  assert.ok(issued.length >= 3);
  for (const r of issued) {
    assert.match(String(r.evidence_hash), /^[0-9a-f]{64}$/);
    assert.equal(createHash('sha256').update(r.evidence!).digest('hex'), r.evidence_hash, 'the evidence itself is kept');
    assert.equal(r.tcb_status, 'UpToDate');
    assert.ok(Array.isArray(r.steps));
    assert.equal((r.claims as Record<string, unknown>)['x-ms-sgx-mrenclave'], 'aa'.repeat(32));
  }
  const refused = rows.rows.filter((r) => r.outcome === 'refused').map((r) => r.code);
  assert.ok(refused.includes('WRONG_EVIDENCE_TYPE'));
  assert.ok(refused.includes('QUOTE_INVALID'));
});

test('the attest endpoints are rate limited per client (429 RATE_LIMITED)', async () => {
  const limited = await startAttestationService({ rateLimit: { perSecond: 0.5, burst: 2 }, logLevel: 'silent' });
  try {
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${limited.url}/attest/SgxEnclave?${V}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      codes.push(r.status);
      if (r.status === 429) assert.equal(((await r.json()) as any).error.code, 'RATE_LIMITED');
      else await r.text();
    }
    assert.deepEqual(codes, [400, 400, 429]);
    const certs = await fetch(`${limited.url}/certs`);
    assert.equal(certs.status, 200, 'discovery is not limited');
  } finally {
    await limited.close();
  }
});

test('without an admin token every management call is refused (ADMIN_DISABLED)', async () => {
  const plain = await startAttestationService({ logLevel: 'silent' });
  try {
    const r = await fetch(`${plain.url}/policies/SgxEnclave?${V}`, { headers: { authorization: 'Bearer admin-token-0123456789abcdef' } });
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as any).error.code, 'ADMIN_DISABLED');
  } finally {
    await plain.close();
  }
});

test('fuzz: random JSON bodies and random fields are 4xx with a code, never 5xx', async () => {
  const quote = b64(sim.quote());
  const field = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 40 }), fc.constant(quote), fc.constant(quote.slice(0, 200)));
  const body = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record({ quote: field, runtimeData: fc.oneof(field, fc.record({ data: field, dataType: fc.oneof(field, fc.constantFrom('Binary', 'JSON')) })) }, { requiredKeys: [] }),
    fc.record({ report: field, initTimeData: field, draftPolicyForAttestation: fc.oneof(field, fc.string({ maxLength: 80 })), nonce: field }, { requiredKeys: [] }),
  );
  await fc.assert(
    fc.asyncProperty(body, fc.constantFrom('SgxEnclave', 'OpenEnclave'), fc.constantFrom('2020-10-01', '2022-08-01'), async (b, type, v) => {
      const r = await post(`/simulated/attest/${type}?api-version=${v}`, JSON.stringify(b) ?? 'null');
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `status ${r.status} for ${JSON.stringify(b).slice(0, 200)}`);
      if (r.status !== 200) assert.equal(typeof r.json?.error?.code, 'string');
    }),
    { numRuns: 150 },
  );
});

test('POST /signing-keys:rotate (admin): a new key signs, the old one stays published', async () => {
  const before = ((await (await fetch(`${svc.url}/simulated/certs`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  const unauth = await fetch(`${svc.url}/simulated/signing-keys:rotate?${V}`, { method: 'POST' });
  assert.equal(unauth.status, 401);
  const r = await fetch(`${svc.url}/simulated/signing-keys:rotate?${V}`, { method: 'POST', headers: { authorization: 'Bearer admin-token-0123456789abcdef' } });
  assert.equal(r.status, 200);
  const { kid } = (await r.json()) as { kid: string };
  const after = ((await (await fetch(`${svc.url}/simulated/certs`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  assert.deepEqual(after, [kid, ...before]);
  const t = await post(`/simulated/attest/SgxEnclave?${V}`, { quote: b64(sim.quote()) });
  assert.equal(JSON.parse(Buffer.from(String(t.json.token).split('.')[0]!, 'base64url').toString()).kid, kid);
  const real = ((await (await fetch(`${svc.url}/certs`)).json()) as { keys: unknown[] }).keys;
  assert.equal(real.length, 1, 'the real instance keeps its own key');
});
