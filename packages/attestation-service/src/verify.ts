/**
 * Verification of SGX evidence for one instance: collateral from an ordered provider chain (offline bundles first,
 * then a PCCS / Intel PCS behind dcap's caching provider, which caches only collateral that verified), the quote with
 * @cloister/dcap's QuoteVerifier (the one verifier), then the policy engine's evidence rules (simulated, TCB status;
 * debug and advisories are left to the MAA policy, which sees them as claims, as MAA's default policy does).
 */
import {
  DcapError,
  QuoteVerifier,
  TCB_STATUSES,
  bytesEqual,
  collateralRequestForQuote,
  parseCertificateChainPem,
  parseCollateralBundle,
  parseTcbInfo,
  type CollateralBundle,
  type CollateralRequest,
  type TrustAnchor,
  type VerificationResult,
} from '@cloister/dcap';
import type { CollateralProvider } from '@cloister/dcap/node';
import { decideEvidenceRules, parseEvidenceRules, type EvidenceRules, type EvidenceRulesInput, type PolicyDecision } from '@cloister/policy';
import type { ParsedEvidence } from './claims.js';
import { badRequest, unavailable } from './errors.js';

/** MAA's default: everything Intel's QVL verifies except a revoked TCB (issue 12, clarifications). */
export const DEFAULT_EVIDENCE_RULES: EvidenceRulesInput = {
  allowDebug: true,
  acceptedTcbStatuses: TCB_STATUSES.filter((s) => s !== 'Revoked'),
};

export interface VerifiedEvidence {
  readonly result: VerificationResult;
  readonly collateral: CollateralBundle;
  readonly collateralSource: 'offline' | 'pccs';
  readonly decision: PolicyDecision;
}

function keyOf(tee: string, fmspc: string, ca: string): string {
  return `${tee}/${fmspc.toLowerCase()}/${ca}`;
}

/** The (tee, fmspc, ca) an offline bundle serves, read from its TCB info and PCK CRL issuer chain. */
export function bundleKey(b: CollateralBundle): string {
  const info = parseTcbInfo(b.tcbInfoBody);
  const issuer = parseCertificateChainPem(b.pckCrlIssuerChain)[0]?.subject.commonName ?? '';
  const ca = issuer.includes('Processor') ? 'processor' : 'platform';
  return keyOf(info.id ?? 'SGX', info.fmspc, ca);
}

export interface InstanceVerifierOptions {
  readonly verifier: QuoteVerifier;
  readonly trustAnchors: readonly TrustAnchor[];
  /** Bundles that chain to `trustAnchors` (others are dropped when the verifier is made). */
  readonly bundles: readonly CollateralBundle[];
  readonly online?: CollateralProvider;
  /** Whether this instance attests simulated platforms (evidence rule allowSimulated). */
  readonly simulated: boolean;
  readonly evidenceRules?: EvidenceRulesInput;
}

export class InstanceVerifier {
  readonly #o: InstanceVerifierOptions;
  readonly #offline = new Map<string, CollateralBundle>();
  readonly #rules: EvidenceRulesInput;
  /** #rules parsed once (decideEvidenceRules would parse its input on every call otherwise). */
  #parsedRules: EvidenceRules | undefined;
  /** PCK chain PEM → whether it contains one of our anchors (a platform quotes with one chain: parse it once). */
  readonly #anchoredChains = new Map<string, boolean>();
  /** PCK chain PEM → the collateral request (FMSPC and CA from the PCK certificate). */
  readonly #requests = new Map<string, CollateralRequest>();

  private constructor(o: InstanceVerifierOptions, offline: Map<string, CollateralBundle>) {
    this.#o = o;
    this.#offline = offline;
    this.#rules = { ...(o.evidenceRules ?? DEFAULT_EVIDENCE_RULES), allowSimulated: o.simulated };
  }

  /** Keeps the offline bundles whose signatures and chains verify to this instance's trust anchors. */
  static async create(o: InstanceVerifierOptions): Promise<InstanceVerifier> {
    const offline = new Map<string, CollateralBundle>();
    for (const b of o.bundles) {
      try {
        await o.verifier.verifyCollateral(b, { trustAnchors: o.trustAnchors });
      } catch {
        continue;
      }
      offline.set(bundleKey(b), b);
    }
    return new InstanceVerifier(o, offline);
  }

  get offlineBundles(): number {
    return this.#offline.size;
  }

