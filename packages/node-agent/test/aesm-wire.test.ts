/**
 * The AESM protocol at the byte level, checked with a generic protobuf walker written here (tag / varint /
 * length-delimited, no schema), so that what goes over the socket is checked independently of the generated code:
 * field numbers and wire types as in messages.proto, proto2 `required` fields present (errorCode even when 0),
 * requests hand-encoded as a C++ client would send them, and the binary payloads (att_key_id, key ID list).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { create, toBinary } from '@bufbuild/protobuf';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Platform, SGX_FLAGS, SimQuotingEnclave, createSimPki, ereportFor, type EnclaveIdentity } from '@cloister/sgx-sim';
import { RequestSchema } from '@cloister/aesm/messages';
import {
  ATT_KEY_ID_SIZE,
  INTEL_ECDSA_ATT_KEY_ID,
  encodeAttKeyId,
  encodeAttKeyIdList,
  intelEcdsaAttKeyId,
  parseAttKeyId,
  parseAttKeyIdList,
  sameAttKeyIdBase,
  AESM_ERROR,
  aesmErrorName,
  encodeFrame,
} from '@cloister/aesm';
import { QuoteHelperServer } from '../src/aesm/quote-helper-server.js';

// ---------------------------------------------------------------------------------------------------------------
// A generic protobuf wire walker and encoder

interface WireField {
  readonly no: number;
  readonly wireType: 0 | 1 | 2 | 5;
  /** varint / fixed: the number; length-delimited: the bytes. */
  readonly value: bigint | Uint8Array;
}

function readVarint(bytes: Uint8Array, at: number): [bigint, number] {
  let result = 0n;
  for (let shift = 0n, i = at; i < bytes.length && shift < 70n; i++, shift += 7n) {
    const b = bytes[i]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, i + 1];
  }
  throw new Error(`truncated or overlong varint at ${at}`);
}

function walk(bytes: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const [tag, next] = readVarint(bytes, at);
    at = next;
    const no = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (no === 0) throw new Error('field number 0');
    if (wireType === 0) {
      const [v, n] = readVarint(bytes, at);
      out.push({ no, wireType, value: v });
      at = n;
    } else if (wireType === 2) {
      const [len, n] = readVarint(bytes, at);
      const end = n + Number(len);
      if (end > bytes.length) throw new Error(`field ${no}: ${len} bytes announced, ${bytes.length - n} left`);
      out.push({ no, wireType, value: bytes.subarray(n, end) });
      at = end;
    } else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      if (at + size > bytes.length) throw new Error('truncated fixed field');
      const view = new DataView(bytes.buffer, bytes.byteOffset + at, size);
      out.push({ no, wireType, value: size === 8 ? view.getBigUint64(0, true) : BigInt(view.getUint32(0, true)) });
      at += size;
    } else {
      throw new Error(`wire type ${wireType} (groups are not used by messages.proto)`);
    }
  }
  return out;
}

/** The single occurrence of field `no`; fails when absent or repeated. */
function one(fields: readonly WireField[], no: number, wireType: 0 | 2): WireField {
  const hits = fields.filter((f) => f.no === no);
  assert.equal(hits.length, 1, `field ${no} present exactly once (got ${hits.length})`);
  assert.equal(hits[0]!.wireType, wireType, `field ${no} wire type`);
  return hits[0]!;
}
const varintOf = (f: WireField): bigint => f.value as bigint;
const bytesOf = (f: WireField): Uint8Array => f.value as Uint8Array;

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}
const vField = (no: number, n: number | bigint | boolean): number[] => [
  ...varint((no << 3) | 0),
  ...varint(typeof n === 'boolean' ? (n ? 1 : 0) : n),
];
const lField = (no: number, bytes: Uint8Array | number[]): number[] => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes];
const msg = (...fields: number[][]): Uint8Array => Uint8Array.from(fields.flat());

// ---------------------------------------------------------------------------------------------------------------
// Server and client

const APP: EnclaveIdentity = {
  mrEnclave: new Uint8Array(32).fill(0x11),
  mrSigner: new Uint8Array(32).fill(0x22),
  flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT,
  xfrm: 0x03n,
  miscSelect: 0,
  isvProdId: 1,
  isvSvn: 1,
  configId: new Uint8Array(64),
  configSvn: 0,
  isvExtProdId: new Uint8Array(16),
  isvFamilyId: new Uint8Array(16),
};

const dir = mkdtempSync(join(tmpdir(), 'aesm-wire-'));
const socketPath = join(dir, 'aesm.socket');
let platform: Platform;
let qe: SimQuotingEnclave;
let server: QuoteHelperServer;

