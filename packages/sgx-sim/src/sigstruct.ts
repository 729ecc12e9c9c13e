/**
 * SIGSTRUCT, the enclave signature structure EINIT checks, in Intel's 1808-byte `enclave_css_t` layout
 * (intel/linux-sgx common/inc/internal/arch.h `css_header_t`, `css_key_t`, `css_body_t`, `css_buffer_t`;
 * Intel SDM Vol. 3D §34.13 "Enclave Signature Structure (SIGSTRUCT)"). Integers little-endian.
 *
 * ```c
 * typedef struct _css_header_t {        // offset 0, 128 bytes, signed
 *     uint8_t  header[12];              //   0: 06000000E100000000000100
 *     uint32_t type;                    //  12: bit 31 set = debug (the SDK sets it for debug builds)
 *     uint32_t module_vendor;           //  16: 0x8086 for Intel enclaves, else 0
 *     uint32_t date;                    //  20: yyyymmdd as BCD (0x20240115), what the SDK's sign tool writes
 *     uint8_t  header2[16];             //  24: 01010000600000006000000001000000
 *     uint32_t hw_version;              //  40
 *     uint8_t  reserved[84];            //  44
 * } css_header_t;
 * typedef struct _css_key_t {           // offset 128, 772 bytes, not signed
 *     uint8_t  modulus[384];            // 128: RSA-3072 modulus, little-endian
 *     uint8_t  exponent[4];             // 512: 3
 *     uint8_t  signature[384];          // 516: RSASSA-PKCS1-v1_5 SHA-256 over header ‖ body, little-endian
 * } css_key_t;
 * typedef struct _css_body_t {          // offset 900, 128 bytes, signed
 *     sgx_misc_select_t misc_select;    // 900
 *     sgx_misc_select_t misc_mask;      // 904
 *     uint8_t  reserved[4];             // 908
 *     sgx_isvfamily_id_t isv_family_id; // 912 (16)
 *     sgx_attributes_t attributes;      // 928 (flags u64, xfrm u64)
 *     sgx_attributes_t attribute_mask;  // 944
 *     sgx_measurement_t enclave_hash;   // 960 (32): MRENCLAVE
 *     uint8_t  reserved2[16];           // 992
 *     sgx_isvext_prod_id_t isvext_prod_id; // 1008 (16)
 *     uint16_t isv_prod_id;             // 1024
 *     uint16_t isv_svn;                 // 1026
 * } css_body_t;
 * typedef struct _css_buffer_t {        // offset 1028, 780 bytes, not signed
 *     uint8_t  reserved[12];            // 1028
 *     uint8_t  q1[384];                 // 1040: floor(s² / n), little-endian
 *     uint8_t  q2[384];                 // 1424: floor((s³ − q1·s·n) / n), little-endian
 * } css_buffer_t;                       // total 1808
 * ```
 *
 * The signing key is RSA-3072 with public exponent 3, as EINIT requires; MRSIGNER = SHA-256(modulus little-endian).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import { bytesEqual } from '@cloister/dcap';
import { SimError } from './errors.js';

export const SIGSTRUCT_SIZE = 1808;
const HEADER_OFF = 0;
const HEADER_LEN = 128;
const MODULUS_OFF = 128;
const EXPONENT_OFF = 512;
const SIGNATURE_OFF = 516;
const BODY_OFF = 900;
const BODY_LEN = 128;
const BUFFER_OFF = 1028;
const Q1_OFF = 1040;
const Q2_OFF = 1424;
const KEY_BYTES = 384;

const HEADER1 = Uint8Array.of(0x06, 0, 0, 0, 0xe1, 0, 0, 0, 0, 0, 0x01, 0);
const HEADER2 = Uint8Array.of(0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 0x01, 0, 0, 0);
const DEBUG_TYPE_BIT = 0x8000_0000;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** What the signer chooses; everything else of the SIGSTRUCT is fixed or derived. */
export interface SigstructFields {
  /** MRENCLAVE, 32 bytes. */
  readonly enclaveHash: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  /** header.type bit 31. Default false. */
  readonly debug?: boolean;
  /** 0 (default) or 0x8086. */
  readonly moduleVendor?: number;
  /** A `Date` (its UTC day is written as BCD yyyymmdd) or the raw u32. Default: today. */
  readonly date?: Date | number;
  readonly hwVersion?: number;
  readonly miscSelect?: number;
  /** Default 0xFFFFFFFF. */
  readonly miscMask?: number;
  readonly attributeFlags?: bigint;
  readonly attributeXfrm?: bigint;
  readonly attributeMaskFlags?: bigint;
  readonly attributeMaskXfrm?: bigint;
  /** 16 bytes; default zeros. */
  readonly isvFamilyId?: Uint8Array;
  /** 16 bytes; default zeros. */
  readonly isvExtProdId?: Uint8Array;
}

