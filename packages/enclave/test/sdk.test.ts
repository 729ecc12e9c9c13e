/**
 * The SDK end to end on the sim backend: a project built and signed with the real tools, started with createEnclave,
 * attested (in process and out of process through the AESM socket), sealed across restarts; a changed bundle
 * changes MRENCLAVE and fails the old policy; another enclave cannot unseal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { QuoteHelperService, createLogger } from '@cloister/node-agent';
import { Platform, createSimCollateral, createSimPki, generateSigningKey, savePki } from '@cloister/sgx-sim';
import { Registry } from 'prom-client';
import {
  EnclaveError,
  PolicyError,
  buildEnclave,
  createEnclave,
  signEnclaveDir,
  verifyEvidence,
  type EcallHandler,
  type EnclaveDefinition,
} from '../src/index.js';

type Def = EnclaveDefinition<{
  quote: EcallHandler<{ data: Uint8Array }, Uint8Array>;
  seal: EcallHandler<{ data: Uint8Array; policy: 'MRENCLAVE' | 'MRSIGNER' }, Uint8Array>;
  unseal: EcallHandler<{ blob: Uint8Array }, Uint8Array>;
  whoami: EcallHandler<undefined, { mrenclave: string }>;
}>;

function project(root: string, name: string, flavour: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'enclave.json'),
    JSON.stringify({ name, entry: 'src/enclave.ts', heapSizeMiB: 32, debug: false, productId: 5, securityVersion: 2 }),
  );
  writeFileSync(
    join(dir, 'src', 'enclave.ts'),
    `import { defineEnclave } from '@cloister/enclave/runtime';
const FLAVOUR = ${JSON.stringify(flavour)};
export default defineEnclave({
  ecalls: {
    async quote(args: { data: Uint8Array }, ctx) { const rd = new Uint8Array(64); rd.set(args.data.subarray(0, 64)); return ctx.getQuote(rd); },
    async seal(args: { data: Uint8Array; policy: 'MRENCLAVE' | 'MRSIGNER' }, ctx) { return ctx.seal(args.data, { policy: args.policy }); },
    async unseal(args: { blob: Uint8Array }, ctx) { return (await ctx.unseal(args.blob)).data; },
    async whoami(_args: undefined, ctx) { return { mrenclave: (await ctx.identity()).mrenclave, flavour: FLAVOUR }; },
  },
});
`,
  );
  return dir;
}

test('build, sign, run, attest out of process, seal across restarts, refuse changes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cloister-sdk-'));
  const platformDir = join(root, 'platform');
  const platform = Platform.create();
  platform.save(platformDir);
  const pki = await createSimPki(platform);
  savePki(pki, platformDir);
  const socketPath = join(root, 'aesmd', 'aesm.socket');
  const helper = new QuoteHelperService({ socketPath, platformDir, logger: createLogger({ level: 'silent' }), registry: new Registry() });
  await helper.start();
  let enclave: Awaited<ReturnType<typeof createEnclave<Def>>> | undefined;
  try {
    // One signer for both enclaves (a key file of our own, 0600).
    const keyPath = join(root, 'key.pem');
    writeFileSync(keyPath, generateSigningKey(), { mode: 0o600 });
    const a = project(root, 'a', 'one');
    await buildEnclave(a);
    const signedA = await signEnclaveDir(a, { keyPath });
    const options = { platform: platformDir, aesmSocketPath: socketPath, hostEnv: { SGX_AESM_ADDR: '1' } };
    const anchors = [trustAnchorFromCertificate(pki.rootCertPem)];
    const collateral = await createSimCollateral(platform, pki);
    enclave = await createEnclave<Def>(a, options);
    // Out-of-process quote, verified against the policy of this exact enclave.
    const data = new TextEncoder().encode('bound into the quote');
    const quote = await enclave.ecalls.quote({ data });
    const ok = await verifyEvidence(quote, { mrenclave: signedA.mrenclave, allowSimulated: true, reportData: data }, { collateral, trustAnchors: anchors });
    assert.equal(ok.identity.mrenclave, signedA.mrenclave);
    assert.equal(ok.identity.isvProdId, 5);
    assert.equal(ok.identity.isvSvn, 2);
    // The default policy refuses simulated evidence.
    await assert.rejects(
      verifyEvidence(quote, { mrenclave: signedA.mrenclave }, { collateral, trustAnchors: anchors }),
      (e: unknown) => PolicyError.is(e) && e.code === 'POLICY_MISMATCH',
    );

    // Sealed data survives a restart of the same enclave.
    const secret = new TextEncoder().encode('model key');
    const blobEnclave = await enclave.ecalls.seal({ data: secret, policy: 'MRENCLAVE' });
    const blobSigner = await enclave.ecalls.seal({ data: secret, policy: 'MRSIGNER' });
    await enclave.terminate();
    enclave = await createEnclave<Def>(a, options);
    assert.deepEqual(await enclave.ecalls.unseal({ blob: blobEnclave }), secret);

    // A changed bundle: new MRENCLAVE, the old policy fails, and MRENCLAVE-sealed data stays sealed.
    const b = project(root, 'b', 'two');
    await buildEnclave(b);
    const signedB = await signEnclaveDir(b, { keyPath });
    assert.notEqual(signedB.mrenclave, signedA.mrenclave);
    assert.equal(signedB.mrsigner, signedA.mrsigner);
    const other = await createEnclave<Def>(b, options);
    try {
      const quoteB = await other.ecalls.quote({ data });
      await assert.rejects(
        verifyEvidence(quoteB, { mrenclave: signedA.mrenclave, allowSimulated: true }, { collateral, trustAnchors: anchors }),
        (e: unknown) => PolicyError.is(e) && e.code === 'POLICY_MISMATCH',
      );
      await assert.rejects(other.ecalls.unseal({ blob: blobEnclave }), (e: unknown) => EnclaveError.is(e) && e.code === 'UNSEAL_FAILED');
      // Same signer: MRSIGNER-sealed data is shared by the signer's enclaves, as on SGX.
      assert.deepEqual(await other.ecalls.unseal({ blob: blobSigner }), secret);
    } finally {
      await other.terminate();
    }

    // A bundle changed after signing no longer loads.
    writeFileSync(join(a, 'dist', 'enclave.bundle.mjs'), '\n// tampered\n', { flag: 'a' });
    await assert.rejects(createEnclave<Def>(a, options), (e: unknown) => EnclaveError.is(e) && e.code === 'INVALID_SIGNATURE');
  } finally {
    await enclave?.terminate();
    await helper.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