before(async () => {
  platform = Platform.create();
  qe = new SimQuotingEnclave(platform, await createSimPki(platform));
  server = new QuoteHelperServer({ socketPath, quotingEnclave: qe });
  await server.start();
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One transaction with raw Request bytes; returns the Response payload after checking the LE length prefix. */
function transact(request: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const socket = connect(socketPath);
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(parts);
      try {
        assert.ok(all.length >= 4, 'a response frame');
        assert.equal(all.readUInt32LE(0), all.length - 4, 'LE u32 length = the rest of the stream');
        resolve(new Uint8Array(all.subarray(4)));
      } catch (e) {
        reject(e);
      }
    });
    socket.on('connect', () => socket.write(encodeFrame(request)));
  });
}

/** Sends `request`, checks the Response is exactly one field `no` (a sub-message), returns that sub-message's fields. */
async function subResponse(request: Uint8Array, no: number): Promise<WireField[]> {
  const top = walk(await transact(request));
  assert.deepEqual(
    top.map((f) => f.no),
    [no],
    `Response carries only field ${no}`,
  );
  return walk(bytesOf(one(top, no, 2)));
}

function errorCode(fields: readonly WireField[]): number {
  return Number(varintOf(one(fields, 1, 0)));
}

const report = (): Uint8Array => ereportFor(platform, APP, qe.targetInfo(), new Uint8Array(64).fill(5));

// ---------------------------------------------------------------------------------------------------------------
// Requests as sent

test('requests encoded by the generated schema carry their proto2 required fields, with field numbers of messages.proto', () => {
  const init = walk(toBinary(RequestSchema, create(RequestSchema, { initQuoteExReq: { bPubKeyId: false } })));
  const initInner = walk(bytesOf(one(init, 15, 2)));
  assert.equal(varintOf(one(initInner, 3, 0)), 0n, 'b_pub_key_id = false is still on the wire');

  const get = walk(
    toBinary(RequestSchema, create(RequestSchema, { getQuoteExReq: { report: new Uint8Array(432), bufSize: 0, attKeyId: INTEL_ECDSA_ATT_KEY_ID } })),
  );
  const getInner = walk(bytesOf(one(get, 17, 2)));
  assert.equal(bytesOf(one(getInner, 1, 2)).length, 432);
  assert.equal(bytesOf(one(getInner, 2, 2)).length, 256);
  assert.equal(varintOf(one(getInner, 4, 0)), 0n, 'buf_size = 0 is still on the wire');

  const ids = walk(toBinary(RequestSchema, create(RequestSchema, { getSupportedAttKeyIDsReq: { bufSize: 0 } })));
  assert.equal(varintOf(one(walk(bytesOf(one(ids, 22, 2))), 1, 0)), 0n);

  const sel = walk(toBinary(RequestSchema, create(RequestSchema, { selectAttKeyIDReq: { timeout: 15000 } })));
  assert.equal(varintOf(one(walk(bytesOf(one(sel, 19, 2))), 2, 0)), 15000n, 'SelectAttKeyID timeout is field 2, not 9');
  const num = walk(toBinary(RequestSchema, create(RequestSchema, { getSupportedAttKeyIDNumReq: { timeout: 15000 } })));
  assert.equal(varintOf(one(walk(bytesOf(one(num, 21, 2))), 9, 0)), 15000n);
  const size = walk(toBinary(RequestSchema, create(RequestSchema, { getQuoteSizeExReq: {} })));
  assert.equal(bytesOf(one(size, 16, 2)).length, 0, 'an empty sub-message still marks the request type');
});

// ---------------------------------------------------------------------------------------------------------------
// Responses on the wire, to hand-encoded requests

test('InitQuoteEx → field 15 {1: 0, 2: 512 bytes, 3: 32, 4: 32 bytes}', async () => {
  const without = await subResponse(msg(lField(15, msg(lField(1, INTEL_ECDSA_ATT_KEY_ID), vField(3, false), vField(9, 15000)))), 15);
  assert.equal(errorCode(without), 0, 'errorCode 0 is encoded (required)');
  assert.equal(bytesOf(one(without, 2, 2)).length, 512);
  assert.equal(varintOf(one(without, 3, 0)), 32n);
  assert.equal(without.filter((f) => f.no === 4).length, 0);

  const withKey = await subResponse(msg(lField(15, msg(lField(1, INTEL_ECDSA_ATT_KEY_ID), vField(3, true), vField(4, 32)))), 15);
  assert.equal(errorCode(withKey), 0);
  assert.deepEqual([...bytesOf(one(withKey, 2, 2))], [...qe.targetInfo()]);
  assert.equal(varintOf(one(withKey, 3, 0)), 32n);
  assert.equal(bytesOf(one(withKey, 4, 2)).length, 32);
  assert.deepEqual(
    withKey.map((f) => f.no),
    [1, 2, 3, 4],
    'fields in number order',
  );
});

