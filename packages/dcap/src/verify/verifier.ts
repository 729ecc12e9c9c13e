/**
 * DCAP quote verification, step by step as Intel's Quote Verification Library does it
 * (intel/SGX-TDX-DCAP-QuoteVerificationLibrary: QuoteVerification.cpp, Verifiers/QuoteVerifier.cpp; step numbers are
 * Intel's specification numbers 4.1.2.4.x quoted in that code; dcap-attestation.md §2; FORMAT.md "Verification model").
 *
 *   A. parse the quote (4.1.2.4.2)
 *   B. PCK certificate chain, root CA CRL and PCK CRL (sgxAttestationVerifyPCKCertificate)
 *   C. TCB info: signing chain, signature, freshness (sgxAttestationVerifyTCBInfo, 4.1.2.7)
 *   D. QE identity: signing chain, signature, freshness (sgxAttestationVerifyEnclaveIdentity)
 *   E. the quote against them (QuoteVerifier::verify, 4.1.2.4.4 – 4.1.2.4.17)
 */
import type { CollateralBundle, EnclaveIdentity, IsvTcbLevel, TcbInfo } from '../collateral/types.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { webCryptoProvider } from '../crypto/webcrypto.js';
import { DcapError, type DcapErrorCode } from '../errors.js';
import { sgxClaims, tdxClaims } from '../quote/claims.js';
import { unwrapEvidence } from '../quote/oe.js';
import { parseQuote } from '../quote/quote.js';
import type { Quote } from '../quote/types.js';
import { bytesEqual, bytesKey, concatBytes, snapshot, toHex, utf8 } from '../util/bytes.js';
import { LruCache } from '../util/lru.js';
import { parsePckExtension } from '../x509/sgx-extension.js';
import type { Certificate, PckExtension } from '../x509/types.js';
import {
  checkCertTime,
  checkCrlTime,
  verifyPckChain,
  verifyCrlIssuedBy,
  verifyPckChainSignatures,
  verifyPckCrlIssuerChain,
  verifySigningChain,
  type ExpiryHandler,
} from './chains.js';
import { ChainParser, CollateralCache, type ParsedCollateral } from './parsed-collateral.js';
import type { VerificationResult } from './result.js';
import { SignatureChecker } from './signatures.js';
import { checkTcbLevel, findTdxModuleIdentity, type QeIdentityOutcome } from './tcb-level.js';
import { INTEL_SGX_ROOT_CA, type TrustAnchor } from './trust-anchor.js';

export interface VerifierOptions {
  /** Default: WebCrypto. On Node, `nodeCryptoProvider()` from `@cloister/dcap/node` is faster. */
  readonly crypto?: CryptoProvider;
  /** Default: the Intel SGX Root CA key only. */
  readonly trustAnchors?: readonly TrustAnchor[];
  /** Bound of each memo (parsed chains, collateral, verified signatures). Default 512. */
  readonly cacheEntries?: number;
}

export interface VerifyOptions {
  /** Verification time. Default: now. */
  readonly now?: Date | number | string;
  /** Replace the verifier's trust anchors for this call. A non-Intel anchor is reported in the result. */
  readonly trustAnchors?: readonly TrustAnchor[];
  /**
   * Accept collateral or certificates outside their validity, as Intel QvE does (collateral_expiration_status = 1):
   * the result then says `collateral.expired: true` and lists the findings. Off by default.
   */
  readonly allowExpiredCollateral?: boolean;
  /** Ignore the root CA CRL's thisUpdate/nextUpdate (signature and revocation are still checked). */
  readonly skipRootCrlFreshness?: boolean;
  /** Ignore the PCK CRL's thisUpdate/nextUpdate (signature and revocation are still checked). */
  readonly skipPckCrlFreshness?: boolean;
}

