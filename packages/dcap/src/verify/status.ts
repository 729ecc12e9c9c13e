/**
 * TCB statuses and their convergence, as Intel QVL computes them
 * (intel/SGX-TDX-DCAP-QuoteVerificationLibrary:Src/AttestationLibrary/src/Verifiers/TcbStatus.h,
 * Checks/TcbLevelCheck.cpp convergeTcbStatusWithQeTcbStatus, Checks/TdxModuleCheck.cpp
 * convergeTcbStatusWithTdxModuleStatus).
 */
import { DcapError } from '../errors.js';

/** The statuses a TCB level of TCB info may carry (TcbStatus.h VALID_TCB_INFO_STATUSES). */
export const TCB_LEVEL_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;

/** Every final status: the TCB level statuses and, for TD 1.5 reports, the TD relaunch statuses (TDRelaunchCheck.cpp). */
export const TCB_STATUSES = [...TCB_LEVEL_STATUSES, 'TDRelaunchAdvised', 'TDRelaunchAdvisedConfigurationNeeded'] as const;

export type TcbStatus = (typeof TCB_STATUSES)[number];

const VALID_TCB_INFO_STATUSES: ReadonlySet<string> = new Set(TCB_LEVEL_STATUSES);

/** The statuses of TDX module and QE identity levels (TcbStatus.h VALID_MODULE_TCB_STATUSES). */
export const ISV_LEVEL_STATUSES = ['UpToDate', 'OutOfDate', 'Revoked'] as const;

const VALID_ISV_STATUSES: ReadonlySet<string> = new Set(ISV_LEVEL_STATUSES);

/** TcbStatus.h stringToTcbStatus: an unknown string is STATUS_TCB_UNRECOGNIZED_STATUS. */
export function tcbLevelStatus(value: string, what: string): TcbStatus {
  if (!VALID_TCB_INFO_STATUSES.has(value)) {
    throw new DcapError('TCB_UNRECOGNIZED_STATUS', `${what} has the unrecognized TCB status "${value}"`);
  }
  return value as TcbStatus;
}

export type IsvStatus = 'UpToDate' | 'OutOfDate' | 'Revoked';

export function isvLevelStatus(value: string, what: string): IsvStatus {
  if (!VALID_ISV_STATUSES.has(value)) {
    throw new DcapError('TCB_UNRECOGNIZED_STATUS', `${what} has the unrecognized TCB status "${value}"`);
  }
  return value as IsvStatus;
}

/**
 * convergeTcbStatusWithTdxModuleStatus and the first half of convergeTcbStatusWithQeTcbStatus (same rule):
 * an OutOfDate component turns UpToDate/SWHardeningNeeded into OutOfDate and the configuration statuses into
 * OutOfDateConfigurationNeeded; a Revoked component revokes.
 */
export function convergeWithComponent(status: TcbStatus, component: IsvStatus): TcbStatus {
  if (component === 'OutOfDate') {
    if (status === 'UpToDate' || status === 'SWHardeningNeeded') return 'OutOfDate';
    if (status === 'ConfigurationNeeded' || status === 'ConfigurationAndSWHardeningNeeded') {
      return 'OutOfDateConfigurationNeeded';
    }
  }
  if (component === 'Revoked') return 'Revoked';
  return status;
}

/** TDRelaunchCheck.cpp isConfigurationNeeded. */
export function isConfigurationNeeded(status: TcbStatus): boolean {
  return (
    status === 'ConfigurationNeeded' ||
    status === 'OutOfDateConfigurationNeeded' ||
    status === 'ConfigurationAndSWHardeningNeeded' ||
    status === 'TDRelaunchAdvisedConfigurationNeeded'
  );
}
