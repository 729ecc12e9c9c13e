/**
 * The AESM framing (LE u32 length ‖ payload) on real unix socket pairs: reassembly, caps before buffering, timeouts,
 * trailing bytes, truncation.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameError, encodeFrame, readFrame, writeFrame, type FrameErrorCode } from '../src/framing.js';

const dir = mkdtempSync(join(tmpdir(), 'aesm-framing-'));
let seq = 0;
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A connected pair: [server side (paused), client side]. */
async function pair(): Promise<[Socket, Socket]> {
  const path = join(dir, `s${seq++}.sock`);
  const server = createServer({ pauseOnConnect: true });
  servers.push(server);
  server.listen(path);
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(path);
  client.on('error', () => {});
  await once(client, 'connect');
  const [serverSide] = await accepted;
  serverSide.on('error', () => {});
  return [serverSide, client];
}

async function rejectsWithFrame(p: Promise<unknown>, code: FrameErrorCode): Promise<FrameError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof FrameError, `expected a FrameError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const OPTS = { maxBytes: 64 * 1024, timeoutMs: 2000 };

test('encodeFrame: little-endian u32 length then the payload', () => {
  assert.deepEqual([...encodeFrame(Uint8Array.of(7, 8, 9))], [3, 0, 0, 0, 7, 8, 9]);
  const big = encodeFrame(new Uint8Array(0x01_02_03));
  assert.deepEqual([...big.subarray(0, 4)], [0x03, 0x02, 0x01, 0x00]);
  assert.deepEqual([...encodeFrame(new Uint8Array(0))], [0, 0, 0, 0]);
});

test('writeFrame → readFrame round trip, including an empty payload', async () => {
  for (const payload of [Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff), new Uint8Array(0)]) {
    const [s, c] = await pair();
    const read = readFrame(s, OPTS);
    await writeFrame(c, payload);
    assert.deepEqual(await read, payload);
    s.destroy();
    c.destroy();
  }
});

test('a frame sent one byte at a time is reassembled', async () => {
  const [s, c] = await pair();
  const payload = Uint8Array.from({ length: 40 }, (_, i) => 200 - i);
  const read = readFrame(s, OPTS);
  for (const b of encodeFrame(payload)) {
    c.write(Uint8Array.of(b));
    await sleep(1);
  }
  const got = await read;
  assert.deepEqual(got, payload);
  assert.equal(got.length, 40, 'the buffer is exactly the announced size');
  s.destroy();
  c.destroy();
});

test('a length of 0xFFFFFFFF is refused as soon as the 4 length bytes are in, before any payload', async () => {
  const [s, c] = await pair();
  const read = readFrame(s, { maxBytes: 64 * 1024, timeoutMs: 10_000 });
  c.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  // TOO_LARGE (not TIMEOUT): refused on the 4 length bytes, without waiting for a payload that would never fit.
  const err = await rejectsWithFrame(read, 'TOO_LARGE');
  assert.equal(err.received, 4);
  s.destroy();
  c.destroy();
});

test('the cap is inclusive: maxBytes passes, maxBytes + 1 does not', async () => {
  {
    const [s, c] = await pair();
    const read = readFrame(s, { maxBytes: 16, timeoutMs: 2000 });
    await writeFrame(c, new Uint8Array(16));
    assert.equal((await read).length, 16);
    s.destroy();
    c.destroy();
  }
  {
    const [s, c] = await pair();
    const read = readFrame(s, { maxBytes: 16, timeoutMs: 2000 });
    await writeFrame(c, new Uint8Array(17));
    await rejectsWithFrame(read, 'TOO_LARGE');
    s.destroy();
    c.destroy();
  }
});

test('bytes after the frame in the same write are TRAILING_BYTES', async () => {
  const [s, c] = await pair();
  const read = readFrame(s, OPTS);
  const frame = encodeFrame(Uint8Array.of(1, 2, 3));
  c.write(Buffer.concat([frame, Uint8Array.of(0xaa, 0xbb)]));
  await rejectsWithFrame(read, 'TRAILING_BYTES');
  s.destroy();
  c.destroy();
});

test('a truncated frame then end of stream is TRUNCATED', async () => {
  const [s, c] = await pair();
  const read = readFrame(s, OPTS);
  c.end(Uint8Array.of(10, 0, 0, 0, 1, 2));
  const err = await rejectsWithFrame(read, 'TRUNCATED');
  assert.equal(err.received, 6);
  s.destroy();
});

test('a 2-byte connection that closes at once is TRUNCATED', async () => {
  const [s, c] = await pair();
  const read = readFrame(s, OPTS);
  c.end(Uint8Array.of(1, 0));
  await rejectsWithFrame(read, 'TRUNCATED');
  s.destroy();
});

test('a truncated frame then silence times out', async () => {
  const [s, c] = await pair();
  const t0 = Date.now();
  const read = readFrame(s, { maxBytes: 1024, timeoutMs: 150, firstByteTimeoutMs: 100 });
  c.write(Uint8Array.of(100, 0, 0, 0, 1, 2, 3));
  await rejectsWithFrame(read, 'TIMEOUT');
  assert.ok(Date.now() - t0 >= 140);
  s.destroy();
  c.destroy();
});

test('a client that sends nothing hits the shorter first-byte timeout', async () => {
  const [s, c] = await pair();
  const read = readFrame(s, { maxBytes: 1024, timeoutMs: 5000, firstByteTimeoutMs: 60 });
  // IDLE, not TIMEOUT: the 60 ms first-byte deadline applied, not the 5 s one.
  await rejectsWithFrame(read, 'IDLE');
  s.destroy();
  c.destroy();
});

test('after a frame the socket is paused and released: no listener is left behind', async () => {
  const [s, c] = await pair();
  const before = s.listenerCount('data');
  const read = readFrame(s, OPTS);
  await writeFrame(c, Uint8Array.of(42));
  assert.deepEqual([...(await read)], [42]);
  assert.equal(s.listenerCount('data'), before);
  assert.equal(s.isPaused(), true);
  s.destroy();
  c.destroy();
});

test('an already destroyed socket rejects at once', async () => {
  const [s, c] = await pair();
  s.destroy();
  await rejectsWithFrame(readFrame(s, OPTS), 'TRUNCATED');
  c.destroy();
});

test('maxBytes is validated', async () => {
  const [s, c] = await pair();
  assert.throws(() => readFrame(s, { maxBytes: -1, timeoutMs: 10 }), RangeError);
  assert.throws(() => readFrame(s, { maxBytes: 2 ** 32, timeoutMs: 10 }), RangeError);
  s.destroy();
  c.destroy();
});
