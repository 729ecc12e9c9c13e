/**
 * Certificate-chain and CRL steps of Intel QVL:
 * - PCK certificate chain (QuoteVerification.cpp sgxAttestationVerifyPCKCertificate, Verifiers/PckCertVerifier.cpp,
 *   CommonVerifier.cpp, PckCrlVerifier.cpp; dcap-attestation.md §2.2),
 * - TCB signing chain (Verifiers/TCBSigningChain.cpp, TCBInfoVerifier.cpp, EnclaveIdentityVerifier.cpp; §2.4).
 * Statuses are raised in QVL's order; the first failure wins.
 */
import { DcapError, type DcapErrorCode } from '../errors.js';
import { bytesEqual } from '../util/bytes.js';
import type { Certificate, Crl } from '../x509/types.js';
import type { SignatureChecker } from './signatures.js';
import type { TrustAnchor } from './trust-anchor.js';

/** X509Constants.h: CRL_REQUIRED_EXTENSIONS = CRL number, authority key identifier. */
const CRL_NUMBER = '2.5.29.20';
const AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';

/** Called for a validity finding: throws, or records it when expired collateral is accepted. */
export type ExpiryHandler = (code: DcapErrorCode, message: string) => void;

const iso = (ms: number): string => new Date(ms).toISOString();

function cn(cert: Certificate): string {
  return cert.subject.commonName ?? '';
}

/** Self-issued: issuer and subject are the same Name (byte-exact DER). */
function selfIssued(cert: Certificate): boolean {
  return bytesEqual(cert.issuer.raw, cert.subject.raw);
}

/**
 * QVL's CertificateChain finds the root (self-issued), then what it issued, and so on. A chain in another order is
 * accepted; members that cannot be placed keep their given position so that the CN checks fail with QVL's codes.
 */
export function orderChain(certs: readonly Certificate[]): Certificate[] {
  const root = certs.find(selfIssued);
  if (root === undefined) return [...certs].reverse();
  const ordered = [root];
  const rest = certs.filter((c) => c !== root);
  while (rest.length > 0) {
    const top = ordered[ordered.length - 1]!;
    const i = rest.findIndex((c) => bytesEqual(c.issuer.raw, top.subject.raw));
    if (i < 0) break;
    ordered.push(rest.splice(i, 1)[0]!);
  }
  ordered.push(...rest);
  return ordered; // root first
}

export function matchTrustAnchor(root: Certificate, anchors: readonly TrustAnchor[]): TrustAnchor | undefined {
  return anchors.find((a) => bytesEqual(a.spki, root.spki));
}

/** CommonVerifier::verifyRootCACert. */
async function verifyRoot(root: Certificate, sigs: SignatureChecker): Promise<void> {
  if (!selfIssued(root) || !(await sigs.verifySignedBy(root, root))) {
    throw new DcapError('SGX_ROOT_CA_INVALID_ISSUER', `root CA "${cn(root)}" is not self-issued and self-signed`);
  }
}

/** PckCrlVerifier::verify(crl, cert): issuer, required extensions, signature. */
export async function verifyCrlIssuedBy(crl: Crl, issuer: Certificate, what: string, sigs: SignatureChecker): Promise<void> {
  if (!bytesEqual(crl.issuer.raw, issuer.subject.raw)) {
    throw new DcapError(
      'SGX_CRL_UNKNOWN_ISSUER',
      `${what} is issued by "${crl.issuer.text}", not by "${issuer.subject.text}"`,
    );
  }
  const oids = new Set(crl.extensions.map((e) => e.oid));
  if (!oids.has(CRL_NUMBER) || !oids.has(AUTHORITY_KEY_IDENTIFIER)) {
    throw new DcapError('SGX_CRL_INVALID_EXTENSIONS', `${what} lacks the CRL number or authority key identifier extension`);
  }
  if (!(await sigs.verifySignedBy(crl, issuer))) {
    throw new DcapError('SGX_CRL_INVALID_SIGNATURE', `${what} signature does not verify with "${issuer.subject.text}"'s key`);
  }
}

export function isRevoked(crl: Crl, cert: Certificate): boolean {
  return crl.revoked.has(cert.serialHex);
}

