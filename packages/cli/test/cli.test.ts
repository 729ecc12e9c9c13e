/**
 * The `cloister` command as a user runs it: a real process per call, real files, the real corpus
 * (testdata/dcap) and the samples shipped in examples/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadDcapCases, repoRoot } from '@cloister/testkit';
import { bin, run } from './run-cli.js';




function caseArgs(c: ReturnType<typeof loadDcapCases>[number], extra: string[] = []): string[] {
  const args = ['verify', join(c.dir, 'quote.bin'), '--collateral', join(c.dir, 'collateral.json'), '--now', c.json.now];
  const o = c.json.options ?? {};
  if (o.skipRootCrlFreshness || o.skipCrlFreshness) args.push('--skip-root-crl-freshness');
  if (o.skipPckCrlFreshness || o.skipCrlFreshness) args.push('--skip-pck-crl-freshness');
  if (o.trustedRootCaFile) args.push('--trust-root', join(c.dir, o.trustedRootCaFile));
  return [...args, ...extra];
}

const cases = loadDcapCases().filter((c) => c.collateralText !== undefined);

for (const c of cases) {
  test(`cloister verify --json: ${c.json.id}`, async () => {
    const r = await run(caseArgs(c, ['--json']));
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    if (c.json.expect !== undefined) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(out['ok'], true);
      assert.equal(out['status'], c.json.expect.status);
      assert.deepEqual([...(out['advisoryIds'] as string[])].sort(), [...c.json.expect.advisoryIds].sort());
      assert.equal(out['teeType'], c.json.teeType);
      assert.equal(out['quoteVersion'], c.json.quoteVersion);
      for (const k of ['claims', 'platform', 'collateral']) assert.equal(typeof out[k], 'object', k);
    } else {
      assert.equal(r.code, 1);
      assert.equal(out['ok'], false);
      const err = out['error'] as { code: string; message: string };
      assert.ok([c.json.expectError, ...(c.json.expectErrorAlternatives ?? [])].includes(err.code), err.code);
      assert.ok(err.message.length > 10);
    }
  });

  const qve = c.json.qveExpect;
  if (qve !== undefined && !('error' in qve)) {
    test(`cloister verify --allow-expired-collateral: ${c.json.id}`, async () => {
      const r = await run(caseArgs(c, ['--json', '--allow-expired-collateral']));
      assert.equal(r.code, 0, r.stdout);
      const out = JSON.parse(r.stdout) as { status: string; collateral: { expired: boolean }; relaxations: string[] };
      assert.equal(out.status, qve.status);
      assert.equal(out.collateral.expired, qve.collateralExpired);
      assert.ok(out.relaxations.includes('allowExpiredCollateral'));
    });
  }
}

test('cloister verify prints a readable summary and accepts hex and base64 quotes', async () => {
  const c = cases.find((x) => x.json.id === 'dcapqvl-sgx-v3')!;
  const dir = mkdtempSync(join(tmpdir(), 'cloister-cli-'));
  const hexFile = join(dir, 'quote.hex');
  const b64File = join(dir, 'quote.b64');
  writeFileSync(hexFile, `${Buffer.from(c.quote).toString('hex').toUpperCase()}\n`);
  writeFileSync(b64File, Buffer.from(c.quote).toString('base64'));
  for (const f of [join(c.dir, 'quote.bin'), hexFile, b64File]) {
    const args = caseArgs(c);
    args[1] = f;
    const r = await run(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /TCB status ConfigurationAndSWHardeningNeeded/);
    assert.match(r.stdout, /INTEL-SA-00615/);
    assert.match(r.stdout, /33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb/);
  }
});

test('cloister verify: unreadable input and garbage are exit 1 with a code', async () => {
  const c = cases.find((x) => x.json.id === 'dcapqvl-sgx-v3')!;
  const missing = await run(['verify', '/nonexistent/quote', '--collateral', join(c.dir, 'collateral.json'), '--json']);
  assert.equal(missing.code, 1);
  assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'INPUT_UNREADABLE');
  const dir = mkdtempSync(join(tmpdir(), 'cloister-cli-'));
  const junk = join(dir, 'junk.bin');
  writeFileSync(junk, Uint8Array.from([3, 0, 2, 0, 1, 2, 3]));
  const r = await run(['verify', junk, '--collateral', join(c.dir, 'collateral.json'), '--json']);
  assert.equal(r.code, 1);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'UNSUPPORTED_QUOTE_FORMAT');
  const text = await run(['verify', junk, '--collateral', join(c.dir, 'collateral.json')]);
  assert.equal(text.code, 1);
  assert.match(text.stderr, /UNSUPPORTED_QUOTE_FORMAT/);
});

test('cloister quote inspect: every corpus quote, JSON and text', async () => {
  for (const c of loadDcapCases()) {
    const r = await run(['quote', 'inspect', join(c.dir, 'quote.bin'), '--json']);
    assert.equal(r.code, 0, `${c.json.id}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { teeType: string; version: number; claims: Record<string, unknown> };
    assert.equal(out.teeType, c.json.teeType);
    assert.equal(out.version, c.json.quoteVersion);
    if (c.json.expectClaims?.['mrtd'] !== undefined) assert.equal(out.claims['mrtd'], c.json.expectClaims['mrtd']);
    if (c.json.expectClaims?.['mrenclave'] !== undefined) {
      assert.equal(out.claims['mrenclave'], c.json.expectClaims['mrenclave']);
    }
    const t = await run(['quote', 'inspect', join(c.dir, 'quote.bin')]);
    assert.equal(t.code, 0);
    assert.match(t.stdout, new RegExp(`${c.json.teeType} quote v${c.json.quoteVersion}`));
  }
});

test('the cloister bin is executable (npx cloister runs it directly)', () => {
  assert.notEqual(statSync(bin).mode & 0o111, 0);
});

test('the README main job: the shipped sample verifies', async () => {
  const dir = join(repoRoot, 'examples', 'dcap', 'sgx-v3');
  assert.ok(existsSync(join(dir, 'quote.bin')));
  const expected = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { now: string; expect: { status: string } };
  const r = await run(['verify', join(dir, 'quote.bin'), '--collateral', join(dir, 'collateral.json'), '--now', expected.now]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`TCB status ${expected.expect.status}`));
});

test('cloister collateral fetch from a PCCS (real collateral, real headers), then verify with it', async () => {
  const c = cases.find((x) => x.json.id === 'dcapqvl-sgx-v3')!;
  const col = JSON.parse(c.collateralText!) as Record<string, string>;
  const seen: string[] = [];
  // A PCCS on loopback answering as Intel's does (dcap-attestation.md §3.2): signed JSON bodies with URL-encoded
  // issuer chains in headers, the PCK CRL as DER, the root CA CRL as hex text.
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://pccs');
    seen.push(url.pathname + url.search);
    // Under /tampered the TCB info says every level is UpToDate (the signature no longer matches).
    const tampered = url.pathname.startsWith('/tampered/');
    const route = url.pathname.replace(/^\/tampered/, '').replace('/sgx/certification/v4/', '');
    if (route === 'tcb' && url.searchParams.get('fmspc')?.toLowerCase() === '00a067110000') {
      res.writeHead(200, { 'TCB-Info-Issuer-Chain': encodeURIComponent(col['tcb_info_issuer_chain']!) });
      const tcbInfo = tampered ? col['tcb_info']!.replace(/"tcbStatus":"[A-Za-z]+"/g, '"tcbStatus":"UpToDate"') : col['tcb_info'];
      res.end(`{"tcbInfo":${tcbInfo},"signature":"${col['tcb_info_signature']}"}`);
    } else if (route === 'qe/identity') {
      res.writeHead(200, { 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(col['qe_identity_issuer_chain']!) });
      res.end(`{"enclaveIdentity":${col['qe_identity']},"signature":"${col['qe_identity_signature']}"}`);
    } else if (route === 'pckcrl' && url.searchParams.get('ca') === 'processor') {
      res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(col['pck_crl_issuer_chain']!) });
      res.end(Buffer.from(col['pck_crl']!, 'hex'));
    } else if (route === 'rootcacrl') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(col['root_ca_crl']);
    } else {
      res.writeHead(404, { 'Error-Code': 'NotFound' });
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const out = join(mkdtempSync(join(tmpdir(), 'cloister-cli-')), 'fetched.json');
    const r = await run(['collateral', 'fetch', join(c.dir, 'quote.bin'), '--pccs', base, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(seen.some((p) => p.startsWith('/sgx/certification/v4/pckcrl?ca=processor')), seen.join(' '));
    const fetched = JSON.parse(readFileSync(out, 'utf8')) as Record<string, string>;
    for (const k of ['tcb_info', 'qe_identity', 'tcb_info_signature', 'qe_identity_signature', 'pck_crl', 'root_ca_crl']) {
      assert.equal(fetched[k]?.toLowerCase(), col[k]?.toLowerCase(), k);
    }
    const v = await run(['verify', join(c.dir, 'quote.bin'), '--collateral', out, '--now', c.json.now, '--json']);
    assert.equal(v.code, 0, v.stdout);
    assert.equal((JSON.parse(v.stdout) as { status: string }).status, c.json.expect!.status);
    // A tampered answer is verified before it is written: refused, and no file.
    const tamperedOut = join(dirname(out), 'tampered.json');
    const bad = await run(['collateral', 'fetch', join(c.dir, 'quote.bin'), '--pccs', `${base}/tampered`, '--out', tamperedOut, '--json']);
    assert.equal(bad.code, 1);
    assert.equal((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, 'TCB_INFO_INVALID_SIGNATURE');
    assert.equal(existsSync(tamperedOut), false);

    const missing = await run(['collateral', 'fetch', join(c.dir, 'quote.bin'), '--pccs', `${base}/nothing`, '--json']);
    assert.equal(missing.code, 1);
    assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'COLLATERAL_UNAVAILABLE');
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
