/**
 * AesmClient against a fake AESM service: the exact bytes libsgx_quote_ex puts on the socket (checked against a
 * hand-written protobuf encoding, not the generated schemas), the out-of-proc call sequence of libsgx_dcap_ql, and
 * the error mapping (aesm_error_t, timeout, missing or stale socket, oversized or truncated answers).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { linkSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Response_GetQuoteExResponseSchema,
  Response_GetQuoteSizeExResponseSchema,
  Response_GetSupportedAttKeyIDNumResponseSchema,
  Response_GetSupportedAttKeyIDsResponseSchema,
  Response_InitQuoteExResponseSchema,
  Response_SelectAttKeyIDResponseSchema,
  Response_UnsupportedRequestResponseSchema,
} from '../gen/aesm/message/messages_pb.js';
import { AesmError } from '../src/errors.js';
import {
  AESM_SOCKET_PATH,
  AesmClient,
  isAesmStatusError,
  outOfProcessQuotingEnabled,
  quoteLength,
} from '../src/client.js';
import { FakeAesmServer, response, type FakeHandler } from '../src/testing/fake-aesm-server.js';

// ---- a hand-written proto2 encoder, so the expectations do not come from the code under test -------------------

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const tag = (field: number, wire: 0 | 2): number[] => varint(field * 8 + wire);
const u = (field: number, value: number): number[] => [...tag(field, 0), ...varint(value)];
const b = (field: number, bytes: ArrayLike<number>): number[] => [...tag(field, 2), ...varint(bytes.length), ...Array.from(bytes)];
/** The frame: LE u32 length, then Request { <field>: <sub-message> }. */
function frame(field: number, sub: number[]): Uint8Array {
  const payload = b(field, sub);
  const n = payload.length;
  return Uint8Array.from([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24, ...payload]);
}

/** Intel's ECDSA-P256 QE key id (kubernetes-node.md §4.3), laid out by hand: 256 bytes. */
function intelEcdsaKeyId(): Uint8Array {
  const id = new Uint8Array(256);
  const v = new DataView(id.buffer);
  v.setUint16(0, 0, true); // id
  v.setUint16(2, 0, true); // version
  v.setUint16(4, 32, true); // mrsigner_length
  id.set(Buffer.from('8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff', 'hex'), 6);
  v.setUint32(54, 1, true); // prod_id
  v.setUint32(154, 2, true); // algorithm_id = SGX_QL_ALG_ECDSA_P256
  return id;
}
const KEY = intelEcdsaKeyId();
const TIMEOUT_15S = 15000;

function filled(size: number, byte: number): Uint8Array {
  return new Uint8Array(size).fill(byte);
}

/** A quote of `total` bytes whose header says signature_data_len = sigLen (real length 436 + sigLen). */
function paddedQuote(sigLen: number, total: number): Uint8Array {
  const q = filled(total, 0);
  q.fill(0x51, 0, 436 + sigLen);
  new DataView(q.buffer).setUint32(432, sigLen, true);
  return q;
}