/** Certificate validity at `now` (QVL checks notAfter; Cloister also notBefore, with the same code). */
export function checkCertTime(cert: Certificate, now: number, code: DcapErrorCode, what: string, expiry: ExpiryHandler): void {
  if (now > cert.notAfter) expiry(code, `${what} "${cn(cert)}" expired at ${iso(cert.notAfter)}`);
  else if (now < cert.notBefore) expiry(code, `${what} "${cn(cert)}" is not valid before ${iso(cert.notBefore)}`);
}

/** CrlStore::expired: valid for thisUpdate ≤ now ≤ nextUpdate. */
export function checkCrlTime(crl: Crl, now: number, what: string, expiry: ExpiryHandler): void {
  if (now < crl.thisUpdate) {
    expiry('SGX_CRL_EXPIRED', `${what} is not valid before its thisUpdate ${iso(crl.thisUpdate)}`);
  } else if (crl.nextUpdate !== undefined && now > crl.nextUpdate) {
    expiry('SGX_CRL_EXPIRED', `${what} expired at its nextUpdate ${iso(crl.nextUpdate)}`);
  }
}

export interface PckChain {
  readonly root: Certificate;
  readonly intermediate: Certificate;
  readonly pck: Certificate;
  readonly anchor: TrustAnchor;
}

/**
 * PckCertVerifier::verify, first half: chain members, signatures and trust anchor (no CRLs, no time). Also what a
 * parse-only check of a quote's provenance needs.
 */
export async function verifyPckChainSignatures(
  chain: readonly Certificate[],
  anchors: readonly TrustAnchor[],
  sigs: SignatureChecker,
): Promise<PckChain> {
  if (chain.length !== 3) {
    throw new DcapError('UNSUPPORTED_CERT_FORMAT', `PCK certificate chain has ${chain.length} certificates, expected 3`);
  }
  const [root, intermediate, pck] = orderChain(chain) as [Certificate, Certificate, Certificate];
  // 1. Members, by common name (X509Constants.h SGX_ROOT_CA_CN_PHRASE, SGX_INTERMEDIATE_CN_PHRASE, SGX_PCK_CN_PHRASE).
  if (!cn(root).includes('SGX Root CA')) throw new DcapError('SGX_ROOT_CA_MISSING', 'PCK chain has no "SGX Root CA" root');
  if (!cn(intermediate).includes('CA')) {
    throw new DcapError('SGX_INTERMEDIATE_CA_MISSING', 'PCK chain has no intermediate CA');
  }
  if (!cn(pck).includes('SGX PCK Certificate')) {
    throw new DcapError('SGX_PCK_MISSING', 'PCK chain has no "SGX PCK Certificate" leaf');
  }
  // 2. Signatures: root self-signed, intermediate by root, PCK by intermediate.
  await verifyRoot(root, sigs);
  if (!bytesEqual(intermediate.issuer.raw, root.subject.raw) || !(await sigs.verifySignedBy(intermediate, root))) {
    throw new DcapError('SGX_INTERMEDIATE_CA_INVALID_ISSUER', `"${cn(intermediate)}" is not signed by "${cn(root)}"`);
  }
  if (!bytesEqual(pck.issuer.raw, intermediate.subject.raw) || !(await sigs.verifySignedBy(pck, intermediate))) {
    throw new DcapError('SGX_PCK_INVALID_ISSUER', `the PCK certificate is not signed by "${cn(intermediate)}"`);
  }
  // 3. Trust anchor, pinned by public key.
  const anchor = matchTrustAnchor(root, anchors);
  if (anchor === undefined) {
    throw new DcapError(
      'SGX_PCK_CERT_CHAIN_UNTRUSTED',
      `the PCK chain's root key is not a trusted root key (trusted: ${anchors.map((a) => a.name).join(', ')})`,
    );
  }
  return { root, intermediate, pck, anchor };
}

/**
 * Step 4.1.2.4.3 / PckCertVerifier::verify: chain members, signatures, trust anchor, root and PCK CRLs,
 * revocation, validity.
 */
