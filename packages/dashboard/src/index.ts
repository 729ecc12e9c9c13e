/**
 * @cloister/dashboard: the web dashboard of Cloister's attestation service and key broker. A service calls
 * `mountDashboard(app, {attestation | keyBroker, adminToken, viewerToken})`; the front-end is one bundled script and
 * one style sheet served under `/ui`, with a strict Content-Security-Policy.
 */
export { mountDashboard, MAX_LIST, MAX_LEDGER_PAGE, MAX_POLICY_BODY, type DashboardOptions, type DashboardConfig } from './mount.js';
export { DASHBOARD_CSP, DASHBOARD_HEADERS } from './csp.js';
export { isLoopbackAddress, isLoopbackHost, type AccessMode } from './access.js';
export { dashboardAssets, dashboardHtml, bundleDashboardScript, type DashboardAssets } from './assets.js';
export {
  verifyLedgerLines,
  parseLedgerEntry,
  canonicalJson,
  GENESIS_PREV,
  LEDGER_JWS_TYP,
  MAX_LEDGER_LINE,
  type LedgerVerification,
  type LedgerRule,
  type LedgerEntryFields,
} from './ledger-verify.js';
export {
  attestationServiceSource,
  evidenceIdentity,
  type AttestationServiceSourceOptions,
  type AttestationInstanceLike,
  type AttestationInstanceName,
} from './adapters/attestation-service.js';
export { keyBrokerSource, type KeyBrokerSourceOptions } from './adapters/key-broker.js';
export type { SqlQueryable } from './adapters/sql.js';
export type {
  AttestationOutcome,
  AttestationSummary,
  AttestationDetail,
  AttestationFilters,
  AttestationListQuery,
  AttestationSource,
  CountsQuery,
  CountBucket,
  VerificationStep,
  PolicyView,
  PolicyProblem,
  PolicyParseResult,
  PolicyTestResult,
  CertificateView,
  SigningKeyView,
  PolicySignerView,
  BrokerKeyView,
  ReleaseRecord,
  ReleaseQuery,
  MemberView,
  BallotView,
  ProposalView,
  GovernanceView,
  LedgerLine,
  LedgerPage,
  KeyBrokerSource,
} from './types.js';
