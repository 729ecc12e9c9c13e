/**
 * The model owner's registration step of deployConfidentialOcr: the release policy it names, and the Key Vault import
 * it sends (a loopback HTTP server stands in for the broker; the whole flow against the real broker runs in
 * `cloister up`'s tests and the example).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InferenceError, modelReleasePolicy, registerModelKey } from '../src/index.js';

const id = { authority: 'http://127.0.0.1:1/simulated', mrenclave: 'a'.repeat(64), mrsigner: 'b'.repeat(64), modelHash: 'c'.repeat(64) };

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (d: Buffer) => (s += d.toString()));
    req.on('end', () => resolve(s));
  });
}

async function broker(status: number): Promise<{ url: string; seen: { method?: string; url?: string; auth?: string; body?: unknown }; close: () => Promise<void> }> {
  const seen: { method?: string; url?: string; auth?: string; body?: unknown } = {};
  const server = createServer((req, res) => {
    void body(req).then((text) => {
      Object.assign(seen, { method: req.method, url: req.url, auth: req.headers.authorization, body: JSON.parse(text) as unknown });
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"key":{}}' : '{"error":{"code":"Unauthorized","message":"no"}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('modelReleasePolicy: one authority; MRENCLAVE, MRSIGNER, not debuggable and the model hash', () => {
  const p = modelReleasePolicy(id);
  assert.equal(p.version, '1.0.0');
  assert.equal(p.anyOf.length, 1);
  assert.equal(p.anyOf[0]!.authority, id.authority);
  assert.deepEqual(
    p.anyOf[0]!.allOf.map((c) => [c.claim, c.equals]),
    [
      ['x-ms-sgx-mrenclave', id.mrenclave],
      ['x-ms-sgx-mrsigner', id.mrsigner],
      ['x-ms-sgx-is-debuggable', false],
      ['x-ms-runtime.model-hash', id.modelHash],
    ],
  );
});

test('registerModelKey: a Key Vault import with the admin bearer, an oct-HSM key and the release policy', async () => {
  const b = await broker(200);
  try {
    const key = new Uint8Array(32).fill(7);
    const releasePolicy = modelReleasePolicy(id);
    await registerModelKey({ brokerUrl: `${b.url}/`, adminToken: 'admin-token-0123456789', keyName: 'ocr model', key, releasePolicy });
    assert.equal(b.seen.method, 'PUT');
    assert.equal(b.seen.url, '/keys/ocr%20model?api-version=7.4');
    assert.equal(b.seen.auth, 'Bearer admin-token-0123456789');
    const sent = b.seen.body as { key: { kty: string; k: string; key_ops: string[] }; attributes: { exportable: boolean }; release_policy: { contentType: string; data: string } };
    assert.equal(sent.key.kty, 'oct-HSM');
    assert.deepEqual(new Uint8Array(Buffer.from(sent.key.k, 'base64url')), key);
    assert.equal(sent.attributes.exportable, true);
    assert.deepEqual(JSON.parse(Buffer.from(sent.release_policy.data, 'base64url').toString()), releasePolicy);
  } finally {
    await b.close();
  }
});

test('registerModelKey: a refusal or an unreachable broker is KEY_RELEASE_FAILED, without the token in the message', async () => {
  const b = await broker(401);
  const o = { adminToken: 'admin-token-0123456789', keyName: 'ocr-model', key: new Uint8Array(32), releasePolicy: modelReleasePolicy(id) };
  try {
    await assert.rejects(registerModelKey({ ...o, brokerUrl: b.url }), (e: unknown) => {
      assert.ok(e instanceof InferenceError);
      assert.equal(e.code, 'KEY_RELEASE_FAILED');
      assert.equal(e.status, 401);
      assert.doesNotMatch(e.message, /admin-token/);
      return true;
    });
  } finally {
    await b.close();
  }
  // The port just closed: nothing listens there.
  await assert.rejects(registerModelKey({ ...o, brokerUrl: b.url }), (e: unknown) => InferenceError.is(e) && e.code === 'KEY_RELEASE_FAILED');
});
