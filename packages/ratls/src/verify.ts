/**
 * Verifying an RA-TLS certificate: the certificate (self-signature, validity), the strongest evidence it carries
 * (TCG DICE first; a present but failing DICE extension is never bypassed through a legacy one), the key binding,
 * the quote (with collateral, or provenance only), then the policy — held by @cloister/policy, the one engine that
 * `verifyEvidence` and `cloister verify --policy` use too, so a policy means the same everywhere.
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
import {
  enclaveIdentity,
  evaluatePolicy,
  parsePolicy,
  type EnclaveIdentity,
  type EnclavePolicy,
  type Policy,
  type PolicyDecision,
  type PolicyEvidence,
} from '@cloister/policy';
import { checkCertificate, loadCertificate, toTime } from './certificate.js';
import { RatlsError } from './errors.js';
import { checkEvidenceBinding, extractEvidence, parseSgxQuote, sha256, strongestEvidence, type EvidenceFormat } from './formats.js';

/** An RA-TLS peer's policy is an enclave policy of @cloister/policy (the one engine; docs/attestation/policy.md). */
export type AttestedPolicy = EnclavePolicy | Policy;

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

/** A verified RA-TLS certificate before any policy: genuine evidence bound to the key, identity not yet checked. */
export interface AttestedEvidence {
  readonly format: EvidenceFormat;
  readonly oid: string;
  readonly bindingDescription: string;
  /** The SGX claims of the verified quote. */
  readonly claims: SgxClaims;
  /** The enclave's identity in the one vocabulary (mrenclave, mrsigner, isvProdId, isvSvn, debug, reportData). */
  readonly identity: EnclaveIdentity;
  /** Present when the quote was verified with collateral. */
  readonly result?: VerificationResult;
  readonly trustAnchor: { readonly name: string; readonly intel: boolean };
  readonly certificate: { readonly subject: string; readonly spkiSha256: string };
  /** The facts a policy is held against (@cloister/policy PolicyEvidence): the dcap result, or provenance only. */
  readonly policyEvidence: PolicyEvidence;
}

/** A verified RA-TLS certificate whose enclave the policy accepts. */
export interface AttestedVerification extends AttestedEvidence {
  /** Every policy rule as checked, with the opt-ins in force (tcbNotEvaluated for signaturesOnly). */
  readonly decision: PolicyDecision;

}

let defaultVerifier: QuoteVerifier | undefined;

function untrusted(e: unknown, what: string): never {
  if (DcapError.is(e)) {
    throw new RatlsError('UNTRUSTED_EVIDENCE', `${what}: ${e.code}: ${e.message}`, { cause: e, dcapCode: e.code });
  }
  throw e;
}

/**
 * Verifies an RA-TLS certificate against `policy`. Rejects with PolicyError POLICY_INVALID (`key`) for a malformed
 * policy, before anything else; with RatlsError INVALID_CERTIFICATE, NO_EVIDENCE, INVALID_EVIDENCE, BINDING_MISMATCH,
 * UNTRUSTED_EVIDENCE (the DcapError as cause); and with PolicyError POLICY_MISMATCH (`rule`) when the policy refuses
 * the enclave. Without collateral (`signaturesOnly`) the TCB rules are skipped and the decision says so.
 */
export async function verifyAttestedCertificate(
  input: string | Uint8Array | Certificate,
  policy: AttestedPolicy,
  options: VerifyAttestedOptions = {},
): Promise<AttestedVerification> {
  const checked = parsePolicy(policy);
  const verified = await verifyAttestedEvidence(input, options);
  return { ...verified, decision: evaluatePolicy(checked, verified.policyEvidence) };
}

/**
 * Everything verifyAttestedCertificate checks except the policy: the certificate, the evidence, the key binding and
 * the quote. It checks no identity — any genuine enclave passes — so hold the result to a policy
 * (verifyAttestedCertificate does) before trusting the peer; `cloister ratls verify` without --policy shows it.
 * Rejects with the RatlsError codes of verifyAttestedCertificate.
 */
export async function verifyAttestedEvidence(input: string | Uint8Array | Certificate, options: VerifyAttestedOptions = {}): Promise<AttestedEvidence> {
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
  const policyEvidence: PolicyEvidence =
    result !== undefined ? result : { teeType: quote.teeType, claims, simulated: !trustAnchor.intel, tcbNotEvaluated: true };

  return {
    format: evidence.format,
    oid: evidence.oid,
    bindingDescription: evidence.bindingDescription,
    claims,
    identity: enclaveIdentity(claims),
    policyEvidence,
    ...(result !== undefined ? { result } : {}),
    trustAnchor,
    certificate: { subject: cert.subject.text, spkiSha256: toHex(sha256(cert.spki)) },
  };
}
