/**
 * The dashboard as the real services serve it: Cloister's attestation service (simulated instance, PGlite in memory)
 * and key broker (its enclave built and run on a simulated platform), both started in this process, each mounting
 * the dashboard at /ui with this package's adapters; Chromium browses both. Evidence comes from a simulated SGX platform
 * (sgx-sim); releases are real AKV release calls with the service's tokens. The service packages are loaded at run
 * time by name (they mount the dashboard themselves, so a build-time reference would be a cycle).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serializeCollateralBundle } from '@cloister/dcap';
import { createLogger } from '@cloister/service-kit';
import { Platform, SGX_FLAGS, SimQuotingEnclave, createSimCollateral, createSimPki, enclaveIdentity, generateSigningKey, loadPki, savePki } from '@cloister/sgx-sim';
import { DASHBOARD_CSP, type AttestationInstanceLike, type SqlQueryable } from '../src/index.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = fileURLToPath(new URL('../../.artifacts/', import.meta.url));
const ADMIN = 'admin-token-0123456789abcdef';
const MRENCLAVE = 'a1'.repeat(32);
const MRSIGNER = 'b2'.repeat(32);
const HOSTILE = '<img src=x onerror="window.__pwned=1"><b id="bold">bold</b>';

// What this test uses of the two service packages (loaded by name at run time).
interface AttestationHandle {
  readonly url: string;
  readonly simulatedIssuer: string | undefined;
  readonly storage: SqlQueryable;
  instance(name: 'real' | 'simulated'): AttestationInstanceLike;
  close(): Promise<void>;
}
interface AttestationModule {
  startAttestationService(o: Record<string, unknown>): Promise<AttestationHandle>;
  parseMaaPolicy(text: string): unknown;
}
interface BrokerHandle {
  readonly url: string;
  readonly storage: SqlQueryable;
  readonly broker: { readonly signingJwk: Record<string, unknown> };
  close(): Promise<void>;
}
interface BrokerModule {
  prepareBrokerEnclave(o: { dir: string; keyPath: string }): Promise<{ dir: string }>;
  startKeyBroker(o: Record<string, unknown>): Promise<BrokerHandle>;
}

let root: string;
let svc: AttestationHandle;
let attestationMod: AttestationModule;
let kb: BrokerHandle | undefined;
let browser: Browser;
let page: Page;
let issuer: string;
const ids: { good?: string; debug?: string; broken?: string } = {};
const pageErrors: string[] = [];

async function attest(quote: Uint8Array, runtime?: Uint8Array): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${issuer}/attest/SgxEnclave?api-version=2022-08-01`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ quote: Buffer.from(quote).toString('base64url'), ...(runtime !== undefined ? { runtimeData: { data: Buffer.from(runtime).toString('base64url'), dataType: 'JSON' } } : {}) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function lastAuditId(): Promise<string> {
  const r = await svc.storage.query<{ id: string }>("SELECT max(id)::text AS id FROM attestation_audit WHERE kind = 'attestation'");
  return r.rows[0]!.id;
}

async function kbCall(method: string, path: string, body: unknown, token = ADMIN): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${kb!.url}${path}${path.includes('?') ? '&' : '?'}api-version=7.4`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  root = mkdtempSync(join(tmpdir(), 'dashboard-it-'));
  const platformDir = join(root, 'platform');
  const platform = Platform.create();
  platform.save(platformDir);
  savePki(await createSimPki(platform), platformDir);
  const pki = await loadPki(Platform.load(platformDir), platformDir);
  const collateral = await createSimCollateral(Platform.load(platformDir), pki);
  const qe = new SimQuotingEnclave(Platform.load(platformDir), pki);
  const quote = (runtime: Uint8Array | undefined, debug: boolean): Uint8Array => {
    const id = enclaveIdentity({ mrEnclave: Buffer.from(MRENCLAVE, 'hex'), mrSigner: Buffer.from(MRSIGNER, 'hex'), flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT | (debug ? SGX_FLAGS.DEBUG : 0n), isvProdId: 3, isvSvn: 2 });
    const rd = new Uint8Array(64);
    if (runtime !== undefined) rd.set(createHash('sha256').update(runtime).digest());
    return qe.quoteFor(id, rd);
  };

  const asName = '@cloister/attestation-service';
  attestationMod = (await import(asName)) as AttestationModule;
  svc = await attestationMod.startAttestationService({
    allowSimulated: true,
    trustRoots: [pki.rootCertPem],
    collateral: [serializeCollateralBundle(collateral)],
    keyEncryptionKey: 'attestation-kek-0123456789abcdef',
    adminToken: ADMIN,
    logLevel: 'silent',
  });
  issuer = svc.simulatedIssuer!;

  // Evidence: a workload whose JSON runtime data carries its RSA key (and markup), a debug build, a broken quote.
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const runtime = new TextEncoder().encode(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'workload', key_ops: ['encrypt'] }], note: HOSTILE }));
  const good = await attest(quote(runtime, false), runtime);
  assert.equal(good.status, 200, JSON.stringify(good.body));
  ids.good = await lastAuditId();
  const debug = await attest(quote(runtime, true), runtime);
  assert.equal(debug.status, 200, JSON.stringify(debug.body));
  ids.debug = await lastAuditId();
  // A quote whose ECDSA signature (v3: header 48 + report body 384 + length 4 → offset 436) no longer verifies.
  const bad = quote(undefined, false);
  bad[440] = bad[440]! ^ 0xff;
  const broken = await attest(bad);
  assert.equal(broken.status, 400);
  ids.broken = await lastAuditId();

  // The key broker: its enclave on the same simulated platform, trusting the simulated instance's tokens.
  const kbName = '@cloister/key-broker';
  const kbMod = (await import(kbName)) as BrokerModule;
  const keyPath = join(root, 'broker-signer.pem');
  writeFileSync(keyPath, generateSigningKey(), { mode: 0o600 });
  const prepared = await kbMod.prepareBrokerEnclave({ dir: join(root, 'broker'), keyPath });
  kb = await kbMod.startKeyBroker({ port: 0, storage: { memory: true }, authorities: [issuer], adminToken: ADMIN, enclaveDir: prepared.dir, platform: platformDir, logger: createLogger({ component: 'kb', level: 'silent' }) });
  const policy = { version: '1.0.0', anyOf: [{ authority: issuer, allOf: [{ claim: 'x-ms-sgx-mrsigner', equals: MRSIGNER }, { claim: 'x-ms-sgx-is-debuggable', equals: false }] }] };
  const created = await kbCall('POST', '/keys/model-key/create', { kty: 'oct-HSM', key_size: 256, attributes: { exportable: true }, release_policy: { contentType: 'application/json; charset=utf-8', data: Buffer.from(JSON.stringify(policy)).toString('base64url') } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const granted = await kbCall('POST', '/keys/model-key/release', { target: good.body['token'] }, 'anything');
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  const refused = await kbCall('POST', '/keys/model-key/release', { target: debug.body['token'] }, 'anything');
  assert.equal((refused.body['error'] as { code?: string }).code, 'ReleasePolicyNotSatisfied');

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  page = await (await browser.newContext({ viewport: { width: 1440, height: 1000 } })).newPage();
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await kb?.close();
  await svc?.close();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

/** Broker views from the key broker's own /ui, the others from the attestation service's. */
async function open(route: string): Promise<void> {
  await page.goto('about:blank');
  const res = await page.goto(`${route.startsWith('broker/') ? kb!.url : svc.url}/ui/#/${route}`);
  assert.equal(res?.headers()['content-security-policy'], DASHBOARD_CSP);
}

