/**
 * Attested TLS from inside an enclave: a sim-backend enclave creates its RA-TLS certificate (key pair, DICE evidence
 * and the Gramine legacy extension, quotes through ctx.getQuote); the host verifies it against the enclave's MRENCLAVE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { inspectAttestedCertificate, verifyAttestedCertificate } from '@cloister/ratls';
import { Platform, createSimCollateral, loadPki } from '@cloister/sgx-sim';
import { repoRoot } from '@cloister/testkit';
import { run } from './run-cli.js';

test('an enclave creates an RA-TLS certificate inside; the host verifies it against the enclave', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-ratls-enclave-'));
  try {
    const e = join(dir, 'e');
    mkdirSync(join(e, 'src'), { recursive: true });
    // The project resolves @cloister/* from this repository's node_modules, as an app inside the workspace would.
    symlinkSync(join(repoRoot, 'node_modules'), join(e, 'node_modules'));
    writeFileSync(
      join(e, 'enclave.json'),
      JSON.stringify({ name: 'ratls-enclave', entry: 'src/enclave.ts', heapSizeMiB: 64, debug: false, productId: 2, securityVersion: 1 }),
    );
    writeFileSync(
      join(e, 'src', 'enclave.ts'),
      `import { defineEnclave } from '@cloister/enclave/runtime';
import { createAttestedCertificate } from '@cloister/ratls';
export default defineEnclave({ ecalls: { async certificate(_a: undefined, ctx) {
  const c = await createAttestedCertificate({ getQuote: (rd) => ctx.getQuote(rd) });
  return { certificatePem: c.certificatePem };
} } });
`,
    );
    assert.equal((await run(['enclave', 'build', e])).code, 0);
    const signed = await run(['enclave', 'sign', e, '--json']);
    assert.equal(signed.code, 0, signed.stderr);
    const { mrenclave } = JSON.parse(signed.stdout) as { mrenclave: string };
    const platformDir = join(dir, 'p');
    assert.equal((await run(['sim', 'init', platformDir])).code, 0);
    const r = await run(['enclave', 'run', e, '--ecall', 'certificate', '--platform', platformDir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const pem = (JSON.parse(r.stdout) as { result: { certificatePem: string } }).result.certificatePem;

    const inspection = await inspectAttestedCertificate(pem);
    assert.deepEqual(inspection.evidence.map((x) => x.format).sort(), ['gramine-legacy', 'tcg-dice']);
    assert.ok(inspection.evidence.every((x) => x.binding.ok));

    const platform = Platform.load(platformDir);
    const pki = await loadPki(platform, platformDir);
    const v = await verifyAttestedCertificate(
      pem,
      { mrenclave, allowSimulated: true },
      { collateral: await createSimCollateral(platform, pki), trustRoots: [trustAnchorFromCertificate(pki.rootCertPem)] },
    );
    assert.equal(v.format, 'tcg-dice');
    assert.equal(v.claims.mrenclave, mrenclave);
    assert.equal(v.result?.status, 'UpToDate');
    await assert.rejects(
      verifyAttestedCertificate(pem, { mrenclave: '00'.repeat(32), allowSimulated: true }, {
        collateral: await createSimCollateral(platform, pki),
        trustRoots: [trustAnchorFromCertificate(pki.rootCertPem)],
      }),
      (err: unknown) => (err as { code?: string }).code === 'POLICY_MISMATCH',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
