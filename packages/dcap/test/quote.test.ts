import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DcapError } from '../src/errors.js';
import { parseQuote } from '../src/quote/quote.js';
import { sgxClaims, tdxClaims } from '../src/quote/claims.js';
import type { Quote } from '../src/quote/types.js';
import { concatBytes, toHex } from '../src/util/bytes.js';
import { decodePemCertificates } from '../src/util/pem.js';
import { loadDcapCases, type DcapCase } from './corpus.js';
import { u16, u32, expectCode } from './test-helpers.js';

const cases = loadDcapCases();


function withU16(bytes: Uint8Array, off: number, v: number): Uint8Array {
  const b = new Uint8Array(bytes);
  new DataView(b.buffer).setUint16(off, v, true);
  return b;
}
function withU32(bytes: Uint8Array, off: number, v: number): Uint8Array {
  const b = new Uint8Array(bytes);
  new DataView(b.buffer).setUint32(off, v, true);
  return b;
}
function withByte(bytes: Uint8Array, off: number, v: number): Uint8Array {
  const b = new Uint8Array(bytes);
  b[off] = v;
  return b;
}

/** Absolute offsets of the length / type fields of a parsed quote. */
function layout(q: Quote) {
  const sigLenAt = q.signedBytes.length;
  const sigStart = sigLenAt + 4;
  const qeRcdStart = q.version === 3 ? sigStart + 128 : sigStart + 134;
  const authSizeAt = qeRcdStart + 448;
  const n = q.signature.qeReportCertificationData.qeAuthData.length;
  const certTypeAt = authSizeAt + 2 + n;
  return {
    sigLenAt,
    sigStart,
    sigEnd: sigStart + q.signatureDataLength,
    outerTypeAt: sigStart + 128,
    outerSizeAt: sigStart + 130,
    qeRcdStart,
    authSizeAt,
    certTypeAt,
    certSizeAt: certTypeAt + 2,
    certDataAt: certTypeAt + 6,
  };
}

function claimsOf(q: Quote): Record<string, unknown> {
  if (q.body.kind === 'sgx') {
    const c = sgxClaims(q.body.report);
    return {
      mrenclave: c.mrenclave,
      mrsigner: c.mrsigner,
      isvProdId: c.isvProdId,
      isvSvn: c.isvSvn,
      debug: c.debug,
      reportDataHex: c.reportData,
      attributesHex: c.attributes,
      trailingBytes: q.trailingBytes,
    };
  }
  const c = tdxClaims(q.body.report);
  return {
    mrtd: c.mrtd,
    rtmr0: c.rtmr0,
    rtmr1: c.rtmr1,
    rtmr2: c.rtmr2,
    rtmr3: c.rtmr3,
    mrConfigId: c.mrconfigid,
    mrOwner: c.mrowner,
    mrOwnerConfig: c.mrownerconfig,
    mrSeam: c.mrseam,
    reportDataHex: c.reportData,
    tdAttributesHex: c.tdAttributes,
    xfamHex: c.xfam,
    teeTcbSvnHex: c.teeTcbSvn,
    debug: c.debug,
    teeTcbSvn2Hex: c.teeTcbSvn2,
    mrServiceTd: c.mrservicetd,
    trailingBytes: q.trailingBytes,
  };
}

