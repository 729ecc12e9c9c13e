/**
 * Sealing, byte-compatible with the Intel SGX SDK's `sgx_sealed_data_t` (intel/linux-sgx common/inc/sgx_tseal.h,
 * sdk/tseal/tSeal.cpp; ../shared/reference/enclave-apps.md §7). Integers little-endian:
 *
 * ```c
 * typedef struct _aes_gcm_data_t {
 *     uint32_t payload_size;          // 528: ciphertext length + additional MAC text length
 *     uint8_t  reserved[12];          // 532: 0
 *     uint8_t  payload_tag[16];       // 544: AES-GCM tag
 *     uint8_t  payload[];             // 560: ciphertext ‖ additional MAC text (in clear)
 * } sgx_aes_gcm_data_t;
 * typedef struct _sealed_data_t {
 *     sgx_key_request_t  key_request;       //   0: 512 bytes, the KEYREQUEST that re-derives the key
 *     uint32_t           plain_text_offset; // 512: offset of the additional MAC text in payload = ciphertext length
 *     uint8_t            reserved[12];      // 516: 0
 *     sgx_aes_gcm_data_t aes_data;          // 528
 * } sgx_sealed_data_t;                      // 560 + payload
 * ```
 *
 * Cipher: AES-128-GCM with the EGETKEY SEAL key, a 12-byte all-zero IV (as the Intel SDK does) and the additional
 * MAC text as AAD. A zero IV is safe only because every seal draws a random 32-byte KEYID into the stored key
 * request, so every blob has its own key.
 *
 * The stored key request (what `sgx_seal_data` writes): key name SEAL; policy MRSIGNER (default) or MRENCLAVE,
 * plus CONFIGID | ISVFAMILYID | ISVEXTPRODID when the enclave has KSS, plus `keyPolicyExtra`; the sealing enclave's
 * ISVSVN and CONFIGSVN and the platform's CPUSVN; attribute mask TSEAL_DEFAULT_FLAGSMASK
 * (= ~(0xFFFFFFFFFFFFC0 | MODE64BIT | PROVISION_KEY | EINITTOKEN_KEY): INITTED, DEBUG, bit 3 and bits 56..63),
 * XFRM mask 0, MISC mask 0xF0000000.
 *
 * Unsealing re-derives the key with the stored request, so: data sealed at a newer ISVSVN than the unsealing
 * enclave's fails INVALID_ISVSVN (a newer CPUSVN, INVALID_CPUSVN); another enclave (MRENCLAVE policy), another
 * signer, another platform, a debug/production mismatch or any tampering with the ciphertext, tag or MAC text fails
 * MAC_MISMATCH; a malformed blob fails INVALID_SEALED_DATA.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { egetkey } from './egetkey.js';
import { SimError } from './errors.js';
import { SGX_FLAGS, type EnclaveIdentity } from './identity.js';
import {
  encodeKeyRequest,
  KEY_NAME,
  KEY_POLICY,
  KEY_POLICY_KSS,
  KEY_REQUEST_SIZE,
  parseKeyRequest,
  type KeyRequest,
} from './keyrequest.js';
import type { Platform } from './platform.js';

export const SEALED_DATA_HEADER_SIZE = 560;
const PLAIN_TEXT_OFFSET_OFF = 512;
const PAYLOAD_SIZE_OFF = 528;
const TAG_OFF = 544;
const PAYLOAD_OFF = SEALED_DATA_HEADER_SIZE;
const U32_MAX = 0xffff_ffff;
const ZERO_IV = new Uint8Array(12);

/** `TSEAL_DEFAULT_FLAGSMASK` (common/inc/internal/tseal_migration_attr.h). */
export const TSEAL_DEFAULT_FLAGSMASK =
  ~(0xff_ffff_ffff_ffc0n | SGX_FLAGS.MODE64BIT | SGX_FLAGS.PROVISION_KEY | SGX_FLAGS.EINITTOKEN_KEY) & 0xffff_ffff_ffff_ffffn;
