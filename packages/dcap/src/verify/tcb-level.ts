/**
 * Step 4.1.2.4.17: TCB level matching and status convergence, following
 * intel/SGX-TDX-DCAP-QuoteVerificationLibrary:Src/AttestationLibrary/src/Verifiers/Checks/TcbLevelCheck.cpp,
 * TdxModuleCheck.cpp and TDRelaunchCheck.cpp (dcap-attestation.md §2.7).
 */
import { DcapError } from '../errors.js';
import type { IsvTcbLevel, TcbInfo, TcbLevel, TdxModuleIdentity } from '../collateral/types.js';
import type { PckExtension } from '../x509/types.js';
import { convergeWithComponent, isConfigurationNeeded, isvLevelStatus, tcbLevelStatus } from './status.js';
import type { IsvStatus, TcbStatus } from './status.js';

export interface QeIdentityOutcome {
  /** 'NotSupported': the QE's ISVSVN is below every level (EnclaveReportVerifier ISVSVN_NOT_SUPPORTED). */
  readonly status: IsvStatus | 'NotSupported';
  readonly level: IsvTcbLevel | undefined;
}

/** convergeTcbStatusWithQeTcbStatus. */
function convergeWithQe(status: TcbStatus, qe: QeIdentityOutcome): TcbStatus {
  if (qe.status === 'NotSupported') {
    throw new DcapError('TCB_NOT_SUPPORTED', 'the Quoting Enclave ISVSVN is below every TCB level of the QE identity');
  }
  return convergeWithComponent(status, qe.status);
}

export interface TdxModuleOutcome {
  readonly identityId: string | undefined;
  readonly status: IsvStatus;
  readonly level: IsvTcbLevel | undefined;
}

export interface TcbOutcome {
  readonly status: TcbStatus;
  /** The SGX-matched level (SGX) or the level matched by both SGX and TDX components (TDX). */
  readonly level: TcbLevel;
  readonly sgxLevel: TcbLevel;
  readonly tdxModule: TdxModuleOutcome | undefined;
  /** Advisory IDs of the matched TCB level, QE identity level and TDX module level, deduplicated, sorted. */
  readonly advisoryIds: readonly string[];
}

/**
 * Intel serves TCB levels highest first, and QVL holds them in a `std::set<TcbLevel, std::greater>` ordered by
 * (SGX components, PCESVN, TDX components) descending (dcap-attestation.md §2.7). Sort the same way so that a
 * collateral source serving another order still yields Intel's answer.
 */
export function canonicalTcbLevels(levels: readonly TcbLevel[]): TcbLevel[] {
  const cmp = (a: readonly number[], b: readonly number[]): number => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = (a[i] ?? 0) - (b[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  };
  return [...levels].sort(
    (x, y) =>
      cmp(y.sgxTcbComponents, x.sgxTcbComponents) ||
      y.pceSvn - x.pceSvn ||
      cmp(y.tdxTcbComponents ?? [], x.tdxTcbComponents ?? []),
  );
}

/** isCpuSvnHigherOrEqual: every SGX TCB component of the PCK ≥ the level's. */
function sgxComponentsHigherOrEqual(pck: PckExtension, level: TcbLevel): boolean {
  for (let i = 0; i < 16; i++) {
    if ((pck.tcb.sgxTcbComponents[i] ?? 0) < (level.sgxTcbComponents[i] ?? 0)) return false;
  }
  return true;
}

/** isTdxTcbHigherOrEqual: TEE_TCB_SVN[i] ≥ tdxtcbcomponents[i], skipping 0 and 1 when the module version > 0. */
function tdxComponentsHigherOrEqual(teeTcbSvn: Uint8Array, level: TcbLevel): boolean {
  const comps = level.tdxTcbComponents;
  if (comps === undefined) return false;
  for (let i = teeTcbSvn[1]! > 0 ? 2 : 0; i < 16; i++) {
    if (teeTcbSvn[i]! < (comps[i] ?? 0)) return false;
  }
  return true;
}

/** findTdxModuleIdentity: `TDX_%02X` of the module major version, case-insensitive. */
export function findTdxModuleIdentity(tcbInfo: TcbInfo, version: number): TdxModuleIdentity | undefined {
  const want = `TDX_${version.toString(16).padStart(2, '0').toUpperCase()}`;
  return tcbInfo.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === want);
}

/** checkTdxModuleTcbStatus (4.1.2.4.17.4.1). */
function tdxModuleStatus(tcbInfo: TcbInfo, quoteVersion: number, teeTcbSvn: Uint8Array): TdxModuleOutcome {
  const version = teeTcbSvn[1]!;
  const isvSvn = teeTcbSvn[0]!;
  if (quoteVersion > 3 && version === 0) return { identityId: undefined, status: 'UpToDate', level: undefined };
  const identity = findTdxModuleIdentity(tcbInfo, version);
  if (identity === undefined) {
    throw new DcapError('TDX_MODULE_MISMATCH', `TCB info has no TDX module identity for module version ${version}`);
  }
  const level = identity.tcbLevels.find((l) => isvSvn >= l.isvSvn);
  if (level === undefined) {
    throw new DcapError(
      'TCB_NOT_SUPPORTED',
      `TDX module ${identity.id} ISVSVN ${isvSvn} is below every TCB level of its identity`,
    );
  }
  return { identityId: identity.id, status: isvLevelStatus(level.tcbStatus, `TDX module ${identity.id}`), level };
}

