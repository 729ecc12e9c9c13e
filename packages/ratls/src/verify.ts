/**
 * Verifying an RA-TLS certificate: the certificate (self-signature, validity), the strongest evidence it carries
 * (TCG DICE first; a present but failing DICE extension is never bypassed through a legacy one), the key binding,
 * the quote (with collateral, or provenance only), then the policy.
 */
import {
  DcapError,
  QuoteVerifier,
  sgxClaims,
  toHex,
  type Certificate,
  type CollateralBundle,
  type SgxClaims,
  type TrustAnchor,
  type VerificationResult,
} from '@cloister/dcap';
import { checkCertificate, loadCertificate, toTime } from './certificate.js';
import { RatlsError } from './errors.js';
import { checkEvidenceBinding, extractEvidence, parseSgxQuote, sha256, strongestEvidence, type EvidenceFormat } from './formats.js';

export interface AttestedPolicy {
  /** Accepted MRENCLAVE value(s), hex (case-insensitive). */
  readonly mrenclave?: string | readonly string[];
  readonly mrsigner?: string;
  readonly productId?: number;
  /** ISVSVN must be at least this. */
  readonly minSecurityVersion?: number;
  /** Accept debug enclaves (their memory is readable by the host). Default false. */
  readonly allowDebug?: boolean;
  /** Accept evidence that chains to a trust root that is not Intel's (e.g. @cloister/sgx-sim). Default false. */
  readonly allowSimulated?: boolean;
  /** TCB statuses accepted when collateral is used. Default ['UpToDate']. */
  readonly acceptedTcbStatuses?: readonly string[];
}

export type CollateralInput = CollateralBundle | string | object;

export interface VerifyAttestedOptions {
  readonly collateral?: CollateralInput;
  /** Called with the raw quote when no `collateral` is given (e.g. a PCCS client). */
  readonly collateralProvider?: (quote: Uint8Array) => Promise<CollateralInput>;
  /** Verification time (certificate validity and collateral). Default: now. */
  readonly now?: Date | number | string;
  /** Trust roots of the PCK chain. Default: Intel SGX Root CA. */
  readonly trustRoots?: readonly TrustAnchor[];
  readonly allowExpiredCollateral?: boolean;
  /** Verify the quote's provenance only (PCK chain, QE report, quote signature), without collateral: no TCB status. */
  readonly signaturesOnly?: boolean;
  readonly verifier?: QuoteVerifier;
}

export interface AttestedVerification {
  readonly format: EvidenceFormat;
  readonly oid: string;
  readonly bindingDescription: string;
  /** The SGX claims of the verified quote. */
  readonly claims: SgxClaims;
  /** Present when the quote was verified with collateral. */
  readonly result?: VerificationResult;
  readonly trustAnchor: { readonly name: string; readonly intel: boolean };
  readonly certificate: { readonly subject: string; readonly spkiSha256: string };
}

let defaultVerifier: QuoteVerifier | undefined;

function policyMismatch(rule: string, message: string): never {
  throw new RatlsError('POLICY_MISMATCH', `policy ${rule}: ${message}`);
}

function untrusted(e: unknown, what: string): never {
  if (DcapError.is(e)) {
    throw new RatlsError('UNTRUSTED_EVIDENCE', `${what}: ${e.code}: ${e.message}`, { cause: e, dcapCode: e.code });
  }
  throw e;
}

const normHex = (s: string): string => s.trim().toLowerCase().replace(/^0x/, '');