async function withServer(handler: FakeHandler, fn: (server: FakeAesmServer) => Promise<void>): Promise<void> {
  const server = await FakeAesmServer.start(handler);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

function assertAesmError(err: unknown, code: string, message?: RegExp): true {
  assert.ok(AesmError.is(err), `an AesmError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message !== undefined) assert.match(err.message, message);
  return true;
}

const TARGET = filled(512, 0x7a);
const PUB_KEY_ID = filled(32, 0x33);

describe('outOfProcessQuotingEnabled', () => {
  it('is true iff SGX_AESM_ADDR is present, whatever its value', () => {
    assert.equal(outOfProcessQuotingEnabled({}), false);
    assert.equal(outOfProcessQuotingEnabled({ SGX_AESM_ADDR: '1' }), true);
    assert.equal(outOfProcessQuotingEnabled({ SGX_AESM_ADDR: '' }), true);
    assert.equal(outOfProcessQuotingEnabled({ SGX_AESM_ADDR: '0' }), true);
    assert.equal(outOfProcessQuotingEnabled({ SGX_AESM_ADDR: 'unix:/elsewhere' }), true);
    assert.equal(outOfProcessQuotingEnabled({ OTHER: '1' }), false);
  });
});

describe('AesmClient: the bytes on the socket', () => {
  it('defaults to Intel’s socket path and IPC_LATENCY', () => {
    const c = new AesmClient();
    assert.equal(c.socketPath, '/var/run/aesmd/aesm.socket');
    assert.equal(AESM_SOCKET_PATH, '/var/run/aesmd/aesm.socket');
    assert.equal(c.timeoutMs, 15000);
    assert.throws(() => new AesmClient({ timeoutMs: 0 }), (e) => assertAesmError(e, 'CONFIG_INVALID'));
  });

  it('GetSupportedAttKeyIDNum: Request field 21 { timeout(9) = 15000 }', async () => {
    await withServer(
      () => response({ getSupportedAttKeyIDNumRes: create(Response_GetSupportedAttKeyIDNumResponseSchema, { errorCode: 0, attKeyIdNum: 1 }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        assert.equal(await client.getSupportedAttKeyIdNum(), 1);
        assert.equal(server.requests.length, 1);
        assert.deepEqual(server.requests[0]?.bytes, frame(21, u(9, TIMEOUT_15S)));
        assert.deepEqual(Array.from(server.requests[0]?.bytes ?? []), [0x06, 0, 0, 0, 0xaa, 0x01, 0x03, 0x48, 0x98, 0x75]);
      },
    );
  });

  it('getTargetInfo: the two InitQuoteEx requests of sgx_qe_get_target_info, one connection each', async () => {
    const handler: FakeHandler = (req, i) => {
      assert.ok(req.initQuoteExReq, 'an InitQuoteEx request');
      return i === 0
        ? response({ initQuoteExRes: create(Response_InitQuoteExResponseSchema, { errorCode: 0, targetInfo: TARGET, pubKeyIdSize: 32n }) })
        : response({
            initQuoteExRes: create(Response_InitQuoteExResponseSchema, {
              errorCode: 0,
              targetInfo: TARGET,
              pubKeyIdSize: 32n,
              pubKeyId: PUB_KEY_ID,
            }),
          });
    };
    await withServer(handler, async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath });
      const { targetInfo, pubKeyId } = await client.getTargetInfo();
      assert.deepEqual(targetInfo, TARGET);
      assert.deepEqual(pubKeyId, PUB_KEY_ID);
      assert.equal(server.connections, 2);
      assert.equal(server.requests.length, 2);
      // 1: att_key_id(1) = Intel ECDSA id, b_pub_key_id(3) = false, no buf_size, timeout(9).
      assert.deepEqual(server.requests[0]?.bytes, frame(15, [...b(1, KEY), ...u(3, 0), ...u(9, TIMEOUT_15S)]));
      // 2: b_pub_key_id = true, buf_size(4) = 32.
      assert.deepEqual(
        server.requests[1]?.bytes,
        frame(15, [...b(1, KEY), ...u(3, 1), ...u(4, 32), ...u(9, TIMEOUT_15S)]),
      );
      // Field order and the required field, read back through the schemas too.
      const first = server.requests[0]?.request.initQuoteExReq;
      assert.equal(first?.attKeyId.length, 256);
      assert.equal(first?.bPubKeyId, false);
    });
  });

  it('getTargetInfo stops after the size query when pub_key_id_size is not 32 (dcap_ql: 0xe001)', async () => {
    await withServer(
      () => response({ initQuoteExRes: create(Response_InitQuoteExResponseSchema, { errorCode: 0, targetInfo: TARGET, pubKeyIdSize: 48n }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        await assert.rejects(client.getTargetInfo(), (e) => assertAesmError(e, 'AESM_PROTOCOL', /pub_key_id_size 48/));
        assert.equal(server.requests.length, 1);
      },
    );
  });

  it('initQuoteEx: a caller-chosen key id and buffer size; a short target_info is zero-padded like Intel’s client', async () => {
    const other = filled(256, 9);
    await withServer(
      () => response({ initQuoteExRes: create(Response_InitQuoteExResponseSchema, { errorCode: 0, targetInfo: filled(100, 1), pubKeyIdSize: 32n }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath, timeoutMs: 1234 });
        const r = await client.initQuoteEx({ attKeyId: other, wantPubKeyId: false, bufSize: 64 });
        assert.equal(r.targetInfo.length, 512);
        assert.deepEqual(r.targetInfo.subarray(0, 100), filled(100, 1));
        assert.deepEqual(r.targetInfo.subarray(100), new Uint8Array(412));
        assert.equal(r.pubKeyIdSize, 32);
        assert.equal(r.pubKeyId, undefined);
        assert.deepEqual(server.requests[0]?.bytes, frame(15, [...b(1, other), ...u(3, 0), ...u(4, 64), ...u(9, 1234)]));
      },
    );
  });

  it('GetQuoteSizeEx: Request field 16 { att_key_id(1), timeout(9) }', async () => {
    await withServer(
      () => response({ getQuoteSizeExRes: create(Response_GetQuoteSizeExResponseSchema, { errorCode: 0, quoteSize: 4702 }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        assert.equal(await client.getQuoteSize(), 4702);
        assert.deepEqual(server.requests[0]?.bytes, frame(16, [...b(1, KEY), ...u(9, TIMEOUT_15S)]));
      },
    );
  });

  it('GetQuoteEx: report(1), att_key_id(2), qe_report_info(3), buf_size(4), timeout(9); quote trimmed to 436 + sig len', async () => {
    const report = filled(432, 0x52);
    const info = filled(960, 0x49);
    const returnedInfo = filled(960, 0x4a);
    await withServer(
      () =>
        response({
          getQuoteExRes: create(Response_GetQuoteExResponseSchema, {
            errorCode: 0,
            quote: paddedQuote(1000, 5000),
            qeReportInfo: returnedInfo,
          }),
        }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        const r = await client.getQuote(report, { qeReportInfo: info, bufSize: 5000 });
        assert.equal(r.quote.length, 1436);
        assert.deepEqual(r.quote, paddedQuote(1000, 5000).subarray(0, 1436));
        assert.deepEqual(r.qeReportInfo, returnedInfo);
        assert.deepEqual(
          server.requests[0]?.bytes,
          frame(17, [...b(1, report), ...b(2, KEY), ...b(3, info), ...u(4, 5000), ...u(9, TIMEOUT_15S)]),
        );
      },
    );
  });

  it('getQuote without bufSize asks GetQuoteSizeEx first, then sends that buf_size without qe_report_info', async () => {
    const report = filled(432, 0x52);
    const handler: FakeHandler = (req) =>
      req.getQuoteSizeExReq !== undefined
        ? response({ getQuoteSizeExRes: create(Response_GetQuoteSizeExResponseSchema, { errorCode: 0, quoteSize: 2000 }) })
        : response({ getQuoteExRes: create(Response_GetQuoteExResponseSchema, { errorCode: 0, quote: paddedQuote(600, 2000) }) });
    await withServer(handler, async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath });
      const r = await client.getQuote(report);
      assert.equal(r.quote.length, 1036);
      assert.equal(r.qeReportInfo, undefined);
      assert.equal(server.requests.length, 2);
      assert.deepEqual(server.requests[0]?.bytes, frame(16, [...b(1, KEY), ...u(9, TIMEOUT_15S)]));
      assert.deepEqual(server.requests[1]?.bytes, frame(17, [...b(1, report), ...b(2, KEY), ...u(4, 2000), ...u(9, TIMEOUT_15S)]));
    });
  });

  it('a quote whose signature_data_len runs past the answer is a protocol error; an exact one is kept whole', async () => {
    const short = paddedQuote(100, 536);
    new DataView(short.buffer).setUint32(432, 5000, true);
    await withServer(
      () => response({ getQuoteExRes: create(Response_GetQuoteExResponseSchema, { errorCode: 0, quote: short }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        await assert.rejects(client.getQuote(filled(432, 1), { bufSize: 8000 }), (e) => assertAesmError(e, 'AESM_PROTOCOL'));
      },
    );
    assert.equal(quoteLength(paddedQuote(100, 536)), 536);
    assert.equal(quoteLength(new Uint8Array(100)), undefined);
  });

  it('SelectAttKeyID: timeout is field 2; the list (header + ids) only when given', async () => {
    await withServer(
      () => response({ selectAttKeyIDRes: create(Response_SelectAttKeyIDResponseSchema, { errorCode: 0, selectedAttKeyId: KEY }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        assert.deepEqual(await client.selectAttKeyId(), KEY);
        assert.deepEqual(server.requests[0]?.bytes, frame(19, u(2, TIMEOUT_15S)));
        await client.selectAttKeyId([KEY]);
        const list = new Uint8Array(8 + 256);
        list[4] = 1; // num_att_ids (LE u32); id and version 0
        list.set(KEY, 8);
        assert.deepEqual(server.requests[1]?.bytes, frame(19, [...b(1, list), ...u(2, TIMEOUT_15S)]));
        await client.selectAttKeyId(list);
        assert.deepEqual(server.requests[2]?.bytes, server.requests[1]?.bytes);
      },
    );
  });

  it('GetSupportedAttKeyIDs: buf_size(1) = num × 256 after asking the number', async () => {
    const handler: FakeHandler = (req) =>
      req.getSupportedAttKeyIDNumReq !== undefined
        ? response({ getSupportedAttKeyIDNumRes: create(Response_GetSupportedAttKeyIDNumResponseSchema, { errorCode: 0, attKeyIdNum: 2 }) })
        : response({
            getSupportedAttKeyIDsRes: create(Response_GetSupportedAttKeyIDsResponseSchema, {
              errorCode: 0,
              attKeyIds: Uint8Array.from([...KEY, ...filled(256, 3)]),
            }),
          });
    await withServer(handler, async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath });
      const ids = await client.getSupportedAttKeyIds();
      assert.equal(ids.length, 2);
      assert.deepEqual(ids[0], KEY);
      assert.deepEqual(ids[1], filled(256, 3));
      assert.deepEqual(server.requests[1]?.bytes, frame(22, [...u(1, 512), ...u(9, TIMEOUT_15S)]));
    });
  });

  it('rejects wrong-sized inputs before connecting', async () => {
    await withServer(() => 'close', async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath });
      await assert.rejects(client.getQuote(new Uint8Array(431), { bufSize: 5000 }), (e) => assertAesmError(e, 'INVALID_REQUEST'));
      await assert.rejects(
        client.getQuote(new Uint8Array(432), { bufSize: 5000, qeReportInfo: new Uint8Array(959) }),
        (e) => assertAesmError(e, 'INVALID_REQUEST'),
      );
      await assert.rejects(
        client.initQuoteEx({ attKeyId: new Uint8Array(255), wantPubKeyId: false }),
        (e) => assertAesmError(e, 'INVALID_REQUEST'),
      );
      assert.equal(server.connections, 0);
    });
  });
});

describe('AesmClient: errors', () => {
  it('errorCode ≠ 0 → AesmError AESM_ERROR carrying the aesm_error_t name and number', async () => {
    await withServer(
      () => response({ getQuoteExRes: create(Response_GetQuoteExResponseSchema, { errorCode: 47 }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        await assert.rejects(client.getQuote(filled(432, 1), { bufSize: 5000 }), (e) => {
          assertAesmError(e, 'AESM_ERROR', /AESM_INVALID_REPORT \(47\)/);
          assert.ok(isAesmStatusError(e));
          assert.equal(e.aesmError, 'AESM_INVALID_REPORT');
          assert.equal(e.status, 47);
          assert.equal(e.operation, 'GetQuoteEx');
          assert.match(e.message, /TARGETINFO/);
          return true;
        });
      },
    );
  });

  it('an errorCode outside the table keeps its number; a missing errorCode reads as proto2’s default 1', async () => {
    await withServer(
      (_req, i) =>
        i === 0
          ? response({ getSupportedAttKeyIDNumRes: create(Response_GetSupportedAttKeyIDNumResponseSchema, { errorCode: 99 }) })
          : // Response { getSupportedAttKeyIDNumRes(21): {} }: the required errorCode absent.
            { raw: Uint8Array.from([3, 0, 0, 0, 0xaa, 0x01, 0x00]) },
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => isAesmStatusError(e) && e.status === 99 && e.aesmError === 'AESM_UNKNOWN_99');
        await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => isAesmStatusError(e) && e.aesmError === 'AESM_UNEXPECTED_ERROR');
      },
    );
  });

  it('UnsupportedRequestResponse → AESM_ERROR saying the service does not support the request', async () => {
    await withServer(
      () => response({ unsupportedRequestResponse: create(Response_UnsupportedRequestResponseSchema, { errorCode: 1 }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        await assert.rejects(client.getQuoteSize(), (e) => assertAesmError(e, 'AESM_ERROR', /does not support/));
      },
    );
  });

  it('a response without the expected sub-message is a protocol error', async () => {
    await withServer(
      () => response({ getQuoteSizeExRes: create(Response_GetQuoteSizeExResponseSchema, { errorCode: 0, quoteSize: 1 }) }),
      async (server) => {
        const client = new AesmClient({ socketPath: server.socketPath });
        await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => assertAesmError(e, 'AESM_PROTOCOL', /getSupportedAttKeyIDNumRes/));
      },
    );
  });

  it('a server that never answers → AESM_TIMEOUT within the configured timeout (sent as the timeout field)', async () => {
    await withServer(() => 'hang', async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath, timeoutMs: 250 });
      const started = Date.now();
      await assert.rejects(client.getSupportedAttKeyIdNum(), (e) =>
        assertAesmError(e, 'AESM_TIMEOUT', /250 ms.*SGX_ERROR_SERVICE_TIMEOUT/),
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 240, `timed out after ${elapsed} ms, before the 250 ms deadline`);
      assert.deepEqual(server.requests[0]?.bytes, frame(21, u(9, 250)));
    });
  });

  it('a missing socket → AESM_UNAVAILABLE saying what to run and mount', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-aesm-empty-'));
    try {
      const client = new AesmClient({ socketPath: join(dir, 'aesm.socket') });
      await assert.rejects(client.getSupportedAttKeyIdNum(), (e) =>
        assertAesmError(
          e,
          'AESM_UNAVAILABLE',
          /is empty: is the quote helper running on this node, and is the hostPath mounted\?/,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the message names the socket directory (what the workload must mount)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-aesm-dir-'));
    try {
      const socketPath = join(dir, 'aesmd', 'aesm.socket');
      await assert.rejects(new AesmClient({ socketPath }).getSupportedAttKeyIdNum(), (e) => {
        assertAesmError(e, 'AESM_UNAVAILABLE');
        assert.ok((e as Error).message.includes(`${join(dir, 'aesmd')} is empty`), (e as Error).message);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a stale socket nobody listens on → AESM_UNAVAILABLE (refused)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-aesm-stale-'));
    try {
      const live = join(dir, 'live.sock');
      const stale = join(dir, 'aesm.socket');
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(live, resolve));
      linkSync(live, stale); // a second name for the socket inode survives the listener
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const client = new AesmClient({ socketPath: stale });
      await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => assertAesmError(e, 'AESM_UNAVAILABLE', /nothing listens/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an oversized response length → AESM_PROTOCOL without reading the body', async () => {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(2 * 1024 * 1024, 0);
    await withServer(() => ({ raw: head }), async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath });
      await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => assertAesmError(e, 'AESM_PROTOCOL', /oversized/));
    });
    // The cap is configurable.
    const small = Buffer.alloc(4);
    small.writeUInt32LE(100, 0);
    await withServer(() => ({ raw: small }), async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath, maxResponseBytes: 64 });
      await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => assertAesmError(e, 'AESM_PROTOCOL', /oversized/));
    });
  });

  it('a server that closes without answering (as aesmd does with a malformed request) → AESM_PROTOCOL', async () => {
    await withServer(() => 'close', async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath });
      await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => assertAesmError(e, 'AESM_PROTOCOL', /without a complete response/));
    });
  });

  it('a truncated body and garbage protobuf are protocol errors', async () => {
    const truncated = Buffer.from([10, 0, 0, 0, 1, 2, 3]);
    await withServer(() => ({ raw: truncated }), async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath });
      await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => assertAesmError(e, 'AESM_PROTOCOL'));
    });
    const garbage = Buffer.from([3, 0, 0, 0, 0xff, 0xff, 0xff]);
    await withServer(() => ({ raw: garbage }), async (server) => {
      const client = new AesmClient({ socketPath: server.socketPath });
      await assert.rejects(client.getSupportedAttKeyIdNum(), (e) => assertAesmError(e, 'AESM_PROTOCOL', /unparseable/));
    });
  });
});
