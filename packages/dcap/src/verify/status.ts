/**
 * TCB statuses and their convergence, as Intel QVL computes them
 * (intel/SGX-TDX-DCAP-QuoteVerificationLibrary:Src/AttestationLibrary/src/Verifiers/TcbStatus.h,
 * Checks/TcbLevelCheck.cpp convergeTcbStatusWithQeTcbStatus, Checks/TdxModuleCheck.cpp
 * convergeTcbStatusWithTdxModuleStatus).
 */
import { DcapError } from '../errors.js';

export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
  'TDRelaunchAdvised',
  'TDRelaunchAdvisedConfigurationNeeded',
] as const;

export type TcbStatus = (typeof TCB_STATUSES)[number];

/** TcbStatus.h VALID_TCB_INFO_STATUSES. */
const VALID_TCB_INFO_STATUSES: ReadonlySet<string> = new Set([
  'UpToDate',
  'OutOfDate',
  'ConfigurationNeeded',
  'Revoked',
  'OutOfDateConfigurationNeeded',
  'SWHardeningNeeded',
  'ConfigurationAndSWHardeningNeeded',
]);

/** TcbStatus.h VALID_MODULE_TCB_STATUSES (TDX module and QE identity levels). */
const VALID_ISV_STATUSES: ReadonlySet<string> = new Set(['UpToDate', 'OutOfDate', 'Revoked']);

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