export async function verifyPckChain(input: {
  readonly chain: readonly Certificate[];
  readonly rootCaCrl: Crl;
  readonly pckCrl: Crl;
  readonly anchors: readonly TrustAnchor[];
  readonly now: number;
  readonly checkRootCrlTime: boolean;
  readonly checkPckCrlTime: boolean;
  readonly sigs: SignatureChecker;
  readonly expiry: ExpiryHandler;
}): Promise<PckChain> {
  const { sigs, now, expiry } = input;
  const chain = await verifyPckChainSignatures(input.chain, input.anchors, sigs);
  const { root, intermediate, pck } = chain;
  // 4. CRLs: the root CA CRL by the root, the PCK CRL by the intermediate; revocation.
  await verifyCrlIssuedBy(input.rootCaCrl, root, 'root CA CRL', sigs);
  await verifyCrlIssuedBy(input.pckCrl, intermediate, 'PCK CRL', sigs);
  if (isRevoked(input.rootCaCrl, intermediate)) {
    throw new DcapError('SGX_INTERMEDIATE_CA_REVOKED', `"${cn(intermediate)}" is revoked by the root CA CRL`);
  }
  if (isRevoked(input.pckCrl, pck)) {
    throw new DcapError('SGX_PCK_REVOKED', `the PCK certificate (serial ${pck.serialHex}) is revoked by the PCK CRL`);
  }
  // 5. Time.
  checkCertTime(root, now, 'SGX_PCK_CERT_CHAIN_EXPIRED', 'PCK chain root', expiry);
  checkCertTime(intermediate, now, 'SGX_PCK_CERT_CHAIN_EXPIRED', 'PCK chain intermediate', expiry);
  checkCertTime(pck, now, 'SGX_PCK_CERT_CHAIN_EXPIRED', 'PCK certificate', expiry);
  if (input.checkRootCrlTime) checkCrlTime(input.rootCaCrl, now, 'root CA CRL', expiry);
  if (input.checkPckCrlTime) checkCrlTime(input.pckCrl, now, 'PCK CRL', expiry);
  return chain;
}

export interface SigningChain {
  readonly root: Certificate;
  readonly signer: Certificate;
  readonly anchor: TrustAnchor;
}

/** TCBSigningChain::verify: the 2-certificate chain that signs TCB info and enclave identities. */
export async function verifySigningChain(input: {
  readonly chain: readonly Certificate[];
  readonly rootCaCrl: Crl;
  readonly anchors: readonly TrustAnchor[];
  readonly sigs: SignatureChecker;
  readonly what: string;
}): Promise<SigningChain> {
  const { sigs, what } = input;
  if (input.chain.length !== 2) {
    throw new DcapError('UNSUPPORTED_CERT_FORMAT', `${what} issuer chain has ${input.chain.length} certificates, expected 2`);
  }
  const [root, signer] = orderChain(input.chain) as [Certificate, Certificate];
  if (!selfIssued(root) || !cn(root).includes('SGX Root CA')) {
    throw new DcapError('SGX_ROOT_CA_MISSING', `${what} issuer chain has no "SGX Root CA" root`);
  }
  await verifyRoot(root, sigs);
  if (!cn(signer).includes('SGX TCB Signing')) {
    throw new DcapError('SGX_TCB_SIGNING_CERT_MISSING', `${what} issuer chain has no "SGX TCB Signing" certificate`);
  }
  if (!bytesEqual(signer.issuer.raw, root.subject.raw) || !(await sigs.verifySignedBy(signer, root))) {
    throw new DcapError('SGX_TCB_SIGNING_CERT_INVALID_ISSUER', `"${cn(signer)}" is not signed by "${cn(root)}"`);
  }
  await verifyCrlIssuedBy(input.rootCaCrl, root, 'root CA CRL', sigs);
  if (isRevoked(input.rootCaCrl, signer)) {
    throw new DcapError('SGX_TCB_SIGNING_CERT_REVOKED', `"${cn(signer)}" is revoked by the root CA CRL`);
  }
  const anchor = matchTrustAnchor(root, input.anchors);
  if (anchor === undefined) {
    throw new DcapError('SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED', `${what} issuer chain's root key is not a trusted root key`);
  }
  return { root, signer, anchor };
}

/** PCK CRL issuers (X509Constants.h PCK_PROCESSOR_CRL_ISSUER / PCK_PLATFORM_CRL_ISSUER, by common-name phrase). */
const PCK_CRL_ISSUER_PHRASES = ['SGX PCK Processor CA', 'SGX PCK Platform CA'];

/**
 * QVL's verifyCRLIssuerCertChain wants exactly 2 certificates (leaf and root). Recorded PCS data carries more
 * (google/go-tdx-guest's pckCrlIssuerChain: Platform CA, root, TCB Signing, root), and QvE's quote path never checks
 * this chain, so Cloister accepts extra certificates after finding the leaf and the root; a bound keeps the work small.
 */
