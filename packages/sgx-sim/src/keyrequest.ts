/**
 * KEYREQUEST, the input of EGETKEY (intel/linux-sgx common/inc/sgx_key.h `sgx_key_request_t`; Intel SDM Vol. 3D
 * §34.18 "Key Request (KEYREQUEST)"). 512 bytes, integers little-endian:
 *
 * ```c
 * typedef struct _key_request_t {
 *     uint16_t          key_name;        //   0: EINITTOKEN 0, PROVISION 1, PROVISION_SEAL 2, REPORT 3, SEAL 4
 *     uint16_t          key_policy;      //   2: MRENCLAVE 0x01, MRSIGNER 0x02, NOISVPRODID 0x04, CONFIGID 0x08,
 *                                        //      ISVFAMILYID 0x10, ISVEXTPRODID 0x20 (other bits reserved)
 *     sgx_isv_svn_t     isv_svn;         //   4
 *     uint16_t          reserved1;       //   6: 0
 *     sgx_cpu_svn_t     cpu_svn;         //   8: 16 bytes
 *     sgx_attributes_t  attribute_mask;  //  24: flags u64, xfrm u64
 *     sgx_key_id_t      key_id;          //  40: 32 bytes
 *     sgx_misc_select_t misc_mask;       //  72: u32
 *     sgx_config_svn_t  config_svn;      //  76: u16
 *     uint8_t           reserved2[434];  //  78: 0
 * } sgx_key_request_t;                   // 512
 * ```
 */
import { SimError } from './errors.js';

export const KEY_REQUEST_SIZE = 512;

export const KEY_NAME = {
  EINITTOKEN: 0,
  PROVISION: 1,
  PROVISION_SEAL: 2,
  REPORT: 3,
  SEAL: 4,
} as const;

export type KeyNameLabel = keyof typeof KEY_NAME;

export const KEY_POLICY = {
  MRENCLAVE: 0x01,
  MRSIGNER: 0x02,
  NOISVPRODID: 0x04,
  CONFIGID: 0x08,
  ISVFAMILYID: 0x10,
  ISVEXTPRODID: 0x20,
} as const;

/** The policy bits that need the KSS attribute. */
export const KEY_POLICY_KSS = KEY_POLICY.NOISVPRODID | KEY_POLICY.CONFIGID | KEY_POLICY.ISVFAMILYID | KEY_POLICY.ISVEXTPRODID;
/** Every defined policy bit; the rest are reserved. */
export const KEY_POLICY_ALL = 0x3f;

export interface KeyRequest {
  readonly keyName: number;
  readonly keyPolicy: number;
  readonly isvSvn: number;
  /** 16 bytes; all zero means "the platform's current CPUSVN". */
  readonly cpuSvn: Uint8Array;
  readonly attributeMaskFlags: bigint;
  readonly attributeMaskXfrm: bigint;
  /** 32 bytes. */
  readonly keyId: Uint8Array;
  readonly miscMask: number;
  readonly configSvn: number;
}

/** A key request to encode: omitted fields are zero. */
export type KeyRequestInit = Partial<KeyRequest> & Pick<KeyRequest, 'keyName'>;

/** The label of a key name, or undefined for names EGETKEY does not know. */
export function keyNameLabel(keyName: number): KeyNameLabel | undefined {
  for (const [label, value] of Object.entries(KEY_NAME)) if (value === keyName) return label as KeyNameLabel;
  return undefined;
}

function uint(value: number | undefined, max: number, what: string): number {
  const v = value ?? 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new SimError('INVALID_PARAMETER', `KEYREQUEST ${what} must be an integer 0..${max}`);
  }
  return v;
}

function u64(value: bigint | undefined, what: string): bigint {
  const v = value ?? 0n;
  if (typeof v !== 'bigint' || v < 0n || v > 0xffff_ffff_ffff_ffffn) {
    throw new SimError('INVALID_PARAMETER', `KEYREQUEST ${what} must be a u64`);
  }
  return v;
}

function bytes(value: Uint8Array | undefined, len: number, what: string): Uint8Array {
  const v = value ?? new Uint8Array(len);
  if (!(v instanceof Uint8Array) || v.length !== len) throw new SimError('INVALID_PARAMETER', `KEYREQUEST ${what} must be ${len} bytes`);
  return v;
}

/** Encode a KEYREQUEST; omitted fields are zero. Key names are not checked here (EGETKEY does that). */
export function encodeKeyRequest(req: KeyRequestInit): Uint8Array {
  const out = new Uint8Array(KEY_REQUEST_SIZE);
  const v = new DataView(out.buffer);
  v.setUint16(0, uint(req.keyName, 0xffff, 'key_name'), true);
  const policy = uint(req.keyPolicy, 0xffff, 'key_policy');
  if ((policy & ~KEY_POLICY_ALL) !== 0) throw new SimError('INVALID_PARAMETER', 'KEYREQUEST key_policy has reserved bits set');
  v.setUint16(2, policy, true);
  v.setUint16(4, uint(req.isvSvn, 0xffff, 'isv_svn'), true);
  out.set(bytes(req.cpuSvn, 16, 'cpu_svn'), 8);
  v.setBigUint64(24, u64(req.attributeMaskFlags, 'attribute_mask.flags'), true);
  v.setBigUint64(32, u64(req.attributeMaskXfrm, 'attribute_mask.xfrm'), true);
  out.set(bytes(req.keyId, 32, 'key_id'), 40);
  v.setUint32(72, uint(req.miscMask, 0xffff_ffff, 'misc_mask'), true);
  v.setUint16(76, uint(req.configSvn, 0xffff, 'config_svn'), true);
  return out;
}

/**
 * Parse a 512-byte KEYREQUEST. Wrong length, non-zero reserved fields or reserved policy bits are
 * INVALID_PARAMETER (the #GP of EGETKEY).
 */
export function parseKeyRequest(raw: Uint8Array): KeyRequest {
  if (!(raw instanceof Uint8Array) || raw.length !== KEY_REQUEST_SIZE) {
    throw new SimError('INVALID_PARAMETER', `a KEYREQUEST is ${KEY_REQUEST_SIZE} bytes`);
  }
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (v.getUint16(6, true) !== 0) throw new SimError('INVALID_PARAMETER', 'KEYREQUEST reserved1 is not zero');
  for (let i = 78; i < KEY_REQUEST_SIZE; i++) {
    if (raw[i] !== 0) throw new SimError('INVALID_PARAMETER', 'KEYREQUEST reserved2 is not zero');
  }
  const keyPolicy = v.getUint16(2, true);
  if ((keyPolicy & ~KEY_POLICY_ALL) !== 0) throw new SimError('INVALID_PARAMETER', 'KEYREQUEST key_policy has reserved bits set');
  return {
    keyName: v.getUint16(0, true),
    keyPolicy,
    isvSvn: v.getUint16(4, true),
    cpuSvn: raw.slice(8, 24),
    attributeMaskFlags: v.getBigUint64(24, true),
    attributeMaskXfrm: v.getBigUint64(32, true),
    keyId: raw.slice(40, 72),
    miscMask: v.getUint32(72, true),
    configSvn: v.getUint16(76, true),
  };
}
