/**
 * A simulated enclave: signing (SIGSTRUCT over the measured image), loading (EINIT's checks), and the
 * instructions an enclave uses — EREPORT, EGETKEY — plus SDK-compatible sealing and local attestation.
 *
 * TARGETINFO (intel/linux-sgx common/inc/sgx_report.h `sgx_target_info_t`), 512 bytes, little-endian:
 *
 * ```c
 * typedef struct _targe_info_t {
 *     sgx_measurement_t  mr_enclave;   //   0: 32
 *     sgx_attributes_t   attributes;   //  32: 16 (flags u64, xfrm u64)
 *     uint8_t            reserved1[2]; //  48
 *     sgx_config_svn_t   config_svn;   //  50: u16
 *     sgx_misc_select_t  misc_select;  //  52: u32
 *     uint8_t            reserved2[8]; //  56
 *     sgx_config_id_t    config_id;    //  64: 64
 *     uint8_t            reserved3[384]; // 128
 * } sgx_target_info_t;                 // 512
 * ```
 *
 * REPORT (`sgx_report_t`), 432 bytes: body (`sgx_report_body_t`, 384) ‖ key_id (32) ‖ mac (16), where
 * mac = AES-128-CMAC(REPORT key of the target, body) and key_id is the platform's current report KEYID
 * (see egetkey.ts for the REPORT key derivation).
 *
 * What signing puts into the SIGSTRUCT: header type bit 31 = manifest.debug; misc_select = manifest.miscSelect,
 * misc_mask 0xFFFFFFFF; attributes.flags = MODE64BIT | DEBUG (debug) | PROVISION_KEY (provisionKey) | KSS (kss),
 * attribute_mask.flags = all bits but INITTED; xfrm 0x3 with mask 0x3; ISVPRODID/ISVSVN = productId/securityVersion;
 * ISVFAMILYID/ISVEXTPRODID from the manifest.
 *
 * Loading checks, as EINIT would: the SIGSTRUCT signature (INVALID_SIGNATURE); enclave_hash = the measured MRENCLAVE
 * (INVALID_SIGNATURE); SECS attributes and MISCSELECT under the SIGSTRUCT masks (INVALID_ATTRIBUTE); and, because
 * the manifest is measured, that the SIGSTRUCT's ISVPRODID/ISVSVN/ISVFAMILYID/ISVEXTPRODID are the manifest's
 * (INVALID_SIGNATURE).
 */
import { timingSafeEqual, type KeyObject } from 'node:crypto';
import { bytesEqual, fromHex, parseReportBody, type SgxReportBody } from '@cloister/dcap';
import { aesCmac } from './aes-cmac.js';
import { egetkey, reportKey, reportKeyId } from './egetkey.js';
import { SimError } from './errors.js';
import { DEFAULT_XFRM, encodeAttributes, SGX_FLAGS, type EnclaveIdentity } from './identity.js';
import { KEY_NAME } from './keyrequest.js';
import { measureEnclave, normalizeManifest, type EnclaveImage, type NormalizedManifest } from './measurement.js';
import type { Platform } from './platform.js';
import { encodeReportBody, REPORT_BODY_SIZE } from './report-body.js';
import { sealData, unsealData, type SealOptions, type Unsealed } from './seal.js';
import { mrSignerOf, signSigstruct, verifySigstruct, type Sigstruct } from './sigstruct.js';

export const TARGET_INFO_SIZE = 512;
export const REPORT_SIZE = 432;
const KEY_ID_OFF = REPORT_BODY_SIZE;
const MAC_OFF = REPORT_BODY_SIZE + 32;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const SIGSTRUCT_ATTRIBUTE_MASK_FLAGS = U64_MAX & ~SGX_FLAGS.INITTED;
const SIGSTRUCT_ATTRIBUTE_MASK_XFRM = DEFAULT_XFRM;

export interface TargetInfo {
  readonly mrEnclave: Uint8Array;
  /** 16 bytes: FLAGS u64 ‖ XFRM u64. */
  readonly attributes: Uint8Array;
  readonly flags: bigint;
  readonly xfrm: bigint;
  readonly configSvn: number;
  readonly miscSelect: number;
  readonly configId: Uint8Array;
}

/** ATTRIBUTES.FLAGS the manifest asks for, before EINIT sets INITTED. */
function secsFlags(m: NormalizedManifest): bigint {
  let flags = SGX_FLAGS.MODE64BIT;
  if (m.debug) flags |= SGX_FLAGS.DEBUG;
  if (m.provisionKey) flags |= SGX_FLAGS.PROVISION_KEY;
  if (m.kss) flags |= SGX_FLAGS.KSS;
  return flags;
}

