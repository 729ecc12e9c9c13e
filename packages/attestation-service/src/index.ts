/**
 * @cloister/attestation-service: a self-hosted, Azure Attestation–compatible attestation service — MAA REST API,
 * the MAA policy language, RS256 tokens, signing keys encrypted at rest, PGlite/PostgreSQL storage, an audit log.
 * See docs/attestation/service.md.
 */
export { startAttestationService, type AttestationServiceOptions, type AttestationServiceHandle } from './service.js';
export { AttestationInstance, incomingClaims, type InstanceName } from './instance.js';
export { ATTESTATION_ERROR_CODES, type AttestationErrorCode } from './errors.js';
export {
  ATTESTATION_TYPES,
  collateralClaim,
  evidenceClaims,
  parseEvidence,
  type AttestationType,
  type Claims,
  type ClaimValue,
  type RuntimeDataInput,
  type RuntimeDataType,
} from './claims.js';
export { maaClaimsForEvidence, type MaaClaimsOptions } from './maa-claims.js';
export { API_VERSIONS, parseAttestRequest, type ApiVersion, type AttestRequest } from './request.js';
export { parseMaaPolicy, MAX_POLICY_TEXT, MAX_RULES, MAX_CONDITIONS } from './policy/parser.js';
export { evaluateMaaPolicy, issuedClaimsObject, claim, type PolicyClaim, type PolicyEvaluation, type ClaimIssuer, type ClaimValueType } from './policy/evaluate.js';
export { MaaPolicyError, MAA_POLICY_ERROR_CODES, type MaaPolicyErrorCode } from './policy/errors.js';
export { DEFAULT_SGX_POLICY, defaultPolicyText, policyHash } from './policy/defaults.js';
export { parsePolicyJws, policyTextOf, policyTokenHash, unsignedPolicyJws, POLICY_SIGNING_ALGS } from './policy/wire.js';
export type { MaaPolicy, Rule, Condition, Action, ClaimAction, DecisionAction, PolicyVersion } from './policy/ast.js';
export { TOKEN_LIFETIME_SECONDS, jwkOf, type Jwk } from './tokens.js';
export { generateSigningKey, deriveKeyEncryptionKey, kidOf } from './keys.js';
export { ATTESTATION_MIGRATIONS } from './store.js';
export { AuditLog, type AuditLogOptions } from './audit.js';
export { DEFAULT_EVIDENCE_RULES } from './verify.js';
export {
  attest,
  fetchJwks,
  jsonRequest,
  verifyAttestationToken,
  type AttestOptions,
  type ClientOptions,
  type JwksDocument,
  type VerifiedToken,
  type VerifyTokenOptions,
} from './client.js';
export { looksLikeOeReport } from './oe.js';