/** A parsed SIGSTRUCT. Byte fields are copies; `modulus`, `signature`, `q1`, `q2` stay little-endian as stored. */
export interface Sigstruct {
  readonly type: number;
  readonly debug: boolean;
  readonly moduleVendor: number;
  /** The raw u32 (BCD yyyymmdd as the SDK writes it). */
  readonly date: number;
  readonly hwVersion: number;
  readonly modulus: Uint8Array;
  readonly exponent: number;
  readonly signature: Uint8Array;
  readonly miscSelect: number;
  readonly miscMask: number;
  readonly isvFamilyId: Uint8Array;
  readonly attributeFlags: bigint;
  readonly attributeXfrm: bigint;
  readonly attributeMaskFlags: bigint;
  readonly attributeMaskXfrm: bigint;
  readonly enclaveHash: Uint8Array;
  readonly isvExtProdId: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly q1: Uint8Array;
  readonly q2: Uint8Array;
  /** SHA-256 of the modulus, little-endian. */
  readonly mrSigner: Uint8Array;
}

/** MRSIGNER: SHA-256 over the 384-byte modulus as stored in SIGSTRUCT (little-endian). */
export function mrSignerOf(modulusLE: Uint8Array): Uint8Array {
  if (modulusLE.length !== KEY_BYTES) throw new SimError('INVALID_PARAMETER', 'the modulus must be 384 bytes');
  return new Uint8Array(createHash('sha256').update(modulusLE).digest());
}

/** A fresh RSA-3072 signing key with public exponent 3, as PKCS#8 PEM. */
export function generateSigningKey(): string {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 3072,
    publicExponent: 3,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return privateKey;
}

/** Load a private signing key; refuses anything but RSA-3072 with e = 3 (INVALID_PARAMETER). */
export function loadSigningKey(key: string | KeyObject): KeyObject {
  let obj: KeyObject;
  if (key instanceof KeyObject) {
    obj = key;
  } else if (typeof key === 'string') {
    try {
      obj = createPrivateKey(key);
    } catch (e) {
      throw new SimError('INVALID_PARAMETER', 'the signing key is not a readable PEM private key', { cause: e });
    }
  } else {
    throw new SimError('INVALID_PARAMETER', 'the signing key must be a PEM string or a KeyObject');
  }
  if (obj.type !== 'private') throw new SimError('INVALID_PARAMETER', 'the signing key must be a private key');
  const details = obj.asymmetricKeyDetails;
  if (obj.asymmetricKeyType !== 'rsa' || details?.modulusLength !== 3072 || details.publicExponent !== 3n) {
    throw new SimError('INVALID_PARAMETER', 'an enclave signing key must be RSA-3072 with public exponent 3');
  }
  return obj;
}

/** Today's (or `d`'s) UTC date as the SDK writes it: the decimal digits yyyymmdd read as hex. */
export function sigstructDate(d: Date = new Date()): number {
  const digits = `${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(
    d.getUTCDate(),
  ).padStart(2, '0')}`;
  return Number.parseInt(digits, 16) >>> 0;
}

function reversed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[bytes.length - 1 - i]!;
  return out;
}

function bigFromLE(le: Uint8Array): bigint {
  let hex = '';
  for (let i = le.length - 1; i >= 0; i--) hex += le[i]!.toString(16).padStart(2, '0');
  return hex.length === 0 ? 0n : BigInt(`0x${hex}`);
}

/** `value` as `len` little-endian bytes; undefined when it does not fit. */
function bigToLE(value: bigint, len: number): Uint8Array | undefined {
  if (value < 0n) return undefined;
  const hex = value.toString(16);
  if (hex.length > len * 2) return undefined;
  const padded = hex.padStart(len * 2, '0');
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Number.parseInt(padded.slice(2 * (len - 1 - i), 2 * (len - i)), 16);
  return out;
}

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** q1 = floor(s² / n), q2 = floor((s³ − q1·s·n) / n), the precomputed values EINIT's verifier uses. */
function computeQ(s: bigint, n: bigint): { q1: bigint; q2: bigint } {
  const q1 = (s * s) / n;
  const q2 = (s * s * s - q1 * s * n) / n;
  return { q1, q2 };
}

