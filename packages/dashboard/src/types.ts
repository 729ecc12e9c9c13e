/**
 * What the dashboard shows, as plain JSON-able views, and the data-source callbacks a service passes to
 * `mountDashboard`. The dashboard depends on neither service: each service (or an adapter in this package) maps its
 * storage to these shapes. Nothing in these views is secret: no private keys, no tokens, no wrapped key material.
 */

// ---------------------------------------------------------------------------------------------------------------
// Attestation service

/** How the policy decided (the audit record's outcome). `error`: the evidence did not verify (no policy ran). */
export type AttestationOutcome = 'permitted' | 'denied' | 'error';

export interface AttestationSummary {
  readonly id: string;
  /** ISO 8601. */
  readonly time: string;
  /** `SgxEnclave`, `OpenEnclave`, … */
  readonly type: string;
  readonly outcome: AttestationOutcome;
  /** Set for denied / error outcomes: the stable error code (e.g. `POLICY_DENIED`, `QUOTE_INVALID`). */
  readonly code?: string;
  /** Attested by the simulated instance (evidence from a simulated platform). */
  readonly simulated: boolean;
  readonly mrenclave?: string;
  readonly mrsigner?: string;
  readonly productId?: number;
  readonly svn?: number;
  readonly debug?: boolean;
  readonly tcbStatus?: string;
  readonly advisoryIds: readonly string[];
}

