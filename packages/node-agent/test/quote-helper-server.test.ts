/**
 * QuoteHelperServer on a real unix socket, backed by a simulated platform, driven by a small AESM client written here
 * with node:net (new connection per call, LE u32 length ‖ aesm.message.Request, read to EOF): the DCAP out-of-proc
 * flow end to end (quote verified with @cloister/dcap, QE report verified by the app), error codes, hostile clients,
 * concurrency, and the socket's lifecycle.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, lstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuoteVerifier, toHex, trustAnchorFromCertificate, type CollateralBundle } from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import {
  Platform,
  SGX_FLAGS,
  SimQuotingEnclave,
  attestationKeyOf,
  createSimCollateral,
  createSimPki,
  ereportFor,
  encodeTargetInfo,
  verifyReportFor,
  type EnclaveIdentity,
  type SimPki,
} from '@cloister/sgx-sim';
import { RequestSchema, ResponseSchema, type Response } from '@cloister/aesm/messages';
import { AgentError } from '../src/errors.js';
import {
  INTEL_ECDSA_ATT_KEY_ID,
  SGX_QL_ALG,
  encodeAttKeyId,
  encodeAttKeyIdList,
  intelEcdsaAttKeyId,
  AESM_ERROR,
  aesmErrorName,
  encodeFrame,
} from '@cloister/aesm';
import type { QuoteHelperMetrics, QuoteHelperRejection } from '../src/aesm/quote-helper-metrics.js';
import { QE_REPORT_INFO_SIZE, QuoteHelperServer } from '../src/aesm/quote-helper-server.js';

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const label = (s: string): Uint8Array => sha256(new TextEncoder().encode(s));

const APP: EnclaveIdentity = {
  mrEnclave: label('quote helper test app'),
  mrSigner: label('quote helper test signer'),
  flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT,
  xfrm: 0x03n,
  miscSelect: 0,
  isvProdId: 7,
  isvSvn: 2,
  configId: new Uint8Array(64),
  configSvn: 0,
  isvExtProdId: new Uint8Array(16),
  isvFamilyId: new Uint8Array(16),
};

class RecordingMetrics implements QuoteHelperMetrics {
  readonly requests: { type: string; result: string; seconds: number }[] = [];
  readonly rejections: QuoteHelperRejection[] = [];
  open = 0;
  request(type: string, result: string, seconds: number): void {
    this.requests.push({ type, result, seconds });
  }
  rejected(reason: QuoteHelperRejection): void {
    this.rejections.push(reason);
  }
  setOpenConnections(count: number): void {
    this.open = count;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'aesm-server-'));
let platform: Platform;
let pki: SimPki;
let qe: SimQuotingEnclave;
let collateral: CollateralBundle;
let verifier: QuoteVerifier;
let server: QuoteHelperServer;
let metrics: RecordingMetrics;
let socketPath: string;
let seq = 0;

before(async () => {
  platform = Platform.create();
  pki = await createSimPki(platform);
  qe = new SimQuotingEnclave(platform, pki);
  collateral = await createSimCollateral(platform, pki);
  verifier = new QuoteVerifier({ crypto: nodeCryptoProvider(), trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] });
  metrics = new RecordingMetrics();
  socketPath = join(dir, 'run', 'aesmd', 'aesm.socket');
  server = new QuoteHelperServer({
    socketPath,
    quotingEnclave: qe,
    metrics,
    requestTimeoutMs: 400,
    idleTimeoutMs: 200,
  });
  await server.start();
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// A minimal AESM client (one transaction per connection)

/** Connects, writes `chunks` (optionally ending the stream), and collects everything until the server closes. */
function exchange(path: string, chunks: readonly Uint8Array[], opts: { end?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const socket = connect(path);
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close while we still write (hostile cases): what it sent is what matters.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') return;
      reject(err);
    });
    socket.on('close', () => resolve(Buffer.concat(parts)));
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
      if (opts.end === true) socket.end();
    });
  });
}