/** One signed JSON collateral item and the codes of its step. */
interface SignedCollateralStep {
  readonly what: string;
  readonly item: (c: ParsedCollateral) => { issueDate: number; nextUpdate: number };
  readonly chain: (c: ParsedCollateral) => readonly Certificate[];
  readonly signed: (c: ParsedCollateral) => { signature: Uint8Array; body: string; verified: WeakSet<Certificate> };
  readonly badSignature: DcapErrorCode;
  readonly expired: DcapErrorCode;
}

const TCB_INFO_STEP: SignedCollateralStep = {
  what: 'TCB info',
  item: (c) => c.tcbInfo,
  chain: (c) => c.tcbInfoChain,
  signed: (c) => ({ signature: c.bundle.tcbInfoSignature, body: c.bundle.tcbInfoBody, verified: c.tcbInfoSignedBy }),
  badSignature: 'TCB_INFO_INVALID_SIGNATURE',
  expired: 'SGX_TCB_INFO_EXPIRED',
};

const QE_IDENTITY_STEP: SignedCollateralStep = {
  what: 'QE identity',
  item: (c) => c.qeIdentity,
  chain: (c) => c.qeIdentityChain,
  signed: (c) => ({
    signature: c.bundle.qeIdentitySignature,
    body: c.bundle.qeIdentityBody,
    verified: c.qeIdentitySignedBy,
  }),
  badSignature: 'SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE',
  expired: 'SGX_ENCLAVE_IDENTITY_EXPIRED',
};

/** PCK issuer common names (dcap-attestation.md §2.2). */
const PROCESSOR_CA = 'Intel SGX PCK Processor CA';

