/**
 * The types of an enclave policy, of the evidence it is held against and of the decision. Field names are
 * `@cloister/dcap`'s claim names (see ./vocabulary.ts and docs/attestation/policy.md for Intel's and MAA's names).
 */

/** What every policy may say beside its identity rule. */
export interface PolicyCommon {
  /** Accept a debug enclave (ATTRIBUTES.DEBUG: its memory is readable by the host). Default false. */
  readonly allowDebug?: boolean;
  /** TCB statuses accepted (names of @cloister/dcap's TCB_STATUSES). Default ['UpToDate']. */
  readonly acceptedTcbStatuses?: readonly string[];
  /** A status other than UpToDate is accepted only if every advisory ID it carries is listed here. Default []. */
  readonly acceptedAdvisories?: readonly string[];
  /** Accept evidence that chains to a root that is not Intel's (a simulated platform). Default false. */
  readonly allowSimulated?: boolean;
  /**
   * REPORTDATA must start with these bytes (1..64; hex in JSON, or bytes). Give all 64 bytes for an exact match; give
   * 32 to bind the first half, e.g. SHA-256 of a public key or a nonce.
   */
  readonly reportData?: string | Uint8Array;
  /** Lowest accepted ISVSVN (claim `isvSvn`). Default 0. */
  readonly minIsvSvn?: number;
}

/** Identity by measurement: one MRENCLAVE or a list of accepted ones (hex, 32 bytes each); mrsigner etc. add to it. */
export interface MrenclavePolicy extends PolicyCommon {
  readonly mrenclave: string | readonly string[];
  readonly mrsigner?: string;
  readonly isvProdId?: number;
}

/** Identity by signer: MRSIGNER plus ISVPRODID (one signer signs many products) and optionally a minimum ISVSVN. */
export interface MrsignerPolicy extends PolicyCommon {
  readonly mrenclave?: string | readonly string[];
  readonly mrsigner: string;
  readonly isvProdId: number;
}

/** An enclave policy as written (a JSON object, or built in code). Validate it with parsePolicy. */
export type EnclavePolicy = MrenclavePolicy | MrsignerPolicy;

/** The evidence rules as written: the PolicyCommon keys that do not name the enclave. */
export type EvidenceRulesInput = Pick<PolicyCommon, 'allowDebug' | 'acceptedTcbStatuses' | 'acceptedAdvisories' | 'allowSimulated'>;

/** Validated evidence rules (defaults filled in): debug, simulated, TCB status and advisories. */
export interface EvidenceRules {
  readonly allowDebug: boolean;
  readonly acceptedTcbStatuses: readonly string[];
  /** Upper-case. */
  readonly acceptedAdvisories: readonly string[];
  readonly allowSimulated: boolean;
}

/** A validated, normalized, frozen policy (hex lower-case without 0x, defaults filled in). */
export interface Policy extends EvidenceRules {
  /** Accepted MRENCLAVEs; undefined: any. */
  readonly mrenclave: readonly string[] | undefined;
  readonly mrsigner: string | undefined;
  readonly isvProdId: number | undefined;
  readonly minIsvSvn: number;
  /** Hex prefix REPORTDATA must start with; undefined: any. */
  readonly reportData: string | undefined;
}

/** The rules, in the order they are checked; a mismatch names the first that failed. */
export const POLICY_RULES = [
  'teeType',
  'simulated',
  'debug',
  'mrenclave',
  'mrsigner',
  'isvProdId',
  'isvSvn',
  'tcbStatus',
  'advisories',
  'reportData',
] as const;

export type PolicyRule = (typeof POLICY_RULES)[number];

/**
 * What a policy is held against: the result of @cloister/dcap's verification (a `VerificationResult` fits as is), or
 * the same facts from another verifier. Claims use dcap's names (`mrenclave`, `mrsigner`, `isvProdId`, `isvSvn`,
 * `debug`, `reportData`; hex lower-case).
 */
export interface PolicyEvidence {
  /** 'SGX' or 'TDX': enclave policies apply to SGX evidence only. */
  readonly teeType: string;
  readonly claims: Readonly<Record<string, string | number | boolean>>;
  /** True when the evidence chains to a root that is not Intel's. */
  readonly simulated: boolean;
  /** The TCB status. Absent is a failure unless `tcbNotEvaluated` says why. */
  readonly status?: string;
  readonly advisoryIds?: readonly string[];
  /**
   * The caller verified provenance only (no collateral, so no TCB status): the tcbStatus and advisories rules are
   * skipped, and the decision says so. Absent or false with no `status`: the tcbStatus rule fails.
   */
  readonly tcbNotEvaluated?: boolean;
}

export type RuleOutcome = 'pass' | 'fail' | 'skip';

export interface RuleCheck {
  readonly rule: PolicyRule;
  readonly outcome: RuleOutcome;
  /** What the policy accepts ('any' when it does not constrain this rule). */
  readonly expected: string;
  /** What the evidence says. */
  readonly actual: string;
}

/** A policy option that loosens a default; `used` says whether this evidence needed it. */
export interface PolicyOptIn {
  readonly option: 'allowDebug' | 'allowSimulated' | 'acceptedTcbStatuses' | 'acceptedAdvisories' | 'tcbNotEvaluated';
  readonly value: string;
  readonly used: boolean;
}

export interface PolicyDecision {
  readonly ok: boolean;
  /** Every rule, in POLICY_RULES order. */
  readonly checks: readonly RuleCheck[];
  /** The failed checks (empty when ok). */
  readonly failures: readonly RuleCheck[];
  /** Every loosening in force, whether this evidence needed it or not. */
  readonly optIns: readonly PolicyOptIn[];
}

/**
 * An SGX enclave's identity, in the one vocabulary (what every command prints, `--json` with the same keys). A type
 * alias, so that it is also usable as PolicyEvidence claims.
 */
export type EnclaveIdentity = {
  readonly mrenclave: string;
  readonly mrsigner: string;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly debug: boolean;
  readonly reportData: string;
};