export function checkPolicy(
  claims: SgxClaims,
  policy: AttestedPolicy,
  context: { readonly simulated: boolean; readonly tcbStatus: string | undefined },
): void {
  if (context.simulated && policy.allowSimulated !== true) {
    policyMismatch('allowSimulated', 'the quote chains to a trust root that is not Intel\'s (simulated evidence)');
  }
  if (context.tcbStatus !== undefined) {
    const accepted = policy.acceptedTcbStatuses ?? ['UpToDate'];
    if (!accepted.includes(context.tcbStatus)) {
      policyMismatch('acceptedTcbStatuses', `TCB status ${context.tcbStatus} is not one of ${accepted.join(', ')}`);
    }
  }
  if (claims.debug && policy.allowDebug !== true) policyMismatch('allowDebug', 'the enclave is a debug enclave');
  if (policy.mrenclave !== undefined) {
    const list = (typeof policy.mrenclave === 'string' ? [policy.mrenclave] : policy.mrenclave).map(normHex);
    if (!list.includes(claims.mrenclave)) policyMismatch('mrenclave', `MRENCLAVE ${claims.mrenclave} is not accepted`);
  }
  if (policy.mrsigner !== undefined && normHex(policy.mrsigner) !== claims.mrsigner) {
    policyMismatch('mrsigner', `MRSIGNER ${claims.mrsigner} is not ${normHex(policy.mrsigner)}`);
  }
  if (policy.productId !== undefined && policy.productId !== claims.isvProdId) {
    policyMismatch('productId', `ISVPRODID ${claims.isvProdId} is not ${policy.productId}`);
  }
  if (policy.minSecurityVersion !== undefined && claims.isvSvn < policy.minSecurityVersion) {
    policyMismatch('minSecurityVersion', `ISVSVN ${claims.isvSvn} is below ${policy.minSecurityVersion}`);
  }
}

/**
 * Verifies an RA-TLS certificate against `policy`. Rejects with RatlsError: INVALID_CERTIFICATE, NO_EVIDENCE,
 * INVALID_EVIDENCE, BINDING_MISMATCH, UNTRUSTED_EVIDENCE (the DcapError as cause), POLICY_MISMATCH (naming the rule).
 */
export async function verifyAttestedCertificate(
  input: string | Uint8Array | Certificate,
  policy: AttestedPolicy,
  options: VerifyAttestedOptions = {},
): Promise<AttestedVerification> {
  const cert = loadCertificate(input);
  const now = toTime(options.now);
  checkCertificate(cert, now);

  const evidence = strongestEvidence(extractEvidence(cert));
  if (evidence === undefined) throw new RatlsError('NO_EVIDENCE', 'the certificate carries no attestation evidence extension');

  const binding = checkEvidenceBinding(evidence);
  if (!binding.ok) throw new RatlsError('BINDING_MISMATCH', `${evidence.format} evidence does not bind the certificate key: ${binding.reason}`);

  const quote = parseSgxQuote(evidence.quote, `${evidence.format} quote`);
  const verifier =
    options.verifier ??
    (options.trustRoots !== undefined
      ? new QuoteVerifier({ trustAnchors: options.trustRoots })
      : (defaultVerifier ??= new QuoteVerifier()));
  const anchors = options.trustRoots !== undefined ? { trustAnchors: options.trustRoots } : {};

  let result: VerificationResult | undefined;
  let trustAnchor: { name: string; intel: boolean };
  if (options.signaturesOnly === true) {
    try {
      const r = await verifier.verifySignatures(quote, anchors);
      trustAnchor = { name: r.trustAnchor.name, intel: r.trustAnchor.intel };
    } catch (e) {
      untrusted(e, 'quote provenance does not verify');
    }
  } else {
    let collateral = options.collateral;
    if (collateral === undefined && options.collateralProvider !== undefined) {
      try {
        collateral = await options.collateralProvider(evidence.quote);
      } catch (e) {
        untrusted(e, 'collateral unavailable');
      }
    }
    if (collateral === undefined) {
      throw new RatlsError('UNTRUSTED_EVIDENCE', 'MISSING_PARAMETERS: no collateral (pass collateral, collateralProvider, or signaturesOnly)', {
        dcapCode: 'MISSING_PARAMETERS',
      });
    }
    try {
      result = await verifier.verify(quote, collateral, {
        now,
        ...anchors,
        ...(options.allowExpiredCollateral === true ? { allowExpiredCollateral: true } : {}),
      });
    } catch (e) {
      untrusted(e, 'quote verification failed');
    }
    trustAnchor = { name: result.trustAnchor.name, intel: result.trustAnchor.intel };
  }

  const claims = sgxClaims(quote.body.report);
  checkPolicy(claims, policy, { simulated: !trustAnchor.intel, tcbStatus: result?.status });

  return {
    format: evidence.format,
    oid: evidence.oid,
    bindingDescription: evidence.bindingDescription,
    claims,
    ...(result !== undefined ? { result } : {}),
    trustAnchor,
    certificate: { subject: cert.subject.text, spkiSha256: toHex(sha256(cert.spki)) },
  };
}
