import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseQuote } from '../src/quote/quote.js';
import { sgxClaims } from '../src/quote/claims.js';
import { unwrapEvidence } from '../src/quote/oe.js';
import { decodeBinaryInput } from '../src/util/input.js';
import { concatBytes, fromHex, toBase64, toBase64Url, toHex } from '../src/util/bytes.js';
import { loadDcapCases, readBytes, testdataDir } from './corpus.js';
import { u32, u64, expectCode } from './test-helpers.js';

const oeDir = join(testdataDir, 'oe', 'oe-sdk-release');
const report = readBytes(join(oeDir, 'report.bin'));
const heldData = readBytes(join(oeDir, 'enclave-held-data.bin'));
interface OeExpect {
  format: string;
  oeReportHeader: { version: number; reportType: number; reportSize: number };
  quote: Record<string, unknown> & { length: number; quoteVersion: number; teeType: string; sha256?: string };
  claims: Record<string, unknown>;
  enclaveHeldData: { sha256: string };
  expectMaaClaims?: Record<string, unknown>;
}
const expected = JSON.parse(readFileSync(join(oeDir, 'expect.json'), 'utf8')) as OeExpect;
const corpus = loadDcapCases();
const sgxQuote = corpus.find((c) => c.json.quoteVersion === 3)!.quote;
const tdxQuote = corpus.find((c) => c.json.teeType === 'TDX')!.quote;

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

const SGX_ECDSA = 'a3a21e871b4d4014b70aa125d2fbcd8c';
const LEGACY_REPORT_REMOTE = 'c8303454d9234c2ca691df7def460a76';
const RAW_SGX_QUOTE = '1923d91e12d24c72b22025cd8dace871';
const TDX_QUOTE = '8ba70286c1cf11edafa10242ac120002';

function oeEvidence(uuidHex: string, data: Uint8Array, dataSize = data.length): Uint8Array {
  return concatBytes(u32(3), fromHex(uuidHex), new Uint8Array(4), u64(dataSize), data);
}
function oeReportOf(quote: Uint8Array, size = quote.length): Uint8Array {
  return concatBytes(u32(1), u32(2), u64(size), quote);
}

describe('unwrapEvidence: Open Enclave report (oe-sdk-release)', () => {
  const u = unwrapEvidence(report);

  it('finds the 4584-byte quote behind the 16-byte header', () => {
    assert.equal(u.format, 'oe-report');
    if (u.format !== 'oe-report') return;
    assert.deepEqual(
      { version: u.header.version, reportType: u.header.reportType, reportSize: u.header.reportSize },
      {
        version: expected.oeReportHeader.version,
        reportType: expected.oeReportHeader.reportType,
        reportSize: expected.oeReportHeader.reportSize,
      },
    );
    assert.equal(u.quote.length, 4584);
    assert.equal(u.quote.length, expected.quote.length);
    assert.equal(toHex(u.quote), toHex(report.subarray(16)));
    const maaHash = (expected.expectMaaClaims?.['x-ms-sgx-collateral'] as { quotehash?: string } | undefined)?.quotehash;
    for (const h of [expected.quote.sha256, maaHash]) if (h !== undefined) assert.equal(sha256Hex(u.quote), h);
  });

  it('parses to the claims of expect.json', () => {
    const q = parseQuote(u.quote);
    assert.equal(q.version, expected.quote.quoteVersion);
    assert.equal(q.teeType, expected.quote.teeType);
    assert.equal(q.trailingBytes, 0);
    if (q.body.kind !== 'sgx') return assert.fail('expected SGX');
    const c = sgxClaims(q.body.report);
    const mapped: Record<string, unknown> = {
      mrenclave: c.mrenclave,
      mrsigner: c.mrsigner,
      isvProdId: c.isvProdId,
      isvSvn: c.isvSvn,
      debug: c.debug,
      attributesHex: c.attributes,
      reportDataHex: c.reportData,
    };
    for (const src of [expected.claims, expected.quote]) {
      for (const [k, v] of Object.entries(src)) if (k in mapped) assert.equal(mapped[k], v, k);
    }
    assert.equal(c.reportData.slice(0, 64), expected.enclaveHeldData.sha256);
    assert.equal(sha256Hex(heldData), expected.enclaveHeldData.sha256);
  });

  it('rejects a report size that does not match', () => {
    const quote = report.subarray(16);
    expectCode(() => unwrapEvidence(oeReportOf(quote, quote.length + 1)), 'UNSUPPORTED_QUOTE_FORMAT', 'size + 1');
    expectCode(() => unwrapEvidence(oeReportOf(quote, quote.length - 1)), 'UNSUPPORTED_QUOTE_FORMAT', 'size - 1');
    expectCode(() => unwrapEvidence(report.subarray(0, 12)), 'UNSUPPORTED_QUOTE_FORMAT', 'truncated header');
  });
});

