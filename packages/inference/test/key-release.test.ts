/**
 * Key release end to end: the model key goes only to the enclave the release policy names. A re-signed enclave
 * (same code, another signer) and a debug build get nothing, and the server does not start; a server whose key is
 * never released does not start (and leaves no listener); a tampered model blob fails with a typed error.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type AddressInfo } from 'node:net';
import { generateSigningKey } from '@cloister/sgx-sim';
import { InferenceError } from '../src/errors.js';
import { prepareInferenceEnclave } from '../src/host/prepare.js';
import { localKeyRelease } from '../src/host/local-key-release.js';
import type { KeyReleaser } from '../src/host/key-release.js';
import { startInferenceServer } from '../src/host/server.js';
import { insecureFetch, makeWorld, type World } from './world.js';

let world: World;
let releasePolicy: { mrenclave: string; mrsigner: string; allowSimulated: true };

before(async () => {
  world = await makeWorld('release');
  releasePolicy = { mrenclave: world.enclave.mrenclave, mrsigner: world.enclave.mrsigner, allowSimulated: true };
});

after(() => world?.cleanup());

function releaser(): ReturnType<typeof localKeyRelease> {
  return localKeyRelease({
    key: world.model.key,
    policy: releasePolicy,
    verifyOptions: { collateral: world.collateral, trustAnchors: world.anchors },
  });
}

const refused = (rule: string) => (e: unknown) =>
  InferenceError.is(e) && e.code === 'KEY_RELEASE_FAILED' && e.remoteCode === 'POLICY_MISMATCH' && (e.cause as { rule?: string }).rule === rule;

test('a re-signed enclave (same MRENCLAVE, another MRSIGNER) gets no key and its server does not start', async () => {
  const otherKey = join(world.root, 'other-signer.pem');
  writeFileSync(otherKey, generateSigningKey(), { mode: 0o600 });
  const resigned = await prepareInferenceEnclave(join(world.root, 'resigned'), { keyPath: otherKey });
  assert.equal(resigned.mrenclave, world.enclave.mrenclave, 'the same code measures the same');
  assert.notEqual(resigned.mrsigner, world.enclave.mrsigner);
  const r = releaser();
  await assert.rejects(
    startInferenceServer({ enclaveDir: resigned.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: r }),
    refused('mrsigner'),
  );
  assert.equal(r.releases, 0);
});

test('a debug enclave gets no key', async () => {
  const debug = await prepareInferenceEnclave(join(world.root, 'debug'), { keyPath: world.keyPath, debug: true });
  const r = releaser();
  await assert.rejects(
    startInferenceServer({ enclaveDir: debug.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: r, debug: true }),
    (e: unknown) => InferenceError.is(e) && e.code === 'KEY_RELEASE_FAILED' && e.remoteCode === 'POLICY_MISMATCH',
  );
  assert.equal(r.releases, 0);
  // Named in the policy but debug: the engine's debug rule still refuses it.
  const named = localKeyRelease({
    key: world.model.key,
    policy: { mrenclave: debug.mrenclave, mrsigner: debug.mrsigner, allowSimulated: true },
    verifyOptions: { collateral: world.collateral, trustAnchors: world.anchors },
  });
  await assert.rejects(
    startInferenceServer({ enclaveDir: debug.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: named, debug: true }),
    refused('debug'),
  );
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

test('without the key the server refuses to start and nothing keeps listening', async () => {
  const port = await freePort();
  const never: KeyReleaser = {
    async release() {
      throw new InferenceError('KEY_RELEASE_FAILED', 'the broker is down');
    },
  };
  await assert.rejects(
    startInferenceServer({ enclaveDir: world.enclave.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: never, port }),
    (e: unknown) => InferenceError.is(e) && e.code === 'KEY_RELEASE_FAILED',
  );
  assert.equal(await refusesConnections(port), true, 'the listener opened for the start is closed again');
  // A releaser that answers garbage: the enclave cannot unwrap it.
  const garbage: KeyReleaser = {
    async release() {
      return 'eyJub3QiOiJhIGtleSJ9';
    },
  };
  await assert.rejects(
    startInferenceServer({ enclaveDir: world.enclave.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: garbage, port }),
    (e: unknown) => InferenceError.is(e) && e.code === 'KEY_UNWRAP_FAILED',
  );
  // The released key of ANOTHER model: the blob does not decrypt.
  const wrongKey = localKeyRelease({ key: new Uint8Array(32).fill(7), policy: releasePolicy, verifyOptions: { collateral: world.collateral, trustAnchors: world.anchors } });
  await assert.rejects(
    startInferenceServer({ enclaveDir: world.enclave.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: wrongKey }),
    (e: unknown) => InferenceError.is(e) && e.code === 'MODEL_DECRYPT_FAILED',
  );
  assert.equal(await refusesConnections(port), true);
});

test('a tampered model blob fails to decrypt with a typed error; a truncated one is refused before any key is asked for', async () => {
  const tampered = new Uint8Array(world.model.blob);
  tampered[1000]! ^= 0x01;
  const r = releaser();
  await assert.rejects(
    startInferenceServer({ enclaveDir: world.enclave.dir, platform: world.platformDir, blob: tampered, keyReleaser: r }),
    (e: unknown) => InferenceError.is(e) && e.code === 'MODEL_DECRYPT_FAILED',
  );
  assert.equal(r.releases, 1, 'the enclave is the right one: the key is released, the blob still does not open');
  const r2 = releaser();
  await assert.rejects(
    startInferenceServer({ enclaveDir: world.enclave.dir, platform: world.platformDir, blob: world.model.blob.subarray(0, 20), keyReleaser: r2 }),
    (e: unknown) => InferenceError.is(e) && e.code === 'INVALID_MODEL_BLOB',
  );
  assert.equal(r2.releases, 0);
});

test('the server reports ready only once the key is released and the model decrypted', async () => {
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const inner = releaser();
  const seen: { ready?: [number, unknown]; live?: number; infer?: [number, unknown] } = {};
  const observing: KeyReleaser = {
    async release(evidence) {
      // The listener is up while the key is being asked for: live, not ready, inference refused.
      seen.live = (await insecureFetch(`${base}/v2/health/live`)).status;
      const ready = await insecureFetch(`${base}/v2/health/ready`);
      seen.ready = [ready.status, await ready.json()];
      const infer = await insecureFetch(`${base}/v2/models/ppocr/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs":[]}' });
      seen.infer = [infer.status, ((await infer.json()) as { code: string }).code];
      return inner.release(evidence);
    },
  };
  const server = await startInferenceServer({ enclaveDir: world.enclave.dir, platform: world.platformDir, blob: world.model.blob, keyReleaser: observing, port });
  try {
    assert.equal(seen.live, 200);
    assert.deepEqual(seen.ready, [400, { ready: false }]);
    assert.deepEqual(seen.infer, [503, 'MODEL_NOT_READY']);
    const after = await insecureFetch(`${base}/v2/health/ready`);
    assert.deepEqual([after.status, await after.json()], [200, { ready: true }]);
  } finally {
    await server.close();
  }
});
