/**
 * What a relying party accepts, checked after @cloister/dcap has verified a quote (signatures, certificates, CRLs,
 * TCB status). The rules follow MarbleRun's package rules: an identity — one or more MRENCLAVEs, or MRSIGNER with
 * a product ID and a minimum security version (or both) — plus debug, TCB status and advisories, and this toolkit's
 * own rule that simulated evidence (a non-Intel root) is refused unless explicitly allowed.
 *
 * | rule                  | default        | refuses                                                                  |
 * |-----------------------|----------------|--------------------------------------------------------------------------|
 * | `mrenclave`           | —              | an MRENCLAVE not in the list                                             |
 * | `mrsigner`+`productId`| —              | another signer, another ISVPRODID, ISVSVN < `minSecurityVersion` (def 0) |
 * | `allowDebug`          | false          | a debug enclave (ATTRIBUTES.DEBUG): its memory is readable by the host   |
 * | `acceptedTcbStatuses` | ['UpToDate']   | a status not listed                                                      |
 * | `acceptedAdvisories`  | []             | a non-UpToDate status with an advisory ID not listed                     |
 * | `allowSimulated`      | false          | evidence that chains to a non-Intel root (`result.simulated`)            |
 * | `reportData`          | —              | REPORTDATA that does not start with these bytes                          |
 *
 * Every failure is EnclaveError POLICY_MISMATCH whose message starts with the rule's name (`policy.mrenclave: …`).
 */
import { toHex, type TcbStatus, type VerificationResult } from '@cloister/dcap';
import { EnclaveError } from '../errors.js';

export interface PolicyCommon {
  /** Accept a debug enclave. Default false. */
  readonly allowDebug?: boolean;
  /** TCB statuses accepted. Default ['UpToDate']. */
  readonly acceptedTcbStatuses?: readonly TcbStatus[];
  /** A status other than UpToDate is accepted only if listed above and each of its advisory IDs is listed here. */
  readonly acceptedAdvisories?: readonly string[];
  /** Accept evidence from a simulated platform (result.simulated). Default false. */
  readonly allowSimulated?: boolean;
  /** REPORTDATA must start with these bytes (at most 64). */
  readonly reportData?: Uint8Array;
}

export interface MrenclavePolicy extends PolicyCommon {
  /** Hex MRENCLAVE, or a list of accepted ones. */
  readonly mrenclave: string | readonly string[];
  readonly mrsigner?: string;
  readonly productId?: number;
  readonly minSecurityVersion?: number;
}

export interface MrsignerPolicy extends PolicyCommon {
  readonly mrenclave?: string | readonly string[];
  /** Hex MRSIGNER. */
  readonly mrsigner: string;
  /** ISVPRODID: required with mrsigner (one signer signs many products). */
  readonly productId: number;
  /** Lowest accepted ISVSVN. Default 0. */
  readonly minSecurityVersion?: number;
}

export type EnclavePolicy = MrenclavePolicy | MrsignerPolicy;

/** What the quote says about the enclave. */
export interface EnclaveIdentityClaims {
  readonly mrenclave: string;
  readonly mrsigner: string;
  readonly productId: number;
  readonly securityVersion: number;
  readonly debug: boolean;
}

export const DEFAULT_ACCEPTED_TCB_STATUSES: readonly TcbStatus[] = Object.freeze(['UpToDate']);

const HEX32 = /^(0x)?[0-9a-fA-F]{64}$/;

function badPolicy(message: string): never {
  throw new EnclaveError('INVALID_ARGUMENT', `invalid policy: ${message}`);
}

function mismatch(rule: string, message: string): never {
  throw new EnclaveError('POLICY_MISMATCH', `policy.${rule}: ${message}`);
}

function hex32(value: unknown, what: string): string {
  if (typeof value !== 'string' || !HEX32.test(value)) badPolicy(`${what} must be 32 bytes of hex`);
  return value.replace(/^0x/, '').toLowerCase();
}

function u16(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) badPolicy(`${what} must be an integer 0..65535`);
  return value;
}

interface CheckedPolicy {
  readonly mrenclaves: readonly string[] | undefined;
  readonly mrsigner: string | undefined;
  readonly productId: number | undefined;
  readonly minSecurityVersion: number;
  readonly allowDebug: boolean;
  readonly acceptedTcbStatuses: readonly string[];
  readonly acceptedAdvisories: readonly string[];
  readonly allowSimulated: boolean;
  readonly reportData: Uint8Array | undefined;
}

