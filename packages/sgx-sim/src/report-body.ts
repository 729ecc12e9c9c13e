/**
 * Encoding of sgx_report_body_t (384 bytes; intel/linux-sgx:common/inc/sgx_report.h, dcap-attestation.md §1.2),
 * the inverse of `parseReportBody` in @cloister/dcap.
 *
 * | off | len | field |
 * |---|---|---|
 * | 0 | 16 | CPUSVN | 16 | 4 | MISCSELECT | 20 | 12 | reserved | 32 | 16 | ISVEXTPRODID | 48 | 16 | ATTRIBUTES |
 * | 64 | 32 | MRENCLAVE | 96 | 32 | reserved | 128 | 32 | MRSIGNER | 160 | 32 | reserved | 192 | 64 | CONFIGID |
 * | 256 | 2 | ISVPRODID | 258 | 2 | ISVSVN | 260 | 2 | CONFIGSVN | 262 | 42 | reserved | 304 | 16 | ISVFAMILYID |
 * | 320 | 64 | REPORTDATA |
 */
import { encodeAttributes, type EnclaveIdentity } from './identity.js';

export const REPORT_BODY_SIZE = 384;

export function encodeReportBody(id: EnclaveIdentity, cpuSvn: Uint8Array, reportData: Uint8Array): Uint8Array {
  if (cpuSvn.length !== 16) throw new RangeError('CPUSVN must be 16 bytes');
  if (reportData.length > 64) throw new RangeError('REPORTDATA is at most 64 bytes');
  const out = new Uint8Array(REPORT_BODY_SIZE);
  const v = new DataView(out.buffer);
  out.set(cpuSvn, 0);
  v.setUint32(16, id.miscSelect >>> 0, true);
  out.set(id.isvExtProdId.subarray(0, 16), 32);
  out.set(encodeAttributes(id.flags, id.xfrm), 48);
  out.set(id.mrEnclave.subarray(0, 32), 64);
  out.set(id.mrSigner.subarray(0, 32), 128);
  out.set(id.configId.subarray(0, 64), 192);
  v.setUint16(256, id.isvProdId, true);
  v.setUint16(258, id.isvSvn, true);
  v.setUint16(260, id.configSvn, true);
  out.set(id.isvFamilyId.subarray(0, 16), 304);
  out.set(reportData, 320);
  return out;
}
