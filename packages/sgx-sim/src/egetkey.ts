/**
 * EGETKEY in software, following Intel SDM Vol. 3D §38 "EGETKEY" and the Intel SDK simulator
 * (intel/linux-sgx sdk/simulation/tinst/t_instructions.cpp `_EGETKEY`, deriv.h), with one change: base keys come
 * from the platform secret instead of constants, so keys are bound to the simulated machine.
 *
 *   base key  = platform.derive(`egetkey/base/${KEYNAME}`, 16)      KEYNAME ∈ EINITTOKEN, PROVISION, PROVISION_SEAL,
 *                                                                    REPORT, SEAL
 *   key       = AES-128-CMAC(base key, derivation data)
 *   owner epoch = platform.derive('egetkey/owner-epoch', 16)
 *
 * Derivation data (274 bytes, integers little-endian; a field that the key does not depend on is zero):
 *
 * | off | len | field |
 * |-----|-----|-------|
 * |   0 |   2 | key_name |
 * |   2 |   2 | effective key_policy (see below) |
 * |   4 |   8 | ATTRIBUTES.FLAGS: (request mask.flags \| INITTED \| DEBUG) & SECS.flags |
 * |  12 |   8 | ATTRIBUTES.XFRM: request mask.xfrm & SECS.xfrm |
 * |  20 |   8 | request attribute_mask.flags |
 * |  28 |   8 | request attribute_mask.xfrm |
 * |  36 |   4 | request misc_mask & SECS.MISCSELECT |
 * |  40 |   4 | ~request misc_mask |
 * |  44 |  16 | owner epoch (zero for PROVISION and PROVISION_SEAL) |
 * |  60 |  16 | CPUSVN: the request's, or the platform's when the request's is all zero |
 * |  76 |   2 | ISVSVN: the request's |
 * |  78 |   2 | ISVPRODID of the SECS, zero if NOISVPRODID |
 * |  80 |   2 | CONFIGSVN: the request's, if CONFIGID |
 * |  82 |  64 | CONFIGID of the SECS, if CONFIGID |
 * | 146 |  16 | ISVFAMILYID of the SECS, if ISVFAMILYID |
 * | 162 |  16 | ISVEXTPRODID of the SECS, if ISVEXTPRODID |
 * | 178 |  32 | MRENCLAVE, if MRENCLAVE |
 * | 210 |  32 | MRSIGNER, if MRSIGNER |
 * | 242 |  32 | KEYID: the request's |
 *
 * Per key name:
 * - SEAL: exactly as the table says, with the request's policy. DEBUG and INITTED always enter the attributes, so
 *   debug and production enclaves never share a key.
 * - REPORT: the enclave's own report key. The request's policy, SVNs and masks are ignored; only its KEYID counts.
 *   Policy 0, FLAGS/XFRM/MISCSELECT of the enclave unmasked (masks recorded as all ones, ~misc mask 0), the platform's
 *   CPUSVN, CONFIGID and CONFIGSVN of the enclave, its MRENCLAVE, no MRSIGNER/ISV fields. {@link reportKey} computes
 *   the same key from a TARGETINFO, which is how EREPORT MACs a report for its target.
 * - PROVISION / PROVISION_SEAL: need the PROVISION_KEY attribute. The policy's MRENCLAVE bit is cleared and
 *   MRSIGNER forced, and the owner epoch is left out: as on hardware, the provisioning keys identify the platform
 *   to the signer's provisioning service and survive a change of owner.
 * - EINITTOKEN: needs EINITTOKEN_KEY; MRSIGNER forced, MRENCLAVE cleared, owner epoch included.
 *
 * Refusals, in this order: unknown key name → INVALID_KEYNAME; EINITTOKEN without EINITTOKEN_KEY or
 * PROVISION/PROVISION_SEAL without PROVISION_KEY → INVALID_ATTRIBUTE; KSS policy bits or a non-zero CONFIGSVN
 * without KSS → INVALID_ATTRIBUTE; request ISVSVN above the enclave's → INVALID_ISVSVN; any request CPUSVN component
 * above the platform's → INVALID_CPUSVN; request CONFIGSVN above the enclave's → INVALID_CONFIGSVN. (REPORT skips
 * all but the first.) Malformed requests (length, reserved fields, reserved policy bits) → INVALID_PARAMETER.
 */
import { aesCmac } from './aes-cmac.js';
import { SimError } from './errors.js';
import { SGX_FLAGS, type EnclaveIdentity } from './identity.js';
import {
  KEY_NAME,
  KEY_POLICY,
  KEY_POLICY_KSS,
  encodeKeyRequest,
  keyNameLabel,
  parseKeyRequest,
  type KeyNameLabel,
  type KeyRequestInit,
} from './keyrequest.js';
import type { Platform } from './platform.js';

