/**
 * `verifyEvidence`: the relying party's one call. A DCAP quote is verified by @cloister/dcap's QuoteVerifier exactly
 * as Intel's QVL does (signatures, PCK chain to a trust anchor, CRLs, TCB info, QE identity → TCB status), and the
 * result is then held against an enclave policy by @cloister/policy — the one policy engine, the same that RA-TLS and
 * `cloister verify --policy` use. SGX quotes only (a TDX quote fails the policy's `teeType` rule).
 *
 * Failures: a malformed policy → PolicyError POLICY_INVALID (`key`), before anything is verified; the quote or its
 * collateral does not verify → the DcapError of @cloister/dcap, unchanged (its code is QVL's status name); it
 * verifies but the policy refuses it → PolicyError POLICY_MISMATCH (`rule`, `expected`, `actual`); a quote that is
 * not bytes or missing collateral → EnclaveError INVALID_ARGUMENT.
 */
import {
  QuoteVerifier,
  collateralRequestForQuote,
  parseQuote,
  unwrapEvidence,
  type CollateralBundle,
  type CollateralRequest,
  type TrustAnchor,
  type VerificationResult,
} from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import {
  enclaveIdentity,
  evaluatePolicy,
  parsePolicy,
  type EnclaveIdentity,
  type EnclavePolicy,
  type Policy,
  type PolicyDecision,
} from '@cloister/policy';
import { EnclaveError } from '../errors.js';

/** Where collateral comes from when it is not given: @cloister/dcap/node's PCS, PCCS or caching providers fit. */
export interface EvidenceCollateralProvider {
  getCollateral(request: CollateralRequest): Promise<CollateralBundle>;
}

export interface VerifyEvidenceOptions {
  /** The collateral bundle (parsed, its JSON text, or a QuoteCollateralV3 object). */
  readonly collateral?: CollateralBundle | string | object;
  /** Used when `collateral` is not given: asked for the quote's FMSPC / CA. */
  readonly collateralProvider?: EvidenceCollateralProvider;
  /** Default: Intel's SGX root CA only (the simulator's root must be given explicitly, plus allowSimulated). */
  readonly trustAnchors?: readonly TrustAnchor[];
  /** Verification time. Default now. */
  readonly now?: Date | number | string;
  /** Accept collateral outside its validity (reported in result.relaxations). Default false. */
  readonly allowExpiredCollateral?: boolean;
  /** A verifier to reuse (its caches); default a new one with node:crypto. */
  readonly verifier?: QuoteVerifier;
}

export interface VerifiedEvidence {
  readonly result: VerificationResult;
  /** The enclave's identity in the one vocabulary (mrenclave, mrsigner, isvProdId, isvSvn, debug, reportData). */
  readonly identity: EnclaveIdentity;
  /** The quote's 64-byte REPORTDATA. */
  readonly reportData: Uint8Array;
  /** The policy as validated, and every rule as checked (opt-ins listed). */
  readonly policy: Policy;
  readonly decision: PolicyDecision;
}

let defaultVerifier: QuoteVerifier | undefined;

/** Verify an SGX DCAP quote (raw or in an Open Enclave report header) and hold it to `policy`. */
export async function verifyEvidence(
  quote: Uint8Array,
  policy: EnclavePolicy | Policy,
  options: VerifyEvidenceOptions = {},
): Promise<VerifiedEvidence> {
  const checked = parsePolicy(policy);
  if (!(quote instanceof Uint8Array)) throw new EnclaveError('INVALID_ARGUMENT', 'the quote must be a Uint8Array');
  const parsed = parseQuote(unwrapEvidence(quote).quote.slice());
  if (parsed.body.kind !== 'sgx') {
    // Refused before any collateral is fetched: the engine's teeType rule fails first.
    evaluatePolicy(checked, { teeType: parsed.teeType, claims: {}, simulated: true });
  }
  let collateral = options.collateral;
  if (collateral === undefined) {
    if (options.collateralProvider === undefined) {
      throw new EnclaveError('INVALID_ARGUMENT', 'verifyEvidence needs collateral or a collateralProvider');
    }
    collateral = await options.collateralProvider.getCollateral(collateralRequestForQuote(parsed));
  }
  const verifier = options.verifier ?? (defaultVerifier ??= new QuoteVerifier({ crypto: nodeCryptoProvider() }));
  const result = await verifier.verify(parsed, collateral, {
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.trustAnchors !== undefined ? { trustAnchors: options.trustAnchors } : {}),
    ...(options.allowExpiredCollateral === true ? { allowExpiredCollateral: true } : {}),
  });
  const decision = evaluatePolicy(checked, result);
  const reportData = parsed.body.kind === 'sgx' ? new Uint8Array(parsed.body.report.reportData) : new Uint8Array(64);
  return { result, identity: enclaveIdentity(result.claims), reportData, policy: checked, decision };
}
