/**
 * The dashboard's HTTP side over real loopback sockets: headers (CSP on every answer), access control (loopback
 * peer and Host, viewer token, admin token for editing), parameter bounds, and the ledger verification in Node's
 * WebCrypto (the same code the browser runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Hono } from 'hono';
import { DASHBOARD_CSP, isLoopbackAddress, isLoopbackHost, mountDashboard, verifyLedgerLines } from '../src/index.js';
import { MemoryAttestationSource, MemoryKeyBrokerSource, startDashboardServer } from './fixtures.js';

const ADMIN = 'admin-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(url: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function code(a: Answer): string {
  return (JSON.parse(a.body) as { error: { code: string } }).error.code;
}

test('every answer carries the strict CSP; the shell has no inline script or style', async () => {
  const s = await startDashboardServer({ attestation: new MemoryAttestationSource(Date.now()), keyBroker: new MemoryKeyBrokerSource(Date.now()) });
  try {
    for (const p of ['/ui/', '/ui/dashboard.js', '/ui/dashboard.css', '/ui/api/config', '/ui/api/attestations', '/ui/api/nope']) {
      const a = await call(s.url, p);
      assert.equal(a.headers['content-security-policy'], DASHBOARD_CSP, p);
      assert.equal(a.headers['x-frame-options'], 'DENY', p);
      assert.equal(a.headers['access-control-allow-origin'], undefined, `${p}: no CORS`);
    }
    const shell = await call(s.url, '/ui/');
    assert.equal(shell.status, 200);
    assert.match(shell.body, /<script src="\/ui\/dashboard\.js" defer><\/script>/);
    assert.doesNotMatch(shell.body, /<script>|<style|\sstyle=|\son[a-z]+=/i);
    const js = await call(s.url, '/ui/dashboard.js');
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.doesNotMatch(js.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    const redirect = await call(s.url, '/ui');
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers['location'], '/ui/');
  } finally {
    await s.close();
  }
});

test('loopback mode refuses a foreign Host header (DNS rebinding)', async () => {
  const s = await startDashboardServer({ attestation: new MemoryAttestationSource(Date.now()) });
  try {
    const ok = await call(s.url, '/ui/api/config', { headers: { host: `localhost:${s.handle.port}` } });
    assert.equal(ok.status, 200);
    const evil = await call(s.url, '/ui/api/config', { headers: { host: 'attacker.example' } });
    assert.equal(evil.status, 403);
    assert.equal(code(evil), 'DASHBOARD_LOOPBACK_ONLY');
    const page = await call(s.url, '/ui/', { headers: { host: 'attacker.example' } });
    assert.equal(page.status, 403);
  } finally {
    await s.close();
  }
});

test('loopback address and host recognition', () => {
  for (const a of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', 'fe80::1', 'unknown']) assert.equal(isLoopbackAddress(a), false, a);
  for (const h of ['localhost', 'localhost:8080', 'ui.localhost', '127.0.0.1:1', '[::1]:443']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['evil.example', '127.0.0.1.evil.example', 'localhost.evil.example', '[fe80::1]', '', 'a b']) assert.equal(isLoopbackHost(h), false, h);
  assert.equal(isLoopbackHost(undefined), false);
});

test('a viewer token gates the API (not the data-free shell); the admin token also reads', async () => {
  const s = await startDashboardServer({ attestation: new MemoryAttestationSource(Date.now()), viewerToken: VIEWER, adminToken: ADMIN });
  try {
    assert.equal((await call(s.url, '/ui/')).status, 200);
    const none = await call(s.url, '/ui/api/attestations');
    assert.equal(none.status, 401);
    assert.equal(code(none), 'UNAUTHENTICATED');
    const wrong = await call(s.url, '/ui/api/attestations', { headers: { authorization: `Bearer ${VIEWER}x` } });
    assert.equal(wrong.status, 403);
    assert.equal(code(wrong), 'FORBIDDEN');
    assert.equal((await call(s.url, '/ui/api/attestations', { headers: { authorization: `Bearer ${VIEWER}` } })).status, 200);
    assert.equal((await call(s.url, '/ui/api/attestations', { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
    const cfg = JSON.parse((await call(s.url, '/ui/api/config', { headers: { authorization: `Bearer ${VIEWER}` } })).body) as { access: string };
    assert.equal(cfg.access, 'token');
  } finally {
    await s.close();
  }
});

test('editing a policy needs the admin token; the viewer token is not enough', async () => {
  const src = new MemoryAttestationSource(Date.now());
  const s = await startDashboardServer({ attestation: src, viewerToken: VIEWER, adminToken: ADMIN });
  const body = JSON.stringify({ text: 'version=1.0; authorizationrules { => permit(); };' });
  try {
    const viewer = await call(s.url, '/ui/api/policies/SgxEnclave', { method: 'PUT', body, headers: { authorization: `Bearer ${VIEWER}`, 'content-type': 'application/json' } });
    assert.equal(viewer.status, 403);
    assert.equal(code(viewer), 'FORBIDDEN');
    assert.equal(src.policies.get('SgxEnclave')?.isDefault, true);
    const admin = await call(s.url, '/ui/api/policies/SgxEnclave', { method: 'PUT', body, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' } });
    assert.equal(admin.status, 200);
    assert.equal(src.policies.get('SgxEnclave')?.version, '1');
  } finally {
    await s.close();
  }
  const noAdmin = await startDashboardServer({ attestation: src });
  try {
    const r = await call(noAdmin.url, '/ui/api/policies/SgxEnclave', { method: 'PUT', body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 403);
    assert.equal(code(r), 'ADMIN_DISABLED');
  } finally {
    await noAdmin.close();
  }
});

test('query parameters and bodies are bounded and validated', async () => {
  const s = await startDashboardServer({ attestation: new MemoryAttestationSource(Date.now()), keyBroker: new MemoryKeyBrokerSource(Date.now()) });
  try {
    for (const p of ['/ui/api/attestations?limit=201', '/ui/api/attestations?limit=-1', '/ui/api/attestations?outcome=maybe', '/ui/api/attestations?type=%3Cscript%3E', '/ui/api/attestations/counts?hours=100000', '/ui/api/broker/ledger?limit=1001', '/ui/api/broker/releases?granted=yes']) {
      const a = await call(s.url, p);
      assert.equal(a.status, 400, p);
      assert.equal(code(a), 'INVALID_QUERY', p);
    }
    assert.equal(code(await call(s.url, '/ui/api/attestations/nope-404')), 'NOT_FOUND');
    assert.equal(code(await call(s.url, '/ui/api/policies/TpmNotHere')), 'UNKNOWN_ATTESTATION_TYPE');
    const big = await call(s.url, '/ui/api/policies/SgxEnclave/parse', { method: 'POST', body: JSON.stringify({ text: 'x'.repeat(400 * 1024) }), headers: { 'content-type': 'application/json' } });
    assert.equal(big.status, 413);
    assert.equal(code(big), 'BODY_TOO_LARGE');
    const wrongType = await call(s.url, '/ui/api/policies/SgxEnclave/parse', { method: 'POST', body: JSON.stringify({ text: 42 }), headers: { 'content-type': 'application/json' } });
    assert.equal(code(wrongType), 'INVALID_BODY');
    const parse = JSON.parse((await call(s.url, '/ui/api/policies/SgxEnclave/parse', { method: 'POST', body: JSON.stringify({ text: 'version=1.0;\nissuancerules {\n  c:[type=="x"] => issue(type="y", value=c.value));\n};' }), headers: { 'content-type': 'application/json' } })).body) as { ok: boolean; problem: { line: number; column: number } };
    assert.equal(parse.ok, false);
    assert.deepEqual([parse.problem.line, parse.problem.column], [3, 50]);
  } finally {
    await s.close();
  }
});

test('parsing and draft replay are rate-limited per client', async () => {
  const s = await startDashboardServer({ attestation: new MemoryAttestationSource(Date.now()) });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const a = await call(s.url, '/ui/api/policies/SgxEnclave/parse', { method: 'POST', body: JSON.stringify({ text: 'version=1.0;' }), headers: { 'content-type': 'application/json' } });
      statuses.push(a.status);
      if (a.status === 429) assert.equal(code(a), 'RATE_LIMITED');
    }
    assert.equal(statuses[0], 200);
    assert.ok(statuses.includes(429));
    // Reading is not limited.
    assert.equal((await call(s.url, '/ui/api/attestations')).status, 200);
  } finally {
    await s.close();
  }
});

test('a service without a key broker answers 404 for the broker views', async () => {
  const s = await startDashboardServer({ attestation: new MemoryAttestationSource(Date.now()) });
  try {
    const a = await call(s.url, '/ui/api/broker/keys');
    assert.equal(a.status, 404);
    const cfg = JSON.parse((await call(s.url, '/ui/api/config')).body) as { keyBroker: boolean; editable: boolean };
    assert.equal(cfg.keyBroker, false);
    assert.equal(cfg.editable, false);
  } finally {
    await s.close();
  }
});

test('mountDashboard refuses a mount path that is not a plain path', () => {
  assert.throws(() => mountDashboard(new Hono(), { path: '/ui"><script>' }), { code: 'CONFIG_INVALID' });
  assert.throws(() => mountDashboard(new Hono(), { path: 'ui' }), { code: 'CONFIG_INVALID' });
});

test('ledger verification (WebCrypto): OK, then each kind of tampering is caught at the right entry', async () => {
  const kb = new MemoryKeyBrokerSource(Date.now());
  const page = await kb.ledger(0, 1000);
  const ok = await verifyLedgerLines(page.lines, page.signingKey);
  assert.deepEqual(ok.ok && { entries: ok.entries, sigs: ok.signaturesChecked, head: ok.head }, { entries: 7, sigs: 7, head: page.lines[6]!.hash });
  const chainOnly = await verifyLedgerLines(page.lines);
  assert.equal(chainOnly.ok && chainOnly.signaturesChecked, 0);

  const altered = page.lines.map((l) => ({ ...l }));
  altered[3] = { ...altered[3]!, entry: altered[3]!.entry.replace('"vote":"accept"', '"vote":"reject"') };
  assert.notEqual(altered[3]!.entry, page.lines[3]!.entry);
  const r1 = await verifyLedgerLines(altered, page.signingKey);
  assert.deepEqual(!r1.ok && [r1.index, r1.rule], [3, 'hash']);

  // Rehashing the altered entry moves the break: its signature (over the old hash) and the next prev no longer match.
  const { createHash } = await import('node:crypto');
  const rehashed = altered.map((l) => ({ ...l }));
  rehashed[3] = { ...rehashed[3]!, hash: createHash('sha256').update(rehashed[3]!.entry).digest('hex') };
  const r2 = await verifyLedgerLines(rehashed, page.signingKey);
  assert.deepEqual(!r2.ok && [r2.index, r2.rule], [3, 'signature']);
  const r3 = await verifyLedgerLines(rehashed);
  assert.deepEqual(!r3.ok && [r3.index, r3.rule], [4, 'chain']);

  const dropped = page.lines.filter((_, i) => i !== 2);
  const r4 = await verifyLedgerLines(dropped, page.signingKey);
  assert.equal(!r4.ok && r4.index, 2);

  const badSig = page.lines.map((l) => ({ ...l }));
  const parts = badSig[5]!.sig.split('.');
  badSig[5] = { ...badSig[5]!, sig: `${parts[0]}.${parts[1]}.${parts[2]!.slice(0, -2)}AA` };
  const r5 = await verifyLedgerLines(badSig, page.signingKey);
  assert.deepEqual(!r5.ok && [r5.index, r5.rule], [5, 'signature']);

  const notCanonical = page.lines.map((l) => ({ ...l }));
  notCanonical[0] = { ...notCanonical[0]!, entry: ` ${notCanonical[0]!.entry}` };
  const r6 = await verifyLedgerLines(notCanonical, page.signingKey);
  assert.deepEqual(!r6.ok && [r6.index, r6.rule], [0, 'format']);
});