export const DERIVATION_DATA_SIZE = 274;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** The fields of the derivation data, before encoding. */
interface Derivation {
  keyName: number;
  keyPolicy: number;
  flags: bigint;
  xfrm: bigint;
  maskFlags: bigint;
  maskXfrm: bigint;
  misc: number;
  notMiscMask: number;
  ownerEpoch: Uint8Array | undefined;
  cpuSvn: Uint8Array;
  isvSvn: number;
  isvProdId: number;
  configSvn: number;
  configId: Uint8Array | undefined;
  isvFamilyId: Uint8Array | undefined;
  isvExtProdId: Uint8Array | undefined;
  mrEnclave: Uint8Array | undefined;
  mrSigner: Uint8Array | undefined;
  keyId: Uint8Array;
}

function encodeDerivation(d: Derivation): Uint8Array {
  const out = new Uint8Array(DERIVATION_DATA_SIZE);
  const v = new DataView(out.buffer);
  v.setUint16(0, d.keyName, true);
  v.setUint16(2, d.keyPolicy, true);
  v.setBigUint64(4, d.flags & U64_MAX, true);
  v.setBigUint64(12, d.xfrm & U64_MAX, true);
  v.setBigUint64(20, d.maskFlags & U64_MAX, true);
  v.setBigUint64(28, d.maskXfrm & U64_MAX, true);
  v.setUint32(36, d.misc >>> 0, true);
  v.setUint32(40, d.notMiscMask >>> 0, true);
  if (d.ownerEpoch !== undefined) out.set(d.ownerEpoch.subarray(0, 16), 44);
  out.set(d.cpuSvn.subarray(0, 16), 60);
  v.setUint16(76, d.isvSvn, true);
  v.setUint16(78, d.isvProdId, true);
  v.setUint16(80, d.configSvn, true);
  if (d.configId !== undefined) out.set(d.configId.subarray(0, 64), 82);
  if (d.isvFamilyId !== undefined) out.set(d.isvFamilyId.subarray(0, 16), 146);
  if (d.isvExtProdId !== undefined) out.set(d.isvExtProdId.subarray(0, 16), 162);
  if (d.mrEnclave !== undefined) out.set(d.mrEnclave.subarray(0, 32), 178);
  if (d.mrSigner !== undefined) out.set(d.mrSigner.subarray(0, 32), 210);
  out.set(d.keyId.subarray(0, 32), 242);
  return out;
}

function baseKey(platform: Platform, label: KeyNameLabel): Uint8Array {
  return platform.derive(`egetkey/base/${label}`, 16);
}

function ownerEpoch(platform: Platform): Uint8Array {
  return platform.derive('egetkey/owner-epoch', 16);
}

/** The KEYID the platform's EREPORT currently writes into REPORTs (32 bytes, from the platform secret). */
export function reportKeyId(platform: Platform): Uint8Array {
  return platform.derive('ereport/key-id', 32).slice();
}

function isAllZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * The REPORT key of a target enclave, as EREPORT derives it from TARGETINFO and as the target's own
 * `EGETKEY(REPORT, keyId)` derives it from its SECS.
 *
 * @param targetAttributes 16 bytes: FLAGS u64 ‖ XFRM u64 (as in TARGETINFO / a report body)
 */
export function reportKey(
  platform: Platform,
  targetMrEnclave: Uint8Array,
  targetAttributes: Uint8Array,
  targetMiscSelect: number,
  targetConfigId: Uint8Array,
  targetConfigSvn: number,
  keyId: Uint8Array,
): Uint8Array {
  if (targetMrEnclave.length !== 32 || targetAttributes.length !== 16 || targetConfigId.length !== 64 || keyId.length !== 32) {
    throw new SimError('INVALID_PARAMETER', 'reportKey: MRENCLAVE 32, ATTRIBUTES 16, CONFIGID 64 and KEYID 32 bytes');
  }
  const av = new DataView(targetAttributes.buffer, targetAttributes.byteOffset, 16);
  const dd = encodeDerivation({
    keyName: KEY_NAME.REPORT,
    keyPolicy: 0,
    flags: av.getBigUint64(0, true),
    xfrm: av.getBigUint64(8, true),
    maskFlags: U64_MAX,
    maskXfrm: U64_MAX,
    misc: targetMiscSelect >>> 0,
    notMiscMask: 0,
    ownerEpoch: ownerEpoch(platform),
    cpuSvn: platform.cpuSvn,
    isvSvn: 0,
    isvProdId: 0,
    configSvn: targetConfigSvn & 0xffff,
    configId: targetConfigId,
    isvFamilyId: undefined,
    isvExtProdId: undefined,
    mrEnclave: targetMrEnclave,
    mrSigner: undefined,
    keyId,
  });
  return aesCmac(baseKey(platform, 'REPORT'), dd);
}