export interface VerificationStep {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface AttestationDetail extends AttestationSummary {
  /** The token's claims (as issued; for a refusal, the evidence claims the policy saw), or null when none exist. */
  readonly claims: Readonly<Record<string, unknown>> | null;
  readonly steps: readonly VerificationStep[];
  readonly evidenceHash?: string;
  readonly claimsHash?: string;
  readonly policyHash?: string;
  /** Whether the evidence itself is retained (draft-policy replay needs it). */
  readonly evidenceRetained: boolean;
  /** Anything else the audit record carries (shown as JSON). */
  readonly detail?: unknown;
}

export interface AttestationFilters {
  readonly type?: string;
  readonly outcome?: AttestationOutcome;
  readonly tcbStatus?: string;
  readonly simulated?: boolean;
}

export interface AttestationListQuery {
  /** 1 … 500. */
  readonly limit: number;
  /** Only records strictly older than this id's record (paging), when set. */
  readonly before?: string;
  readonly filters: AttestationFilters;
}

export interface CountsQuery {
  readonly since: Date;
  readonly until: Date;
  readonly bucketSeconds: number;
}

/** Attestations in [start, start + bucketSeconds), grouped three ways. */
export interface CountBucket {
  /** ISO 8601 start of the bucket. */
  readonly start: string;
  readonly byOutcome: Readonly<Record<string, number>>;
  readonly byTcbStatus: Readonly<Record<string, number>>;
  readonly byType: Readonly<Record<string, number>>;
}

export interface PolicyView {
  readonly type: string;
  /** The policy text (MAA policy language). */
  readonly text: string;
  /** Signed by a policy signer (isolated mode) and by whom (certificate subject). */
  readonly signed: boolean;
  readonly signer?: string;
  /** `x-ms-policy-hash` of the policy, when known. */
  readonly hash?: string;
  readonly version?: string;
  readonly updated?: string;
  /** The default policy of the type (never set). */
  readonly isDefault: boolean;
}

export interface PolicyProblem {
  readonly code: string;
  readonly message: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

export type PolicyParseResult = { readonly ok: true } | { readonly ok: false; readonly problem: PolicyProblem };

export interface PolicyTestResult {
  readonly outcome: AttestationOutcome;
  /** Error code when the outcome is not `permitted` (`POLICY_DENIED`, `POLICY_SYNTAX`, …). */
  readonly code?: string;
  readonly message?: string;
  /** Where a syntax error is. */
  readonly problem?: PolicyProblem;
  /** The claims the draft policy would issue. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface CertificateView {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** SHA-256 of the DER, hex. */
  readonly sha256: string;
}

export interface SigningKeyView {
  readonly kid: string;
  readonly instance: 'real' | 'simulated';
  readonly alg: string;
  /** `active` (signs new tokens), `retiring` (still published), `retired`. */
  readonly status: string;
  readonly created: string;
  readonly certificate?: CertificateView;
}

export interface PolicySignerView {
  readonly instance: 'real' | 'simulated';
  readonly added?: string;
  readonly certificate: CertificateView;
}

export interface AttestationSource {
  /** The attestation types policies exist for (e.g. `['SgxEnclave', 'OpenEnclave']`). */
  policyTypes(): readonly string[];
  list(query: AttestationListQuery): Promise<readonly AttestationSummary[]>;
  get(id: string): Promise<AttestationDetail | undefined>;
  counts(query: CountsQuery): Promise<readonly CountBucket[]>;
  policy(type: string): Promise<PolicyView | undefined>;
  /** Parses a policy text with the service's own parser. */
  parsePolicy(type: string, text: string): Promise<PolicyParseResult>;
  /** Draft-policy replay: evaluates `text` against the stored evidence of attestation `attestationId`. */
  testPolicy(type: string, text: string, attestationId: string): Promise<PolicyTestResult>;
  /** Stores a new (unsigned) policy. Absent: the dashboard offers no editing. Called only with the admin token. */
  setPolicy?(type: string, text: string): Promise<PolicyView>;
  signingKeys(): Promise<readonly SigningKeyView[]>;
  policySigners(): Promise<readonly PolicySignerView[]>;
}

// ---------------------------------------------------------------------------------------------------------------
// Key broker

export interface BrokerKeyView {
  readonly name: string;
  readonly version: string;
  /** `RSA-HSM`, `EC-HSM`, `oct-HSM`. */
  readonly kty: string;
  readonly keySize?: number;
  readonly crv?: string;
  readonly keyOps: readonly string[];
  readonly exportable: boolean;
  readonly enabled: boolean;
  readonly created?: string;
  /** The AKV release policy (JSON), or null. */
  readonly releasePolicy: unknown;
}

export interface ReleaseRecord {
  readonly id: string;
  readonly time: string;
  readonly key: string;
  readonly version?: string;
  readonly granted: boolean;
  /** `RELEASED` or the refusal's code (e.g. `POLICY_NOT_SATISFIED`, `TOKEN_EXPIRED`). */
  readonly code: string;
  /** Why it was refused, in words (never a secret). */
  readonly reason?: string;
  /** The failing rule when the caller branches on it (`claim`, `authority`, …). */
  readonly rule?: string;
  /** The token's issuer. */
  readonly authority?: string;
  readonly mrenclave?: string;
  readonly mrsigner?: string;
  readonly attestationType?: string;
}

export interface ReleaseQuery {
  readonly limit: number;
  readonly key?: string;
  readonly granted?: boolean;
}

export interface MemberView {
  readonly id: string;
  /** The member's public key (JWK, public members only). */
  readonly publicKey?: Readonly<Record<string, unknown>>;
}

export interface BallotView {
  readonly member: string;
  readonly vote: string;
}

export interface ProposalView {
  readonly id: string;
  readonly proposer: string;
  /** `open`, `accepted`/`enacted`, `rejected`, `withdrawn`, `failed`. */
  readonly state: string;
  readonly created?: string;
  /** The proposed actions (JSON). */
  readonly actions: unknown;
  readonly ballots: readonly BallotView[];
  readonly outcome?: unknown;
}

export interface GovernanceView {
  readonly enabled: boolean;
  readonly threshold?: number;
  readonly members: readonly MemberView[];
  readonly proposals: readonly ProposalView[];
}

/**
 * One ledger line as the key broker exports it: `entry` is the canonical JSON `{"at","body","prev","seq","type"}`
 * (exactly the bytes hashed), `hash` its SHA-256 (hex), `sig` a compact JWS RS256 over `{"hash","seq"}`.
 */
export interface LedgerLine {
  readonly entry: string;
  readonly hash: string;
  readonly sig: string;
}

export interface LedgerPage {
  /** The broker's ledger-signing public key (JWK); absent: signatures cannot be checked in the browser. */
  readonly signingKey?: Readonly<Record<string, unknown>>;
  /** Lines from `from` on, in order. */
  readonly lines: readonly LedgerLine[];
  /** Total entries in the ledger. */
  readonly total: number;
}

export interface KeyBrokerSource {
  keys(): Promise<readonly BrokerKeyView[]>;
  releases(query: ReleaseQuery): Promise<readonly ReleaseRecord[]>;
  governance(): Promise<GovernanceView>;
  ledger(from: number, limit: number): Promise<LedgerPage>;
}
