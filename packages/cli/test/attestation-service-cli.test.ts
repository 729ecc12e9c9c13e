/**
 * `cloister attestation-service serve`, `cloister attest`, `cloister token verify` and `quote inspect --maa-claims` as
 * a user runs them: real processes on loopback, a simulated platform's evidence at /simulated (HTTPS with a test CA
 * and Microsoft's client are in packages/attestation-service/test/azure-sdk.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testdataDir } from '@cloister/testkit';
import { bin, run } from './run-cli.js';
import { serializeCollateralBundle } from '@cloister/dcap';
import { Platform, SGX_FLAGS, SimQuotingEnclave, createSimCollateral, createSimPki, enclaveIdentity } from '@cloister/sgx-sim';

async function simFixture() {
  const platform = Platform.create({});
  const pki = await createSimPki(platform);
  const collateralJson = serializeCollateralBundle(await createSimCollateral(platform, pki, {}));
  const qe = new SimQuotingEnclave(platform, pki);
  const id = enclaveIdentity({ mrEnclave: new Uint8Array(32).fill(0xaa), mrSigner: new Uint8Array(32).fill(0xbb), flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT, isvProdId: 1, isvSvn: 1 });
  return {
    rootPem: pki.rootCertPem,
    collateralJson,
    quote(runtimeData: Uint8Array): Uint8Array {
      const rd = new Uint8Array(64);
      rd.set(createHash('sha256').update(runtimeData).digest());
      return qe.quoteFor(id, rd);
    },
  };
}

test('quote inspect --maa-claims: the oe-sdk-release report gives its expectMaaClaims', async () => {
  const dir = join(testdataDir, 'oe', 'oe-sdk-release');
  const expect = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8')) as { expectMaaClaims: Record<string, unknown> };
  const r = await run(['quote', 'inspect', join(dir, 'report.bin'), '--maa-claims', '--runtime-data', join(dir, 'enclave-held-data.bin'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const claims = JSON.parse(r.stdout) as Record<string, unknown>;
  for (const [k, v] of Object.entries(expect.expectMaaClaims)) assert.deepEqual(claims[k], v, k);
  const collateral = claims['x-ms-sgx-collateral'] as Record<string, unknown>;
  assert.equal(collateral['quotehash'], createHash('sha256').update(readFileSync(join(dir, 'report.bin')).subarray(16)).digest('hex'));
});

test('usage errors exit 2', async () => {
  const a = await run(['attestation-service', 'serve', '--port', '0']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /INVALID_ARGUMENT/);
  const b = await run(['attestation-service', 'serve', '--data', '/nonexistent-x', '--host', '0.0.0.0']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--issuer/);
  const d = await run(['attestation-service', 'serve', '--database-url', 'postgres://127.0.0.1:1/x']);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /--issuer URL is required with --database-url/);
  const c = await run(['token', 'verify', 'a.b.c']);
  assert.equal(c.code, 2);
});

test('serve, attest a simulated quote, verify the token (and refuse a wrong issuer or a tampered token)', async () => {
  const sim = await simFixture();
  const dir = mkdtempSync(join(tmpdir(), 'cloister-as-cli-'));
  const child = spawn(
    process.execPath,
    [bin, 'attestation-service', 'serve', '--port', '0', '--data', join(dir, 'data'),
      '--allow-simulated', '--trust-root', join(dir, 'root.pem'), '--collateral', join(dir, 'collateral.json'), '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  writeFileSync(join(dir, 'root.pem'), sim.rootPem);
  writeFileSync(join(dir, 'collateral.json'), sim.collateralJson);
  try {
    // (the files are read at start; the write above races the spawn only on paper: node takes far longer to load)
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /attestation service on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
        if (m !== null) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    assert.equal(statSync(join(dir, 'data', 'key-encryption-key')).mode & 0o777, 0o600);
    const rd = new TextEncoder().encode('cli runtime data');
    writeFileSync(join(dir, 'quote.bin'), sim.quote(rd));
    writeFileSync(join(dir, 'rd.bin'), rd);
    const simUrl = `${url}/simulated`;
    const a = await run(['attest', join(dir, 'quote.bin'), '--url', simUrl, '--runtime-data', join(dir, 'rd.bin'), '--out', join(dir, 'token.jwt'), '--json']);
    assert.equal(a.code, 0, a.stderr);
    const attested = JSON.parse(a.stdout) as { claims: Record<string, unknown> };
    assert.equal(attested.claims['x-cloister-simulated'], true);
    assert.equal(attested.claims['iss'], simUrl);

    const v = await run(['token', 'verify', join(dir, 'token.jwt'), '--url', simUrl, '--json']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.equal((JSON.parse(v.stdout) as { claims: Record<string, unknown> }).claims['x-ms-sgx-ehd'], Buffer.from(rd).toString('base64url'));

    const text = await run(['token', 'verify', join(dir, 'token.jwt'), '--url', simUrl]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /token valid/);
    assert.match(text.stdout, /SIMULATED\s+true/);

    // The real instance's issuer is not the simulated one's: a token of one never verifies as the other's.
    const wrong = await run(['token', 'verify', join(dir, 'token.jwt'), '--url', url, '--json']);
    assert.equal(wrong.code, 1);
    assert.equal((JSON.parse(wrong.stdout) as { error: { code: string } }).error.code, 'TOKEN_INVALID');

    const token = readFileSync(join(dir, 'token.jwt'), 'utf8').trim();
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    payload['x-ms-sgx-mrenclave'] = '00'.repeat(32);
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    const jwks = await fetch(`${simUrl}/certs`);
    writeFileSync(join(dir, 'jwks.json'), await jwks.text());
    const offline = await run(['token', 'verify', token, '--jwks', join(dir, 'jwks.json'), '--issuer', simUrl, '--json']);
    assert.equal(offline.code, 0, offline.stdout);
    const certs = await run(['attest', join(dir, 'quote.bin'), '--url', url, '--json']);
    assert.equal(certs.code, 1, 'the real instance refuses simulated evidence');
    assert.equal((JSON.parse(certs.stdout) as { error: { code: string } }).error.code, 'EVIDENCE_REFUSED');
    const t = await run(['token', 'verify', tampered, '--url', simUrl, '--json']);
    assert.equal(t.code, 1);
    assert.equal((JSON.parse(t.stdout) as { error: { code: string } }).error.code, 'TOKEN_INVALID');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