/** checkForRelaunch (4.1.2.4.17.4.3), TD report 1.5 only. */
function checkForRelaunch(
  teeTcbSvn2: Uint8Array,
  levels: readonly TcbLevel[],
  tcbInfo: TcbInfo,
  sgxStatus: TcbStatus,
  tdxStatus: TcbStatus,
  moduleStatus: IsvStatus,
  qe: QeIdentityOutcome | undefined,
): TcbStatus {
  if (qe !== undefined && qe.status !== 'UpToDate') return tdxStatus;
  if (!['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded'].includes(sgxStatus)) {
    return tdxStatus;
  }
  if (tdxStatus !== 'OutOfDate' && tdxStatus !== 'OutOfDateConfigurationNeeded') return tdxStatus;
  if (moduleStatus !== 'OutOfDate') return tdxStatus;
  const latest = levels[0];
  if (latest === undefined) throw new DcapError('TCB_NOT_SUPPORTED', 'TCB info has no TCB level');
  const latestComp = (i: number): number => latest.tdxTcbComponents?.[i] ?? 0;
  let relaunch = false;
  if (teeTcbSvn2[1] === 0) {
    relaunch = teeTcbSvn2[0]! >= latestComp(0) && teeTcbSvn2[2]! >= latestComp(2);
  } else {
    const identity2 = findTdxModuleIdentity(tcbInfo, teeTcbSvn2[1]!);
    if (identity2 === undefined) {
      throw new DcapError('TDX_MODULE_MISMATCH', `TCB info has no TDX module identity for TEE_TCB_SVN_2 module ${teeTcbSvn2[1]}`);
    }
    const latestModule = identity2.tcbLevels[0];
    if (latestModule === undefined) throw new DcapError('TCB_NOT_SUPPORTED', `TDX module ${identity2.id} has no TCB level`);
    relaunch = teeTcbSvn2[0]! >= latestModule.isvSvn && teeTcbSvn2[2]! >= latestComp(2);
  }
  if (!relaunch) return tdxStatus;
  return isConfigurationNeeded(sgxStatus) || isConfigurationNeeded(tdxStatus)
    ? 'TDRelaunchAdvisedConfigurationNeeded'
    : 'TDRelaunchAdvised';
}

function uniqueSorted(...lists: (readonly string[] | undefined)[]): string[] {
  const s = new Set<string>();
  for (const l of lists) for (const id of l ?? []) s.add(id);
  return [...s].sort();
}

/**
 * checkTcbLevel: match the PCK's SGX TCB (and for TDX the TD report's TEE_TCB_SVN) against the TCB levels, then
 * converge with the TDX module status, TD relaunch and the QE identity status.
 */
export function checkTcbLevel(input: {
  readonly tcbInfo: TcbInfo;
  readonly pck: PckExtension;
  readonly quoteVersion: number;
  /** TDX quotes checked against a TDX TCB info: the TD report's TEE_TCB_SVN (and TEE_TCB_SVN_2 for TD 1.5). */
  readonly tdx: { readonly teeTcbSvn: Uint8Array; readonly teeTcbSvn2: Uint8Array | undefined } | undefined;
  readonly qe: QeIdentityOutcome | undefined;
}): TcbOutcome {
  const { tcbInfo, pck, tdx, qe } = input;
  const levels = canonicalTcbLevels(tcbInfo.tcbLevels);
  let sgxLevel: TcbLevel | undefined;
  let tdxLevel: TcbLevel | undefined;
  // 4.1.2.4.17.1–3
  for (const level of levels) {
    if (!sgxComponentsHigherOrEqual(pck, level) || pck.tcb.pceSvn < level.pceSvn) continue;
    if (tdx === undefined) {
      sgxLevel = level;
      break;
    }
    sgxLevel ??= level;
    if (tdxComponentsHigherOrEqual(tdx.teeTcbSvn, level)) {
      tdxLevel = level;
      break;
    }
  }
  if (sgxLevel === undefined) {
    throw new DcapError(
      'TCB_NOT_SUPPORTED',
      `no TCB level of FMSPC ${tcbInfo.fmspc} matches the PCK certificate's TCB (SGX components ` +
        `${pck.tcb.sgxTcbComponents.join(',')}, PCESVN ${pck.tcb.pceSvn})`,
    );
  }
  const sgxStatus = tcbLevelStatus(sgxLevel.tcbStatus, `TCB level ${sgxLevel.tcbDate}`);
  const qeAdvisories = qe?.level?.advisoryIds;

  if (tdx === undefined) {
    const status = qe === undefined ? sgxStatus : convergeWithQe(sgxStatus, qe);
    return {
      status,
      level: sgxLevel,
      sgxLevel,
      tdxModule: undefined,
      advisoryIds: uniqueSorted(sgxLevel.advisoryIds, qeAdvisories),
    };
  }

  if (tdxLevel === undefined) {
    throw new DcapError(
      'TCB_NOT_SUPPORTED',
      `no TCB level of FMSPC ${tcbInfo.fmspc} matches both the PCK's SGX TCB and the TD report's TEE_TCB_SVN`,
    );
  }
  // 4.1.2.4.17.4.1
  const module = tdxModuleStatus(tcbInfo, input.quoteVersion, tdx.teeTcbSvn);
  let status = convergeWithComponent(tcbLevelStatus(tdxLevel.tcbStatus, `TCB level ${tdxLevel.tcbDate}`), module.status);
  if (status !== 'Revoked') {
    // 4.1.2.4.17.4.3
    if (tdx.teeTcbSvn2 !== undefined) {
      status = checkForRelaunch(tdx.teeTcbSvn2, levels, tcbInfo, sgxStatus, status, module.status, qe);
    }
    if (qe !== undefined) status = convergeWithQe(status, qe);
  }
  return {
    status,
    level: tdxLevel,
    sgxLevel,
    tdxModule: module,
    advisoryIds: uniqueSorted(tdxLevel.advisoryIds, qeAdvisories, module.level?.advisoryIds),
  };
}
