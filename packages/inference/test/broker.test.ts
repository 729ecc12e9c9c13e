/**
 * The real services: @cloister/attestation-service (MAA REST API, simulated instance) issues the token for the
 * enclave's runtime data; @cloister/key-broker (AKV Secure Key Release) releases the model key under a release
 * policy naming the enclave (MRENCLAVE, MRSIGNER, not debuggable). The inference enclave unwraps it inside and
 * serves; a re-signed enclave is refused by the broker and its server does not start.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startAttestationService, type AttestationServiceHandle } from '@cloister/attestation-service';
import { prepareBrokerEnclave, startKeyBroker, type KeyBrokerHandle } from '@cloister/key-broker';
import { createLogger } from '@cloister/service-kit';
import { generateSigningKey } from '@cloister/sgx-sim';
import { toBase64Url } from '../src/bytes.js';
import { encryptModel } from '../src/model-blob.js';
import { connectNodeClient } from '../src/client/node.js';
import { InferenceError } from '../src/errors.js';
import { httpKeyRelease } from '../src/host/key-release.js';
import { prepareInferenceEnclave } from '../src/host/prepare.js';
import { startInferenceServer } from '../src/host/server.js';
import { makeWorld, SAMPLE_TEXT, type World } from './world.js';

const ADMIN = 'inference-test-admin-token-0123456789';
let world: World;
let as: AttestationServiceHandle;
let broker: KeyBrokerHandle;
let authority: string;

before(async () => {
  world = await makeWorld('broker');
  const logger = createLogger({ component: 'inference-test', level: 'silent' });
  as = await startAttestationService({
    allowSimulated: true,
    trustRoots: [world.rootCertPem],
    collateral: [world.collateralText],
    keyEncryptionKey: 'inference-test-signing-key-secret',
    rateLimit: false,
    logger,
  });
  authority = as.simulatedIssuer!;
  const brokerEnclave = await prepareBrokerEnclave({ dir: join(world.root, 'broker-enclave'), keyPath: world.keyPath });
  broker = await startKeyBroker({
    port: 0,
    storage: { dataDir: join(world.root, 'broker-data') },
    authorities: [authority],
    adminToken: ADMIN,
    enclaveDir: brokerEnclave.dir,
    platform: world.platformDir,
    logger,
  });
  // The model owner registers the model key with a release policy naming the inference enclave.
  const policy = {
    version: '1.0.0',
    anyOf: [
      {
        authority,
        allOf: [
          { claim: 'x-ms-sgx-mrenclave', equals: world.enclave.mrenclave },
          { claim: 'x-ms-sgx-mrsigner', equals: world.enclave.mrsigner },
          { claim: 'x-ms-sgx-is-debuggable', equals: false },
          // The token's x-ms-runtime is the enclave's runtime data: the key goes only to an enclave holding this blob.
          { claim: 'x-ms-runtime.model-hash', equals: world.model.hash },
        ],
      },
    ],
  };
  const res = await fetch(`${broker.url}/keys/ocr-model?api-version=7.4`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({
      key: { kty: 'oct-HSM', k: toBase64Url(world.model.key), key_ops: ['wrapKey', 'unwrapKey'] },
      attributes: { exportable: true },
      release_policy: { contentType: 'application/json; charset=utf-8', data: toBase64Url(new TextEncoder().encode(JSON.stringify(policy))) },
    }),
  });
  assert.equal(res.status, 200, await res.text());
});

after(async () => {
  await broker?.close();
  await as?.close();
  world?.cleanup();
});

function releaser() {
  return httpKeyRelease({ attestationUrl: authority.replace(as.issuer, as.url), brokerUrl: broker.url, keyName: 'ocr-model', brokerToken: 'inference-server' });
}

const CLI = fileURLToPath(new URL('../../../cli/dist/src/bin.js', import.meta.url));

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

test('cloister infer serve gets the model key from the attestation service and the key broker; cloister infer and the Node client verify the enclave and recognise the text', async () => {
  const blobFile = join(world.root, 'model.blob');
  writeFileSync(blobFile, world.model.blob);
  const collateralFile = join(world.root, 'collateral.json');
  writeFileSync(collateralFile, world.collateralText);
  const rootFile = join(world.root, 'sim-root.pem');
  writeFileSync(rootFile, world.rootCertPem);
  const serve = spawn(
    process.execPath,
    [CLI, 'infer', 'serve', '--enclave', world.enclave.dir, '--model-blob', blobFile, '--platform', world.platformDir,
      '--attestation-url', authority.replace(as.issuer, as.url), '--broker-url', broker.url, '--key-name', 'ocr-model', '--port', '0', '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const first = await new Promise<string>((resolve, reject) => {
      let text = '';
      const lines = createInterface({ input: serve.stdout });
      lines.on('line', (l) => {
        text += `${l}\n`;
        if (l === '}') resolve(text);
      });
      serve.once('exit', (code) => reject(new Error(`serve exited ${String(code)}`)));
    });
    const started = JSON.parse(first) as { ok: boolean; url: string; mrenclave: string; modelHash: string };
    assert.equal(started.ok, true);
    assert.equal(started.mrenclave, world.enclave.mrenclave);
    assert.equal(started.modelHash, world.model.hash);
    const samplePath = fileURLToPath(new URL('../../../../examples/confidential-ocr/sample.png', import.meta.url));
    const common = ['--url', started.url, '--collateral', collateralFile, '--trust-root', rootFile, '--allow-simulated'];
    const ok = await runCli(['infer', 'ppocr', samplePath, ...common, '--policy', JSON.stringify({ mrenclave: world.enclave.mrenclave })]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`mrenclave\\s+${world.enclave.mrenclave}`));
    assert.ok(ok.stdout.trimEnd().endsWith(SAMPLE_TEXT), ok.stdout);
    const refused = await runCli(['infer', 'ppocr', samplePath, ...common, '--policy', JSON.stringify({ mrenclave: '22'.repeat(32) }), '--json']);
    assert.equal(refused.code, 1);
    const out = JSON.parse(refused.stdout) as { ok: boolean; error: { code: string; rule: string } };
    assert.deepEqual([out.ok, out.error.code, out.error.rule], [false, 'POLICY_MISMATCH', 'mrenclave']);
    const usage = await runCli(['infer', 'ppocr', samplePath, '--url', started.url]);
    assert.equal(usage.code, 2);
    // The library client against the same server: the key came from the broker, the model is the registered one.
    const client = await connectNodeClient({
      url: started.url,
      policy: { mrenclave: world.enclave.mrenclave, allowSimulated: true },
      verifyOptions: { collateral: world.collateral, trustRoots: world.anchors },
      expectedModelHash: world.model.hash,
    });
    try {
      assert.equal((await client.recognize(world.sample)).text, SAMPLE_TEXT);
    } finally {
      client.close();
    }
  } finally {
    const exited = new Promise((r) => serve.once('exit', r));
    serve.kill('SIGTERM');
    await exited;
  }
});

test('the broker refuses a re-signed enclave, a debug build and the right enclave holding another model blob: no key, no server', async () => {
  const refused = (e: unknown) => InferenceError.is(e) && e.code === 'KEY_RELEASE_FAILED' && e.status === 403 && e.remoteCode === 'ReleasePolicyNotSatisfied';
  // Same code, another signer: same MRENCLAVE, another MRSIGNER.
  const otherKey = join(world.root, 'other.pem');
  writeFileSync(otherKey, generateSigningKey(), { mode: 0o600 });
  const resigned = await prepareInferenceEnclave(join(world.root, 'resigned'), { keyPath: otherKey });
  assert.equal(resigned.mrenclave, world.enclave.mrenclave);
  await assert.rejects(startInferenceServer({ enclaveDir: resigned.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: releaser() }), refused);
  // The debug build of the same enclave.
  const debug = await prepareInferenceEnclave(join(world.root, 'debug'), { keyPath: world.keyPath, debug: true });
  await assert.rejects(startInferenceServer({ enclaveDir: debug.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: releaser(), debug: true }), refused);
  // The named enclave, given another blob (its hash is in the attested runtime data): refused too.
  const other = await encryptModel([{ name: 'rec.onnx', bytes: new Uint8Array(16) }]);
  await assert.rejects(startInferenceServer({ enclaveDir: world.enclave.dir, platform: world.platformDir, blob: other.blob, keyReleaser: releaser() }), refused);
});