function decodeResponseFrame(bytes: Uint8Array): Response {
  assert.ok(bytes.length >= 4, 'a response frame');
  const size = Buffer.from(bytes).readUInt32LE(0);
  assert.equal(size, bytes.length - 4, 'exactly one frame, then EOF');
  // A copy: bytes fields of the result are then plain Uint8Arrays, not Buffer views.
  return fromBinary(ResponseSchema, new Uint8Array(bytes.subarray(4)));
}

async function call(init: MessageInitShape<typeof RequestSchema>, path = socketPath): Promise<Response> {
  const bytes = toBinary(RequestSchema, create(RequestSchema, init));
  return decodeResponseFrame(await exchange(path, [encodeFrame(bytes)]));
}

function appReport(targetInfo: Uint8Array, reportData: Uint8Array, identity = APP, on = platform): Uint8Array {
  return ereportFor(on, identity, targetInfo, reportData);
}

function qeReportInfoFor(nonce: Uint8Array, appTargetInfo: Uint8Array): Uint8Array {
  const info = new Uint8Array(QE_REPORT_INFO_SIZE);
  info.set(nonce, 0);
  info.set(appTargetInfo, 16);
  return info;
}

/** A GetQuoteEx that must succeed: the server keeps serving after whatever came before. */
async function assertStillServing(): Promise<void> {
  const report = appReport(qe.targetInfo(), new Uint8Array(64).fill(9));
  const res = await call({ getQuoteExReq: { report, attKeyId: intelEcdsaAttKeyId(), bufSize: server.quoteSize } });
  assert.equal(res.getQuoteExRes?.errorCode, 0);
  assert.equal(res.getQuoteExRes?.quote.length, server.quoteSize);
}

// ---------------------------------------------------------------------------------------------------------------
// The DCAP flow

test('socket: directory created 0755, socket 0777 as aesmd', () => {
  const st = lstatSync(socketPath);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o777);
  assert.equal(statSync(join(dir, 'run', 'aesmd')).mode & 0o777, 0o755);
});

test('DCAP out-of-proc flow: InitQuoteEx ×2 → EREPORT → GetQuoteSizeEx → GetQuoteEx with qe_report_info → verified', async () => {
  const keyId = intelEcdsaAttKeyId();

  // 1. sgx_qe_get_target_info: first without a pub_key_id buffer (asks the size), then with 32 bytes.
  const first = await call({ initQuoteExReq: { attKeyId: keyId, bPubKeyId: false } });
  const r1 = first.initQuoteExRes;
  assert.ok(r1);
  assert.equal(r1.errorCode, 0);
  assert.equal(r1.pubKeyIdSize, 32n);
  assert.equal(r1.pubKeyId.length, 0);
  assert.deepEqual(r1.targetInfo, qe.targetInfo());

  const second = await call({ initQuoteExReq: { attKeyId: keyId, bPubKeyId: true, bufSize: 32n } });
  const r2 = second.initQuoteExRes;
  assert.ok(r2);
  assert.equal(r2.errorCode, 0);
  assert.equal(r2.targetInfo.length, 512);
  assert.equal(r2.pubKeyIdSize, 32n);
  assert.deepEqual(r2.pubKeyId, sha256(attestationKeyOf(platform).raw));

  // 2. The application enclave reports to the QE.
  const reportData = new Uint8Array(randomBytes(64));
  const report = appReport(r2.targetInfo, reportData);

  // 3. sgx_qe_get_quote_size
  const size = (await call({ getQuoteSizeExReq: { attKeyId: keyId } })).getQuoteSizeExRes;
  assert.ok(size);
  assert.equal(size.errorCode, 0);
  assert.equal(size.quoteSize, server.quoteSize);

  // 4. sgx_qe_get_quote with a nonce and the app's TARGETINFO
  const nonce = new Uint8Array(randomBytes(16));
  const appTi = encodeTargetInfo(APP);
  const got = (
    await call({ getQuoteExReq: { report, attKeyId: keyId, qeReportInfo: qeReportInfoFor(nonce, appTi), bufSize: size.quoteSize } })
  ).getQuoteExRes;
  assert.ok(got);
  assert.equal(got.errorCode, 0);
  const quote = got.quote;
  assert.equal(quote.length, size.quoteSize);

  // The quote verifies against the simulated root and carries the app's identity and report data.
  const result = await verifier.verify(quote, collateral);
  assert.equal(result.status, 'UpToDate');
  assert.equal(result.quoteVersion, 3);
  assert.equal(result.simulated, true);
  assert.equal(result.claims['mrenclave'], toHex(APP.mrEnclave));
  assert.equal(result.claims['mrsigner'], toHex(APP.mrSigner));
  assert.equal(result.claims['reportData'], toHex(reportData));

  // The attestation key in the quote is the one InitQuoteEx named by pub_key_id.
  const attKeyInQuote = quote.subarray(436 + 64, 436 + 128);
  assert.deepEqual(sha256(attKeyInQuote), r2.pubKeyId);

  // The QE report: for the app, from the QE, binding nonce and quote.
  const info = got.qeReportInfo;
  assert.equal(info.length, 960);
  assert.deepEqual(info.subarray(0, 16), nonce);
  assert.deepEqual(info.subarray(16, 528), appTi);
  const body = verifyReportFor(platform, APP, info.subarray(528));
  const expected = new Uint8Array(64);
  expected.set(sha256(nonce, quote), 0);
  assert.deepEqual(body.reportData, expected);
  assert.deepEqual(body.mrEnclave, qe.identity.mrEnclave);
  assert.deepEqual(body.mrSigner, qe.identity.mrSigner);

  for (const type of ['initQuoteEx', 'getQuoteSizeEx', 'getQuoteEx']) {
    assert.ok(metrics.requests.some((r) => r.type === type && r.result === 'SUCCESS'), type);
  }
  assert.ok(metrics.requests.every((r) => Number.isFinite(r.seconds) && r.seconds >= 0));
});