/** Validate a policy (EnclaveError INVALID_ARGUMENT if malformed: a policy must name mrenclave or mrsigner). */
export function checkPolicy(policy: EnclavePolicy): CheckedPolicy {
  if (typeof policy !== 'object' || policy === null) badPolicy('a policy is an object');
  const p = policy as Partial<MrenclavePolicy & MrsignerPolicy>;
  if (p.mrenclave === undefined && p.mrsigner === undefined) {
    badPolicy('name the accepted enclave: mrenclave, or mrsigner with productId');
  }
  let mrenclaves: string[] | undefined;
  if (p.mrenclave !== undefined) {
    const list = typeof p.mrenclave === 'string' ? [p.mrenclave] : p.mrenclave;
    if (!Array.isArray(list) || list.length === 0) badPolicy('mrenclave must be a hex string or a non-empty list of them');
    mrenclaves = list.map((m, i) => hex32(m, `mrenclave[${i}]`));
  }
  const mrsigner = p.mrsigner === undefined ? undefined : hex32(p.mrsigner, 'mrsigner');
  if (mrsigner !== undefined && p.productId === undefined) badPolicy('mrsigner needs productId (a signer signs many products)');
  const productId = p.productId === undefined ? undefined : u16(p.productId, 'productId');
  const minSecurityVersion = p.minSecurityVersion === undefined ? 0 : u16(p.minSecurityVersion, 'minSecurityVersion');
  const statuses = p.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_TCB_STATUSES;
  if (!Array.isArray(statuses) || statuses.some((s) => typeof s !== 'string')) badPolicy('acceptedTcbStatuses must be a list of TCB statuses');
  const advisories = p.acceptedAdvisories ?? [];
  if (!Array.isArray(advisories) || advisories.some((s) => typeof s !== 'string')) badPolicy('acceptedAdvisories must be a list of advisory IDs');
  if (p.reportData !== undefined && (!(p.reportData instanceof Uint8Array) || p.reportData.length > 64)) {
    badPolicy('reportData must be a Uint8Array of at most 64 bytes');
  }
  return {
    mrenclaves,
    mrsigner,
    productId,
    minSecurityVersion,
    allowDebug: p.allowDebug === true,
    acceptedTcbStatuses: statuses,
    acceptedAdvisories: advisories.map((a) => a.toUpperCase()),
    allowSimulated: p.allowSimulated === true,
    reportData: p.reportData,
  };
}

/**
 * Apply `policy` to verified evidence. Throws EnclaveError POLICY_MISMATCH naming the first failed rule, in this
 * order: simulated, debug, mrenclave, mrsigner, productId, minSecurityVersion, acceptedTcbStatuses,
 * acceptedAdvisories, reportData.
 */
export function enforcePolicy(
  policy: EnclavePolicy,
  evidence: { readonly result: VerificationResult; readonly identity: EnclaveIdentityClaims; readonly reportData: Uint8Array },
): void {
  const p = checkPolicy(policy);
  const { result, identity } = evidence;
  if (result.simulated && !p.allowSimulated) {
    mismatch(
      'allowSimulated',
      `the quote chains to "${result.trustAnchor.name}", not Intel's root: simulated evidence proves nothing about SGX hardware (set allowSimulated: true to accept it)`,
    );
  }
  if (identity.debug && !p.allowDebug) {
    mismatch('allowDebug', 'the enclave is a debug enclave (its memory is readable by the host); set allowDebug: true to accept it');
  }
  if (p.mrenclaves !== undefined && !p.mrenclaves.includes(identity.mrenclave)) {
    mismatch('mrenclave', `MRENCLAVE ${identity.mrenclave} is not ${p.mrenclaves.length === 1 ? p.mrenclaves[0] : `one of ${p.mrenclaves.join(', ')}`}`);
  }
  if (p.mrsigner !== undefined && identity.mrsigner !== p.mrsigner) {
    mismatch('mrsigner', `MRSIGNER ${identity.mrsigner} is not ${p.mrsigner}`);
  }
  if (p.productId !== undefined && identity.productId !== p.productId) {
    mismatch('productId', `ISVPRODID ${identity.productId} is not ${p.productId}`);
  }
  if (identity.securityVersion < p.minSecurityVersion) {
    mismatch('minSecurityVersion', `ISVSVN ${identity.securityVersion} is below ${p.minSecurityVersion}`);
  }
  if (!p.acceptedTcbStatuses.includes(result.status)) {
    mismatch(
      'acceptedTcbStatuses',
      `TCB status ${result.status}${result.advisoryIds.length > 0 ? ` (advisories ${result.advisoryIds.join(', ')})` : ''} is not one of ${p.acceptedTcbStatuses.join(', ') || '(none)'}`,
    );
  }
  if (result.status !== 'UpToDate') {
    const refused = result.advisoryIds.filter((a) => !p.acceptedAdvisories.includes(a.toUpperCase()));
    if (refused.length > 0) {
      mismatch('acceptedAdvisories', `TCB status ${result.status} comes with advisories not accepted: ${refused.join(', ')}`);
    }
  }
  if (p.reportData !== undefined) {
    const prefix = evidence.reportData.subarray(0, p.reportData.length);
    if (prefix.length !== p.reportData.length || toHex(prefix) !== toHex(p.reportData)) {
      mismatch('reportData', `REPORTDATA starts with ${toHex(prefix)}, expected ${toHex(p.reportData)}`);
    }
  }
}