  #requestFor(ev: ParsedEvidence): CollateralRequest {
    const certData = ev.quote.signature.qeReportCertificationData.certificationData;
    const memoKey = certData.type === 5 ? certData.pem : undefined;
    const hit = memoKey === undefined ? undefined : this.#requests.get(memoKey);
    if (hit !== undefined) return hit;
    let req: CollateralRequest;
    try {
      req = collateralRequestForQuote(ev.quote);
    } catch (e) {
      throw badRequest('QUOTE_INVALID', `the quote's PCK certificate chain is unusable: ${(e as Error).message}`, { dcapCode: DcapError.is(e) ? e.code : 'UNKNOWN' });
    }
    if (memoKey !== undefined) {
      if (this.#requests.size >= 1024) this.#requests.clear();
      this.#requests.set(memoKey, req);
    }
    return req;
  }

  async #collateral(ev: ParsedEvidence): Promise<{ bundle: CollateralBundle; source: 'offline' | 'pccs' }> {
    const req = this.#requestFor(ev);
    const hit = this.#offline.get(keyOf(req.tee, req.fmspc, req.ca));
    if (hit !== undefined) return { bundle: hit, source: 'offline' };
    if (this.#o.online === undefined) {
      throw badRequest('COLLATERAL_NOT_FOUND', `no collateral for FMSPC ${req.fmspc} (${req.ca} CA): add a --collateral bundle or a --pccs`, { fmspc: req.fmspc });
    }
    try {
      return { bundle: await this.#o.online.getCollateral(req), source: 'pccs' };
    } catch (e) {
      throw unavailable('COLLATERAL_UNAVAILABLE', `collateral for FMSPC ${req.fmspc} could not be fetched: ${(e as Error).message}`, { fmspc: req.fmspc });
    }
  }

  /**
   * Refuses, before any collateral is looked up, evidence whose PCK chain does not contain a trust anchor of this
   * instance: a simulated platform's quote posted to the real instance, or an Intel quote posted to /simulated.
   */
  #checkRoot(ev: ParsedEvidence): void {
    const certData = ev.quote.signature.qeReportCertificationData.certificationData;
    if (certData.type !== 5) return; // no chain in the quote: the verifier decides with the collateral's chain
    let anchored = this.#anchoredChains.get(certData.pem);
    if (anchored === undefined) {
      let chain;
      try {
        chain = parseCertificateChainPem(certData.pem);
      } catch (e) {
        throw badRequest('QUOTE_INVALID', `the quote's PCK certificate chain does not parse: ${(e as Error).message}`, { dcapCode: DcapError.is(e) ? e.code : 'UNKNOWN' });
      }
      anchored = chain.some((c) => this.#o.trustAnchors.some((a) => bytesEqual(a.spki, c.spki)));
      // Bounded memo (only the yes/no is kept; the chain's signatures are still checked by the verifier).
      if (this.#anchoredChains.size >= 1024) this.#anchoredChains.clear();
      this.#anchoredChains.set(certData.pem, anchored);
    }
    if (anchored) return;
    if (this.#o.simulated) {
      throw badRequest('EVIDENCE_REFUSED', 'the evidence does not chain to a --trust-root of the simulated instance', { rule: 'trustRoot' });
    }
    throw badRequest('EVIDENCE_REFUSED', "the evidence chains to a root that is not Intel's (a simulated platform?); this instance attests real SGX hardware only", { rule: 'simulated' });
  }

  async verify(ev: ParsedEvidence): Promise<VerifiedEvidence> {
    this.#checkRoot(ev);
    const { bundle, source } = await this.#collateral(ev);
    let result: VerificationResult;
    try {
      result = await this.#o.verifier.verify(ev.quote, bundle, { trustAnchors: this.#o.trustAnchors });
    } catch (e) {
      if (!DcapError.is(e)) throw e;
      throw badRequest('QUOTE_INVALID', `the quote does not verify: ${e.code}: ${e.message}`, { dcapCode: e.code });
    }
    this.#parsedRules ??= parseEvidenceRules(this.#rules);
    const decision = decideEvidenceRules(this.#parsedRules, result);
    // Unless the operator lists accepted advisories, advisories are claims the MAA policy tests (MAA's default policy
    // permits them); every other rule is enforced.
    const advisoriesByPolicy = this.#rules.acceptedAdvisories === undefined;
    const refused = decision.failures.find((f) => !(advisoriesByPolicy && f.rule === 'advisories'));
    if (refused !== undefined) {
      throw badRequest('EVIDENCE_REFUSED', `the evidence is refused: rule ${refused.rule} expects ${refused.expected}, evidence has ${refused.actual}`, { rule: refused.rule });
    }
    return { result, collateral: bundle, collateralSource: source, decision };
  }
}

export { parseCollateralBundle };