test('GetQuoteEx without qe_report_info returns the quote only; no att_key_id means the ECDSA key', async () => {
  const reportData = new Uint8Array(64).fill(3);
  const got = (await call({ getQuoteExReq: { report: appReport(qe.targetInfo(), reportData), bufSize: 100_000 } })).getQuoteExRes;
  assert.ok(got);
  assert.equal(got.errorCode, 0);
  assert.equal(got.qeReportInfo.length, 0);
  assert.equal(got.quote.length, server.quoteSize, 'the exact quote, not padded to buf_size');
  const r = await verifier.verify(got.quote, collateral);
  assert.equal(r.claims['reportData'], toHex(reportData));
});

test('quote version 4 option', async () => {
  const path = join(dir, `v4-${seq++}.sock`);
  const v4 = new QuoteHelperServer({ socketPath: path, quotingEnclave: qe, quoteVersion: 4 });
  await v4.start();
  try {
    const size = (await call({ getQuoteSizeExReq: {} }, path)).getQuoteSizeExRes;
    assert.equal(size?.quoteSize, v4.quoteSize);
    assert.notEqual(v4.quoteSize, server.quoteSize);
    const reportData = new Uint8Array(64).fill(0x44);
    const got = (await call({ getQuoteExReq: { report: appReport(qe.targetInfo(), reportData), bufSize: v4.quoteSize } }, path))
      .getQuoteExRes;
    assert.equal(got?.errorCode, 0);
    const quote = got.quote;
    assert.equal(Buffer.from(quote).readUInt16LE(0), 4);
    const r = await verifier.verify(quote, collateral);
    assert.equal(r.quoteVersion, 4);
    assert.equal(r.claims['reportData'], toHex(reportData));
  } finally {
    await v4.stop();
  }
});

test('a REPORT for another enclave, from another platform, or tampered → 47 INVALID_REPORT', async () => {
  const otherTarget = encodeTargetInfo({ ...APP, mrEnclave: label('not the QE') });
  const otherPlatform = Platform.create();
  const tampered = appReport(qe.targetInfo(), new Uint8Array(64));
  tampered[320] = (tampered[320] ?? 0) ^ 1; // REPORTDATA byte
  for (const report of [
    appReport(otherTarget, new Uint8Array(64)),
    ereportFor(otherPlatform, APP, qe.targetInfo(), new Uint8Array(64)),
    tampered,
  ]) {
    const res = (await call({ getQuoteExReq: { report, bufSize: server.quoteSize } })).getQuoteExRes;
    assert.equal(res?.errorCode, AESM_ERROR.INVALID_REPORT);
    assert.equal(res.quote.length, 0);
  }
  assert.ok(metrics.requests.some((r) => r.type === 'getQuoteEx' && r.result === 'INVALID_REPORT'));
  await assertStillServing();
});