test('GetQuoteSizeEx → field 16 {1: 0, 2: quote size}', async () => {
  const f = await subResponse(msg(lField(16, msg(lField(1, INTEL_ECDSA_ATT_KEY_ID)))), 16);
  assert.equal(errorCode(f), 0);
  assert.equal(Number(varintOf(one(f, 2, 0))), server.quoteSize);
});

test('GetQuoteEx → field 17 {1: 0, 2: quote, 3: 960 bytes}; an invalid REPORT → {1: 47} only', async () => {
  const info = new Uint8Array(960);
  info.set(new Uint8Array(16).fill(0xab), 0);
  const ok = await subResponse(
    msg(lField(17, msg(lField(1, report()), lField(2, INTEL_ECDSA_ATT_KEY_ID), lField(3, info), vField(4, server.quoteSize)))),
    17,
  );
  assert.equal(errorCode(ok), 0);
  assert.equal(bytesOf(one(ok, 2, 2)).length, server.quoteSize);
  const back = bytesOf(one(ok, 3, 2));
  assert.equal(back.length, 960);
  assert.deepEqual([...back.subarray(0, 16)], [...info.subarray(0, 16)]);

  const forged = report();
  forged[431] = (forged[431] ?? 0) ^ 0xff; // MAC
  const bad = await subResponse(msg(lField(17, msg(lField(1, forged), vField(4, server.quoteSize)))), 17);
  assert.deepEqual(
    bad.map((f) => f.no),
    [1],
  );
  assert.equal(errorCode(bad), AESM_ERROR.INVALID_REPORT);
});

test('SelectAttKeyID → field 19; GetSupportedAttKeyIDNum → field 21; GetSupportedAttKeyIDs → field 22', async () => {
  const sel = await subResponse(msg(lField(19, msg(lField(1, encodeAttKeyIdList([INTEL_ECDSA_ATT_KEY_ID])), vField(2, 100)))), 19);
  assert.equal(errorCode(sel), 0);
  assert.equal(bytesOf(one(sel, 2, 2)).length, 256);

  const num = await subResponse(msg(lField(21, [])), 21);
  assert.equal(errorCode(num), 0);
  assert.equal(varintOf(one(num, 2, 0)), 1n);

  const ids = await subResponse(msg(lField(22, msg(vField(1, 256)))), 22);
  assert.equal(errorCode(ids), 0);
  assert.deepEqual([...bytesOf(one(ids, 2, 2))], [...INTEL_ECDSA_ATT_KEY_ID]);

  const unsupportedKey = await subResponse(msg(lField(19, msg(lField(1, encodeAttKeyIdList([encodeAttKeyId({ algorithmId: 0 })]))))), 19);
  assert.equal(errorCode(unsupportedKey), AESM_ERROR.UNSUPPORTED_ATT_KEY_ID);
});

test('a DCAP request missing a proto2 required field → its own response with errorCode 1', async () => {
  // InitQuoteEx without b_pub_key_id (3).
  assert.equal(errorCode(await subResponse(msg(lField(15, msg(lField(1, INTEL_ECDSA_ATT_KEY_ID)))), 15)), 1);
  // GetQuoteEx without buf_size (4), then without report (1).
  assert.equal(errorCode(await subResponse(msg(lField(17, msg(lField(1, report())))), 17)), 1);
  assert.equal(errorCode(await subResponse(msg(lField(17, msg(vField(4, 100_000)))), 17)), 1);
  // GetSupportedAttKeyIDs without buf_size (1).
  assert.equal(errorCode(await subResponse(msg(lField(22, [])), 22)), 1);
});

test('parameter errors carry their code in field 1: short report → 3, short att_key_id → 3, short buf_size → 3', async () => {
  assert.equal(errorCode(await subResponse(msg(lField(17, msg(lField(1, new Uint8Array(100)), vField(4, 100_000)))), 17)), 3);
  assert.equal(
    errorCode(await subResponse(msg(lField(17, msg(lField(1, report()), lField(2, new Uint8Array(255)), vField(4, 100_000)))), 17)),
    3,
  );
  assert.equal(errorCode(await subResponse(msg(lField(17, msg(lField(1, report()), vField(4, 64)))), 17)), 3);
  assert.equal(errorCode(await subResponse(msg(lField(15, msg(vField(3, true), vField(4, 16)))), 15)), 3);
});

test('legacy, empty, double and unknown requests → field 20 {1: 1}', async () => {
  const requests = [
    msg(lField(1, msg(vField(9, 1000)))), // InitQuote (EPID)
    msg(lField(3, msg(lField(1, new Uint8Array(32)), lField(2, new Uint8Array(32)), lField(3, new Uint8Array(16))))), // GetLaunchToken
    msg(lField(18, [])), // CheckUpdateStatus
    msg(), // no field
    msg(lField(21, []), lField(16, [])), // two sub-requests
    msg(vField(99, 1)), // only an unknown field
    msg(lField(23, [])), // a sub-request number this server does not know
  ];
  for (const r of requests) {
    const f = await subResponse(r, 20);
    assert.equal(errorCode(f), AESM_ERROR.UNEXPECTED_ERROR);
  }
});