/** `TSEAL_DEFAULT_MISCMASK` = ~0x0FFFFFFF. */
export const TSEAL_DEFAULT_MISCMASK = 0xf000_0000;
/** The policy bits the SDK adds when the enclave has KSS. */
const SDK_KSS_POLICY = KEY_POLICY.CONFIGID | KEY_POLICY.ISVFAMILYID | KEY_POLICY.ISVEXTPRODID;

export type SealPolicy = 'MRENCLAVE' | 'MRSIGNER';

export interface SealOptions {
  /** Default MRSIGNER (as the SDK's `sgx_seal_data`). */
  readonly policy?: SealPolicy;
  /** Authenticated, not encrypted; returned by unseal. */
  readonly additionalMacText?: Uint8Array;
  /** More KSS policy bits (NOISVPRODID, CONFIGID, ISVFAMILYID, ISVEXTPRODID); they need the KSS attribute. */
  readonly keyPolicyExtra?: number;
}

export interface SealedData {
  readonly keyRequest: KeyRequest;
  /** Length of the ciphertext = offset of the additional MAC text in the payload. */
  readonly plainTextOffset: number;
  readonly payloadSize: number;
  readonly tag: Uint8Array;
  /** Views into the blob. */
  readonly ciphertext: Uint8Array;
  readonly additionalMacText: Uint8Array;
}

export interface Unsealed {
  readonly plaintext: Uint8Array;
  readonly additionalMacText: Uint8Array;
}

/** `sgx_calc_sealed_data_size`: 560 + plaintext + additional MAC text; INVALID_PARAMETER if it exceeds u32. */
export function sealedDataSize(plaintextLen: number, aadLen: number): number {
  if (!Number.isInteger(plaintextLen) || !Number.isInteger(aadLen) || plaintextLen < 0 || aadLen < 0) {
    throw new SimError('INVALID_PARAMETER', 'sealedDataSize: lengths must be non-negative integers');
  }
  const total = SEALED_DATA_HEADER_SIZE + plaintextLen + aadLen;
  if (total > U32_MAX) throw new SimError('INVALID_PARAMETER', 'sealed data would exceed 4 GiB');
  return total;
}

/** Bounded parse of a `sgx_sealed_data_t`; any layout problem is INVALID_SEALED_DATA. */
export function parseSealedData(blob: Uint8Array): SealedData {
  if (!(blob instanceof Uint8Array) || blob.length < SEALED_DATA_HEADER_SIZE) {
    throw new SimError('INVALID_SEALED_DATA', `sealed data is at least ${SEALED_DATA_HEADER_SIZE} bytes`);
  }
  let keyRequest: KeyRequest;
  try {
    keyRequest = parseKeyRequest(blob.subarray(0, KEY_REQUEST_SIZE));
  } catch (e) {
    throw new SimError('INVALID_SEALED_DATA', `sealed data key request is malformed: ${(e as Error).message}`, { cause: e });
  }
  if (keyRequest.keyName !== KEY_NAME.SEAL) throw new SimError('INVALID_SEALED_DATA', 'sealed data key request is not for a SEAL key');
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < 12; i++) {
    if (blob[PLAIN_TEXT_OFFSET_OFF + 4 + i] !== 0 || blob[PAYLOAD_SIZE_OFF + 4 + i] !== 0) {
      throw new SimError('INVALID_SEALED_DATA', 'sealed data reserved bytes are not zero');
    }
  }
  const plainTextOffset = v.getUint32(PLAIN_TEXT_OFFSET_OFF, true);
  const payloadSize = v.getUint32(PAYLOAD_SIZE_OFF, true);
  if (payloadSize !== blob.length - SEALED_DATA_HEADER_SIZE) {
    throw new SimError('INVALID_SEALED_DATA', `sealed data payload_size ${payloadSize} does not match its length`);
  }
  if (plainTextOffset > payloadSize) throw new SimError('INVALID_SEALED_DATA', 'sealed data plain_text_offset is past the payload');
  return {
    keyRequest,
    plainTextOffset,
    payloadSize,
    tag: blob.slice(TAG_OFF, TAG_OFF + 16),
    ciphertext: blob.subarray(PAYLOAD_OFF, PAYLOAD_OFF + plainTextOffset),
    additionalMacText: blob.subarray(PAYLOAD_OFF + plainTextOffset),
  };
}