function checkUint(value: number | undefined, max: number, what: string, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new SimError('INVALID_PARAMETER', `${what} must be an integer 0..${max}`);
  }
  return v;
}

function checkU64(value: bigint | undefined, what: string, fallback: bigint): bigint {
  const v = value ?? fallback;
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new SimError('INVALID_PARAMETER', `${what} must be a u64`);
  return v;
}

function checkBytes(value: Uint8Array | undefined, len: number, what: string): Uint8Array {
  const v = value ?? new Uint8Array(len);
  if (!(v instanceof Uint8Array) || v.length !== len) throw new SimError('INVALID_PARAMETER', `${what} must be ${len} bytes`);
  return v;
}

/** Build and sign a SIGSTRUCT (RSASSA-PKCS1-v1_5 SHA-256 over header ‖ body, as the SDK's sign tool does). */
export function signSigstruct(fields: SigstructFields, signingKey: string | KeyObject): Uint8Array {
  const key = loadSigningKey(signingKey);
  const out = new Uint8Array(SIGSTRUCT_SIZE);
  const v = new DataView(out.buffer);
  // header
  out.set(HEADER1, HEADER_OFF);
  v.setUint32(12, fields.debug === true ? DEBUG_TYPE_BIT : 0, true);
  v.setUint32(16, checkUint(fields.moduleVendor, 0xffff_ffff, 'moduleVendor', 0), true);
  const date = fields.date instanceof Date ? sigstructDate(fields.date) : checkUint(fields.date, 0xffff_ffff, 'date', sigstructDate());
  v.setUint32(20, date, true);
  out.set(HEADER2, 24);
  v.setUint32(40, checkUint(fields.hwVersion, 0xffff_ffff, 'hwVersion', 0), true);
  // body
  v.setUint32(900, checkUint(fields.miscSelect, 0xffff_ffff, 'miscSelect', 0), true);
  v.setUint32(904, checkUint(fields.miscMask, 0xffff_ffff, 'miscMask', 0xffff_ffff), true);
  out.set(checkBytes(fields.isvFamilyId, 16, 'isvFamilyId'), 912);
  v.setBigUint64(928, checkU64(fields.attributeFlags, 'attributeFlags', 0n), true);
  v.setBigUint64(936, checkU64(fields.attributeXfrm, 'attributeXfrm', 0n), true);
  v.setBigUint64(944, checkU64(fields.attributeMaskFlags, 'attributeMaskFlags', 0n), true);
  v.setBigUint64(952, checkU64(fields.attributeMaskXfrm, 'attributeMaskXfrm', 0n), true);
  if (!(fields.enclaveHash instanceof Uint8Array) || fields.enclaveHash.length !== 32) {
    throw new SimError('INVALID_PARAMETER', 'enclaveHash must be 32 bytes');
  }
  out.set(fields.enclaveHash, 960);
  out.set(checkBytes(fields.isvExtProdId, 16, 'isvExtProdId'), 1008);
  v.setUint16(1024, checkUint(fields.isvProdId, 0xffff, 'isvProdId', 0), true);
  v.setUint16(1026, checkUint(fields.isvSvn, 0xffff, 'isvSvn', 0), true);
  // key
  const jwk = key.export({ format: 'jwk' });
  const modulusBE = new Uint8Array(Buffer.from(jwk.n ?? '', 'base64url'));
  if (modulusBE.length !== KEY_BYTES) throw new SimError('INVALID_PARAMETER', 'the signing key modulus is not 384 bytes');
  out.set(reversed(modulusBE), MODULUS_OFF);
  v.setUint32(EXPONENT_OFF, 3, true);
  const signed = signedBytes(out);
  const sigBE = new Uint8Array(sign('sha256', signed, key));
  if (sigBE.length !== KEY_BYTES) throw new SimError('INVALID_PARAMETER', 'unexpected RSA signature length');
  out.set(reversed(sigBE), SIGNATURE_OFF);
  // buffer
  const { q1, q2 } = computeQ(bigFromLE(reversed(sigBE)), bigFromLE(reversed(modulusBE)));
  out.set(bigToLE(q1, KEY_BYTES)!, Q1_OFF);
  out.set(bigToLE(q2, KEY_BYTES)!, Q2_OFF);
  return out;
}

