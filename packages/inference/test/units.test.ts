/**
 * Unit tests (no network, no enclave): the model blob format, the runtime-data document and its binding, PNG
 * limits, CTC decoding, DB post-processing, the key wrapping round trip, request validation, HPKE contexts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { InferenceError } from '../src/errors.js';
import { decryptModel, encryptModel, MODEL_BLOB_HEADER_BYTES, packModelFiles, unpackModelFiles } from '../src/model-blob.js';
import { canonicalJson, encodeRuntimeData, parseRuntimeData, reportDataFor, type InferenceRuntimeData } from '../src/runtime-data.js';
import { decodePng } from '../src/ocr/png.js';
import { ctcGreedyDecode, loadCharacters } from '../src/ocr/recognize.js';
import { dbPostprocess } from '../src/ocr/detect.js';
import { generateKeyEncryptionKey, unwrapReleasedKey, wrapKeyForJwk } from '../src/key-release.js';
import { encodeBinaryRequest, parseInferenceRequest } from '../src/oip.js';
import { generateHpkeKeyPair, openRequest, ReplayWindow, sealRequest } from '../src/hpke.js';
import { fromBase64, toBase64, toBase64Url, utf8 } from '../src/bytes.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { SerialQueue, withDeadline } from '../src/enclave/state.js';

const is = (code: string) => (e: unknown) => InferenceError.is(e) && e.code === code;

test('model blob: round trip; any changed byte, a wrong key or a bad header fails with its code', async () => {
  const files = [
    { name: 'a.onnx', bytes: utf8('model a') },
    { name: 'keys.txt', bytes: utf8('x\ny\n') },
  ];
  const m = await encryptModel(files);
  assert.equal(new TextDecoder().decode(m.blob.subarray(0, 8)), 'CLMODEL1');
  assert.equal(m.blob[8], 1);
  assert.equal(new DataView(m.blob.buffer).getUint32(24), m.blob.length - MODEL_BLOB_HEADER_BYTES);
  assert.match(m.hash, /^[0-9a-f]{64}$/);
  const back = await decryptModel(m.blob, m.key);
  assert.deepEqual(back.map((f) => [f.name, new TextDecoder().decode(f.bytes)]), [['a.onnx', 'model a'], ['keys.txt', 'x\ny\n']]);
  for (const at of [12, 30, m.blob.length - 1]) {
    const t = new Uint8Array(m.blob);
    t[at]! ^= 1;
    await assert.rejects(decryptModel(t, m.key), is('MODEL_DECRYPT_FAILED'));
  }
  const h = new Uint8Array(m.blob);
  h[8] = 2;
  await assert.rejects(decryptModel(h, m.key), is('INVALID_MODEL_BLOB'));
  await assert.rejects(decryptModel(m.blob.subarray(0, m.blob.length - 1), m.key), is('INVALID_MODEL_BLOB'));
  await assert.rejects(decryptModel(m.blob, new Uint8Array(32)), is('MODEL_DECRYPT_FAILED'));
  assert.throws(() => packModelFiles([{ name: '../x', bytes: new Uint8Array() }]), is('INVALID_MODEL_BLOB'));
  const archive = packModelFiles(files);
  assert.throws(() => unpackModelFiles(archive.subarray(0, archive.length - 1)), is('INVALID_MODEL_BLOB'));
});

const doc: InferenceRuntimeData = {
  version: 1,
  keys: [{ kty: 'RSA', kid: 'k', key_ops: ['encrypt'], n: 'AQAB', e: 'AQAB' }],
  'ratls-key-hash': 'ab'.repeat(32),
  'hpke-public-key': 'BAAA',
  'hpke-suite': { kem: 16, kdf: 1, aead: 2 },
  'model-hash': 'cd'.repeat(32),
  model: 'ppocr',
};

test('runtime data: RFC 8785 canonical JSON, REPORTDATA = SHA-256 ‖ 0³², binding and canonical form checked', async () => {
  assert.equal(canonicalJson({ b: 1, a: [true, null, 'x"'], ä: 'y', B: 2 }), '{"B":2,"a":[true,null,"x\\""],"b":1,"ä":"y"}');
  const bytes = encodeRuntimeData(doc);
  assert.ok(new TextDecoder().decode(bytes).startsWith('{"hpke-public-key":"BAAA","hpke-suite":{"aead":2,"kdf":1,"kem":16},"keys":'));
  const rd = await reportDataFor(bytes);
  assert.equal(rd.length, 64);
  assert.deepEqual(rd.subarray(32), new Uint8Array(32));
  assert.deepEqual(await parseRuntimeData(bytes, rd), doc);
  await assert.rejects(parseRuntimeData(bytes, new Uint8Array(64)), is('EVIDENCE_INVALID'));
  const pretty = utf8(JSON.stringify(doc, null, 1));
  await assert.rejects(parseRuntimeData(pretty, await reportDataFor(pretty)), is('EVIDENCE_INVALID'));
  const noKeys = utf8(canonicalJson({ ...doc, keys: [] }));
  await assert.rejects(parseRuntimeData(noKeys, await reportDataFor(noKeys)), is('EVIDENCE_INVALID'));
});

function png(width: number, height: number, fill = 255): Uint8Array {
  const p = new PNG({ width, height });
  p.data.fill(fill);
  return new Uint8Array(PNG.sync.write(p));
}

test('PNG: decoded-pixel, side and byte limits are checked before decoding; not-a-PNG is INVALID_IMAGE', () => {
  const limits = { maxImageBytes: 10_000, maxPixels: 5_000, maxImageSide: 100 };
  const ok = decodePng(png(50, 40), limits);
  assert.equal(ok.width, 50);
  assert.equal(ok.data.length, 50 * 40 * 4);
  assert.throws(() => decodePng(png(80, 80), limits), (e: unknown) => is('TOO_LARGE')(e) && (e as InferenceError).limit === 'maxPixels');
  assert.throws(() => decodePng(png(101, 2), limits), (e: unknown) => is('TOO_LARGE')(e) && (e as InferenceError).limit === 'maxImageSide');
  assert.throws(() => decodePng(new Uint8Array(10_001), limits), (e: unknown) => is('TOO_LARGE')(e) && (e as InferenceError).limit === 'maxImageBytes');
  assert.throws(() => decodePng(utf8('GIF89a, not a png, long enough to have a header here'), limits), is('INVALID_IMAGE'));
  const interlaced = png(50, 40);
  interlaced[28] = 1; // IHDR interlace method: Adam7
  assert.throws(() => decodePng(interlaced, limits), is('INVALID_IMAGE'));
  const broken = png(50, 40);
  broken.fill(0, 40);
  assert.throws(() => decodePng(broken, limits), is('INVALID_IMAGE'));
});

test('CTC greedy decoding: arg-max per step, repeats collapsed, blanks dropped, the space class last', () => {
  const chars = loadCharacters('a\nb\n');
  assert.deepEqual(chars, ['', 'a', 'b', ' ']);
  const steps = [1, 1, 0, 1, 3, 2, 2, 0];
  const probs = new Float32Array(steps.length * 4);
  steps.forEach((c, t) => (probs[t * 4 + c] = 0.9));
  const r = ctcGreedyDecode(probs, [1, steps.length, 4], chars);
  assert.equal(r.text, 'aa b');
  assert.ok(Math.abs(r.confidence - 0.9) < 1e-6);
  assert.throws(() => ctcGreedyDecode(probs, [1, steps.length, 5], chars), is('RUNTIME_FAILED'));
});

test('DB post-processing: one box per region above the thresholds, unclipped, scaled, in reading order', () => {
  const w = 40;
  const h = 20;
  const map = new Float32Array(w * h);
  const rect = (x0: number, y0: number, x1: number, y1: number, p: number) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) map[y * w + x] = p;
  };
  rect(22, 2, 36, 6, 0.9); // right, first line
  rect(2, 3, 18, 7, 0.9); // left, first line
  rect(2, 12, 30, 16, 0.9); // second line
  rect(2, 18, 6, 20, 0.4); // under boxThresh
  const boxes = dbPostprocess(map, h, w, { width: 80, height: 40 });
  assert.equal(boxes.length, 3);
  assert.ok(boxes[0]!.x < boxes[1]!.x && boxes[1]!.y < boxes[2]!.y, JSON.stringify(boxes));
  // Scaled ×2 and unclipped outward: the box holds the region.
  assert.ok(boxes[2]!.x <= 4 && boxes[2]!.x + boxes[2]!.width >= 60);
});

test('key release: a key wrapped to the enclave KEK (RSA-OAEP ‖ AES-KWP) unwraps with it, not with another', () => {
  const kek = generateKeyEncryptionKey('kek');
  const other = generateKeyEncryptionKey('other');
  const key = new Uint8Array(32).map((_, i) => i);
  for (const enc of ['RSA_AES_KEY_WRAP_256', 'RSA_AES_KEY_WRAP_384', 'CKM_RSA_AES_KEY_WRAP'] as const) {
    const hsm = wrapKeyForJwk(kek.jwk, key, enc);
    // As a JWS (header.payload.signature): the payload carries the key.
    const payload = toBase64Url(utf8(JSON.stringify({ response: { key: { key: { key_hsm: hsm } } } })));
    assert.deepEqual(unwrapReleasedKey(kek, `eyJhbGciOiJSUzI1NiJ9.${payload}.c2ln`), key);
    assert.throws(() => unwrapReleasedKey(other, payload), is('KEY_UNWRAP_FAILED'));
  }
  assert.throws(() => unwrapReleasedKey(kek, 'x'.repeat(70_000)), is('KEY_UNWRAP_FAILED'));
  assert.throws(() => unwrapReleasedKey(kek, toBase64Url(utf8('{"response":{}}'))), is('KEY_UNWRAP_FAILED'));
});

test('Open Inference Protocol requests: shapes, element counts and limits are validated', () => {
  const r = parseInferenceRequest({ id: 'r1', inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [[1, 2], [3, 4]] }] }, 100);
  assert.deepEqual(r.inputs[0]!.data, [1, 2, 3, 4]);
  const field = (f: string) => (e: unknown) => is('INVALID_REQUEST')(e) && (e as InferenceError).field === f;
  assert.throws(() => parseInferenceRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [3], data: [1, 2] }] }, 100), field('inputs[0].data'));
  assert.throws(() => parseInferenceRequest({ inputs: [{ name: 'x', datatype: 'FP16', shape: [1], data: [1] }] }, 100), field('inputs[0].datatype'));
  assert.throws(() => parseInferenceRequest([], 100), field('body'));
  assert.throws(() => parseInferenceRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1000], data: [] }] }, 100), is('TOO_LARGE'));
  assert.throws(() => parseInferenceRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: new Array(101).fill(0) }] }, 100), is('TOO_LARGE'));
  assert.ok(DEFAULT_LIMITS.maxBodyBytes > DEFAULT_LIMITS.maxImageBytes);
  // Binary tensor data extension: JSON header, then the raw little-endian FP32 elements.
  const tensor = Float32Array.from([1.5, -2, 3.25, 0]);
  const { body, headerLength } = encodeBinaryRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: tensor }] });
  assert.equal(body.length, headerLength + 16);
  const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength))) as unknown;
  assert.deepEqual(header, { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } }] });
  const parsed = parseInferenceRequest(header, 100, body.subarray(headerLength));
  assert.deepEqual(parsed.inputs[0]!.data, tensor);
  assert.throws(() => parseInferenceRequest(header, 100, body.subarray(headerLength, headerLength + 12)), field('body'));
  assert.throws(() => parseInferenceRequest(header, 100, body.subarray(headerLength - 1)), (e: unknown) => is('INVALID_REQUEST')(e));
  assert.throws(() => parseInferenceRequest(header, 100), field('inputs[0].parameters'));
});

test('HPKE: each request its own context; splicing, replays and other clients fail', async () => {
  const kp = await generateHpkeKeyPair();
  const info = utf8('info');
  const a = await sealRequest(kp.publicKey, info, utf8('hello'));
  const b = await sealRequest(kp.publicKey, info, utf8('hello'));
  assert.notDeepEqual(a.body.subarray(0, 65), b.body.subarray(0, 65));
  const opened = await openRequest(kp, info, a.body);
  assert.equal(new TextDecoder().decode(opened.plaintext), 'hello');
  const answer = await opened.sealResponse(utf8('answer'));
  assert.equal(new TextDecoder().decode(await a.openResponse(answer)), 'answer');
  await assert.rejects(b.openResponse(answer), is('HPKE_DECRYPT_FAILED'));
  const spliced = new Uint8Array(a.body);
  spliced.set(b.body.subarray(0, 65));
  await assert.rejects(openRequest(kp, info, spliced), is('HPKE_DECRYPT_FAILED'));
  await assert.rejects(openRequest(kp, utf8('other info'), a.body), is('HPKE_DECRYPT_FAILED'));
  const other = await generateHpkeKeyPair();
  await assert.rejects(openRequest(other, info, a.body), is('HPKE_DECRYPT_FAILED'));
  const window = new ReplayWindow(2);
  window.check(a.body.subarray(0, 65));
  assert.throws(() => window.check(a.body.subarray(0, 65)), is('REPLAYED'));
  assert.deepEqual(fromBase64(toBase64(utf8('any'))), utf8('any'));
  assert.equal(fromBase64('*'), undefined);
});

test('inference queue: one job at a time, BUSY beyond the bound; a deadline settles with TIMEOUT', async () => {
  const queue = new SerialQueue(2);
  const order: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const first = queue.run(async () => {
    order.push('first start');
    await gate;
    order.push('first end');
    return 1;
  });
  const second = queue.run(async () => {
    order.push('second');
    return 2;
  });
  await assert.rejects(queue.run(async () => 3), is('BUSY'));
  await assert.rejects(withDeadline(new Promise(() => undefined), 5), is('TIMEOUT'));
  release();
  assert.deepEqual([await first, await second], [1, 2]);
  assert.deepEqual(order, ['first start', 'first end', 'second']);
  assert.equal(await queue.run(async () => 4), 4);
});