describe('unwrapEvidence: OE attestation header v3', () => {
  const pem = new TextEncoder().encode('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n\0');

  it('SGX_ECDSA: quote ‖ custom claims', () => {
    const u = unwrapEvidence(oeEvidence(SGX_ECDSA, concatBytes(sgxQuote, pem)));
    assert.equal(u.format, 'oe-evidence');
    if (u.format !== 'oe-evidence') return;
    assert.equal(u.header.format, 'sgx-ecdsa');
    assert.equal(u.header.formatId, 'a3a21e87-1b4d-4014-b70a-a125d2fbcd8c');
    assert.equal(u.header.dataSize, sgxQuote.length + pem.length);
    assert.equal(toHex(u.quote), toHex(sgxQuote));
    assert.equal(toHex(u.header.customClaims), toHex(pem));
  });

  it('SGX_ECDSA with an embedded OE report header, and LEGACY_REPORT_REMOTE', () => {
    for (const uuid of [SGX_ECDSA, LEGACY_REPORT_REMOTE]) {
      const u = unwrapEvidence(oeEvidence(uuid, concatBytes(report, pem)));
      if (u.format !== 'oe-evidence') return assert.fail('expected oe-evidence');
      assert.equal(u.header.reportHeader?.reportSize, 4584);
      assert.equal(toHex(u.quote), toHex(report.subarray(16)));
      assert.equal(toHex(u.header.customClaims), toHex(pem));
    }
    const legacy = unwrapEvidence(oeEvidence(LEGACY_REPORT_REMOTE, report));
    if (legacy.format !== 'oe-evidence') return assert.fail('expected oe-evidence');
    assert.equal(legacy.header.format, 'legacy-report-remote');
    assert.equal(legacy.header.customClaims.length, 0);
  });

  it('raw SGX and TDX quote formats', () => {
    const s = unwrapEvidence(oeEvidence(RAW_SGX_QUOTE, sgxQuote));
    assert.equal(s.format, 'oe-evidence');
    assert.equal(toHex(s.quote), toHex(sgxQuote));
    const t = unwrapEvidence(oeEvidence(TDX_QUOTE, tdxQuote));
    assert.equal(toHex(t.quote), toHex(tdxQuote));
    assert.equal(parseQuote(t.quote).teeType, 'TDX');
  });

  it('rejects unknown formats, size mismatches and bad inner quotes', () => {
    const bad = (b: Uint8Array, what: string) => expectCode(() => unwrapEvidence(b), 'UNSUPPORTED_QUOTE_FORMAT', what);
    bad(oeEvidence('09268c336e0b45e58a2715644d0ef89a', sgxQuote), 'local attestation format');
    bad(oeEvidence('00'.repeat(16), sgxQuote), 'zero UUID');
    bad(oeEvidence(SGX_ECDSA, sgxQuote, sgxQuote.length + 1), 'data size + 1');
    bad(oeEvidence(SGX_ECDSA, sgxQuote, sgxQuote.length - 1), 'data size - 1');
    bad(oeEvidence(SGX_ECDSA, sgxQuote.subarray(0, 1000)), 'truncated quote');
    bad(oeEvidence(LEGACY_REPORT_REMOTE, sgxQuote), 'legacy format without report header');
    bad(oeEvidence(LEGACY_REPORT_REMOTE, oeReportOf(sgxQuote, sgxQuote.length + 1)), 'report size too big');
    bad(oeEvidence(SGX_ECDSA, sgxQuote).subarray(0, 20), 'truncated header');
  });
});

describe('unwrapEvidence: raw quotes', () => {
  it('passes a raw quote through unchanged', () => {
    for (const c of corpus) {
      const u = unwrapEvidence(c.quote);
      assert.equal(u.format, 'sgx-quote');
      assert.equal(u.quote, c.quote);
    }
  });
});

describe('decodeBinaryInput', () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it('raw, hex, base64 and base64url of a corpus quote give the same bytes', () => {
    for (const q of [sgxQuote, tdxQuote, report]) {
      const want = toHex(q);
      const b64 = toBase64(q);
      const variants: Array<[string, Uint8Array]> = [
        ['raw', q],
        ['hex lower', enc(toHex(q))],
        ['hex upper + newline', enc(toHex(q).toUpperCase() + '\n')],
        ['hex surrounded by whitespace', enc(`  \r\n${toHex(q)}\t\n`)],
        ['hex wrapped at 64', enc(toHex(q).replace(/(.{64})/g, '$1\n'))],
        ['base64', enc(b64)],
        ['base64 + CRLF', enc(`${b64}\r\n`)],
        ['base64 wrapped at 76', enc(b64.replace(/(.{76})/g, '$1\n'))],
        ['base64url', enc(toBase64Url(q))],
        ['base64url + newline', enc(`${toBase64Url(q)}\n`)],
        ['base64 with BOM', concatBytes(Uint8Array.of(0xef, 0xbb, 0xbf), enc(b64))],
      ];
      for (const [what, input] of variants) assert.equal(toHex(decodeBinaryInput(input)), want, what);
    }
  });

  it('keeps raw bytes that are not text, and rejects empty or odd-length hex input', () => {
    const bin = Uint8Array.of(0x00, 0xff, 0x10, 0x80);
    assert.equal(decodeBinaryInput(bin), bin);
    const notEncoded = enc('this is not base64!');
    assert.equal(decodeBinaryInput(notEncoded), notEncoded);
    expectCode(() => decodeBinaryInput(new Uint8Array(0)), 'INVALID_INPUT_ENCODING', 'empty');
    expectCode(() => decodeBinaryInput(enc(' \n\t ')), 'INVALID_INPUT_ENCODING', 'whitespace');
    expectCode(() => decodeBinaryInput(enc('abc\n')), 'INVALID_INPUT_ENCODING', 'odd hex');
  });
});