describe('parseQuote: corpus', () => {
  assert.ok(cases.length >= 9, 'corpus present');
  for (const kase of cases) {
    describe(kase.json.id, () => {
      const q = parseQuote(kase.quote);

      it('has the version, TEE type and claims of case.json', () => {
        assert.equal(q.version, kase.json.quoteVersion);
        assert.equal(q.teeType, kase.json.teeType);
        assert.equal(q.body.kind, kase.json.teeType === 'SGX' ? 'sgx' : 'td10');
        const got = claimsOf(q);
        for (const [key, want] of Object.entries(kase.json.expectClaims ?? {})) {
          assert.ok(key in got, `unmapped expectClaims key ${key}`);
          assert.equal(got[key], want, key);
        }
      });

      it('has a consistent layout', () => {
        const l = layout(q);
        assert.equal(q.raw.length + q.trailingBytes, kase.quote.length);
        assert.equal(l.sigEnd, q.raw.length);
        assert.equal(q.signedBytes.length, q.teeType === 'SGX' ? 432 : 632);
        assert.equal(toHex(q.header.qeVendorId), '939a7233f79c4ca9940a0db3957f0607');
        assert.equal(q.header.raw.length, 48);
        assert.equal(q.body.report.raw.length, q.teeType === 'SGX' ? 384 : 584);
        assert.equal(q.signature.quoteSignature.length, 64);
        assert.equal(q.signature.attestationKey.length, 64);
        assert.equal(q.signature.outerCertificationType, q.version === 3 ? undefined : 6);
        const qe = q.signature.qeReportCertificationData;
        assert.equal(qe.qeReport.raw.length, 384);
        assert.equal(qe.qeReportSignature.length, 64);
        assert.equal(qe.qeAuthData.length, 32);
        // views into the caller's buffer, not copies
        assert.equal(q.raw.buffer, kase.quote.buffer);
        assert.equal(qe.qeReport.raw.byteOffset - kase.quote.byteOffset, l.qeRcdStart);
      });

      it('carries a 3-certificate PEM PCK chain (type 5)', () => {
        const cd = q.signature.qeReportCertificationData.certificationData;
        assert.equal(cd.type, 5);
        if (cd.type !== 5) return;
        assert.equal(decodePemCertificates(cd.pem).length, 3);
        assert.ok(!cd.pem.includes('\0'));
      });

      it('fails with UNSUPPORTED_QUOTE_FORMAT at every truncation', () => {
        const end = layout(q).sigEnd;
        for (let n = 0; n < end; n++) {
          let err: unknown;
          try {
            parseQuote(kase.quote.subarray(0, n));
          } catch (e) {
            err = e;
          }
          assert.ok(DcapError.is(err), `length ${n} did not throw a DcapError`);
          assert.equal(err.code, 'UNSUPPORTED_QUOTE_FORMAT', `length ${n}`);
        }
        assert.equal(parseQuote(kase.quote.subarray(0, end)).trailingBytes, 0);
      });
    });
  }
});

describe('parseQuote: rejected fields', () => {
  for (const kase of cases.filter((k, i, all) => all.findIndex((o) => toHex(o.quote) === toHex(k.quote)) === i)) {
    it(kase.json.id, () => {
      const bytes = kase.quote;
      const q = parseQuote(bytes);
      const l = layout(q);
      const bad = (b: Uint8Array, what: string) => expectCode(() => parseQuote(b), 'UNSUPPORTED_QUOTE_FORMAT', what);
      for (const v of [0, 1, 2, 6, 0x0300, 0xffff]) bad(withU16(bytes, 0, v), `version ${v}`);
      for (const v of [0, 1, 3, 0x0200]) bad(withU16(bytes, 2, v), `key type ${v}`);
      for (const v of [1, 0x80, 0x82, 0x8100, 0xffffffff]) bad(withU32(bytes, 4, v), `tee type ${v}`);
      if (q.version === 3) bad(withU32(bytes, 4, 0x81), 'v3 TDX');
      for (let i = 12; i < 28; i++) bad(withByte(bytes, i, bytes[i]! ^ 0x01), `vendor id byte ${i}`);
      const available = bytes.length - l.sigStart;
      for (const v of [available + 1, available + 1000, 0xffffffff]) bad(withU32(bytes, l.sigLenAt, v), `sig length ${v}`);
      bad(withU32(bytes, l.sigLenAt, q.signatureDataLength - 1), 'sig length - 1');
      bad(withU32(bytes, l.sigLenAt, 0), 'sig length 0');
      for (const v of [33, 0x1000, 0xffff]) bad(withU16(bytes, l.authSizeAt, v), `qe auth size ${v}`);
      const certSize = q.signature.qeReportCertificationData.certificationData.data.length;
      for (const v of [certSize + 1, certSize + 200, 0xffffffff]) bad(withU32(bytes, l.certSizeAt, v), `cert size ${v}`);
      bad(withU32(bytes, l.certSizeAt, certSize - 1), 'cert size - 1 (leftover byte)');
      for (const v of [0, 6, 7, 0xffff]) bad(withU16(bytes, l.certTypeAt, v), `cert type ${v}`);
      if (q.version !== 3) {
        for (const v of [0, 1, 5, 7]) bad(withU16(bytes, l.outerTypeAt, v), `outer cert type ${v}`);
        const outerSize = q.signatureDataLength - 134;
        for (const v of [outerSize + 1, outerSize - 1, 0xffffffff]) bad(withU32(bytes, l.outerSizeAt, v), `outer size ${v}`);
      }
      // PEM text requirement for type 5
      bad(withByte(bytes, l.certDataAt, 0xff), 'cert data not UTF-8');
      const noPem = new Uint8Array(bytes);
      noPem.fill(0x41, l.certDataAt, l.certDataAt + certSize);
      bad(noPem, 'cert data without a BEGIN marker');
    });
  }
});