const MAX_PCK_CRL_ISSUER_CHAIN = 8;

const isPckCaName = (name: string | undefined): boolean => PCK_CRL_ISSUER_PHRASES.some((p) => (name ?? '').includes(p));

/**
 * The collateral's `pck_crl_issuer_chain` against the PCK CRL, as Intel QVL's PckCrlVerifier::verify(crl, chain,
 * trustedRoot) does it (Verifiers/PckCrlVerifier.cpp, reached through sgxAttestationVerifyPCKRevocationList):
 *   verifyCRLIssuerCertChain — a self-signed root in the chain (SGX_ROOT_CA_INVALID, SGX_CA_CERT_INVALID); a PCK CRL
 *   needs a chain of at least 2 certificates (SGX_CA_CERT_UNSUPPORTED_FORMAT; see {@link MAX_PCK_CRL_ISSUER_CHAIN})
 *   whose leaf is the Processor or Platform CA signed by that root (SGX_CA_CERT_INVALID); a CRL from any other issuer,
 *   or one whose issuer is not in the chain, is SGX_CRL_UNKNOWN_ISSUER;
 *   verify(crl, leaf) — the leaf is the CRL's issuer, the CRL has the required extensions and the leaf's signature;
 *   the chain's root is a trusted root (SGX_ROOT_CA_UNTRUSTED; pinned by public key here, as every Cloister anchor).
 * Subjects are matched by common-name phrase, as in the other chain checks, so that a simulated hierarchy fits.
 */
export async function verifyPckCrlIssuerChain(input: {
  readonly chain: readonly Certificate[];
  readonly pckCrl: Crl;
  readonly anchors: readonly TrustAnchor[];
  readonly sigs: SignatureChecker;
}): Promise<void> {
  const { chain, pckCrl, sigs } = input;
  const root = chain.find((c) => selfIssued(c) && cn(c).includes('SGX Root CA'));
  if (root === undefined) throw new DcapError('SGX_ROOT_CA_INVALID', 'the PCK CRL issuer chain has no "SGX Root CA" root');
  if (!(await sigs.verifySignedBy(root, root))) {
    throw new DcapError('SGX_CA_CERT_INVALID', `the PCK CRL issuer chain root "${cn(root)}" is not self-signed`);
  }
  if (!isPckCaName(pckCrl.issuer.commonName)) {
    throw new DcapError('SGX_CRL_UNKNOWN_ISSUER', `the PCK CRL is issued by "${pckCrl.issuer.text}", not a PCK Processor/Platform CA`);
  }
  if (chain.length < 2 || chain.length > MAX_PCK_CRL_ISSUER_CHAIN) {
    throw new DcapError('SGX_CA_CERT_UNSUPPORTED_FORMAT', `the PCK CRL issuer chain has ${chain.length} certificates, expected 2`);
  }
  // The leaf: the CA certificate named as the CRL's issuer (QVL: the chain's topmost certificate).
  const leaf = chain.find((c) => c !== root && bytesEqual(c.subject.raw, pckCrl.issuer.raw));
  if (leaf === undefined) {
    throw new DcapError('SGX_CRL_UNKNOWN_ISSUER', `the PCK CRL issuer chain has no certificate for "${pckCrl.issuer.text}"`);
  }
  if (!isPckCaName(leaf.subject.commonName)) {
    throw new DcapError('SGX_CA_CERT_INVALID', `the PCK CRL issuer chain leaf "${cn(leaf)}" is not a PCK Processor/Platform CA`);
  }
  if (!bytesEqual(leaf.issuer.raw, root.subject.raw) || !(await sigs.verifySignedBy(leaf, root))) {
    throw new DcapError('SGX_CA_CERT_INVALID', `the PCK CRL issuer chain leaf "${cn(leaf)}" is not signed by "${cn(root)}"`);
  }
  await verifyCrlIssuedBy(pckCrl, leaf, 'PCK CRL (against its issuer chain)', sigs);
  if (matchTrustAnchor(root, input.anchors) === undefined) {
    throw new DcapError('SGX_ROOT_CA_UNTRUSTED', "the PCK CRL issuer chain's root key is not a trusted root key");
  }
}
