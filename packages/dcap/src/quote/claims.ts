/**
 * JSON-friendly claims of a parsed report body: byte fields as lower-case hex, flags as booleans. Pure functions.
 *
 * SGX ATTRIBUTES.FLAGS bits (intel/linux-sgx common/inc/sgx_attributes.h SGX_FLAGS_*): 0 INITTED, 1 DEBUG,
 * 2 MODE64BIT, 4 PROVISION_KEY, 5 EINITTOKEN_KEY, 7 KSS. TDX TDATTRIBUTES bits
 * (../shared/reference/dcap-attestation.md §1.3): 0 DEBUG, 28 SEPT_VE_DISABLE, 30 PKS, 31 KL.
 */
import { toHex } from '../util/bytes.js';
import type { SgxReportBody, TdReport } from './types.js';

/** A type alias (not an interface) so that it is assignable to `Record<string, string | number | boolean>`. */
export type SgxClaims = {
  mrenclave: string;
  mrsigner: string;
  isvProdId: number;
  isvSvn: number;
  /** 16 bytes: FLAGS (u64 LE) ‖ XFRM (u64 LE). */
  attributes: string;
  init: boolean;
  debug: boolean;
  mode64bit: boolean;
  provisionKey: boolean;
  einitTokenKey: boolean;
  kss: boolean;
  /** 8 bytes, XFRM half of ATTRIBUTES. */
  xfrm: string;
  reportData: string;
  configId: string;
  configSvn: number;
  isvExtProdId: string;
  isvFamilyId: string;
  cpuSvn: string;
  miscSelect: number;
};

export type TdxClaims = {
  mrtd: string;
  rtmr0: string;
  rtmr1: string;
  rtmr2: string;
  rtmr3: string;
  mrconfigid: string;
  mrowner: string;
  mrownerconfig: string;
  /** 8 bytes, u64 LE. */
  tdAttributes: string;
  debug: boolean;
  septVeDisable: boolean;
  pks: boolean;
  kl: boolean;
  xfam: string;
  teeTcbSvn: string;
  mrseam: string;
  mrsignerseam: string;
  seamAttributes: string;
  reportData: string;
  /** TD report 1.5 only. */
  teeTcbSvn2?: string;
  /** TD report 1.5 only. */
  mrservicetd?: string;
};

/** Bit `bit` of a little-endian bit string. */
function bitLE(bytes: Uint8Array, bit: number): boolean {
  const byte = bytes[bit >> 3];
  return byte !== undefined && ((byte >> (bit & 7)) & 1) === 1;
}

export function sgxClaims(report: SgxReportBody): SgxClaims {
  const flags = report.attributes;
  return {
    mrenclave: toHex(report.mrEnclave),
    mrsigner: toHex(report.mrSigner),
    isvProdId: report.isvProdId,
    isvSvn: report.isvSvn,
    attributes: toHex(report.attributes),
    init: bitLE(flags, 0),
    debug: bitLE(flags, 1),
    mode64bit: bitLE(flags, 2),
    provisionKey: bitLE(flags, 4),
    einitTokenKey: bitLE(flags, 5),
    kss: bitLE(flags, 7),
    xfrm: toHex(report.attributes.subarray(8, 16)),
    reportData: toHex(report.reportData),
    configId: toHex(report.configId),
    configSvn: report.configSvn,
    isvExtProdId: toHex(report.isvExtProdId),
    isvFamilyId: toHex(report.isvFamilyId),
    cpuSvn: toHex(report.cpuSvn),
    miscSelect: report.miscSelect,
  };
}

export function tdxClaims(report: TdReport): TdxClaims {
  const a = report.tdAttributes;
  const claims: TdxClaims = {
    mrtd: toHex(report.mrTd),
    rtmr0: toHex(report.rtmr[0]),
    rtmr1: toHex(report.rtmr[1]),
    rtmr2: toHex(report.rtmr[2]),
    rtmr3: toHex(report.rtmr[3]),
    mrconfigid: toHex(report.mrConfigId),
    mrowner: toHex(report.mrOwner),
    mrownerconfig: toHex(report.mrOwnerConfig),
    tdAttributes: toHex(a),
    debug: bitLE(a, 0),
    septVeDisable: bitLE(a, 28),
    pks: bitLE(a, 30),
    kl: bitLE(a, 31),
    xfam: toHex(report.xfam),
    teeTcbSvn: toHex(report.teeTcbSvn),
    mrseam: toHex(report.mrSeam),
    mrsignerseam: toHex(report.mrSignerSeam),
    seamAttributes: toHex(report.seamAttributes),
    reportData: toHex(report.reportData),
  };
  if (report.teeTcbSvn2 !== undefined) claims.teeTcbSvn2 = toHex(report.teeTcbSvn2);
  if (report.mrServiceTd !== undefined) claims.mrservicetd = toHex(report.mrServiceTd);
  return claims;
}