/** Seal `plaintext` for the enclave `identity` on `platform` (what `sgx_seal_data` does inside the enclave). */
export function sealData(platform: Platform, identity: EnclaveIdentity, plaintext: Uint8Array, options: SealOptions = {}): Uint8Array {
  if (!(plaintext instanceof Uint8Array)) throw new SimError('INVALID_PARAMETER', 'plaintext must be a Uint8Array');
  const aad = options.additionalMacText ?? new Uint8Array(0);
  if (!(aad instanceof Uint8Array)) throw new SimError('INVALID_PARAMETER', 'additionalMacText must be a Uint8Array');
  const policyName = options.policy ?? 'MRSIGNER';
  if (policyName !== 'MRSIGNER' && policyName !== 'MRENCLAVE') {
    throw new SimError('INVALID_PARAMETER', "seal policy must be 'MRENCLAVE' or 'MRSIGNER'");
  }
  const extra = options.keyPolicyExtra ?? 0;
  if (!Number.isInteger(extra) || (extra & ~KEY_POLICY_KSS) !== 0 || extra < 0) {
    throw new SimError('INVALID_PARAMETER', 'keyPolicyExtra may only hold NOISVPRODID, CONFIGID, ISVFAMILYID, ISVEXTPRODID');
  }
  const total = sealedDataSize(plaintext.length, aad.length);
  let keyPolicy = policyName === 'MRSIGNER' ? KEY_POLICY.MRSIGNER : KEY_POLICY.MRENCLAVE;
  if ((identity.flags & SGX_FLAGS.KSS) !== 0n) keyPolicy |= SDK_KSS_POLICY;
  keyPolicy |= extra;
  const requestBytes = encodeKeyRequest({
    keyName: KEY_NAME.SEAL,
    keyPolicy,
    isvSvn: identity.isvSvn,
    cpuSvn: platform.cpuSvn,
    attributeMaskFlags: TSEAL_DEFAULT_FLAGSMASK,
    attributeMaskXfrm: 0n,
    keyId: new Uint8Array(randomBytes(32)),
    miscMask: TSEAL_DEFAULT_MISCMASK,
    configSvn: identity.configSvn,
  });
  const key = egetkey(platform, identity, requestBytes);

  const blob = new Uint8Array(total);
  const v = new DataView(blob.buffer);
  blob.set(requestBytes, 0);
  v.setUint32(PLAIN_TEXT_OFFSET_OFF, plaintext.length, true);
  v.setUint32(PAYLOAD_SIZE_OFF, plaintext.length + aad.length, true);
  const cipher = createCipheriv('aes-128-gcm', key, ZERO_IV);
  if (aad.length > 0) cipher.setAAD(aad);
  blob.set(cipher.update(plaintext), PAYLOAD_OFF);
  cipher.final();
  blob.set(cipher.getAuthTag(), TAG_OFF);
  blob.set(aad, PAYLOAD_OFF + plaintext.length);
  return blob;
}

/** Unseal a blob inside the enclave `identity` on `platform`. */
export function unsealData(platform: Platform, identity: EnclaveIdentity, blob: Uint8Array): Unsealed {
  const sealed = parseSealedData(blob);
  const key = egetkey(platform, identity, sealed.keyRequest);
  const decipher = createDecipheriv('aes-128-gcm', key, ZERO_IV);
  if (sealed.additionalMacText.length > 0) decipher.setAAD(sealed.additionalMacText);
  decipher.setAuthTag(sealed.tag);
  const plain = decipher.update(sealed.ciphertext);
  try {
    decipher.final();
  } catch (e) {
    plain.fill(0);
    throw new SimError('MAC_MISMATCH', 'sealed data does not authenticate (wrong enclave, signer, platform or mode, or tampered)', {
      cause: e,
    });
  }
  return { plaintext: new Uint8Array(plain), additionalMacText: sealed.additionalMacText.slice() };
}
