/**
 * `verifyEvidence`: the relying party's one call. A DCAP quote is verified by @cloister/dcap's QuoteVerifier exactly
 * as Intel's QVL does (signatures, PCK chain to a trust anchor, CRLs, TCB info, QE identity → TCB status), and the
 * result is then held against an {@link EnclavePolicy}. SGX quotes only (TDX quotes are refused).
 *
 * Failures: the quote or its collateral does not verify → the DcapError of @cloister/dcap, unchanged (its code is
 * QVL's status name); it verifies but the policy refuses it → EnclaveError POLICY_MISMATCH naming the rule;
 * a malformed policy or missing collateral → EnclaveError INVALID_ARGUMENT.
 */
import {
  QuoteVerifier,
  collateralRequestForQuote,
  parseQuote,
  sgxClaims,
  unwrapEvidence,
  type CollateralBundle,
  type CollateralRequest,
  type TrustAnchor,
  type VerificationResult,
} from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import { EnclaveError } from '../errors.js';
import { checkPolicy, enforcePolicy, type EnclaveIdentityClaims, type EnclavePolicy } from './policy.js';

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
  readonly identity: EnclaveIdentityClaims;
  /** The quote's 64-byte REPORTDATA. */
  readonly reportData: Uint8Array;
}

let defaultVerifier: QuoteVerifier | undefined;

/** Verify an SGX DCAP quote (raw or in an Open Enclave report header) and enforce `policy` on it. */
export async function verifyEvidence(
  quote: Uint8Array,
  policy: EnclavePolicy,
  options: VerifyEvidenceOptions = {},
): Promise<VerifiedEvidence> {
  checkPolicy(policy);
  if (!(quote instanceof Uint8Array)) throw new EnclaveError('INVALID_ARGUMENT', 'the quote must be a Uint8Array');
  const parsed = parseQuote(unwrapEvidence(quote).quote.slice());
  if (parsed.body.kind !== 'sgx') {
    throw new EnclaveError('POLICY_MISMATCH', `policy.tee: this is a ${parsed.teeType} quote; enclave policies apply to SGX quotes only`);
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
  const claims = sgxClaims(parsed.body.report);
  const identity: EnclaveIdentityClaims = {
    mrenclave: claims.mrenclave,
    mrsigner: claims.mrsigner,
    productId: claims.isvProdId,
    securityVersion: claims.isvSvn,
    debug: claims.debug,
  };
  const reportData = new Uint8Array(parsed.body.report.reportData);
  enforcePolicy(policy, { result, identity, reportData });
  return { result, identity, reportData };
}
