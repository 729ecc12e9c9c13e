/**
 * Open Enclave evidence envelopes around a DCAP quote (../shared/reference/enclave-apps.md §1.2, §5).
 *
 * Legacy OE report (`oe_get_report`; EGo `GetRemoteReport`), openenclave include/openenclave/internal/report.h
 * `oe_report_header_t` (integers little-endian):
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 4    | version: 1                                                              |
 * | 4      | 4    | report_type: 1 SGX local, 2 SGX remote (only 2 carries a quote)         |
 * | 8      | 8    | report_size: size of the report that follows                            |
 * | 16     | n    | report: the SGX quote                                                   |
 *
 * OE evidence with an embedded format ID (`oe_get_evidence(…, OE_EVIDENCE_FLAGS_EMBED_FORMAT_ID, …)`),
 * openenclave common/attest_plugin.h `oe_attestation_header_t` (not packed: the u64 is 8-aligned):
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 4    | version: 3 (OE_ATTESTATION_HEADER_VERSION)                              |
 * | 4      | 16   | format_id (UUID, bytes in written order)                                |
 * | 20     | 4    | padding                                                                 |
 * | 24     | 8    | data_size                                                               |
 * | 32     | n    | data (format-specific)                                                  |
 *
 * Formats accepted (include/openenclave/attestation/sgx/evidence.h, tdx/evidence.h):
 * SGX_ECDSA a3a21e87-1b4d-4014-b70a-a125d2fbcd8c: data = [oe_report_header ‖] quote ‖ custom claims;
 * LEGACY_REPORT_REMOTE c8303454-d923-4c2c-a691-df7def460a76: data = oe_report_header ‖ quote [‖ custom claims];
 * RAW_SGX_QUOTE_ECDSA 1923d91e-12d2-4c72-b220-25cd8dace871 and TDX_QUOTE_ECDSA 8ba70286-c1cf-11ed-afa1-0242ac120002:
 * data = quote. Anything else is handed on unchanged as a raw quote.
 */
import { toHex } from '../util/bytes.js';
import { Cursor } from '../util/cursor.js';
import { parseQuote } from './quote.js';

export const OE_REPORT_HEADER_SIZE = 16;
export const OE_ATTESTATION_HEADER_SIZE = 32;

export type OeEvidenceFormat = 'sgx-ecdsa' | 'legacy-report-remote' | 'raw-sgx-quote-ecdsa' | 'tdx-quote-ecdsa';

const FORMAT_UUIDS: Readonly<Record<string, OeEvidenceFormat>> = {
  a3a21e871b4d4014b70aa125d2fbcd8c: 'sgx-ecdsa',
  c8303454d9234c2ca691df7def460a76: 'legacy-report-remote',
  '1923d91e12d24c72b22025cd8dace871': 'raw-sgx-quote-ecdsa',
  '8ba70286c1cf11edafa10242ac120002': 'tdx-quote-ecdsa',
};

export interface OeReportHeader {
  readonly version: 1;
  readonly reportType: 2;
  readonly reportSize: number;
}

export interface OeAttestationHeader {
  readonly version: 3;
  /** Canonical UUID text, e.g. a3a21e87-1b4d-4014-b70a-a125d2fbcd8c. */
  readonly formatId: string;
  readonly format: OeEvidenceFormat;
  readonly dataSize: number;
  /** The legacy report header inside the data, when there is one. */
  readonly reportHeader?: OeReportHeader;
  /** Bytes after the quote inside the data (OE custom claims buffer, or the public key PEM of an attested TLS cert). */
  readonly customClaims: Uint8Array;
}

export type UnwrappedEvidence =
  | { readonly format: 'sgx-quote'; readonly quote: Uint8Array }
  | { readonly format: 'oe-report'; readonly quote: Uint8Array; readonly header: OeReportHeader }
  | { readonly format: 'oe-evidence'; readonly quote: Uint8Array; readonly header: OeAttestationHeader };

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

const OE_REPORT_PREFIX = [1, 0, 0, 0, 2, 0, 0, 0] as const;
const OE_ATTESTATION_PREFIX = [3, 0, 0, 0] as const;

/** True when `bytes` starts like an OE remote report header or an OE attestation header (version 3). */
export function looksLikeOeEnvelope(bytes: Uint8Array): boolean {
  return startsWith(bytes, OE_REPORT_PREFIX) || startsWith(bytes, OE_ATTESTATION_PREFIX);
}