test('GetQuoteEx parameter errors → 3; another key → 38', async () => {
  const report = appReport(qe.targetInfo(), new Uint8Array(64));
  const q = async (init: MessageInitShape<typeof RequestSchema>['getQuoteExReq']): Promise<number | undefined> =>
    (await call({ getQuoteExReq: init })).getQuoteExRes?.errorCode;
  assert.equal(await q({ report: report.subarray(0, 431), bufSize: server.quoteSize }), AESM_ERROR.PARAMETER_ERROR);
  assert.equal(await q({ report, bufSize: server.quoteSize - 1 }), AESM_ERROR.PARAMETER_ERROR);
  assert.equal(await q({ report, bufSize: server.quoteSize, qeReportInfo: new Uint8Array(959) }), AESM_ERROR.PARAMETER_ERROR);
  const badTi = qeReportInfoFor(new Uint8Array(16), encodeTargetInfo(APP));
  badTi[16 + 200] = 1; // a reserved byte of the app TARGETINFO
  assert.equal(await q({ report, bufSize: server.quoteSize, qeReportInfo: badTi }), AESM_ERROR.PARAMETER_ERROR);
  assert.equal(await q({ report, bufSize: server.quoteSize, attKeyId: new Uint8Array(158) }), AESM_ERROR.PARAMETER_ERROR);
  const epid = encodeAttKeyId({ algorithmId: SGX_QL_ALG.EPID });
  assert.equal(await q({ report, bufSize: server.quoteSize, attKeyId: epid }), AESM_ERROR.UNSUPPORTED_ATT_KEY_ID);
  // Only the 158-byte base counts: spid/att_key_type/reserved differences are accepted, as aesmd does.
  const sameBase = intelEcdsaAttKeyId();
  sameBase[200] = 0xee;
  assert.equal(await q({ report, bufSize: server.quoteSize, attKeyId: sameBase }), AESM_ERROR.SUCCESS);
});

test('InitQuoteEx: short pub_key_id buffer → 3; other key → 38', async () => {
  const init = async (i: MessageInitShape<typeof RequestSchema>['initQuoteExReq']): Promise<number | undefined> =>
    (await call({ initQuoteExReq: i })).initQuoteExRes?.errorCode;
  assert.equal(await init({ bPubKeyId: true, bufSize: 31n }), AESM_ERROR.PARAMETER_ERROR);
  assert.equal(await init({ bPubKeyId: true }), AESM_ERROR.PARAMETER_ERROR);
  assert.equal(await init({ bPubKeyId: true, bufSize: 1n << 40n }), AESM_ERROR.SUCCESS);
  assert.equal(
    await init({ bPubKeyId: false, attKeyId: encodeAttKeyId({ algorithmId: SGX_QL_ALG.ECDSA_P384, mrSigner: label('x') }) }),
    AESM_ERROR.UNSUPPORTED_ATT_KEY_ID,
  );
  assert.equal(await init({ bPubKeyId: false, attKeyId: INTEL_ECDSA_ATT_KEY_ID }), AESM_ERROR.SUCCESS);
  const size = (await call({ getQuoteSizeExReq: { attKeyId: encodeAttKeyId({ algorithmId: 2 }) } })).getQuoteSizeExRes;
  assert.equal(size?.errorCode, AESM_ERROR.UNSUPPORTED_ATT_KEY_ID);
});