test('attestations from the running service: outcomes, identity (also of refused evidence), steps', async () => {
  await open('attestations');
  const rows = page.locator('[data-testid="attestations"] tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 3);
  const text = (await page.locator('[data-testid="attestations"]').textContent()) ?? '';
  assert.match(text, /permitted/);
  assert.match(text, /error/);
  // The broken quote still shows whose it claims to be (parsed from the kept evidence).
  assert.equal(await rows.nth(0).locator('td').nth(2).locator('code').getAttribute('title'), MRENCLAVE);
  assert.equal(await rows.nth(0).locator('td').nth(9).textContent(), 'simulated');
  const totals = await page.locator('[data-testid="totals-outcome"] text.value').allTextContents();
  assert.equal(totals.reduce((a, b) => a + Number(b), 0), 3);
  await page.screenshot({ path: `${ARTIFACTS}real-attestations.png`, fullPage: true });

  await open(`attestations/${ids.good!}`);
  await page.locator('[data-testid="claims"]').waitFor();
  const names = await page.locator('[data-testid="claims"] td.claim-name').allTextContents();
  for (const n of ['x-ms-sgx-mrenclave', 'x-ms-runtime', 'x-ms-policy-hash', 'x-cloister-simulated']) assert.ok(names.includes(n), n);
  const steps = await page.locator('[data-testid="steps"] .step-name').allTextContents();
  assert.deepEqual(steps, ['parse', 'collateral', 'quote', 'evidence-rules', 'runtime-data', 'policy']);
  // Runtime data with markup: text, no element.
  assert.equal(await page.locator('main img, #bold').count(), 0);
  assert.ok((await page.locator('[data-testid="claims"]').textContent())?.includes(HOSTILE.replace(/"/g, '\\"')));
  await page.screenshot({ path: `${ARTIFACTS}real-attestation-detail.png`, fullPage: true });

  await open(`attestations/${ids.broken!}`);
  await page.locator('[data-testid="steps"]').waitFor();
  assert.equal(await page.locator('[data-testid="steps"] li.bad .step-name').first().textContent(), 'error');
});

test("the policy editor shows the service parser's error at its line and column; draft replay; save", async () => {
  await open('policies/simulated:SgxEnclave');
  const editor = page.locator('[data-testid="policy-editor"]');
  await editor.waitFor();
  await page.locator('[data-testid="parse-status"][data-state="ok"]').waitFor();
  const broken = 'version= 1.0;\nauthorizationrules\n{\n    c:[type=="x-ms-sgx-is-debuggable", value==false] => permit();\n    c:[type=="x-ms-sgx-mrsigner"] = > permit();\n};\n';
  let expected: { line: number; column: number } | undefined;
  try {
    attestationMod.parseMaaPolicy(broken);
  } catch (e) {
    expected = e as { line: number; column: number };
  }
  assert.ok(expected !== undefined && expected.line === 5, 'the service parser places the error on line 5');
  await editor.fill(broken);
  await page.locator('[data-testid="parse-status"][data-state="error"]').waitFor();
  assert.equal(await page.locator('[data-testid="parse-location"]').textContent(), `Line ${expected.line}, column ${expected.column}`);
  await page.screenshot({ path: `${ARTIFACTS}real-policy-error.png` });

  const strict = 'version= 1.0;\nauthorizationrules\n{\n    c:[type=="x-ms-sgx-is-debuggable", value==false] => permit();\n};\nissuancerules\n{\n    c:[type=="x-ms-sgx-mrsigner"] => issue(type="signer", value=c.value);\n};\n';
  await editor.fill(strict);
  await page.locator('[data-testid="parse-status"][data-state="ok"]').waitFor();
  await page.selectOption('[data-testid="replay-attestation"]', ids.debug!);
  await page.click('[data-testid="test-draft"]');
  await page.locator('[data-testid="test-result"] .badge').waitFor();
  assert.equal(await page.locator('[data-testid="test-result"] .badge').textContent(), 'denied');
  await page.selectOption('[data-testid="replay-attestation"]', ids.good!);
  await page.click('[data-testid="test-draft"]');
  await page.locator('[data-testid="test-result"] .badge', { hasText: 'permitted' }).waitFor();
  assert.match((await page.locator('[data-testid="test-claims"]').textContent()) ?? '', new RegExp(`"signer": "${MRSIGNER}"`));

  await page.fill('[data-testid="admin-token"]', ADMIN);
  await page.click('[data-testid="save-policy"]');
  await page.locator('[data-testid="save-status"]', { hasText: 'saved' }).waitFor();
  const stored = await svc.instance('simulated').policy('SgxEnclave' as never);
  assert.equal(stored.text, strict);
  // Replays are not attestations: the list still has three.
  await open('attestations');
  await page.locator('[data-testid="attestations"] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid="attestations"] tbody tr').count(), 3);
});

test('signing keys of both instances', async () => {
  const jwks = (await (await fetch(`${issuer}/certs`)).json()) as { keys: { kid: string }[] };
  await open('signing');
  await page.locator('[data-testid="signing-keys"] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid="signing-keys"] tbody tr').count(), 2);
  assert.ok(await page.getByText(jwks.keys[0]!.kid, { exact: true }).isVisible());
  assert.ok(((await page.locator('[data-testid="signing-keys"]').textContent()) ?? '').includes(`CN=${issuer}`));
});

test('key broker: the key and its release policy, the granted and the refused release with its reason', async () => {
  await open('broker/keys');
  await page.locator('[data-testid="broker-keys"] details').first().waitFor();
  await page.locator('[data-testid="broker-keys"] details summary').first().click();
  assert.ok(((await page.locator('[data-testid="release-policy"]').textContent()) ?? '').includes(MRSIGNER));
  await open('broker/releases');
  await page.locator('[data-testid="releases"] tbody tr').first().waitFor();
  assert.equal(await page.locator('[data-testid="releases"] tbody tr').count(), 2);
  const refused = page.locator('[data-testid="releases"] tbody tr[data-state="refused"]');
  assert.equal(await refused.locator('td').nth(3).textContent(), 'ReleasePolicyNotSatisfied');
  assert.match((await refused.locator('.reason').textContent()) ?? '', /x-ms-sgx-is-debuggable/);
  assert.ok(await refused.locator('.reason').isVisible());
  assert.equal(await page.locator('[data-testid="releases"] tbody tr[data-state="granted"] .badge').textContent(), 'granted');
  await page.screenshot({ path: `${ARTIFACTS}real-releases.png` });
});

test("ledger: verify with the broker's key says OK; an entry altered in the database breaks it", async () => {
  await open('broker/ledger');
  await page.locator('[data-testid="ledger"] tbody tr').first().waitFor();
  const n = Number((await kb!.storage.query<{ n: string }>('SELECT count(*)::text AS n FROM kb_ledger')).rows[0]!.n);
  assert.ok(n >= 1);
  await page.click('[data-testid="ledger-verify"]');
  await page.locator('[data-testid="ledger-result"][data-state="ok"]').waitFor();
  assert.match((await page.locator('[data-testid="ledger-result"]').textContent()) ?? '', new RegExp(`OK ${n} entries.*${n} broker signatures verify`));
  const row = (await kb!.storage.query<{ seq: number; entry: string }>("SELECT seq, entry FROM kb_ledger WHERE entry LIKE '%\"model-key\"%' ORDER BY seq LIMIT 1")).rows[0]!;
  const altered = row.entry.replace('"model-key"', '"model-kez"');
  assert.notEqual(altered, row.entry);
  await kb!.storage.query('UPDATE kb_ledger SET entry = $1 WHERE seq = $2', [altered, row.seq]);
  try {
    await page.click('[data-testid="ledger-verify"]');
    await page.locator('[data-testid="ledger-result"][data-state="broken"]').waitFor();
    assert.match((await page.locator('[data-testid="ledger-result"]').textContent()) ?? '', new RegExp(`BROKEN at entry ${Number(row.seq)} \\(hash\\)`));
  } finally {
    await kb!.storage.query('UPDATE kb_ledger SET entry = $1 WHERE seq = $2', [row.entry, row.seq]);
  }
});

test('no script errors', () => {
  assert.deepEqual(pageErrors, []);
});