function uuidText(id: Uint8Array): string {
  const h = toHex(id);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Reads an oe_report_header_t (remote) at the cursor; the report must fit in what remains. */
function readReportHeader(c: Cursor, what: string): OeReportHeader {
  const start = c.offset;
  const version = c.u32(`${what}.version`);
  if (version !== 1) c.fail(`${what}.version ${version} at offset ${start} is not 1`);
  const reportType = c.u32(`${what}.reportType`);
  if (reportType !== 2) c.fail(`${what}.reportType ${reportType} at offset ${start + 4} is not 2 (SGX remote)`);
  const size = c.u64(`${what}.reportSize`);
  if (size > BigInt(c.remaining)) {
    c.fail(`${what}.reportSize ${size} at offset ${start + 8} exceeds the ${c.remaining} bytes that follow`);
  }
  return { version: 1, reportType: 2, reportSize: Number(size) };
}

/**
 * Finds the DCAP quote in `bytes`: an OE report (16-byte header + quote), OE evidence with an attestation header
 * (version 3) of an SGX/TDX ECDSA format, or otherwise the bytes themselves as a raw quote (not parsed here).
 * Malformed OE envelopes fail with UNSUPPORTED_QUOTE_FORMAT.
 */
export function unwrapEvidence(bytes: Uint8Array): UnwrappedEvidence {
  if (startsWith(bytes, OE_REPORT_PREFIX)) {
    const c: Cursor = new Cursor(bytes, 'UNSUPPORTED_QUOTE_FORMAT', 'OE report');
    const header = readReportHeader(c, 'oe report header');
    if (header.reportSize !== c.remaining) {
      // openenclave common/sgx/report.c oe_parse_report: OE_INCORRECT_REPORT_SIZE
      c.fail(
        `oe report header.reportSize ${header.reportSize} at offset 8 is not the ${c.remaining} bytes that follow`,
      );
    }
    return { format: 'oe-report', quote: bytes.subarray(OE_REPORT_HEADER_SIZE), header };
  }

  if (startsWith(bytes, OE_ATTESTATION_PREFIX)) {
    const c: Cursor = new Cursor(bytes, 'UNSUPPORTED_QUOTE_FORMAT', 'OE evidence');
    c.skip(4, 'oe attestation header.version');
    const id = c.bytes(16, 'oe attestation header.formatId');
    const formatId = uuidText(id);
    const format = FORMAT_UUIDS[toHex(id)];
    if (format === undefined) {
      c.fail(`oe attestation header.formatId ${formatId} at offset 4 is not an SGX/TDX ECDSA format`);
    }
    c.skip(4, 'oe attestation header padding');
    const dataSize = c.u64('oe attestation header.dataSize');
    if (dataSize !== BigInt(c.remaining)) {
      c.fail(`oe attestation header.dataSize ${dataSize} at offset 24 is not the ${c.remaining} bytes that follow`);
    }
    const data = bytes.subarray(OE_ATTESTATION_HEADER_SIZE);
    const base = { version: 3 as const, formatId, format, dataSize: data.length };

    if (format === 'raw-sgx-quote-ecdsa' || format === 'tdx-quote-ecdsa') {
      return { format: 'oe-evidence', quote: data, header: { ...base, customClaims: data.subarray(data.length) } };
    }
    if (format === 'legacy-report-remote' || startsWith(data, OE_REPORT_PREFIX)) {
      const d: Cursor = new Cursor(bytes, 'UNSUPPORTED_QUOTE_FORMAT', 'OE evidence', OE_ATTESTATION_HEADER_SIZE);
      const reportHeader = readReportHeader(d, 'oe report header');
      const quoteEnd = d.offset + reportHeader.reportSize;
      return {
        format: 'oe-evidence',
        quote: bytes.subarray(d.offset, quoteEnd),
        header: { ...base, reportHeader, customClaims: bytes.subarray(quoteEnd) },
      };
    }
    // SGX_ECDSA: quote ‖ custom claims; the quote's extent is its own framing.
    const quoteLength = parseQuote(data).raw.length;
    return {
      format: 'oe-evidence',
      quote: data.subarray(0, quoteLength),
      header: { ...base, customClaims: data.subarray(quoteLength) },
    };
  }

  return { format: 'sgx-quote', quote: bytes };
}
