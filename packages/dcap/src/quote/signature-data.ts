/**
 * Quote signature data ("auth data"): `sgx_ql_ecdsa_sig_data_t` (v3) and `sgx_ecdsa_sig_data_v4_t` (v4, v5).
 *
 * v3 layout (offsets from the start of the signature data; integers little-endian), from
 * intel/SGX-TDX-DCAP-QuoteVerificationLibrary QuoteStructures.h `struct Ecdsa256BitQuoteV3AuthData` and
 * mobilecoinfoundation/sgx core/build/headers/sgx_quote_3.h `sgx_ql_ecdsa_sig_data_t`
 * (../shared/reference/dcap-attestation.md §1.5):
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 64   | quote signature, raw r ‖ s, over header ‖ body                          |
 * | 64     | 64   | attestation public key, raw X ‖ Y (P-256)                               |
 * | 128    | 384  | QE report                                                               |
 * | 512    | 64   | QE report signature                                                     |
 * | 576    | 2    | QE authentication data size N                                           |
 * | 578    | N    | QE authentication data                                                  |
 * | 578+N  | 2    | certification data type (1..5)                                          |
 * | 580+N  | 4    | certification data size M                                               |
 * | 584+N  | M    | certification data                                                      |
 *
 * v4 / v5 layout, from QuoteStructures.h `struct Ecdsa256BitQuoteV4AuthData` and sgx_quote_4.h
 * `sgx_ecdsa_sig_data_v4_t`:
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 64   | quote signature, raw r ‖ s, over header ‖ (v5: body descriptor) ‖ body  |
 * | 64     | 64   | attestation public key, raw X ‖ Y (P-256)                               |
 * | 128    | 2    | certification data type: must be 6 (QE report certification data)      |
 * | 130    | 4    | certification data size M                                               |
 * | 134    | M    | QE report certification data (./qe-report-certification-data.ts), whose |
 * |        |      | inner certification data type must be 1..5                              |
 *
 * Every nested length is checked against its enclosing region (the cursor is bounded to the declared signature data,
 * the type-6 payload gets a cursor bounded to M bytes), and each region must be consumed exactly.
 */
import { Cursor } from '../util/cursor.js';
import { parseQeReportCertificationData } from './qe-report-certification-data.js';
import type { QuoteSignatureData } from './types.js';

export const CERTIFICATION_DATA_TYPE_QE_REPORT = 6;

function expectEnd(c: Cursor, region: string): void {
  if (c.remaining !== 0) c.fail(`${c.remaining} unexpected bytes at offset ${c.offset} after the end of ${region}`);
}

/**
 * Parses the signature data of a quote of `version`. `c` must be bounded to exactly the declared signature data
 * (its buffer ends where the signature data ends); the whole region is consumed.
 */
export function parseSignatureData(c: Cursor, version: 3 | 4 | 5): QuoteSignatureData {
  const quoteSignature = c.bytes(64, 'quote signature');
  const attestationKey = c.bytes(64, 'attestation key');
  if (version === 3) {
    const qeReportCertificationData = parseQeReportCertificationData(c);
    expectEnd(c, 'the signature data');
    return { quoteSignature, attestationKey, qeReportCertificationData };
  }
  const typeOffset = c.offset;
  const outerCertificationType = c.u16('outer certification data type');
  if (outerCertificationType !== CERTIFICATION_DATA_TYPE_QE_REPORT) {
    c.fail(`outer certification data type ${outerCertificationType} at offset ${typeOffset} is not 6`);
  }
  const sizeOffset = c.offset;
  const size = c.u32('outer certification data size');
  if (size > c.remaining) {
    c.fail(
      `outer certification data size ${size} at offset ${sizeOffset} exceeds the ${c.remaining} bytes left ` +
        'in the signature data',
    );
  }
  const innerStart = c.offset;
  const inner = new Cursor(c.buffer.subarray(0, innerStart + size), 'UNSUPPORTED_QUOTE_FORMAT', 'quote', innerStart);
  const qeReportCertificationData = parseQeReportCertificationData(inner);
  expectEnd(inner, 'the QE report certification data');
  c.skip(size, 'outer certification data');
  expectEnd(c, 'the signature data');
  return { quoteSignature, attestationKey, outerCertificationType, qeReportCertificationData };
}
