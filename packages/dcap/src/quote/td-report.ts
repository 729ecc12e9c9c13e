/**
 * TDX TD report body: TD report 1.0 (`sgx_report2_body_t`, 584 bytes; quote v4 and v5 body type 2) and TD report
 * 1.5 (`sgx_report2_body_v1_5_t`, 648 bytes; quote v5 body type 3).
 *
 * Layout (integers little-endian), from mobilecoinfoundation/sgx core/build/headers/sgx_quote_4.h
 * `sgx_report2_body_t`, sgx_quote_5.h `sgx_report2_body_v1_5_t`, and intel/SGX-TDX-DCAP-QuoteVerificationLibrary
 * QuoteStructures.h `struct TDReport10` / `struct TDReport15` (../shared/reference/dcap-attestation.md §1.3):
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 16   | TEE_TCB_SVN                                                             |
 * | 16     | 48   | MRSEAM                                                                  |
 * | 64     | 48   | MRSIGNERSEAM                                                            |
 * | 112    | 8    | SEAMATTRIBUTES                                                          |
 * | 120    | 8    | TDATTRIBUTES (bit 0 DEBUG, 28 SEPT_VE_DISABLE, 30 PKS, 31 KL)           |
 * | 128    | 8    | XFAM                                                                    |
 * | 136    | 48   | MRTD                                                                    |
 * | 184    | 48   | MRCONFIGID                                                              |
 * | 232    | 48   | MROWNER                                                                 |
 * | 280    | 48   | MROWNERCONFIG                                                           |
 * | 328    | 48   | RTMR0                                                                   |
 * | 376    | 48   | RTMR1                                                                   |
 * | 424    | 48   | RTMR2                                                                   |
 * | 472    | 48   | RTMR3                                                                   |
 * | 520    | 64   | REPORTDATA                          (end of TD report 1.0: 584 bytes)   |
 * | 584    | 16   | TEE_TCB_SVN_2        (TD 1.5 only)                                      |
 * | 600    | 48   | MRSERVICETD          (TD 1.5 only)  (end of TD report 1.5: 648 bytes)   |
 */
import type { Cursor } from '../util/cursor.js';
import type { TdReport } from './types.js';

export const TD_REPORT10_SIZE = 584;
export const TD_REPORT15_SIZE = 648;

export type TdReportKind = 'td10' | 'td15';

/** Reads a TD report of the given kind at the cursor's position. */
export function parseTdReport(c: Cursor, kind: TdReportKind, what = 'td report'): TdReport {
  const start = c.offset;
  const teeTcbSvn = c.bytes(16, `${what}.teeTcbSvn`);
  const mrSeam = c.bytes(48, `${what}.mrSeam`);
  const mrSignerSeam = c.bytes(48, `${what}.mrSignerSeam`);
  const seamAttributes = c.bytes(8, `${what}.seamAttributes`);
  const tdAttributes = c.bytes(8, `${what}.tdAttributes`);
  const xfam = c.bytes(8, `${what}.xfam`);
  const mrTd = c.bytes(48, `${what}.mrTd`);
  const mrConfigId = c.bytes(48, `${what}.mrConfigId`);
  const mrOwner = c.bytes(48, `${what}.mrOwner`);
  const mrOwnerConfig = c.bytes(48, `${what}.mrOwnerConfig`);
  const rtmr0 = c.bytes(48, `${what}.rtmr0`);
  const rtmr1 = c.bytes(48, `${what}.rtmr1`);
  const rtmr2 = c.bytes(48, `${what}.rtmr2`);
  const rtmr3 = c.bytes(48, `${what}.rtmr3`);
  const reportData = c.bytes(64, `${what}.reportData`);
  const base = {
    teeTcbSvn,
    mrSeam,
    mrSignerSeam,
    seamAttributes,
    tdAttributes,
    xfam,
    mrTd,
    mrConfigId,
    mrOwner,
    mrOwnerConfig,
    rtmr: [rtmr0, rtmr1, rtmr2, rtmr3] as const,
    reportData,
  };
  if (kind === 'td10') return { ...base, raw: c.buffer.subarray(start, start + TD_REPORT10_SIZE) };
  const teeTcbSvn2 = c.bytes(16, `${what}.teeTcbSvn2`);
  const mrServiceTd = c.bytes(48, `${what}.mrServiceTd`);
  return { ...base, teeTcbSvn2, mrServiceTd, raw: c.buffer.subarray(start, start + TD_REPORT15_SIZE) };
}
