/**
 * The real services: @cloister/attestation-service (MAA REST API, simulated instance) issues the token for the
 * enclave's runtime data; @cloister/key-broker (AKV Secure Key Release) releases the model key under a release
 * policy naming the enclave (MRENCLAVE, MRSIGNER, not debuggable). The inference enclave unwraps it inside and
 * serves; a re-signed enclave is refused by the broker and its server does not start.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAttestationService, type AttestationServiceHandle } from '@cloister/attestation-service';
import { prepareBrokerEnclave, startKeyBroker, type KeyBrokerHandle } from '@cloister/key-broker';
import { createLogger } from '@cloister/service-kit';
import { generateSigningKey } from '@cloister/sgx-sim';
import { toBase64Url } from '../src/bytes.js';
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
  } as Parameters<typeof startAttestationService>[0]);
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

test('the attestation service and the key broker release the model key to the named enclave only', async () => {
  const server = await startInferenceServer({ enclaveDir: world.enclave.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: releaser() });
  try {
    const client = await connectNodeClient({
      url: server.url,
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
    await server.close();
  }
  // Re-signed by someone else: same MRENCLAVE, another MRSIGNER — the broker's release policy refuses the token.
  const otherKey = join(world.root, 'other.pem');
  writeFileSync(otherKey, generateSigningKey(), { mode: 0o600 });
  const resigned = await prepareInferenceEnclave(join(world.root, 'resigned'), { keyPath: otherKey });
  await assert.rejects(
    startInferenceServer({ enclaveDir: resigned.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: releaser() }),
    (e: unknown) => InferenceError.is(e) && e.code === 'KEY_RELEASE_FAILED' && e.status === 403,
  );
});
