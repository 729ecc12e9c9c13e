/**
 * The 48-byte quote header, common to quote versions 3, 4 and 5.
 *
 * Layout (all integers little-endian), from intel/SGX-TDX-DCAP-QuoteVerificationLibrary
 * Src/AttestationLibrary/src/QuoteVerification/QuoteStructures.h `struct Header`, and sgx_quote_3.h
 * `sgx_quote_header_t` / sgx_quote_4.h `sgx_quote4_header_t` (../shared/reference/dcap-attestation.md §1.1):
 *
 * | offset | size | field                                                                       |
 * |--------|------|-----------------------------------------------------------------------------|
 * | 0      | 2    | version: 3, 4 or 5                                                          |
 * | 2      | 2    | attestation key type: 2 = ECDSA-256-with-P-256 curve                        |
 * | 4      | 4    | tee_type (v4, v5) / att_key_data_0 (v3, reserved): 0x00 SGX, 0x81 TDX       |
 * | 8      | 2    | QE SVN (v3) / reserved (v4+: read as qeSvn by QVL all the same)             |
 * | 10     | 2    | PCE SVN (v3) / reserved                                                     |
 * | 12     | 16   | QE vendor ID; Intel's QE is 939A7233F79C4CA9940A0DB3957F0607                |
 * | 28     | 20   | user data (first 16 bytes: QE ID)                                           |
 *
 * This parser only reads; the values are validated in ./quote.ts where the version is known.
 */
import type { Cursor } from '../util/cursor.js';
import type { QuoteHeader } from './types.js';

export const QUOTE_HEADER_SIZE = 48;

/** QVL QuoteConstants.h INTEL_QE_VENDOR_ID. */
export const INTEL_QE_VENDOR_ID: Uint8Array = Uint8Array.of(
  0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
);

export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
export const TEE_TYPE_SGX = 0x00000000;
export const TEE_TYPE_TDX = 0x00000081;

/** Reads the 48-byte header at the cursor's position. */
export function parseQuoteHeader(c: Cursor): QuoteHeader {
  const start = c.offset;
  const version = c.u16('header.version');
  const attestationKeyType = c.u16('header.attestationKeyType');
  const teeTypeRaw = c.u32('header.teeType');
  const qeSvn = c.u16('header.qeSvn');
  const pceSvn = c.u16('header.pceSvn');
  const qeVendorId = c.bytes(16, 'header.qeVendorId');
  const userData = c.bytes(20, 'header.userData');
  return {
    version,
    attestationKeyType,
    teeTypeRaw,
    qeSvn,
    pceSvn,
    qeVendorId,
    userData,
    raw: c.buffer.subarray(start, c.offset),
  };
}
