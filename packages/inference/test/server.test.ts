/**
 * Confidential OCR end to end on the sim backend: the encrypted PP-OCR model, its key released (in process, by the
 * same verification a broker does) only after attestation, the server in the enclave over attested TLS; the Node
 * client (RA-TLS) and the browser client (evidence + HPKE) recognise the sample image; the wire properties of the
 * HPKE layer; request limits and typed errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyError } from '@cloister/policy';
import { connectBrowserClient } from '../src/client/browser.js';
import { connectNodeClient, type NodeInferenceClient } from '../src/client/node.js';
import { ocrRequest } from '../src/client/common.js';
import { InferenceError } from '../src/errors.js';
import { hpkeInfo, sealRequest } from '../src/hpke.js';
import { localKeyRelease } from '../src/host/local-key-release.js';
import { startInferenceServer, type InferenceServer } from '../src/host/server.js';
import { fromBase64 } from '../src/bytes.js';
import { insecureFetch, makeWorld, SAMPLE_PNG, SAMPLE_TEXT, type World } from './world.js';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

let world: World;
let server: InferenceServer;
let client: NodeInferenceClient;

before(async () => {
  world = await makeWorld('infer');
  const policy = { mrenclave: world.enclave.mrenclave, mrsigner: world.enclave.mrsigner, allowSimulated: true };
  server = await startInferenceServer({
    enclaveDir: world.enclave.dir,
    platform: world.platformDir,
    blob: world.model.blob,
    collateral: world.collateralText,
    keyReleaser: localKeyRelease({ key: world.model.key, policy, verifyOptions: { collateral: world.collateral, trustAnchors: world.anchors }, modelHash: world.model.hash }),
    limits: { maxBodyBytes: 1024 * 1024, maxImageBytes: 512 * 1024, maxPixels: 1_000_000, headersTimeoutMs: 2000 },
  });
  client = await connectNodeClient({
    url: server.url,
    policy: { mrenclave: world.enclave.mrenclave, allowSimulated: true },
    verifyOptions: { collateral: world.collateral, trustRoots: world.anchors },
    expectedModelHash: world.model.hash,
  });
});

after(async () => {
  client?.close();
  await server?.close();
  world?.cleanup();
});

test('the Node client verifies the enclave over attested TLS and recognises the sample image', async () => {
  assert.equal(client.attestation.identity.mrenclave, world.enclave.mrenclave);
  assert.equal(client.document['model-hash'], world.model.hash);
  assert.equal(server.modelHash, world.model.hash);
  assert.equal(await client.ready(), true);
  const meta = await client.metadata('ppocr');
  assert.deepEqual(meta.inputs, [{ name: 'image', datatype: 'BYTES', shape: [1] }]);
  const result = await client.recognize(world.sample);
  assert.equal(result.text, SAMPLE_TEXT);
  assert.equal(result.lines.length, 2);
  for (const line of result.lines) assert.ok(line.confidence > 0.9);
});

test('the browser client verifies the evidence with dcap + policy and recognises the image through HPKE', async () => {
  const browser = await connectBrowserClient({
    url: server.url,
    policy: { mrenclave: world.enclave.mrenclave, allowSimulated: true },
    trustAnchors: world.anchors,
    fetch: insecureFetch,
  });
  assert.equal(browser.identity.mrenclave, world.enclave.mrenclave);
  assert.equal(browser.document['model-hash'], world.model.hash);
  const result = await browser.recognize(world.sample);
  assert.equal(result.text, SAMPLE_TEXT);
  // Another enclave identity in the policy: the engine's typed refusal.
  await assert.rejects(
    connectBrowserClient({ url: server.url, policy: { mrenclave: '00'.repeat(32), allowSimulated: true }, trustAnchors: world.anchors, fetch: insecureFetch }),
    (e: unknown) => PolicyError.is(e) && e.code === 'POLICY_MISMATCH' && e.rule === 'mrenclave',
  );
});

test('wire: a request replayed on another HPKE context fails, a replayed request is refused, a response opens for its client only', async () => {
  const ev = (await (await insecureFetch(`${server.url}/v2/cloister/evidence`)).json()) as { runtimeData: string };
  const runtimeData = fromBase64(ev.runtimeData)!;
  const pk = fromBase64(client.document['hpke-public-key'])!;
  const info = await hpkeInfo(runtimeData);
  const plaintext = new TextEncoder().encode(JSON.stringify({ model: 'ppocr', request: ocrRequest(world.sample) }));
  const a = await sealRequest(pk, info, plaintext);
  const b = await sealRequest(pk, info, plaintext);
  const post = (body: Uint8Array) =>
    insecureFetch(`${server.url}/v2/cloister/hpke`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: body as Uint8Array<ArrayBuffer> });
  // A's ciphertext under B's encapsulated key: another context, the AEAD does not open.
  const spliced = new Uint8Array(a.body);
  spliced.set(b.body.subarray(0, 65), 0);
  const r1 = await post(spliced);
  assert.equal(r1.status, 400);
  assert.equal(((await r1.json()) as { code: string }).code, 'HPKE_DECRYPT_FAILED');
  // A as sent: answered, and only A's context opens the answer.
  const r2 = await post(a.body);
  assert.equal(r2.status, 200);
  const sealedAnswer = new Uint8Array(await r2.arrayBuffer());
  await assert.rejects(b.openResponse(sealedAnswer), (e: unknown) => InferenceError.is(e) && e.code === 'HPKE_DECRYPT_FAILED');
  const answer = JSON.parse(new TextDecoder().decode(await a.openResponse(sealedAnswer))) as { status: number; body: { outputs: { name: string; data: string[] }[] } };
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body.outputs.find((o) => o.name === 'text')?.data, SAMPLE_TEXT.split('\n'));
  // A again, byte for byte: refused.
  const r3 = await post(a.body);
  assert.equal(r3.status, 400);
  assert.equal(((await r3.json()) as { code: string }).code, 'REPLAYED');
  // A flipped ciphertext byte: does not open.
  const flipped = new Uint8Array(b.body);
  flipped[flipped.length - 1]! ^= 1;
  assert.equal(((await (await post(flipped)).json()) as { code: string }).code, 'HPKE_DECRYPT_FAILED');
});

test('the recognition model alone: the same line as a JSON tensor, as binary tensor data and sealed with HPKE gives the same text', async () => {
  const { decodePng } = await import('../src/ocr/png.js');
  const { recPreprocess } = await import('../src/ocr/recognize.js');
  const image = decodePng(world.sample, { maxImageBytes: 1 << 24, maxPixels: 1 << 24, maxImageSide: 8192 });
  const line = recPreprocess(image, { x: 18, y: 80, width: 490, height: 46 });
  const shape = [...line.dims];
  const text = (r: { outputs: readonly { name: string; data: readonly unknown[] }[] }) => r.outputs.find((o) => o.name === 'text')?.data[0];
  const json = await client.infer('ppocr-rec', { inputs: [{ name: 'x', datatype: 'FP32', shape, data: Array.from(line.tensor) }] });
  const binary = await client.infer('ppocr-rec', { inputs: [{ name: 'x', datatype: 'FP32', shape, data: line.tensor }] });
  assert.equal(String(text(json)).trim(), 'Hello from an enclave 2026');
  assert.equal(text(binary), text(json));
  const browser = await connectBrowserClient({ url: server.url, policy: { mrenclave: world.enclave.mrenclave, allowSimulated: true }, trustAnchors: world.anchors, fetch: insecureFetch });
  assert.equal(text(await browser.infer('ppocr-rec', { inputs: [{ name: 'x', datatype: 'FP32', shape, data: line.tensor }] })), text(json));
  // A binary tensor whose declared size does not match its shape.
  await assert.rejects(
    client.infer('ppocr-rec', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 8], data: line.tensor }] }),
    (e: unknown) => InferenceError.is(e) && e.remoteCode === 'INVALID_REQUEST',
  );
});

test('limits and typed errors: body size, image bomb, malformed requests, unknown model, policy refusal', async () => {
  const code = (e: unknown): string | undefined => (InferenceError.is(e) ? (e.remoteCode ?? e.code) : undefined);
  // A PNG header declaring 100 000 × 100 000 pixels: refused from the IHDR, nothing inflated.
  const bomb = new Uint8Array(64);
  bomb.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(bomb.buffer).setUint32(16, 100_000);
  new DataView(bomb.buffer).setUint32(20, 100_000);
  await assert.rejects(client.recognize(bomb), (e: unknown) => code(e) === 'TOO_LARGE' && (e as InferenceError).status === 413);
  // Over maxImageBytes (512 KiB) but under maxBodyBytes.
  await assert.rejects(client.recognize(new Uint8Array(600 * 1024)), (e: unknown) => code(e) === 'TOO_LARGE');
  // Over maxBodyBytes (1 MiB): refused from Content-Length.
  await assert.rejects(client.recognize(new Uint8Array(900 * 1024)), (e: unknown) => code(e) === 'TOO_LARGE');
  await assert.rejects(client.recognize(new TextEncoder().encode('not a png at all, just text')), (e: unknown) => code(e) === 'INVALID_IMAGE');
  await assert.rejects(client.infer('ppocr', { inputs: [] }), (e: unknown) => code(e) === 'INVALID_REQUEST');
  await assert.rejects(
    client.infer('ppocr-rec', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 10], data: [1, 2, 3] }] }),
    (e: unknown) => code(e) === 'INVALID_REQUEST',
  );
  await assert.rejects(client.infer('nope', { inputs: [] }), (e: unknown) => code(e) === 'MODEL_NOT_FOUND' && (e as InferenceError).status === 404);
  await assert.rejects(
    connectNodeClient({ url: server.url, policy: { mrenclave: world.enclave.mrenclave }, verifyOptions: { collateral: world.collateral, trustRoots: world.anchors } }),
    (e: unknown) => PolicyError.is(e) && e.rule === 'simulated',
  );
  await assert.rejects(
    connectNodeClient({
      url: server.url,
      policy: { mrenclave: world.enclave.mrenclave, allowSimulated: true },
      verifyOptions: { collateral: world.collateral, trustRoots: world.anchors },
      expectedModelHash: '00'.repeat(32),
    }),
    (e: unknown) => InferenceError.is(e) && e.code === 'EVIDENCE_INVALID',
  );
});

test('deadlines: a client that sends no request head, or trickles its body, is disconnected; others are still served', async () => {
  const open = (): Promise<TLSSocket> =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false }, () => resolve(socket));
      socket.once('error', reject);
    });
  const closed = (socket: TLSSocket): Promise<string> =>
    new Promise((resolve) => {
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(data));
    });
  const silent = await open();
  const trickle = await open();
  trickle.write('POST /v2/models/ppocr/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs":');
  const [silentData, trickleData] = await Promise.all([closed(silent), closed(trickle)]);
  assert.equal(silentData, '', 'nothing is answered to a connection that never sent a request');
  assert.match(trickleData, /^HTTP\/1\.1 504 /);
  assert.match(trickleData, /"code":"TIMEOUT"/);
  assert.equal(await client.ready(), true);
});

test('the example page, opened from a static file in headless Chromium, verifies the enclave, shows its identity and the text', async () => {
  const buildPage = (await import(new URL('../../../../examples/confidential-ocr/build-page.mjs', import.meta.url).href)) as {
    buildPage(out: string): Promise<{ outFile: string }>;
  };
  const { outFile } = await buildPage.buildPage(join(world.root, 'page', 'index.html'));
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    // The page's path does not trust TLS (a browser cannot check an RA-TLS certificate): the self-signed
    // certificate is accepted at the TLS layer, and the page verifies the enclave and seals to it instead.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(pathToFileURL(outFile).href);
    const run = async (policy: object): Promise<string> => {
      await page.fill('#server', server.url);
      await page.fill('#policy', JSON.stringify(policy));
      await page.fill('#anchor', world.rootCertPem);
      await page.click('#verify');
      await page.waitForSelector('#status[data-state="verified"], #status[data-state="refused"]', { timeout: 60_000, state: 'attached' });
      return (await page.getAttribute('#status', 'data-state')) ?? '';
    };
    assert.equal(await run({ mrenclave: '11'.repeat(32), allowSimulated: true }), 'refused');
    assert.match((await page.textContent('#error')) ?? '', /^POLICY_MISMATCH \(rule mrenclave\)/);
    assert.equal(await page.isDisabled('#recognize'), true);
    assert.equal(await run({ mrenclave: world.enclave.mrenclave, allowSimulated: true }), 'verified');
    const identity = (await page.textContent('#identity')) ?? '';
    assert.match(identity, new RegExp(`mrenclave  ${world.enclave.mrenclave}`));
    assert.match(identity, new RegExp(`modelHash  ${world.model.hash}`));
    await page.setInputFiles('#image', fileURLToPath(SAMPLE_PNG));
    await page.click('#recognize');
    await page.waitForSelector('#status[data-state="done"], #status[data-state="failed"]', { timeout: 120_000, state: 'attached' });
    assert.equal((await page.textContent('#error')) ?? '', '');
    assert.equal(await page.textContent('#text'), SAMPLE_TEXT);
  } finally {
    await browser.close();
  }
});
