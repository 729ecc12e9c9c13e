/**
 * QE report certification data: the type-6 certification data payload of v4/v5 quotes, and (with the same layout)
 * the tail of the v3 signature data after the attestation key.
 *
 * Layout (integers little-endian), from intel/SGX-TDX-DCAP-QuoteVerificationLibrary QuoteStructures.h
 * `struct QEReportCertificationData` and mobilecoinfoundation/sgx core/build/headers/sgx_quote_4.h
 * `sgx_qe_report_certification_data_t` (../shared/reference/dcap-attestation.md §1.5):
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 384  | QE report (`sgx_report_body_t` of the Quoting Enclave)                  |
 * | 384    | 64   | QE report signature, raw r ‖ s, by the PCK leaf key                     |
 * | 448    | 2    | QE authentication data size N (u16)                                     |
 * | 450    | N    | QE authentication data                                                  |
 * | 450+N  | 6+M  | certification data: type(2) ‖ size M(4) ‖ data (./certification-data.ts)|
 */
import type { Cursor } from '../util/cursor.js';
import { parseCertificationData } from './certification-data.js';
import { parseSgxReportBody } from './sgx-report-body.js';
import type { QeReportCertificationData } from './types.js';

/** Reads the structure at the cursor's position; the cursor must be bounded to the enclosing region. */
export function parseQeReportCertificationData(c: Cursor): QeReportCertificationData {
  const qeReport = parseSgxReportBody(c, 'qe report');
  const qeReportSignature = c.bytes(64, 'qe report signature');
  const authSizeOffset = c.offset;
  const authSize = c.u16('qe auth data size');
  if (authSize > c.remaining) {
    c.fail(
      `qe auth data size ${authSize} at offset ${authSizeOffset} exceeds the ${c.remaining} bytes left in its region`,
    );
  }
  const qeAuthData = c.bytes(authSize, 'qe auth data');
  const certificationData = parseCertificationData(c);
  return { qeReport, qeReportSignature, qeAuthData, certificationData };
}