/** The 512-byte TARGETINFO of an enclave: what another enclave's EREPORT needs to MAC a report for it. */
export function encodeTargetInfo(identity: EnclaveIdentity): Uint8Array {
  const out = new Uint8Array(TARGET_INFO_SIZE);
  const v = new DataView(out.buffer);
  out.set(identity.mrEnclave.subarray(0, 32), 0);
  out.set(encodeAttributes(identity.flags, identity.xfrm), 32);
  v.setUint16(50, identity.configSvn, true);
  v.setUint32(52, identity.miscSelect >>> 0, true);
  out.set(identity.configId.subarray(0, 64), 64);
  return out;
}

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Parse a TARGETINFO; wrong length or non-zero reserved bytes are INVALID_PARAMETER. */
export function parseTargetInfo(bytes: Uint8Array): TargetInfo {
  if (!(bytes instanceof Uint8Array) || bytes.length !== TARGET_INFO_SIZE) {
    throw new SimError('INVALID_PARAMETER', `a TARGETINFO is ${TARGET_INFO_SIZE} bytes`);
  }
  if (!allZero(bytes.subarray(48, 50)) || !allZero(bytes.subarray(56, 64)) || !allZero(bytes.subarray(128))) {
    throw new SimError('INVALID_PARAMETER', 'TARGETINFO reserved bytes are not zero');
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    mrEnclave: bytes.slice(0, 32),
    attributes: bytes.slice(32, 48),
    flags: v.getBigUint64(32, true),
    xfrm: v.getBigUint64(40, true),
    configSvn: v.getUint16(50, true),
    miscSelect: v.getUint32(52, true),
    configId: bytes.slice(64, 128),
  };
}

/**
 * EREPORT: a 432-byte REPORT of the enclave `identity` on `platform`, MACed with the REPORT key of the enclave
 * described by `targetInfo`. `reportData` is at most 64 bytes (zero padded).
 */
export function ereportFor(platform: Platform, identity: EnclaveIdentity, targetInfo: Uint8Array, reportData: Uint8Array): Uint8Array {
  const ti = parseTargetInfo(targetInfo);
  if (!(reportData instanceof Uint8Array) || reportData.length > 64) {
    throw new SimError('INVALID_PARAMETER', 'REPORTDATA must be a Uint8Array of at most 64 bytes');
  }
  const body = encodeReportBody(identity, platform.cpuSvn, reportData);
  const keyId = reportKeyId(platform);
  const key = reportKey(platform, ti.mrEnclave, ti.attributes, ti.miscSelect, ti.configId, ti.configSvn, keyId);
  const out = new Uint8Array(REPORT_SIZE);
  out.set(body, 0);
  out.set(keyId, KEY_ID_OFF);
  out.set(aesCmac(key, body), MAC_OFF);
  return out;
}

/**
 * Local attestation: verify inside the enclave `identity` that `report` was made for it on this platform
 * (EGETKEY(REPORT, report.key_id), then the CMAC over the body, as `sgx_verify_report` does). Returns the parsed
 * body. INVALID_REPORT for a malformed report, MAC_MISMATCH when the MAC does not verify.
 */
export function verifyReportFor(platform: Platform, identity: EnclaveIdentity, report: Uint8Array): SgxReportBody {
  if (!(report instanceof Uint8Array) || report.length !== REPORT_SIZE) {
    throw new SimError('INVALID_REPORT', `a REPORT is ${REPORT_SIZE} bytes`);
  }
  const body = report.slice(0, REPORT_BODY_SIZE);
  const key = egetkey(platform, identity, { keyName: KEY_NAME.REPORT, keyId: report.slice(KEY_ID_OFF, MAC_OFF) });
  const mac = aesCmac(key, body);
  if (!timingSafeEqual(mac, report.subarray(MAC_OFF, REPORT_SIZE))) {
    throw new SimError('MAC_MISMATCH', 'the REPORT MAC does not verify: not made for this enclave on this platform, or tampered');
  }
  try {
    return parseReportBody(body);
  } catch (e) {
    throw new SimError('INVALID_REPORT', 'the REPORT body does not parse', { cause: e });
  }
}

export interface SignEnclaveOptions {
  /** SIGSTRUCT date; default today (UTC). */
  readonly date?: Date;
}

export interface SignedEnclave {
  /** 1808 bytes. */
  readonly sigstruct: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
}

/** Measure `image` and sign its SIGSTRUCT with an RSA-3072 (e = 3) key (PEM or KeyObject). */
export function signEnclave(
  image: EnclaveImage,
  signingKey: string | KeyObject,
  options: SignEnclaveOptions = {},
): SignedEnclave {
  const manifest = normalizeManifest(image?.manifest);
  const mrEnclave = measureEnclave(image);
  const sigstruct = signSigstruct(
    {
      enclaveHash: mrEnclave,
      isvProdId: manifest.productId,
      isvSvn: manifest.securityVersion,
      debug: manifest.debug,
      ...(options.date === undefined ? {} : { date: options.date }),
      miscSelect: manifest.miscSelect,
      miscMask: 0xffff_ffff,
      attributeFlags: secsFlags(manifest),
      attributeXfrm: DEFAULT_XFRM,
      attributeMaskFlags: SIGSTRUCT_ATTRIBUTE_MASK_FLAGS,
      attributeMaskXfrm: SIGSTRUCT_ATTRIBUTE_MASK_XFRM,
      isvFamilyId: fromHex(manifest.isvFamilyId),
      isvExtProdId: fromHex(manifest.isvExtProdId),
    },
    signingKey,
  );
  const modulus = sigstruct.subarray(128, 512);
  return { sigstruct, mrEnclave, mrSigner: mrSignerOf(modulus) };
}