/** header (128) ‖ body (128): the bytes the signature covers. */
function signedBytes(sigstruct: Uint8Array): Uint8Array {
  const data = new Uint8Array(HEADER_LEN + BODY_LEN);
  data.set(sigstruct.subarray(HEADER_OFF, HEADER_OFF + HEADER_LEN), 0);
  data.set(sigstruct.subarray(BODY_OFF, BODY_OFF + BODY_LEN), HEADER_LEN);
  return data;
}

function allZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Parse a SIGSTRUCT. Checks only the layout: exactly 1808 bytes, the fixed header constants, zero reserved fields
 * (INVALID_SIGNATURE otherwise). Use {@link verifySigstruct} to check the signature.
 */
export function parseSigstruct(bytes: Uint8Array): Sigstruct {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIGSTRUCT_SIZE) {
    throw new SimError('INVALID_SIGNATURE', `a SIGSTRUCT is ${SIGSTRUCT_SIZE} bytes`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!bytesEqual(bytes.subarray(0, 12), HEADER1) || !bytesEqual(bytes.subarray(24, 40), HEADER2)) {
    throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT header constants are wrong');
  }
  const reserved: [number, number][] = [
    [44, 128],
    [908, 912],
    [992, 1008],
    [BUFFER_OFF, Q1_OFF],
  ];
  for (const [a, b] of reserved) {
    if (!allZero(bytes.subarray(a, b))) throw new SimError('INVALID_SIGNATURE', `SIGSTRUCT reserved bytes ${a}..${b} are not zero`);
  }
  const copy = (a: number, n: number): Uint8Array => bytes.slice(a, a + n);
  const type = v.getUint32(12, true);
  const modulus = copy(MODULUS_OFF, KEY_BYTES);
  return {
    type,
    debug: (type & DEBUG_TYPE_BIT) !== 0,
    moduleVendor: v.getUint32(16, true),
    date: v.getUint32(20, true),
    hwVersion: v.getUint32(40, true),
    modulus,
    exponent: v.getUint32(EXPONENT_OFF, true),
    signature: copy(SIGNATURE_OFF, KEY_BYTES),
    miscSelect: v.getUint32(900, true),
    miscMask: v.getUint32(904, true),
    isvFamilyId: copy(912, 16),
    attributeFlags: v.getBigUint64(928, true),
    attributeXfrm: v.getBigUint64(936, true),
    attributeMaskFlags: v.getBigUint64(944, true),
    attributeMaskXfrm: v.getBigUint64(952, true),
    enclaveHash: copy(960, 32),
    isvExtProdId: copy(1008, 16),
    isvProdId: v.getUint16(1024, true),
    isvSvn: v.getUint16(1026, true),
    q1: copy(Q1_OFF, KEY_BYTES),
    q2: copy(Q2_OFF, KEY_BYTES),
    mrSigner: mrSignerOf(modulus),
  };
}

/**
 * Parse and verify a SIGSTRUCT as EINIT does: exponent 3, a 3072-bit modulus, the RSA signature over header ‖ body
 * with the embedded modulus, and q1/q2 consistent with the signature. Any failure is INVALID_SIGNATURE.
 */
export function verifySigstruct(bytes: Uint8Array): Sigstruct {
  const s = parseSigstruct(bytes);
  if (s.exponent !== 3) throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT exponent must be 3');
  if ((s.modulus[KEY_BYTES - 1]! & 0x80) === 0) throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT modulus is not 3072 bits');
  const n = bigFromLE(s.modulus);
  const sig = bigFromLE(s.signature);
  if (sig >= n) throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT signature is not below the modulus');
  let ok = false;
  try {
    const pub = createPublicKey({ key: { kty: 'RSA', n: base64Url(reversed(s.modulus)), e: 'Aw' }, format: 'jwk' });
    ok = verify('sha256', signedBytes(bytes), pub, reversed(s.signature));
  } catch (e) {
    throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT key is not a usable RSA key', { cause: e });
  }
  if (!ok) throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT signature does not verify');
  const { q1, q2 } = computeQ(sig, n);
  if (bigFromLE(s.q1) !== q1 || bigFromLE(s.q2) !== q2) {
    throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT q1/q2 do not match the signature');
  }
  return s;
}

