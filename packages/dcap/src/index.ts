/**
 * @cloister/dcap — Intel SGX and TDX DCAP quotes: parsing, collateral, and verification as Intel's Quote
 * Verification Library does it. Isomorphic: all cryptography goes through an injectable provider whose default is
 * WebCrypto; Node-only adapters (node:crypto provider, PCS/PCCS/folder collateral providers) are in
 * `@cloister/dcap/node`.
 */
export { DcapError, DCAP_ERROR_CODES, isDcapErrorCode, type DcapErrorCode } from './errors.js';
export type {
  TeeType,
  QuoteHeader,
  SgxReportBody,
  TdReport,
  QuoteBody,
  CertificationData,
  QeReportCertificationData,
  QuoteSignatureData,
  Quote,
} from './quote/types.js';
export type { NameAttribute, Name, Extension, Certificate, RevokedCertificate, Crl, SgxType, PckExtension } from './x509/types.js';
export type {
  CollateralBundle,
  TcbLevelStatus,
  TcbLevel,
  IsvTcbLevel,
  TdxModule,
  TdxModuleIdentity,
  TcbInfo,
  EnclaveIdentity,
} from './collateral/types.js';
export type { CryptoProvider, P256PublicKey } from './crypto/provider.js';
export { createWebCryptoProvider, webCryptoProvider } from './crypto/webcrypto.js';
export { toHex, fromHex, toBase64, fromBase64, tryFromBase64, toBase64Url, bytesEqual, concatBytes } from './util/bytes.js';
export { decodePemCertificates } from './util/pem.js';
export { decodeBinaryInput, MAX_BINARY_INPUT_BYTES, MAX_TEXT_INPUT_CHARS } from './util/input.js';
// quotes
export { parseQuote } from './quote/quote.js';
export { parseReportBody, SGX_REPORT_BODY_SIZE } from './quote/sgx-report-body.js';
export { INTEL_QE_VENDOR_ID, TEE_TYPE_SGX, TEE_TYPE_TDX } from './quote/header.js';
export { unwrapEvidence } from './quote/oe.js';
export { sgxClaims, tdxClaims, type SgxClaims, type TdxClaims } from './quote/claims.js';
export type { UnwrappedEvidence, OeReportHeader, OeAttestationHeader } from './quote/oe.js';
// certificates and CRLs
export { parseCertificate } from './x509/certificate.js';
export { parseCertificateChainPem } from './x509/chain.js';
export { parseCrl, decodeCrl } from './x509/crl.js';
export { parsePckExtension } from './x509/sgx-extension.js';
// collateral
export { parseCollateralBundle, serializeCollateralBundle, collateralFromPcsResponses } from './collateral/bundle.js';
export { parseTcbInfo } from './collateral/tcb-info.js';
export { parseEnclaveIdentity } from './collateral/enclave-identity.js';
export { rawJsonMember } from './collateral/json-span.js';
// verification
export { QuoteVerifier, verifyQuote, type VerifierOptions, type VerifyOptions } from './verify/verifier.js';
export type { VerificationResult, PlatformInfo, CollateralFreshness } from './verify/result.js';
export { TCB_STATUSES, TCB_LEVEL_STATUSES, ISV_LEVEL_STATUSES, type TcbStatus } from './verify/status.js';
export { INTEL_SGX_ROOT_CA, trustAnchorFromCertificate, type TrustAnchor } from './verify/trust-anchor.js';
export { collateralRequestForQuote, type CollateralRequest } from './verify/collateral-request.js';
