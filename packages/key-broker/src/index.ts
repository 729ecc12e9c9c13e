/**
 * @cloister/key-broker — keys released only to attested enclaves: Azure Key Vault Secure Key Release compatible
 * (create, import, get, release with AKV release policies over MAA-format tokens), the KEK and every key in the
 * clear inside a Cloister enclave, M-of-N governance with a hash-chained signed ledger. See docs/key-broker.md.
 */
export { KB_ERROR_CODES, KeyBrokerError, type KbErrorCode } from './errors.js';
export {
  MAX_RELEASE_POLICY_BYTES,
  claimAt,
  decodeReleasePolicyData,
  evaluateReleasePolicy,
  normaliseAuthority,
  parseReleasePolicy,
  type AuthorityRule,
  type Condition,
  type ReleaseDecision,
  type ReleasePolicy,
  type ReleaseRefusalRule,
} from './release-policy.js';
export { MAX_TOKEN_BYTES, TokenVerifier, type TokenVerifierOptions, type VerifiedToken } from './token.js';
export { targetKeyOf, type TargetKey } from './target-key.js';
export {
  RELEASE_ENCRYPTIONS,
  aesKwpUnwrap,
  aesKwpWrap,
  isReleaseEncryption,
  rsaAesKeyUnwrap,
  rsaAesKeyWrap,
  type ReleaseEncryption,
} from '../enclave/src/key-wrap.js';
export { combine as combineShares, split as splitSecret } from '../enclave/src/shamir.js';
export { canonicalJson } from './canonical.js';
export {
  GENESIS_PREV,
  LEDGER_JWS_TYP,
  LedgerVerificationError,
  exportLine,
  verifyLedger,
  verifyReceipt,
  type LedgerEntry,
  type LedgerLine,
  type LedgerSummary,
} from './ledger.js';
export {
  ACTION_TYPES,
  BALLOT_TYP,
  MEMBER_ALGORITHMS,
  PROPOSAL_TYP,
  memberOf,
  verifyBallot,
  verifyProposal,
  type Action,
  type Member,
} from './governance.js';
export { signBallot, signProposal, reencryptShare, openReleasedKey, type OpenedRelease } from './client.js';
export { KEY_BROKER_MIGRATIONS } from './migrations.js';
export {
  KeyBroker,
  RELEASE_POLICY_CONTENT_TYPE,
  encodeReleasePolicy,
  type BrokerState,
  type GovernanceConfig,
  type KeyBrokerOptions,
  type KeyBundle,
  type ProposalView,
  type ReleaseRequest,
  type StoredReleasePolicy,
} from './broker.js';
export { API_VERSION, CHALLENGE, createBrokerApp, type BrokerAppOptions } from './app.js';
export {
  ENCLAVE_PROJECT_DIR,
  prepareBrokerEnclave,
  startBrokerEnclave,
  type BrokerEnclave,
  type PeerConfig,
  type PreparedBrokerEnclave,
  type PrepareBrokerEnclaveOptions,
  type StartBrokerEnclaveOptions,
} from './kek-enclave.js';
export { startKeyBroker, type KeyBrokerHandle, type StartKeyBrokerOptions } from './server.js';
export { brokerJson, brokerRequest, type BrokerRequestOptions, type BrokerResponse } from './http-client.js';
export { KBS_ISSUER, KBS_VERSION, addKbsRoutes, type KbsOptions } from './kbs.js';