test('SelectAttKeyID, GetSupportedAttKeyIDNum, GetSupportedAttKeyIDs', async () => {
  const keyId = intelEcdsaAttKeyId();
  const sel = async (list?: Uint8Array): Promise<Response['selectAttKeyIDRes']> =>
    (await call({ selectAttKeyIDReq: list === undefined ? {} : { attKeyIdList: list } })).selectAttKeyIDRes;

  const any = await sel();
  assert.equal(any?.errorCode, 0);
  assert.deepEqual(any.selectedAttKeyId, keyId);
  const epid = encodeAttKeyId({ algorithmId: SGX_QL_ALG.EPID, attKeyType: 1 });
  const chosen = await sel(encodeAttKeyIdList([epid, keyId]));
  assert.equal(chosen?.errorCode, 0);
  assert.deepEqual(chosen.selectedAttKeyId, keyId);
  assert.equal((await sel(encodeAttKeyIdList([epid])))?.errorCode, AESM_ERROR.UNSUPPORTED_ATT_KEY_ID);
  // Malformed lists: wrong size, header version, too many, header only.
  const list = encodeAttKeyIdList([keyId]);
  assert.equal((await sel(list.subarray(0, list.length - 1)))?.errorCode, AESM_ERROR.PARAMETER_ERROR);
  const badHeader = list.slice();
  badHeader[2] = 1;
  assert.equal((await sel(badHeader))?.errorCode, AESM_ERROR.PARAMETER_ERROR);
  const eleven = new Uint8Array(8 + 11 * 256);
  new DataView(eleven.buffer).setUint32(4, 11, true);
  assert.equal((await sel(eleven))?.errorCode, AESM_ERROR.PARAMETER_ERROR);
  assert.equal((await sel(new Uint8Array(8)))?.errorCode, AESM_ERROR.PARAMETER_ERROR);

  const num = (await call({ getSupportedAttKeyIDNumReq: {} })).getSupportedAttKeyIDNumRes;
  assert.equal(num?.errorCode, 0);
  assert.equal(num.attKeyIdNum, 1);
  const ids = (await call({ getSupportedAttKeyIDsReq: { bufSize: 256 } })).getSupportedAttKeyIDsRes;
  assert.equal(ids?.errorCode, 0);
  assert.deepEqual(ids.attKeyIds, keyId);
  assert.equal((await call({ getSupportedAttKeyIDsReq: { bufSize: 255 } })).getSupportedAttKeyIDsRes?.errorCode, 3);
});

test('legacy EPID / launch requests, none, or two sub-requests → UnsupportedRequestResponse{errorCode 1}', async () => {
  const report = appReport(qe.targetInfo(), new Uint8Array(64));
  for (const init of [
    { initQuoteReq: {} },
    { getQuoteReq: { report, quoteType: 0, spid: new Uint8Array(16), bufSize: 2000 } },
    { getLicTokenReq: { mrEnclave: new Uint8Array(32), mrSigner: new Uint8Array(32), seAttributes: new Uint8Array(16) } },
    { sgxRegisterReq: {} },
    { checkUpdateStatusReq: {} },
    {},
    { getSupportedAttKeyIDNumReq: {}, getQuoteSizeExReq: {} },
  ] satisfies MessageInitShape<typeof RequestSchema>[]) {
    const res = await call(init);
    assert.equal(res.unsupportedRequestResponse?.errorCode, AESM_ERROR.UNEXPECTED_ERROR, JSON.stringify(Object.keys(init)));
    assert.equal(res.getQuoteRes, undefined);
  }
  assert.ok(metrics.requests.some((r) => r.type === 'unsupported' && r.result === aesmErrorName(1)));
});

// ---------------------------------------------------------------------------------------------------------------
// Hostile clients: each is closed (no response) and the next valid request is served.

function rejectionsSince(n: number): QuoteHelperRejection[] {
  return metrics.rejections.slice(n);
}

test('hostile: length prefix 0xFFFFFFFF → closed at once, nothing buffered', async () => {
  const n = metrics.rejections.length;
  const got = await exchange(socketPath, [Uint8Array.of(0xff, 0xff, 0xff, 0xff)]);
  assert.equal(got.length, 0);
  assert.deepEqual(rejectionsSince(n), ['too_large']);
  await assertStillServing();
});

