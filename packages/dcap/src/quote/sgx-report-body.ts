/**
 * SGX enclave report body (`sgx_report_body_t`), 384 bytes: the body of an SGX quote and the QE report.
 *
 * Layout (integers little-endian), from mobilecoinfoundation/sgx core/build/headers/sgx_report.h `sgx_report_body_t`
 * and intel/SGX-TDX-DCAP-QuoteVerificationLibrary QuoteStructures.h `struct EnclaveReport`
 * (../shared/reference/dcap-attestation.md §1.2):
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 16   | CPUSVN                                                                  |
 * | 16     | 4    | MISCSELECT (u32)                                                        |
 * | 20     | 12   | reserved1                                                               |
 * | 32     | 16   | ISVEXTPRODID (KSS)                                                      |
 * | 48     | 16   | ATTRIBUTES: FLAGS u64 ‖ XFRM u64 (FLAGS bit 1 = DEBUG)                  |
 * | 64     | 32   | MRENCLAVE                                                               |
 * | 96     | 32   | reserved2                                                               |
 * | 128    | 32   | MRSIGNER                                                                |
 * | 160    | 32   | reserved3                                                               |
 * | 192    | 64   | CONFIGID (KSS)                                                          |
 * | 256    | 2    | ISVPRODID (u16)                                                         |
 * | 258    | 2    | ISVSVN (u16)                                                            |
 * | 260    | 2    | CONFIGSVN (u16)                                                         |
 * | 262    | 42   | reserved4                                                               |
 * | 304    | 16   | ISVFAMILYID (KSS)                                                       |
 * | 320    | 64   | REPORTDATA                                                              |
 */
import { Cursor } from '../util/cursor.js';
import type { SgxReportBody } from './types.js';

export const SGX_REPORT_BODY_SIZE = 384;

/** Reads a 384-byte report body at the cursor's position; `what` prefixes field names in errors. */
export function parseSgxReportBody(c: Cursor, what: string): SgxReportBody {
  const start = c.offset;
  const cpuSvn = c.bytes(16, `${what}.cpuSvn`);
  const miscSelect = c.u32(`${what}.miscSelect`);
  const reserved1 = c.bytes(12, `${what}.reserved1`);
  const isvExtProdId = c.bytes(16, `${what}.isvExtProdId`);
  const attributes = c.bytes(16, `${what}.attributes`);
  const mrEnclave = c.bytes(32, `${what}.mrEnclave`);
  const reserved2 = c.bytes(32, `${what}.reserved2`);
  const mrSigner = c.bytes(32, `${what}.mrSigner`);
  const reserved3 = c.bytes(32, `${what}.reserved3`);
  const configId = c.bytes(64, `${what}.configId`);
  const isvProdId = c.u16(`${what}.isvProdId`);
  const isvSvn = c.u16(`${what}.isvSvn`);
  const configSvn = c.u16(`${what}.configSvn`);
  const reserved4 = c.bytes(42, `${what}.reserved4`);
  const isvFamilyId = c.bytes(16, `${what}.isvFamilyId`);
  const reportData = c.bytes(64, `${what}.reportData`);
  return {
    cpuSvn,
    miscSelect,
    reserved1,
    isvExtProdId,
    attributes,
    mrEnclave,
    reserved2,
    mrSigner,
    reserved3,
    configId,
    isvProdId,
    isvSvn,
    configSvn,
    reserved4,
    isvFamilyId,
    reportData,
    raw: c.buffer.subarray(start, start + SGX_REPORT_BODY_SIZE),
  };
}

/** Parse exactly one 384-byte sgx_report_body_t (e.g. the body of an EREPORT REPORT or a QE report). */
export function parseReportBody(bytes: Uint8Array): SgxReportBody {
  const c = new Cursor(bytes, 'UNSUPPORTED_QUOTE_FORMAT', 'report body');
  const body = parseSgxReportBody(c, 'report body');
  if (c.remaining !== 0) c.fail(`expected ${SGX_REPORT_BODY_SIZE} bytes, got ${bytes.length}`);
  return body;
}