test('unknown fields inside a known sub-request are ignored', async () => {
  const f = await subResponse(msg(lField(16, msg(lField(1, INTEL_ECDSA_ATT_KEY_ID), vField(77, 5), lField(78, [1, 2])))), 16);
  assert.equal(errorCode(f), 0);
});

// ---------------------------------------------------------------------------------------------------------------
// Binary payloads

test('INTEL_ECDSA_ATT_KEY_ID layout (sgx_att_key_id_ext_t, 256 bytes)', () => {
  const k = INTEL_ECDSA_ATT_KEY_ID;
  assert.equal(k.length, ATT_KEY_ID_SIZE);
  const v = new DataView(k.buffer, k.byteOffset, k.byteLength);
  assert.equal(v.getUint16(0, true), 0, 'id');
  assert.equal(v.getUint16(2, true), 0, 'version');
  assert.equal(v.getUint16(4, true), 32, 'mrsigner_length');
  assert.equal(Buffer.from(k.subarray(6, 38)).toString('hex'), '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff');
  assert.ok(k.subarray(38, 54).every((b) => b === 0), 'mrsigner padding');
  assert.equal(v.getUint32(54, true), 1, 'prod_id');
  assert.ok(k.subarray(58, 154).every((b) => b === 0), 'extended_prod_id, config_id, family_id');
  assert.equal(v.getUint32(154, true), 2, 'algorithm_id ECDSA_P256');
  assert.ok(k.subarray(158).every((b) => b === 0), 'spid, att_key_type 0, reserved');

  const parsed = parseAttKeyId(k);
  assert.equal(parsed.algorithmId, 2);
  assert.equal(parsed.prodId, 1);
  assert.deepEqual(encodeAttKeyId(parsed), k);
  assert.deepEqual(intelEcdsaAttKeyId(), k);
  assert.notEqual(intelEcdsaAttKeyId(), intelEcdsaAttKeyId(), 'fresh copies');
  assert.throws(() => parseAttKeyId(new Uint8Array(255)), RangeError);
  assert.throws(() => encodeAttKeyId({ mrSigner: new Uint8Array(49) }), RangeError);
  assert.throws(() => encodeAttKeyId({ prodId: -1 }), RangeError);

  const other = k.slice();
  other[175] = 1; // att_key_type: outside the base
  assert.ok(sameAttKeyIdBase(k, other));
  other[157] = 1; // algorithm_id high byte: inside the base
  assert.ok(!sameAttKeyIdBase(k, other));
});

test('att_key_id_list: header {u16 0, u16 0, u32 num} then num × 256; exact size; at most 10', () => {
  const list = encodeAttKeyIdList([INTEL_ECDSA_ATT_KEY_ID, encodeAttKeyId({ algorithmId: 0 })]);
  assert.equal(list.length, 8 + 2 * 256);
  assert.deepEqual([...list.subarray(0, 8)], [0, 0, 0, 0, 2, 0, 0, 0]);
  const ids = parseAttKeyIdList(list);
  assert.equal(ids.length, 2);
  assert.deepEqual(ids[0], INTEL_ECDSA_ATT_KEY_ID);
  assert.throws(() => parseAttKeyIdList(list.subarray(0, list.length - 1)), RangeError);
  assert.throws(() => parseAttKeyIdList(Buffer.concat([list, Uint8Array.of(0)])), RangeError);
  assert.throws(() => encodeAttKeyIdList(Array.from({ length: 11 }, () => INTEL_ECDSA_ATT_KEY_ID)), RangeError);
  const ten = encodeAttKeyIdList(Array.from({ length: 10 }, () => INTEL_ECDSA_ATT_KEY_ID));
  assert.equal(parseAttKeyIdList(ten).length, 10);
});

test('aesm_error_t names', () => {
  assert.equal(AESM_ERROR.SUCCESS, 0);
  assert.equal(AESM_ERROR.PARAMETER_ERROR, 3);
  assert.equal(AESM_ERROR.UNSUPPORTED_ATT_KEY_ID, 38);
  assert.equal(AESM_ERROR.INVALID_REPORT, 47);
  assert.equal(AESM_ERROR.CONFIG_UNSUPPORTED, 51);
  assert.equal(aesmErrorName(0), 'SUCCESS');
  assert.equal(aesmErrorName(47), 'INVALID_REPORT');
  assert.equal(aesmErrorName(99), 'UNKNOWN_99');
  const values = Object.values(AESM_ERROR);
  assert.deepEqual(values, Array.from({ length: 52 }, (_, i) => i), 'a dense table 0..51');
});