test('hostile: truncated frame then silence → closed by the request timeout', async () => {
  const n = metrics.rejections.length;
  const t0 = Date.now();
  const got = await exchange(socketPath, [Uint8Array.of(100, 0, 0, 0, 1, 2, 3)]);
  const ms = Date.now() - t0;
  assert.equal(got.length, 0);
  assert.ok(ms >= 350, `closed after ${ms} ms, not before the 400 ms deadline`);
  assert.deepEqual(rejectionsSince(n), ['timeout']);
  await assertStillServing();
});

test('hostile: a client that connects and sends nothing → closed by the idle timeout', async () => {
  const n = metrics.rejections.length;
  const t0 = Date.now();
  const got = await exchange(socketPath, []);
  const ms = Date.now() - t0;
  assert.equal(got.length, 0);
  assert.ok(ms >= 150, `closed after ${ms} ms, not before the 200 ms idle deadline`);
  assert.deepEqual(rejectionsSince(n), ['idle']);
  await assertStillServing();
});

test('hostile: garbage protobuf → closed, counted', async () => {
  const n = metrics.rejections.length;
  // Field 17 (getQuoteExReq) announcing 0x7f bytes of which 2 follow; then an invalid wire type 7.
  for (const garbage of [Uint8Array.of(0x8a, 0x01, 0x7f, 0x00, 0x00), Uint8Array.of(0x0f, 0xff, 0xff)]) {
    const got = await exchange(socketPath, [encodeFrame(garbage)]);
    assert.equal(got.length, 0);
  }
  assert.deepEqual(rejectionsSince(n), ['malformed', 'malformed']);
  await assertStillServing();
});

test('hostile: a frame with trailing bytes → closed', async () => {
  const n = metrics.rejections.length;
  const frame = encodeFrame(toBinary(RequestSchema, create(RequestSchema, { getSupportedAttKeyIDNumReq: {} })));
  const got = await exchange(socketPath, [Buffer.concat([frame, Uint8Array.of(0, 1, 2)])]);
  assert.equal(got.length, 0);
  assert.deepEqual(rejectionsSince(n), ['trailing_bytes']);
  await assertStillServing();
});

test('hostile: an unknown field number only → UnsupportedRequestResponse; next to a known request → ignored', async () => {
  // Field 99, varint 1: tag (99 << 3 | 0) = 792 → varint 0x98 0x06.
  const unknown = Uint8Array.of(0x98, 0x06, 0x01);
  const only = decodeResponseFrame(await exchange(socketPath, [encodeFrame(unknown)]));
  assert.equal(only.unsupportedRequestResponse?.errorCode, 1);
  const known = toBinary(RequestSchema, create(RequestSchema, { getSupportedAttKeyIDNumReq: {} }));
  const mixed = decodeResponseFrame(await exchange(socketPath, [encodeFrame(Buffer.concat([unknown, known]))]));
  assert.equal(mixed.getSupportedAttKeyIDNumRes?.attKeyIdNum, 1);
  await assertStillServing();
});

test('hostile: a 2-byte connection that closes immediately', async () => {
  const n = metrics.rejections.length;
  const got = await exchange(socketPath, [Uint8Array.of(0x10, 0x00)], { end: true });
  assert.equal(got.length, 0);
  assert.deepEqual(rejectionsSince(n), ['truncated']);
  await assertStillServing();
});

test('hostile: a zero-length frame is an empty Request → UnsupportedRequestResponse', async () => {
  const res = decodeResponseFrame(await exchange(socketPath, [Uint8Array.of(0, 0, 0, 0)]));
  assert.equal(res.unsupportedRequestResponse?.errorCode, 1);
});

// ---------------------------------------------------------------------------------------------------------------
// Load and lifecycle