function attributes16(flags: bigint, xfrm: bigint): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, flags & U64_MAX, true);
  v.setBigUint64(8, xfrm & U64_MAX, true);
  return out;
}

/**
 * EGETKEY for the enclave `identity` running on `platform`. `request` is a 512-byte KEYREQUEST or its fields
 * (omitted ones zero).
 * Returns the 16-byte key; refusals are SimErrors as documented at the top of this file.
 */
export function egetkey(platform: Platform, identity: EnclaveIdentity, request: Uint8Array | KeyRequestInit): Uint8Array {
  // An object request goes through the encoder too, so that both forms are validated the same way.
  const req = parseKeyRequest(request instanceof Uint8Array ? request : encodeKeyRequest(request));
  const label = keyNameLabel(req.keyName);
  if (label === undefined) throw new SimError('INVALID_KEYNAME', `EGETKEY: unknown key name ${req.keyName}`);
  if (label === 'REPORT') {
    return reportKey(
      platform,
      identity.mrEnclave,
      attributes16(identity.flags, identity.xfrm),
      identity.miscSelect,
      identity.configId,
      identity.configSvn,
      req.keyId,
    );
  }
  const flags = identity.flags;
  if (label === 'EINITTOKEN' && (flags & SGX_FLAGS.EINITTOKEN_KEY) === 0n) {
    throw new SimError('INVALID_ATTRIBUTE', 'EGETKEY: the EINITTOKEN key needs the EINITTOKEN_KEY attribute');
  }
  if ((label === 'PROVISION' || label === 'PROVISION_SEAL') && (flags & SGX_FLAGS.PROVISION_KEY) === 0n) {
    throw new SimError('INVALID_ATTRIBUTE', `EGETKEY: the ${label} key needs the PROVISION_KEY attribute`);
  }
  const kss = (flags & SGX_FLAGS.KSS) !== 0n;
  if (!kss && ((req.keyPolicy & KEY_POLICY_KSS) !== 0 || req.configSvn !== 0)) {
    throw new SimError('INVALID_ATTRIBUTE', 'EGETKEY: KSS key policy bits and CONFIGSVN need the KSS attribute');
  }
  if (req.isvSvn > identity.isvSvn) {
    throw new SimError('INVALID_ISVSVN', `EGETKEY: requested ISVSVN ${req.isvSvn} is above the enclave's ${identity.isvSvn}`);
  }
  const platformCpuSvn = platform.cpuSvn;
  const cpuSvn = isAllZero(req.cpuSvn) ? platformCpuSvn : req.cpuSvn;
  for (let i = 0; i < 16; i++) {
    if (cpuSvn[i]! > platformCpuSvn[i]!) throw new SimError('INVALID_CPUSVN', 'EGETKEY: requested CPUSVN is above the platform\'s');
  }
  if (req.configSvn > identity.configSvn) {
    throw new SimError('INVALID_CONFIGSVN', `EGETKEY: requested CONFIGSVN ${req.configSvn} is above the enclave's ${identity.configSvn}`);
  }
  let policy = req.keyPolicy;
  if (label !== 'SEAL') policy = (policy & ~KEY_POLICY.MRENCLAVE) | KEY_POLICY.MRSIGNER;
  const has = (bit: number): boolean => (policy & bit) !== 0;
  const dd = encodeDerivation({
    keyName: req.keyName,
    keyPolicy: policy,
    flags: (req.attributeMaskFlags | SGX_FLAGS.INITTED | SGX_FLAGS.DEBUG) & flags,
    xfrm: req.attributeMaskXfrm & identity.xfrm,
    maskFlags: req.attributeMaskFlags,
    maskXfrm: req.attributeMaskXfrm,
    misc: (req.miscMask & identity.miscSelect) >>> 0,
    notMiscMask: ~req.miscMask >>> 0,
    ownerEpoch: label === 'PROVISION' || label === 'PROVISION_SEAL' ? undefined : ownerEpoch(platform),
    cpuSvn,
    isvSvn: req.isvSvn,
    isvProdId: has(KEY_POLICY.NOISVPRODID) ? 0 : identity.isvProdId,
    configSvn: has(KEY_POLICY.CONFIGID) ? req.configSvn : 0,
    configId: has(KEY_POLICY.CONFIGID) ? identity.configId : undefined,
    isvFamilyId: has(KEY_POLICY.ISVFAMILYID) ? identity.isvFamilyId : undefined,
    isvExtProdId: has(KEY_POLICY.ISVEXTPRODID) ? identity.isvExtProdId : undefined,
    mrEnclave: has(KEY_POLICY.MRENCLAVE) ? identity.mrEnclave : undefined,
    mrSigner: has(KEY_POLICY.MRSIGNER) ? identity.mrSigner : undefined,
    keyId: req.keyId,
  });
  return aesCmac(baseKey(platform, label), dd);
}