function sgxV3(): DcapCase {
  const k = cases.find((c) => c.json.quoteVersion === 3);
  assert.ok(k);
  return k;
}
function tdxV4(): DcapCase {
  const k = cases.find((c) => c.json.quoteVersion === 4 && c.json.teeType === 'TDX');
  assert.ok(k);
  return k;
}

/** Rebuilds a quote from header, optional v5 descriptor, body and signature data. */
function assemble(header: Uint8Array, body: Uint8Array, sig: Uint8Array, descriptor?: [number, number]): Uint8Array {
  const parts = [header];
  if (descriptor) parts.push(u16(descriptor[0]), u32(descriptor[1]));
  parts.push(body, u32(sig.length), sig);
  return concatBytes(...parts);
}

function partsOf(bytes: Uint8Array) {
  const q = parseQuote(bytes);
  const l = layout(q);
  return { q, l, header: bytes.slice(0, 48), body: q.body.report.raw.slice(), sig: bytes.slice(l.sigStart, l.sigEnd) };
}

function withVersion(header: Uint8Array, v: number): Uint8Array {
  return withU16(header, 0, v);
}

describe('parseQuote: synthesised layouts', () => {
  it('v5 TDX with TD report 1.0 and 1.5 bodies', () => {
    const { header, body, sig, q } = partsOf(tdxV4().quote);
    const h5 = withVersion(header, 5);
    const q10 = parseQuote(assemble(h5, body, sig, [2, 584]));
    assert.equal(q10.version, 5);
    assert.equal(q10.body.kind, 'td10');
    assert.equal(q10.signedBytes.length, 54 + 584);
    if (q.body.kind === 'sgx') return assert.fail('expected a TD report');
    assert.equal(toHex(q10.body.report.mrTd), toHex(q.body.report.mrTd));

    const extra = new Uint8Array(64).map((_, i) => i + 1);
    const q15 = parseQuote(assemble(h5, concatBytes(body, extra), sig, [3, 648]));
    assert.equal(q15.body.type, 3);
    assert.equal(q15.signedBytes.length, 54 + 648);
    if (q15.body.kind !== 'td15') return;
    const c = tdxClaims(q15.body.report);
    assert.equal(c.teeTcbSvn2, toHex(extra.subarray(0, 16)));
    assert.equal(c.mrservicetd, toHex(extra.subarray(16)));
    assert.equal(q15.body.report.raw.length, 648);

    const bad = (b: Uint8Array, what: string) => expectCode(() => parseQuote(b), 'UNSUPPORTED_QUOTE_FORMAT', what);
    bad(assemble(h5, body, sig, [2, 648]), 'type 2 with size 648');
    bad(assemble(h5, concatBytes(body, extra), sig, [3, 584]), 'type 3 with size 584');
    bad(assemble(h5, body, sig, [1, 384]), 'type 1 in a TDX quote');
    bad(assemble(h5, body, sig, [4, 584]), 'type 4');
    bad(assemble(h5, body, sig, [0, 584]), 'type 0');
    bad(assemble(h5, body, sig), 'no descriptor');
  });

  it('v5 SGX and v4 SGX', () => {
    const { header, body, sig } = partsOf(sgxV3().quote);
    // v3 signature data → v4 layout: sig ‖ key ‖ type 6 ‖ size ‖ QE report certification data
    const inner = sig.subarray(128);
    const sig4 = concatBytes(sig.subarray(0, 128), u16(6), u32(inner.length), inner);
    const q5 = parseQuote(assemble(withVersion(header, 5), body, sig4, [1, 384]));
    assert.equal(q5.version, 5);
    assert.equal(q5.teeType, 'SGX');
    assert.equal(q5.body.kind, 'sgx');
    assert.equal(q5.signedBytes.length, 54 + 384);
    const q4 = parseQuote(assemble(withVersion(header, 4), body, sig4));
    assert.equal(q4.version, 4);
    assert.equal(q4.body.kind, 'sgx');
    assert.equal(q4.signature.outerCertificationType, 6);
    const bad = (b: Uint8Array, what: string) => expectCode(() => parseQuote(b), 'UNSUPPORTED_QUOTE_FORMAT', what);
    bad(assemble(withVersion(header, 5), body, sig4, [2, 384]), 'type 2 in an SGX quote');
    bad(assemble(withVersion(header, 5), body, sig4, [1, 383]), 'type 1 with size 383');
    bad(assemble(withVersion(header, 4), body, sig), 'v4 with a v3 signature data layout');
    bad(assemble(header, body, sig4), 'v3 with a v4 signature data layout');
  });

  it('certification data types 1–4', () => {
    const { header, body, sig, l } = partsOf(sgxV3().quote);
    const prefix = sig.subarray(0, l.certTypeAt - l.sigStart);
    for (const [type, ppidSize] of [
      [1, 16],
      [2, 256],
      [3, 384],
    ] as const) {
      const ppid = new Uint8Array(ppidSize).fill(0xaa);
      const cpuSvn = new Uint8Array(16).fill(0x11);
      const payload = concatBytes(ppid, cpuSvn, u16(0x0d), Uint8Array.of(0, 0));
      const q = parseQuote(assemble(header, body, concatBytes(prefix, u16(type), u32(payload.length), payload)));
      const cd = q.signature.qeReportCertificationData.certificationData;
      assert.equal(cd.type, type);
      if (cd.type === 1 || cd.type === 2 || cd.type === 3) {
        assert.equal(toHex(cd.ppid), toHex(ppid));
        assert.equal(toHex(cd.cpuSvn), toHex(cpuSvn));
        assert.equal(cd.pceSvn, 0x0d);
        assert.equal(toHex(cd.pceId), '0000');
      }
      for (const delta of [-1, 1]) {
        const wrong = new Uint8Array(payload.length + delta);
        expectCode(
          () => parseQuote(assemble(header, body, concatBytes(prefix, u16(type), u32(wrong.length), wrong))),
          'UNSUPPORTED_QUOTE_FORMAT',
          `type ${type} size ${wrong.length}`,
        );
      }
    }
    const der = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00);
    const q4 = parseQuote(assemble(header, body, concatBytes(prefix, u16(4), u32(der.length), der)));
    const cd4 = q4.signature.qeReportCertificationData.certificationData;
    assert.equal(cd4.type, 4);
    assert.equal(toHex(cd4.data), toHex(der));
  });

  it('ignores trailing bytes', () => {
    const bytes = sgxV3().quote;
    const padded = concatBytes(bytes, new Uint8Array(100), new TextEncoder().encode('garbage'));
    const q = parseQuote(padded);
    assert.equal(q.trailingBytes, 107);
    assert.equal(q.raw.length, bytes.length);
  });
});

