/**
 * @cloister/policy — the one enclave-identity policy engine: a strict schema (parsePolicy), one evaluator
 * (evaluatePolicy throws, decidePolicy returns the decision), one typed error naming the key or the failed rule, and
 * the one identity vocabulary (dcap's claim names). Browser-safe: no Node built-ins.
 * See docs/attestation/policy.md.
 */
export { POLICY_ERROR_CODES, PolicyError, type PolicyErrorCode, type PolicyErrorDetails } from './errors.js';
export {
  DEFAULT_ACCEPTED_TCB_STATUSES,
  EVIDENCE_RULE_KEYS,
  MAX_LIST_ENTRIES,
  MAX_POLICY_JSON,
  POLICY_KEYS,
  parseEvidenceRules,
  parsePolicy,
  parsePolicyJson,
  policyToJson,
} from './schema.js';
export { decideEvidenceRules, decidePolicy, evaluateEvidenceRules, evaluatePolicy, mismatchError } from './evaluate.js';
export { IDENTITY_FIELDS, enclaveIdentity, identityFromMaaClaims, maaClaimsOf, type IdentityField } from './vocabulary.js';
export {
  POLICY_RULES,
  type EnclaveIdentity,
  type EnclavePolicy,
  type EvidenceRules,
  type EvidenceRulesInput,
  type MrenclavePolicy,
  type MrsignerPolicy,
  type Policy,
  type PolicyCommon,
  type PolicyDecision,
  type PolicyEvidence,
  type PolicyOptIn,
  type PolicyRule,
  type RuleCheck,
  type RuleOutcome,
} from './types.js';
