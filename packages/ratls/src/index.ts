/**
 * @cloister/ratls — attested TLS certificates: the interoperable RA-TLS format (TCG DICE tagged evidence) and the
 * Gramine, Intel SGX SDK, Open Enclave and EGo variants; inspection, verification against a policy, creation.
 */
export { isRatlsErrorCode, RATLS_ERROR_CODES, RatlsError, type RatlsErrorCode } from './errors.js';
export {
  type CborDecodeOptions,
  CborMap,
  CborTagged,
  cborToJson,
  type CborValue,
  decodeCbor,
  encodeCbor,
} from './cbor.js';
export {
  CBOR_TAG_SGX_LEGACY_REPORT,
  CBOR_TAG_SGX_QUOTE,
  CBOR_TAG_TDX_REPORT,
  checkEvidenceBinding,
  type EvidenceFormat,
  type EvidenceFound,
  extractEvidence,
  FORMAT_PRIORITY,
  HASH_ALG_IDS,
  OID_GRAMINE_LEGACY,
  OID_GRAMINE_LEGACY_INTENDED,
  OID_INTEL_SGXSDK_LEGACY,
  OID_OE_LEGACY_EVIDENCE,
  OID_OE_LEGACY_QUOTE,
  OID_OE_NEW_EVIDENCE,
  OID_OE_NEW_QUOTE,
  OID_TCG_DICE_ENDORSEMENT_MANIFEST,
  OID_TCG_DICE_TAGGED_EVIDENCE,
  parseSgxQuote,
  publicKeyPemWithNul,
  type SgxQuote,
  sha256,
  strongestEvidence,
} from './formats.js';
export { loadCertificate, selfSignatureValid, checkCertificate } from './certificate.js';
export {
  type CertificateInspection,
  type EvidenceInspection,
  inspectAttestedCertificate,
  inspectCertificate,
  type QuoteSummary,
} from './inspect.js';
export {
  type AttestedEvidence,
  type AttestedPolicy,
  type AttestedVerification,
  type CollateralInput,
  verifyAttestedCertificate,
  verifyAttestedEvidence,
  type VerifyAttestedOptions,
} from './verify.js';
export {
  type AttestedCertificate,
  type AttestedKeyAlgorithm,
  createAttestedCertificate,
  type CreateAttestedCertificateOptions,
  diceClaimsBuffer,
  diceEvidenceValue,
} from './create.js';
export {
  attestedHttpsAgent,
  type AttestedHttpsAgentOptions,
  type AttestedHttpsServerOptions,
  type AttestedServerOptions,
  connectAttested,
  type ConnectAttestedOptions,
  createAttestedHttpsServer,
  createAttestedServer,
  peerAttestation,
  type PeerVerification,
  verifyPeer,
} from './tls.js';
