/**
 * `cloister sim …` as a user runs it, end to end with `cloister verify`: a platform on disk, its root, quotes v3/v4
 * for an MRENCLAVE and for a signed enclave directory, collateral with chosen statuses — verified only with
 * `--trust-root`, and marked simulated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './run-cli.js';



const dir = mkdtempSync(join(tmpdir(), 'cloister-sim-'));
const platform = join(dir, 'platform');
const MRENCLAVE = 'c0ffee'.padEnd(64, '0');

test('sim init makes a platform with a 0600 secret and refuses to overwrite it', async () => {
  const r = await run(['sim', 'init', platform, '--fmspc', '00a067110000', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { fmspc: string };
  assert.equal(out.fmspc, '00a067110000');
  assert.equal(statSync(join(platform, 'platform.secret')).mode & 0o777, 0o600);
  const again = await run(['sim', 'init', platform, '--json']);
  assert.equal(again.code, 2);
  assert.equal((JSON.parse(again.stdout) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
});

test('sim root prints the same simulated root every time', async () => {
  const a = await run(['sim', 'root', '--platform', platform]);
  const b = await run(['sim', 'root', '--platform', platform]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /^-----BEGIN CERTIFICATE-----/);
  assert.equal(a.stdout, b.stdout);
  writeFileSync(join(dir, 'root.pem'), a.stdout);
});

for (const version of ['3', '4']) {
  for (const status of ['UpToDate', 'ConfigurationNeeded', 'Revoked']) {
    test(`sim quote v${version} + sim collateral ${status} verify with --trust-root only`, async () => {
      const quote = join(dir, `q${version}.bin`);
      const col = join(dir, `c-${status}.json`);
      const q = await run(['sim', 'quote', '--platform', platform, '--mrenclave', MRENCLAVE, '--report-data', 'cafe', '--quote-version', version, '--out', quote]);
      assert.equal(q.code, 0, q.stderr);
      const c = await run(['sim', 'collateral', '--platform', platform, '--tcb-status', status, '--advisory-ids', 'INTEL-SA-00615', '--out', col]);
      assert.equal(c.code, 0, c.stderr);
      const v = await run(['verify', quote, '--collateral', col, '--trust-root', join(dir, 'root.pem'), '--json']);
      assert.equal(v.code, 0, v.stdout);
      const res = JSON.parse(v.stdout) as { status: string; simulated: boolean; quoteVersion: number; claims: Record<string, unknown>; advisoryIds: string[] };
      assert.equal(res.status, status);
      assert.equal(res.simulated, true);
      assert.equal(res.quoteVersion, Number(version));
      assert.equal(res.claims['mrenclave'], MRENCLAVE);
      assert.equal(res.claims['reportData'], 'cafe'.padEnd(128, '0'));
      assert.deepEqual(res.advisoryIds, ['INTEL-SA-00615']);
      const untrusted = await run(['verify', quote, '--collateral', col, '--json']);
      assert.equal(untrusted.code, 1);
      assert.equal((JSON.parse(untrusted.stdout) as { error: { code: string } }).error.code, 'SGX_PCK_CERT_CHAIN_UNTRUSTED');
    });
  }
}

test('sim collateral --revoke-pck and --below-all-levels give the verifier errors', async () => {
  const quote = join(dir, 'q3.bin');
  for (const [flag, code] of [
    ['--revoke-pck', 'SGX_PCK_REVOKED'],
    ['--below-all-levels', 'TCB_NOT_SUPPORTED'],
  ] as const) {
    const col = join(dir, `c${flag}.json`);
    assert.equal((await run(['sim', 'collateral', '--platform', platform, flag, '--out', col])).code, 0);
    const v = await run(['verify', quote, '--collateral', col, '--trust-root', join(dir, 'root.pem'), '--json']);
    assert.equal(v.code, 1);
    assert.equal((JSON.parse(v.stdout) as { error: { code: string } }).error.code, code);
  }
});

test('sim quote --enclave DIR quotes a signed enclave package with the MRENCLAVE enclave sign printed', async () => {
  const enc = join(dir, 'enclave');
  mkdirSync(join(enc, 'src'), { recursive: true });
  writeFileSync(
    join(enc, 'enclave.json'),
    JSON.stringify({ name: 'hello', entry: 'src/enclave.ts', heapSizeMiB: 16, debug: false, productId: 7, securityVersion: 3 }),
  );
  writeFileSync(
    join(enc, 'src', 'enclave.ts'),
    "import { defineEnclave } from '@cloister/enclave/runtime';\nexport default defineEnclave({ ecalls: { async hi() { return 'hi'; } } });\n",
  );
  assert.equal((await run(['enclave', 'build', enc])).code, 0);
  const signed = await run(['enclave', 'sign', enc, '--json']);
  assert.equal(signed.code, 0, signed.stderr);
  const ids = JSON.parse(signed.stdout) as { mrenclave: string; mrsigner: string };
  const quote = join(dir, 'qe.bin');
  const q = await run(['sim', 'quote', '--platform', platform, '--enclave', enc, '--report-data', '01', '--out', quote]);
  assert.equal(q.code, 0, q.stderr);
  const col = join(dir, 'c-UpToDate.json');
  const v = await run(['verify', quote, '--collateral', col, '--trust-root', join(dir, 'root.pem'), '--json']);
  assert.equal(v.code, 0, v.stdout);
  const claims = (JSON.parse(v.stdout) as { claims: Record<string, unknown> }).claims;
  assert.equal(claims['mrenclave'], ids.mrenclave);
  assert.equal(claims['mrsigner'], ids.mrsigner);
  assert.equal(claims['isvProdId'], 7);
  assert.equal(claims['isvSvn'], 3);
  // A bundle changed after signing no longer matches its SIGSTRUCT.
  writeFileSync(join(enc, 'dist', 'enclave.bundle.mjs'), '\n// tampered\n', { flag: 'a' });
  const bad = await run(['sim', 'quote', '--platform', platform, '--enclave', enc, '--out', join(dir, 'bad.bin')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /INVALID_SIGNATURE/);
});

test('sim commands explain bad input', async () => {
  const r = await run(['sim', 'quote', '--platform', join(dir, 'nope'), '--mrenclave', MRENCLAVE]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /PLATFORM_INVALID/);
  const s = await run(['sim', 'collateral', '--platform', platform, '--tcb-status', 'Fine']);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /INVALID_ARGUMENT/);
});