test('200 concurrent clients each doing GetQuoteEx are all answered correctly', async (t) => {
  const N = 200;
  const nonces = Array.from({ length: N }, () => new Uint8Array(randomBytes(16)));
  const datas = Array.from({ length: N }, (_, i) => {
    const d = new Uint8Array(64);
    new DataView(d.buffer).setUint32(0, i, true);
    d.set(nonces[i]!, 16);
    return d;
  });
  const appTi = encodeTargetInfo(APP);
  const reports = datas.map((d) => appReport(qe.targetInfo(), d));
  const t0 = performance.now();
  const responses = await Promise.all(
    reports.map((report, i) =>
      call({ getQuoteExReq: { report, bufSize: server.quoteSize, qeReportInfo: qeReportInfoFor(nonces[i]!, appTi) } }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  t.diagnostic(`${N} concurrent GetQuoteEx (with QE report) in ${(seconds * 1000).toFixed(0)} ms: ${(N / seconds).toFixed(0)} quotes/s`);
  for (let i = 0; i < N; i++) {
    const r = responses[i]!.getQuoteExRes;
    assert.equal(r?.errorCode, 0, `client ${i}`);
    assert.deepEqual(r.quote.subarray(48, 432), reports[i]!.subarray(0, 384), `client ${i} got its own report quoted`);
    const body = verifyReportFor(platform, APP, r.qeReportInfo.subarray(528));
    assert.deepEqual(body.reportData.subarray(0, 32), sha256(nonces[i]!, r.quote));
    const v = await verifier.verify(r.quote, collateral);
    assert.equal(v.claims['reportData'], toHex(datas[i]!));
  }
  assert.equal(server.openConnections, 0);
});

test('sequential throughput through the socket (figure only)', async (t) => {
  const report = appReport(qe.targetInfo(), new Uint8Array(64));
  const N = 300;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const r = await call({ getQuoteExReq: { report, bufSize: server.quoteSize } });
    assert.equal(r.getQuoteExRes?.errorCode, 0);
  }
  const seconds = (performance.now() - t0) / 1000;
  t.diagnostic(`${N} sequential GetQuoteEx in ${(seconds * 1000).toFixed(0)} ms: ${(N / seconds).toFixed(0)} quotes/s`);
});

// Connection limits (pending budget, overflow deadline, eviction at maxConnections): quote-helper-slow-clients.test.ts.

test('a second server on the live socket → AgentError SOCKET_IN_USE; the first keeps serving', async () => {
  const second = new QuoteHelperServer({ socketPath, quotingEnclave: qe });
  await assert.rejects(second.start(), (e: unknown) => AgentError.is(e) && e.code === 'SOCKET_IN_USE');
  assert.ok(lstatSync(socketPath).isSocket());
  await assertStillServing();
});

test('a stale socket file is replaced; stop() removes the socket and closes open connections', async () => {
  const path = join(dir, `stale-${seq++}.sock`);
  // A socket file nobody listens on, as a crashed aesmd leaves it: a child process binds it and is SIGKILLed.
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout!, 'data');
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  assert.ok(lstatSync(path).isSocket(), 'stale socket file left behind');

  const s = new QuoteHelperServer({ socketPath: path, quotingEnclave: qe, socketMode: 0o660 });
  await s.start();
  assert.equal(lstatSync(path).mode & 0o777, 0o660);
  assert.equal((await call({ getSupportedAttKeyIDNumReq: {} }, path)).getSupportedAttKeyIDNumRes?.attKeyIdNum, 1);

  const idle = connect(path);
  await once(idle, 'connect');
  const closed = once(idle, 'close');
  await s.stop();
  await closed;
  assert.equal(existsSync(path), false);
  await s.stop(); // idempotent
});

test('a path that is not a socket is not replaced', async () => {
  const path = join(dir, `file-${seq++}`);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, 'not a socket');
  const s = new QuoteHelperServer({ socketPath: path, quotingEnclave: qe });
  await assert.rejects(s.start(), (e: unknown) => AgentError.is(e) && e.code === 'CONFIG_INVALID');
  assert.equal(existsSync(path), true);
});

test('options are validated', () => {
  const bad = [{ quoteVersion: 5 }, { socketMode: 0o1777 }, { maxRequestBytes: 0 }, { maxConnections: 0 }, { requestTimeoutMs: -1 }];
  for (const opts of bad) {
    assert.throws(
      () => new QuoteHelperServer({ socketPath: join(dir, 'x.sock'), quotingEnclave: qe, ...(opts as object) }),
      (e: unknown) => AgentError.is(e) && e.code === 'CONFIG_INVALID',
      JSON.stringify(opts),
    );
  }
});
