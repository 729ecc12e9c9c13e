/** What a successful verification returns (like QvE's result plus supplemental data). */
import type { TeeType } from '../quote/types.js';
import type { SgxType } from '../x509/types.js';
import type { TcbStatus } from './status.js';

export interface PlatformInfo {
  readonly fmspc: string;
  readonly pceId: string;
  readonly pceSvn: number;
  readonly cpuSvn: string;
  readonly sgxTcbComponents: readonly number[];
  readonly sgxType: SgxType;
  readonly ppid: string;
  /** Which PCK CA issued the PCK certificate. */
  readonly ca: 'processor' | 'platform';
  readonly platformInstanceId?: string;
  readonly dynamicPlatform?: boolean;
  readonly cachedKeys?: boolean;
  readonly smtEnabled?: boolean;
}

export interface CollateralFreshness {
  /** ISO-8601: the earliest and latest issue dates (certificate notBefore, CRL thisUpdate, issueDate). */
  readonly earliestIssueDate: string;
  readonly latestIssueDate: string;
  /** ISO-8601: the earliest expiration (certificate notAfter, CRL nextUpdate, nextUpdate). */
  readonly earliestExpirationDate: string;
  readonly tcbInfoIssueDate: string;
  readonly tcbInfoNextUpdate: string;
  readonly qeIdentityIssueDate: string;
  readonly qeIdentityNextUpdate: string;
  readonly tcbEvaluationDataNumber: number;
  /** tcbDate of the matched TCB level (QvE tcb_level_date_tag). */
  readonly tcbLevelDate: string;
  readonly rootCaCrlNumber: string | undefined;
  readonly pckCrlNumber: string | undefined;
  /** True when some collateral was outside its validity at `verifiedAt` (only with allowExpiredCollateral). */
  readonly expired: boolean;
  /** The expiry findings that were accepted because of allowExpiredCollateral, as `CODE: message`. */
  readonly expiredItems: readonly string[];
}

export interface VerificationResult {
  readonly status: TcbStatus;
  readonly advisoryIds: readonly string[];
  readonly teeType: TeeType;
  readonly quoteVersion: number;
  readonly claims: Readonly<Record<string, string | number | boolean>>;
  readonly platform: PlatformInfo;
  readonly qeIdentity: { readonly status: string; readonly isvSvn: number; readonly tcbDate: string | undefined };
  readonly tdxModule?: { readonly id: string | undefined; readonly status: string; readonly isvSvn: number };
  readonly collateral: CollateralFreshness;
  readonly trustAnchor: { readonly name: string; readonly intel: boolean };
  /**
   * True when the chain ends at a trust anchor that is not Intel's root key — a simulated platform
   * (`@cloister/sgx-sim`) or a test hierarchy. Such evidence proves nothing about real SGX hardware.
   */
  readonly simulated: boolean;
  /** ISO-8601 time the verification was made for. */
  readonly verifiedAt: string;
  /** Every non-default option that loosened a check, so that a relying party sees it. */
  readonly relaxations: readonly string[];
}