function toTime(now: VerifyOptions['now']): number {
  if (now === undefined) return Date.now();
  const t = now instanceof Date ? now.getTime() : typeof now === 'number' ? now : Date.parse(now);
  if (!Number.isFinite(t)) throw new TypeError(`invalid verification time: ${String(now)}`);
  return t;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class QuoteVerifier {
  readonly #sigs: SignatureChecker;
  readonly #anchors: readonly TrustAnchor[];
  readonly #chains: ChainParser;
  readonly #collateral: CollateralCache;
  readonly #pck = new WeakMap<Certificate, PckExtension>();
  readonly #qeBinding: LruCache<string, true>;

  constructor(options: VerifierOptions = {}) {
    const max = options.cacheEntries ?? 512;
    this.#sigs = new SignatureChecker(options.crypto ?? webCryptoProvider(), max);
    this.#anchors = options.trustAnchors ?? [INTEL_SGX_ROOT_CA];
    this.#chains = new ChainParser(max);
    this.#collateral = new CollateralCache(max, this.#chains);
    this.#qeBinding = new LruCache(max);
  }

  get crypto(): CryptoProvider {
    return this.#sigs.crypto;
  }

  /**
   * Verify `quote` (raw, or wrapped in an Open Enclave report / attestation header) against `collateral`
   * (a parsed bundle, its JSON text, or the QuoteCollateralV3 object). Resolves with the TCB status whatever it is;
   * rejects with a {@link DcapError} whose code is Intel QVL's status name when the quote does not verify.
   */
  async verify(
    quote: Uint8Array | Quote,
    collateral: CollateralBundle | string | object | undefined,
    options: VerifyOptions = {},
  ): Promise<VerificationResult> {
    const now = toTime(options.now);
    const anchors = options.trustAnchors ?? this.#anchors;
    if (anchors.length === 0) throw new DcapError('MISSING_PARAMETERS', 'no trust anchor');
    const relaxations: string[] = [];
    // A set: the root CA CRL's window is checked in steps B, C and D, as in QVL, but is one finding.
    const expiredItems = new Set<string>();
    const allowExpired = options.allowExpiredCollateral === true;
    if (allowExpired) relaxations.push('allowExpiredCollateral');
    if (options.skipRootCrlFreshness) relaxations.push('skipRootCrlFreshness');
    if (options.skipPckCrlFreshness) relaxations.push('skipPckCrlFreshness');
    const expiry: ExpiryHandler = (code, message) => {
      if (!allowExpired) throw new DcapError(code, message);
      expiredItems.add(`${code}: ${message}`);
    };

    // A. 4.1.2.4.2 Parse and validate the quote (a private copy: the caller's buffer may change while we await).
    const q = quote instanceof Uint8Array ? parseQuote(snapshot(unwrapEvidence(quote).quote)) : quote;
    if (collateral === undefined || collateral === null) {
      throw new DcapError('MISSING_PARAMETERS', 'no collateral was given');
    }
    const col = this.#collateral.get(collateral);

    // B. PCK certificate chain: from the certification data (type 5) or, for types 1–4, from the collateral.
    const certData = q.signature.qeReportCertificationData.certificationData;
    let chainPem: string;
    if (certData.type === 5) chainPem = certData.pem;
    else if (col.bundle.pckCertificateChain !== undefined) chainPem = col.bundle.pckCertificateChain;
    else {
      throw new DcapError(
        'UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE',
        `the quote's certification data is type ${certData.type} (not a PCK chain) and the collateral has no pck_certificate_chain`,
      );
    }
    const pckChainCerts = this.#chains.parse(chainPem);
    if (pckChainCerts.length !== 3) {
      throw new DcapError('UNSUPPORTED_CERT_FORMAT', `PCK certificate chain has ${pckChainCerts.length} certificates, expected 3`);
    }
    const pckChain = await verifyPckChain({
      chain: pckChainCerts,
      rootCaCrl: col.rootCaCrl,
      pckCrl: col.pckCrl,
      anchors,
      now,
      checkRootCrlTime: !options.skipRootCrlFreshness,
      checkPckCrlTime: !options.skipPckCrlFreshness,
      sigs: this.#sigs,
      expiry,
    });

    // B'. The collateral's pck_crl_issuer_chain: it must chain to a trusted root and its leaf must be the PCK CRL's
    // issuer (PckCrlVerifier::verify(crl, chain, trustedRoot)).
    await verifyPckCrlIssuerChain({ chain: pckCrlIssuerChainOf(col), pckCrl: col.pckCrl, anchors, sigs: this.#sigs });

    // C. TCB info (4.1.2.7) and D. QE identity: parse, signing chain, signature over the exact text, freshness.
    const tcbInfo = col.tcbInfo;
    await this.#verifySignedCollateral(col, TCB_INFO_STEP, anchors, now, options, expiry);
    const qeIdentity = col.qeIdentity;
    await this.#verifySignedCollateral(col, QE_IDENTITY_STEP, anchors, now, options, expiry);

    // E. The quote against its collateral.
    const e = await this.#verifyQuoteAgainst(q, col, pckChain.pck, tcbInfo, qeIdentity);

    const anchor = pckChain.anchor;
    if (!anchor.intel) relaxations.push(`trustAnchor:${anchor.name}`);
    return {
      status: e.tcb.status,
      advisoryIds: e.tcb.advisoryIds,
      teeType: q.teeType,
      quoteVersion: q.version,
      claims: q.body.kind === 'sgx' ? sgxClaims(q.body.report) : tdxClaims(q.body.report),
      platform: platformInfo(e.pckExt, pckChain.intermediate),
      qeIdentity: {
        status: e.qe.status,
        isvSvn: q.signature.qeReportCertificationData.qeReport.isvSvn,
        tcbDate: e.qe.level?.tcbDate,
      },
      ...(e.tcb.tdxModule !== undefined && q.body.kind !== 'sgx'
        ? {
            tdxModule: {
              id: e.tcb.tdxModule.identityId,
              status: e.tcb.tdxModule.status,
              isvSvn: q.body.report.teeTcbSvn[0]!,
            },
          }
        : {}),
      collateral: freshness({
        col,
        certs: [...pckChainCerts, ...col.tcbInfoChain, ...col.qeIdentityChain],
        tcbInfo,
        qeIdentity,
        tcbLevelDate: e.tcb.level.tcbDate,
        expiredItems,
      }),
      trustAnchor: { name: anchor.name, intel: anchor.intel },
      simulated: !anchor.intel,
      verifiedAt: iso(now),
      relaxations,
    };
  }

  /**
   * The collateral alone, without a quote and without time: every signature and chain in it verifies to a trust
   * anchor — the root CA CRL by the root of the TCB signing chain, the PCK CRL through its `pck_crl_issuer_chain`, the
   * TCB info and the QE identity over their exact texts by the TCB signing certificate (TCBSigningChain::verify).
   * What a cache checks before it keeps collateral (validity in time is checked when a quote is verified).
   * Rejects with the same codes as {@link verify}.
   */
  async verifyCollateral(
    collateral: CollateralBundle | string | object,
    options: { readonly trustAnchors?: readonly TrustAnchor[] } = {},
  ): Promise<void> {
    const anchors = options.trustAnchors ?? this.#anchors;
    if (anchors.length === 0) throw new DcapError('MISSING_PARAMETERS', 'no trust anchor');
    const col = this.#collateral.get(collateral);
    const never: ExpiryHandler = () => undefined;
    const noTime: VerifyOptions = { skipRootCrlFreshness: true };
    // TCB info and QE identity (each verifies the root CA CRL against its chain's root as well).
    await this.#verifySignedCollateral(col, TCB_INFO_STEP, anchors, 0, noTime, never);
    await this.#verifySignedCollateral(col, QE_IDENTITY_STEP, anchors, 0, noTime, never);
    await verifyPckCrlIssuerChain({ chain: pckCrlIssuerChainOf(col), pckCrl: col.pckCrl, anchors, sigs: this.#sigs });
    // The root CA CRL once more against the PCK CRL issuer chain's root (the same key when all is well).
    const root = pckCrlIssuerChainOf(col).find((c) => bytesEqual(c.subject.raw, col.rootCaCrl.issuer.raw));
    if (root === undefined) throw new DcapError('SGX_CRL_UNKNOWN_ISSUER', 'the root CA CRL issuer is not in the PCK CRL issuer chain');
    await verifyCrlIssuedBy(col.rootCaCrl, root, 'root CA CRL', this.#sigs);
  }

  /** TCBInfoVerifier::verify / EnclaveIdentityVerifier::verify (both run TCBSigningChain::verify first). */
  async #verifySignedCollateral(
    col: ParsedCollateral,
    step: SignedCollateralStep,
    anchors: readonly TrustAnchor[],
    now: number,
    options: VerifyOptions,
    expiry: ExpiryHandler,
  ): Promise<void> {
    const item = step.item(col);
    const chain = await verifySigningChain({
      chain: step.chain(col),
      rootCaCrl: col.rootCaCrl,
      anchors,
      sigs: this.#sigs,
      what: step.what,
    });
    const { signature, body, verified } = step.signed(col);
    if (!verified.has(chain.signer)) {
      const ok =
        SignatureChecker.isP256(chain.signer) &&
        signature.length === 64 &&
        (await this.#sigs.verifyRaw(chain.signer.spki, 'spki', signature, utf8(body), false));
      if (!ok) throw new DcapError(step.badSignature, `the ${step.what} signature does not verify over its exact text`);
      verified.add(chain.signer);
    }
    checkCertTime(chain.root, now, 'SGX_SIGNING_CERT_CHAIN_EXPIRED', `${step.what} signing chain root`, expiry);
    checkCertTime(chain.signer, now, 'SGX_SIGNING_CERT_CHAIN_EXPIRED', `${step.what} signing certificate`, expiry);
    if (!options.skipRootCrlFreshness) checkCrlTime(col.rootCaCrl, now, 'root CA CRL', expiry);
    checkJsonTime(item, now, step.expired, step.what, expiry);
  }

  /** 4.1.2.4.12 QE report signature by the PCK key; 4.1.2.4.13 QE report data = SHA-256(attestation key ‖ QE auth data). */
  async #verifyQeReport(q: Quote, pck: Certificate): Promise<void> {
    const qrcd = q.signature.qeReportCertificationData;
    const qeReport = qrcd.qeReport;
    if (!SignatureChecker.isP256(pck) || !(await this.#sigs.verifyRaw(pck.spki, 'spki', qrcd.qeReportSignature, qeReport.raw, true))) {
      throw new DcapError('INVALID_QE_REPORT_SIGNATURE', 'the QE report signature does not verify with the PCK certificate key');
    }
    const bindingKey = `${bytesKey(qeReport.reportData)}|${bytesKey(q.signature.attestationKey)}|${bytesKey(qrcd.qeAuthData)}`;
    if (this.#qeBinding.get(bindingKey) === undefined) {
      const digest = await this.#sigs.crypto.sha256(concatBytes(q.signature.attestationKey, qrcd.qeAuthData));
      if (!bytesEqual(digest, qeReport.reportData.subarray(0, 32))) {
        throw new DcapError('INVALID_QE_REPORT_DATA', 'the QE report data is not SHA-256(attestation key ‖ QE authentication data)');
      }
      this.#qeBinding.set(bindingKey, true);
    }
  }

  /** 4.1.2.4.16 Quote signature by the attestation key over header ‖ body (never memoised: the per-quote work). */
  async #verifyQuoteSignature(q: Quote): Promise<void> {
    const attestKey = concatBytes(Uint8Array.of(0x04), q.signature.attestationKey);
    if ((await this.#sigs.importKey(attestKey, 'raw')) === undefined) {
      throw new DcapError('UNSUPPORTED_QUOTE_FORMAT', 'the attestation key is not a P-256 point');
    }
    if (!(await this.#sigs.verifyRaw(attestKey, 'raw', q.signature.quoteSignature, q.signedBytes, false))) {
      throw new DcapError('INVALID_QUOTE_SIGNATURE', 'the quote signature does not verify with the attestation key');
    }
  }

  /**
   * Provenance only, without collateral (no CRLs, no TCB, no time): the PCK chain leads to a trust anchor, the QE
   * report is signed by the PCK key and binds the attestation key, and the quote is signed by that key. This is what
   * a parse-only check can establish; it says nothing about the platform's TCB or revocation. Resolves with the
   * trust anchor and the PCK certificate's SGX extension; rejects with the same codes as {@link verify}.
   */
  async verifySignatures(
    quote: Uint8Array | Quote,
    options: { readonly trustAnchors?: readonly TrustAnchor[]; readonly pckCertificateChain?: string } = {},
  ): Promise<{ readonly quote: Quote; readonly trustAnchor: TrustAnchor; readonly pck: PckExtension }> {
    const q = quote instanceof Uint8Array ? parseQuote(snapshot(unwrapEvidence(quote).quote)) : quote;
    const certData = q.signature.qeReportCertificationData.certificationData;
    const pem = certData.type === 5 ? certData.pem : options.pckCertificateChain;
    if (pem === undefined) {
      throw new DcapError('UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE', `certification data type ${certData.type} carries no PCK chain`);
    }
    const chain = await verifyPckChainSignatures(this.#chains.parse(pem), options.trustAnchors ?? this.#anchors, this.#sigs);
    const pck = this.#pckExtension(chain.pck);
    await this.#verifyQeReport(q, chain.pck);
    await this.#verifyQuoteSignature(q);
    // A copy: the memoised extension is what later verifications match TCB levels against; a caller changing the
    // returned object must not change their outcome.
    return { quote: q, trustAnchor: chain.anchor, pck: structuredClone(pck) };
  }

  #pckExtension(pck: Certificate): PckExtension {
    let ext = this.#pck.get(pck);
    if (ext === undefined) {
      ext = parsePckExtension(pck);
      this.#pck.set(pck, ext);
    }
    return ext;
  }

  /** QuoteVerifier::verify, 4.1.2.4.4 – 4.1.2.4.17. */
  async #verifyQuoteAgainst(
    q: Quote,
    col: ParsedCollateral,
    pck: Certificate,
    tcbInfo: TcbInfo,
    qeIdentity: EnclaveIdentity,
  ) {
    const pckCrl = col.pckCrl;
    // 4.1.2.4.3/4 PCK certificate with its SGX extension.
    const pckExt = this.#pckExtension(pck);
    // 4.1.2.4.6 PCK CRL issued by the PCK's issuer.
    if (!(pckCrl.issuer.commonName ?? '').includes('CA') || !bytesEqual(pckCrl.issuer.raw, pck.issuer.raw)) {
      throw new DcapError(
        'INVALID_PCK_CRL',
        `the PCK CRL is issued by "${pckCrl.issuer.text}" but the PCK certificate by "${pck.issuer.text}"`,
      );
    }
    // 4.1.2.4.7
    if (pckCrl.revoked.has(pck.serialHex)) {
      throw new DcapError('PCK_REVOKED', `the PCK certificate (serial ${pck.serialHex}) is revoked`);
    }
    // 4.1.2.4.9 TCB info id vs the quote's TEE; TCB info v2 is SGX only.
    if (tcbInfo.version >= 3) {
      if (tcbInfo.id !== q.teeType) {
        throw new DcapError('TCB_INFO_MISMATCH', `the TCB info is for ${tcbInfo.id ?? 'an unknown TEE'} but the quote is ${q.teeType}`);
      }
    } else if (q.teeType === 'TDX') {
      throw new DcapError('TCB_INFO_MISMATCH', `TCB info version ${tcbInfo.version} cannot be used for a TDX quote`);
    }
    // 4.1.2.4.10 FMSPC and PCE-ID.
    const fmspc = toHex(pckExt.fmspc);
    if (fmspc !== tcbInfo.fmspc.toLowerCase()) {
      throw new DcapError('TCB_INFO_MISMATCH', `the TCB info is for FMSPC ${tcbInfo.fmspc} but the PCK certificate has ${fmspc}`);
    }
    const pceId = toHex(pckExt.pceId);
    if (pceId !== tcbInfo.pceId.toLowerCase()) {
      throw new DcapError('TCB_INFO_MISMATCH', `the TCB info is for PCE-ID ${tcbInfo.pceId} but the PCK certificate has ${pceId}`);
    }
    if (!SignatureChecker.isP256(pck)) throw new DcapError('INVALID_PCK_CERT', 'the PCK certificate key is not a P-256 key');

    // 4.1.2.4.11 TDX module identity: MRSIGNERSEAM and SEAMATTRIBUTES.
    if (q.body.kind !== 'sgx' && tcbInfo.version >= 3 && tcbInfo.id === 'TDX') {
      const report = q.body.report;
      const moduleVersion = report.teeTcbSvn[1]!;
      let expected = tcbInfo.tdxModule;
      if (q.version > 3 && moduleVersion > 0) {
        if (tcbInfo.tdxModuleIdentities === undefined) {
          throw new DcapError('TCB_INFO_MISMATCH', `TDX module version is ${moduleVersion} but the TCB info has no tdxModuleIdentities`);
        }
        const identity = findTdxModuleIdentity(tcbInfo, moduleVersion);
        if (identity === undefined) {
          throw new DcapError('TDX_MODULE_MISMATCH', `the TCB info has no TDX module identity for module version ${moduleVersion}`);
        }
        expected = identity;
      }
      if (expected === undefined) throw new DcapError('SGX_TCB_INFO_INVALID', 'the TDX TCB info has no tdxModule');
      if (!bytesEqual(report.mrSignerSeam, expected.mrsigner)) {
        throw new DcapError('TDX_MODULE_MISMATCH', 'MRSIGNERSEAM differs from the TDX module identity MRSIGNER');
      }
      const attrs = report.seamAttributes;
      if (attrs.length !== expected.attributes.length || attrs.some((b, i) => b !== 0 || b !== expected.attributes[i])) {
        throw new DcapError('TDX_MODULE_MISMATCH', 'SEAMATTRIBUTES are not zero or differ from the TDX module identity');
      }
    }

    const qeReport = q.signature.qeReportCertificationData.qeReport;
    // 4.1.2.4.12 – 13
    await this.#verifyQeReport(q, pck);
    // 4.1.2.4.14 QE identity for the quote's TEE.
    const wantId = q.teeType === 'TDX' ? 'TD_QE' : 'QE';
    if (qeIdentity.id !== wantId || (q.teeType === 'TDX' && qeIdentity.version < 2)) {
      throw new DcapError('QE_IDENTITY_MISMATCH', `the quote is ${q.teeType}, which needs the ${wantId} identity, not ${qeIdentity.id}`);
    }
    // 4.1.2.4.15 EnclaveReportVerifier (4.1.2.9.5 – 4.1.2.9.10).
    const qe = matchQeIdentity(qeIdentity, qeReport);
    // 4.1.2.4.16
    await this.#verifyQuoteSignature(q);
    // 4.1.2.4.17 TCB level.
    const tdx =
      q.body.kind !== 'sgx' && tcbInfo.version >= 3 && tcbInfo.id === 'TDX'
        ? { teeTcbSvn: q.body.report.teeTcbSvn, teeTcbSvn2: q.body.kind === 'td15' ? q.body.report.teeTcbSvn2 : undefined }
        : undefined;
    const tcb = checkTcbLevel({ tcbInfo, pck: pckExt, quoteVersion: q.version, tdx, qe });
    return { pckExt, qe, tcb };
  }
}

/** EnclaveReportVerifier::verify: MISCSELECT, ATTRIBUTES, MRSIGNER, ISVPRODID, then the ISVSVN level. */
function matchQeIdentity(id: EnclaveIdentity, report: Quote['signature']['qeReportCertificationData']['qeReport']): QeIdentityOutcome {
  if (((report.miscSelect & id.miscselectMask) >>> 0) !== id.miscselect >>> 0) {
    throw new DcapError('QE_IDENTITY_MISMATCH', 'the QE report MISCSELECT does not match the QE identity');
  }
  for (let i = 0; i < 16; i++) {
    if ((report.attributes[i]! & (id.attributesMask[i] ?? 0)) !== (id.attributes[i] ?? 0)) {
      throw new DcapError('QE_IDENTITY_MISMATCH', 'the QE report ATTRIBUTES do not match the QE identity');
    }
  }
  if (!bytesEqual(report.mrSigner, id.mrsigner)) {
    throw new DcapError('QE_IDENTITY_MISMATCH', 'the QE report MRSIGNER does not match the QE identity');
  }
  if (report.isvProdId !== id.isvProdId) {
    throw new DcapError('QE_IDENTITY_MISMATCH', 'the QE report ISVPRODID does not match the QE identity');
  }
  const levels = [...id.tcbLevels].sort((a, b) => b.isvSvn - a.isvSvn);
  const level: IsvTcbLevel | undefined = levels.find((l) => l.isvSvn <= report.isvSvn);
  if (level === undefined) return { status: 'NotSupported', level: undefined };
  const s = level.tcbStatus;
  // EnclaveIdentityV2 parses statuses as UpToDate / OutOfDate / Revoked (and the configuration variants, which
  // EnclaveReportVerifier treats as not UpToDate, i.e. OutOfDate).
  if (s === 'UpToDate') return { status: 'UpToDate', level };
  if (s === 'Revoked') return { status: 'Revoked', level };
  if (s === 'OutOfDate' || s === 'ConfigurationNeeded' || s === 'OutOfDateConfigurationNeeded') {
    return { status: 'OutOfDate', level };
  }
  throw new DcapError('TCB_UNRECOGNIZED_STATUS', `the QE identity level ${level.tcbDate} has the unrecognized status "${s}"`);
}

/** The parsed `pck_crl_issuer_chain`; a chain that does not parse is SGX_CA_CERT_UNSUPPORTED_FORMAT (as in QVL). */
function pckCrlIssuerChainOf(col: ParsedCollateral): readonly Certificate[] {
  try {
    return col.pckCrlIssuerChain;
  } catch (e) {
    if (!DcapError.is(e)) throw e;
    throw new DcapError('SGX_CA_CERT_UNSUPPORTED_FORMAT', `PCK CRL issuer chain: ${e.message}`, { cause: e });
  }
}

function checkJsonTime(
  item: { issueDate: number; nextUpdate: number },
  now: number,
  code: DcapErrorCode,
  what: string,
  expiry: ExpiryHandler,
): void {
  if (now > item.nextUpdate) expiry(code, `${what} expired at its nextUpdate ${iso(item.nextUpdate)}`);
  else if (now < item.issueDate) expiry(code, `${what} is not valid before its issueDate ${iso(item.issueDate)}`);
}

function platformInfo(ext: PckExtension, intermediate: Certificate): VerificationResult['platform'] {
  const cfg = ext.configuration;
  return {
    fmspc: toHex(ext.fmspc),
    pceId: toHex(ext.pceId),
    pceSvn: ext.tcb.pceSvn,
    cpuSvn: toHex(ext.tcb.cpuSvn),
    sgxTcbComponents: [...ext.tcb.sgxTcbComponents],
    sgxType: ext.sgxType,
    ppid: toHex(ext.ppid),
    ca: (intermediate.subject.commonName ?? '').includes(PROCESSOR_CA) ? 'processor' : 'platform',
    ...(ext.platformInstanceId !== undefined ? { platformInstanceId: toHex(ext.platformInstanceId) } : {}),
    ...(cfg?.dynamicPlatform !== undefined ? { dynamicPlatform: cfg.dynamicPlatform } : {}),
    ...(cfg?.cachedKeys !== undefined ? { cachedKeys: cfg.cachedKeys } : {}),
    ...(cfg?.smtEnabled !== undefined ? { smtEnabled: cfg.smtEnabled } : {}),
  };
}

function freshness(input: {
  col: ParsedCollateral;
  certs: readonly Certificate[];
  tcbInfo: TcbInfo;
  qeIdentity: EnclaveIdentity;
  tcbLevelDate: string;
  expiredItems: ReadonlySet<string>;
}): VerificationResult['collateral'] {
  const { col, tcbInfo, qeIdentity } = input;
  const issues = [tcbInfo.issueDate, qeIdentity.issueDate, col.rootCaCrl.thisUpdate, col.pckCrl.thisUpdate];
  const expirations = [tcbInfo.nextUpdate, qeIdentity.nextUpdate];
  for (const crl of [col.rootCaCrl, col.pckCrl]) if (crl.nextUpdate !== undefined) expirations.push(crl.nextUpdate);
  for (const c of input.certs) {
    issues.push(c.notBefore);
    expirations.push(c.notAfter);
  }
  return {
    earliestIssueDate: iso(Math.min(...issues)),
    latestIssueDate: iso(Math.max(...issues)),
    earliestExpirationDate: iso(Math.min(...expirations)),
    tcbInfoIssueDate: iso(tcbInfo.issueDate),
    tcbInfoNextUpdate: iso(tcbInfo.nextUpdate),
    qeIdentityIssueDate: iso(qeIdentity.issueDate),
    qeIdentityNextUpdate: iso(qeIdentity.nextUpdate),
    tcbEvaluationDataNumber: tcbInfo.tcbEvaluationDataNumber,
    tcbLevelDate: input.tcbLevelDate,
    rootCaCrlNumber: col.rootCaCrl.crlNumber?.toString(),
    pckCrlNumber: col.pckCrl.crlNumber?.toString(),
    expired: input.expiredItems.size > 0,
    expiredItems: [...input.expiredItems],
  };
}

let defaultVerifier: QuoteVerifier | undefined;

/** Verify with a shared default {@link QuoteVerifier} (WebCrypto, Intel root). */
export function verifyQuote(
  quote: Uint8Array | Quote,
  collateral: CollateralBundle | string | object | undefined,
  options?: VerifyOptions,
): Promise<VerificationResult> {
  return (defaultVerifier ??= new QuoteVerifier()).verify(quote, collateral, options);
}