export interface LoadOptions {
  /** CONFIGID, 64 bytes, chosen by whoever launches the enclave; only for KSS enclaves. Default zeros. */
  readonly configId?: Uint8Array;
}

export class SimEnclave {
  readonly platform: Platform;
  readonly identity: EnclaveIdentity;
  readonly manifest: NormalizedManifest;
  readonly sigstruct: Sigstruct;

  private constructor(platform: Platform, identity: EnclaveIdentity, manifest: NormalizedManifest, sigstruct: Sigstruct) {
    this.platform = platform;
    this.identity = identity;
    this.manifest = manifest;
    this.sigstruct = sigstruct;
  }

  /** Load (ECREATE/EADD/EEXTEND) and initialize (EINIT) `image` with its SIGSTRUCT on `platform`. */
  static load(platform: Platform, image: EnclaveImage, sigstruct: Uint8Array, options: LoadOptions = {}): SimEnclave {
    const sig = verifySigstruct(sigstruct);
    const mrEnclave = measureEnclave(image);
    const manifest = normalizeManifest(image.manifest);
    if (!bytesEqual(sig.enclaveHash, mrEnclave)) {
      throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT enclave_hash does not match the measured MRENCLAVE of the image');
    }
    const flags = secsFlags(manifest);
    if (
      (flags & sig.attributeMaskFlags) !== (sig.attributeFlags & sig.attributeMaskFlags) ||
      (DEFAULT_XFRM & sig.attributeMaskXfrm) !== (sig.attributeXfrm & sig.attributeMaskXfrm) ||
      ((manifest.miscSelect & sig.miscMask) >>> 0) !== ((sig.miscSelect & sig.miscMask) >>> 0)
    ) {
      throw new SimError('INVALID_ATTRIBUTE', 'the enclave attributes or MISCSELECT do not match the SIGSTRUCT');
    }
    const isvFamilyId = fromHex(manifest.isvFamilyId);
    const isvExtProdId = fromHex(manifest.isvExtProdId);
    if (
      sig.isvProdId !== manifest.productId ||
      sig.isvSvn !== manifest.securityVersion ||
      !bytesEqual(sig.isvFamilyId, isvFamilyId) ||
      !bytesEqual(sig.isvExtProdId, isvExtProdId)
    ) {
      throw new SimError('INVALID_SIGNATURE', 'SIGSTRUCT product ID, SVN or KSS IDs differ from the measured manifest');
    }
    const configId = options.configId ?? new Uint8Array(64);
    if (!(configId instanceof Uint8Array) || configId.length !== 64) {
      throw new SimError('INVALID_PARAMETER', 'configId must be 64 bytes');
    }
    if (!manifest.kss && !allZero(configId)) throw new SimError('INVALID_PARAMETER', 'configId needs a KSS enclave (manifest.kss)');
    const identity: EnclaveIdentity = Object.freeze({
      mrEnclave,
      mrSigner: sig.mrSigner,
      flags: flags | SGX_FLAGS.INITTED,
      xfrm: DEFAULT_XFRM,
      miscSelect: manifest.miscSelect,
      isvProdId: sig.isvProdId,
      isvSvn: sig.isvSvn,
      configId: configId.slice(),
      configSvn: manifest.configSvn,
      isvExtProdId,
      isvFamilyId,
    });
    return new SimEnclave(platform, identity, manifest, sig);
  }

  /** This enclave's 512-byte TARGETINFO. */
  targetInfo(): Uint8Array {
    return encodeTargetInfo(this.identity);
  }

  /** EREPORT for the enclave described by `targetInfo`, with up to 64 bytes of REPORTDATA. */
  ereport(targetInfo: Uint8Array, reportData: Uint8Array = new Uint8Array(0)): Uint8Array {
    return ereportFor(this.platform, this.identity, targetInfo, reportData);
  }

  /** Verify a REPORT targeted at this enclave (local attestation). */
  verifyReport(report: Uint8Array): SgxReportBody {
    return verifyReportFor(this.platform, this.identity, report);
  }

  /** EGETKEY with a 512-byte KEYREQUEST; returns the 16-byte key. */
  egetkey(keyRequest: Uint8Array): Uint8Array {
    if (!(keyRequest instanceof Uint8Array)) throw new SimError('INVALID_PARAMETER', 'a KEYREQUEST is a Uint8Array');
    return egetkey(this.platform, this.identity, keyRequest);
  }

  /** Seal as `sgx_seal_data` does (default policy MRSIGNER). */
  seal(plaintext: Uint8Array, options: SealOptions = {}): Uint8Array {
    return sealData(this.platform, this.identity, plaintext, options);
  }

  /** Unseal a `sgx_sealed_data_t` blob. */
  unseal(blob: Uint8Array): Unsealed {
    return unsealData(this.platform, this.identity, blob);
  }
}
