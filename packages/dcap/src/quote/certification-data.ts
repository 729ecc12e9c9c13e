/**
 * Certification data (`sgx_ql_certification_data_t`): what identifies the PCK key that signed the QE report.
 *
 * Layout (integers little-endian), from intel/SGX-TDX-DCAP-QuoteVerificationLibrary QuoteStructures.h
 * `struct CertificationData` and mobilecoinfoundation/sgx core/build/headers/sgx_quote_3.h
 * `sgx_ql_certification_data_t` / `sgx_ql_cert_key_type_t` (../shared/reference/dcap-attestation.md §1.5):
 *
 * | offset | size | field                                                                   |
 * |--------|------|-------------------------------------------------------------------------|
 * | 0      | 2    | certification data type (u16)                                           |
 * | 2      | 4    | size M of the certification data (u32)                                  |
 * | 6      | M    | certification data                                                      |
 *
 * Types (QVL PCK_ID_*): 1 PPID in clear text, 2 PPID encrypted with RSA-2048-OAEP, 3 PPID encrypted with
 * RSA-3072-OAEP — each `PPID ‖ CPUSVN(16) ‖ PCESVN(u16) ‖ PCE-ID(2)` with a PPID of 16 / 256 / 384 bytes;
 * 4 PCK leaf certificate; 5 PCK certificate chain as PEM text (leaf, intermediate, root; Intel's QE appends a NUL);
 * 6 QE report certification data (the v4/v5 wrapper, handled in ./signature-data.ts).
 *
 * QVL (Quote.cpp `validate`) accepts types 1..5 here and reports anything else as UNSUPPORTED_QUOTE_FORMAT.
 */
import { tryDecodeUtf8 } from '../util/bytes.js';
import { Cursor } from '../util/cursor.js';
import type { CertificationData } from './types.js';

const PPID_SIZE: Readonly<Record<1 | 2 | 3, number>> = { 1: 16, 2: 256, 3: 384 };

function isCertificationDataType(t: number): t is CertificationData['type'] {
  return t === 1 || t === 2 || t === 3 || t === 4 || t === 5;
}

/**
 * Reads type, size and payload at the cursor's position. The cursor must be bounded to the enclosing region (the
 * signature data, or the type-6 payload) so that the declared size is checked against that region.
 */
export function parseCertificationData(c: Cursor, what = 'certification data'): CertificationData {
  const typeOffset = c.offset;
  const type = c.u16(`${what}.type`);
  if (!isCertificationDataType(type)) c.fail(`${what}.type ${type} at offset ${typeOffset} is not one of 1..5`);
  const sizeOffset = c.offset;
  const size = c.u32(`${what}.size`);
  if (size > c.remaining) {
    c.fail(`${what}.size ${size} at offset ${sizeOffset} exceeds the ${c.remaining} bytes left in its region`);
  }
  const dataOffset = c.offset;
  const data = c.bytes(size, `${what}.data`);

  if (type === 1 || type === 2 || type === 3) {
    const ppidSize = PPID_SIZE[type];
    const expected = ppidSize + 16 + 2 + 2;
    if (size !== expected) {
      c.fail(`${what}.size ${size} at offset ${sizeOffset} is not ${expected} as type ${type} requires`);
    }
    const p = new Cursor(c.buffer.subarray(0, dataOffset + size), 'UNSUPPORTED_QUOTE_FORMAT', 'quote', dataOffset);
    const ppid = p.bytes(ppidSize, `${what}.ppid`);
    const cpuSvn = p.bytes(16, `${what}.cpuSvn`);
    const pceSvn = p.u16(`${what}.pceSvn`);
    const pceId = p.bytes(2, `${what}.pceId`);
    return { type, data, ppid, cpuSvn, pceSvn, pceId };
  }
  if (type === 4) return { type, data };

  // Type 5: PEM text. Intel's QE ends it with a NUL, kept in `data` and dropped from `pem`.
  const text = tryDecodeUtf8(data);
  if (text === undefined) c.fail(`${what} (type 5) at offset ${dataOffset} is not UTF-8 text`);
  const pem = text.replace(/\0+$/, '');
  if (!pem.includes('-----BEGIN ')) c.fail(`${what} (type 5) at offset ${dataOffset} contains no PEM block`);
  return { type, data, pem };
}
