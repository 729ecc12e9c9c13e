/**
 * DCAP quote parsing (v3, v4, v5) with the checks of intel/SGX-TDX-DCAP-QuoteVerificationLibrary
 * Src/AttestationLibrary/src/QuoteVerification/Quote.cpp `Quote::parse` and `Quote::validate`
 * (../shared/reference/dcap-attestation.md §1.4, §1.5). Every failure is a DcapError UNSUPPORTED_QUOTE_FORMAT whose
 * message names the field and its offset.
 *
 * Quote layout:
 *
 * | version | offset | size | field                                                              |
 * |---------|--------|------|--------------------------------------------------------------------|
 * | all     | 0      | 48   | header (./header.ts)                                               |
 * | 3, 4    | 48     | B    | body: SGX report (384) or, v4 with tee_type 0x81, TD report 1.0 (584) |
 * | 5       | 48     | 2    | body type: 1 SGX report (384), 2 TD report 1.0 (584), 3 TD report 1.5 (648) |
 * | 5       | 50     | 4    | body size: must equal the size of the body type                    |
 * | 5       | 54     | B    | body                                                               |
 * | all     | S      | 4    | signature data length L (S = 48 + B, v5: 54 + B)                   |
 * | all     | S+4    | L    | signature data (./signature-data.ts)                               |
 * | all     | S+4+L  | …    | anything else (zero padding, garbage): ignored, counted            |
 *
 * The quote signature covers bytes [0, S) (`signedBytes`).
 */
import { bytesEqual, toHex } from '../util/bytes.js';
import { Cursor } from '../util/cursor.js';
import {
  ATTESTATION_KEY_TYPE_ECDSA_P256,
  INTEL_QE_VENDOR_ID,
  TEE_TYPE_SGX,
  TEE_TYPE_TDX,
  parseQuoteHeader,
} from './header.js';
import { SGX_REPORT_BODY_SIZE, parseSgxReportBody } from './sgx-report-body.js';
import { parseSignatureData } from './signature-data.js';
import { TD_REPORT10_SIZE, TD_REPORT15_SIZE, parseTdReport } from './td-report.js';
import type { Quote, QuoteBody, TeeType } from './types.js';

/**
 * v5 body descriptor types (QVL QuoteConstants.h BODY_SGX_ENCLAVE_REPORT_TYPE, BODY_TD_REPORT10_TYPE,
 * BODY_TD_REPORT15_TYPE).
 */
export const BODY_TYPE_SGX = 1;
export const BODY_TYPE_TD10 = 2;
export const BODY_TYPE_TD15 = 3;

function hexNum(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

/** Parses a DCAP quote. Bytes after the declared signature data are ignored (`trailingBytes`). */
export function parseQuote(bytes: Uint8Array): Quote {
  const c: Cursor = new Cursor(bytes, 'UNSUPPORTED_QUOTE_FORMAT', 'quote');
  const header = parseQuoteHeader(c);

  const version = header.version;
  if (version !== 3 && version !== 4 && version !== 5) {
    c.fail(`header.version ${version} at offset 0 is not 3, 4 or 5`);
  }
  if (header.attestationKeyType !== ATTESTATION_KEY_TYPE_ECDSA_P256) {
    c.fail(`header.attestationKeyType ${header.attestationKeyType} at offset 2 is not 2 (ECDSA-256-with-P-256)`);
  }
  let teeType: TeeType;
  if (header.teeTypeRaw === TEE_TYPE_SGX) teeType = 'SGX';
  else if (header.teeTypeRaw === TEE_TYPE_TDX) teeType = 'TDX';
  else c.fail(`header.teeType ${hexNum(header.teeTypeRaw)} at offset 4 is neither 0x00 (SGX) nor 0x81 (TDX)`);
  if (version === 3 && teeType !== 'SGX') {
    c.fail(`header.teeType ${hexNum(header.teeTypeRaw)} at offset 4: a version 3 quote must be SGX (0x00)`);
  }
  if (!bytesEqual(header.qeVendorId, INTEL_QE_VENDOR_ID)) {
    c.fail(`header.qeVendorId ${toHex(header.qeVendorId)} at offset 12 is not Intel's ${toHex(INTEL_QE_VENDOR_ID)}`);
  }

  let body: QuoteBody;
  if (version === 5) {
    const typeOffset = c.offset;
    const bodyType = c.u16('body.type');
    const sizeOffset = c.offset;
    const bodySize = c.u32('body.size');
    let expectedSize: number;
    if (bodyType === BODY_TYPE_SGX) {
      if (teeType !== 'SGX') c.fail(`body.type 1 (SGX report) at offset ${typeOffset} in a TDX quote`);
      expectedSize = SGX_REPORT_BODY_SIZE;
    } else if (bodyType === BODY_TYPE_TD10 || bodyType === BODY_TYPE_TD15) {
      if (teeType !== 'TDX') c.fail(`body.type ${bodyType} (TD report) at offset ${typeOffset} in an SGX quote`);
      expectedSize = bodyType === BODY_TYPE_TD10 ? TD_REPORT10_SIZE : TD_REPORT15_SIZE;
    } else {
      c.fail(`body.type ${bodyType} at offset ${typeOffset} is not 1, 2 or 3`);
    }
    if (bodySize !== expectedSize) {
      c.fail(`body.size ${bodySize} at offset ${sizeOffset} is not ${expectedSize} as body type ${bodyType} requires`);
    }
    if (bodyType === BODY_TYPE_SGX) body = { type: 1, kind: 'sgx', report: parseSgxReportBody(c, 'report body') };
    else if (bodyType === BODY_TYPE_TD10) body = { type: 2, kind: 'td10', report: parseTdReport(c, 'td10') };
    else body = { type: 3, kind: 'td15', report: parseTdReport(c, 'td15') };
  } else if (teeType === 'SGX') {
    body = { type: 1, kind: 'sgx', report: parseSgxReportBody(c, 'report body') };
  } else {
    body = { type: 2, kind: 'td10', report: parseTdReport(c, 'td10') };
  }
  const signedBytes = bytes.subarray(0, c.offset);

  const lengthOffset = c.offset;
  const signatureDataLength = c.u32('signature data length');
  if (signatureDataLength > c.remaining) {
    c.fail(
      `signature data length ${signatureDataLength} at offset ${lengthOffset} exceeds the ${c.remaining} bytes ` +
        'that remain',
    );
  }
  const sigStart = c.offset;
  const sigEnd = sigStart + signatureDataLength;
  const sc = new Cursor(bytes.subarray(0, sigEnd), 'UNSUPPORTED_QUOTE_FORMAT', 'quote', sigStart);
  const signature = parseSignatureData(sc, version);

  return {
    version,
    teeType,
    header,
    body,
    signedBytes,
    signatureDataLength,
    signature,
    raw: bytes.subarray(0, sigEnd),
    trailingBytes: bytes.length - sigEnd,
  };
}