describe('claims', () => {
  it('SGX attribute flags and fields', () => {
    const q = parseQuote(sgxV3().quote);
    assert.equal(q.body.kind, 'sgx');
    if (q.body.kind !== 'sgx') return;
    const c = sgxClaims(q.body.report);
    assert.equal(c.init, true);
    assert.equal(c.mode64bit, true);
    assert.equal(c.debug, false);
    assert.equal(c.provisionKey, false);
    assert.equal(c.kss, false);
    assert.equal(c.attributes.length, 32);
    assert.equal(c.reportData.length, 128);
    assert.equal(c.configId.length, 128);
    assert.equal(c.cpuSvn.length, 32);
    assert.equal(typeof c.miscSelect, 'number');
    assert.doesNotThrow(() => JSON.stringify(c));
    const raw = new Uint8Array(q.body.report.raw);
    raw[48] = 0x02 | 0x10 | 0x80;
    const q2 = parseQuote(concatBytes(q.signedBytes.subarray(0, 48), raw, q.raw.subarray(432)));
    if (q2.body.kind !== 'sgx') return;
    const c2 = sgxClaims(q2.body.report);
    assert.deepEqual([c2.init, c2.debug, c2.mode64bit, c2.provisionKey, c2.kss], [false, true, false, true, true]);
  });

  it('TDX attribute bits', () => {
    const q = parseQuote(tdxV4().quote);
    if (q.body.kind === 'sgx') return assert.fail('expected a TD report');
    const c = tdxClaims(q.body.report);
    assert.equal(c.septVeDisable, true); // 0000001000000000: bit 28
    assert.equal(c.debug, false);
    assert.equal(c.pks, false);
    assert.equal(c.kl, false);
    assert.equal(c.teeTcbSvn2, undefined);
    assert.equal(c.mrsignerseam, '0'.repeat(96));
    assert.equal(c.seamAttributes, '0'.repeat(16));
    const raw = new Uint8Array(q.body.report.raw);
    raw.set([0x01, 0, 0, 0xc0, 0, 0, 0, 0], 120);
    const q2 = parseQuote(concatBytes(q.header.raw, raw, q.raw.subarray(632)));
    if (q2.body.kind === 'sgx') return assert.fail('expected a TD report');
    const c2 = tdxClaims(q2.body.report);
    assert.deepEqual([c2.debug, c2.septVeDisable, c2.pks, c2.kl], [true, false, true, true]);
  });
});
