/**
 * One attestation instance — the real one (issuer = the configured URL) or the simulated one (issuer
 * `<issuer>/simulated`, its own keys, policies and trust roots): signing keys, policies, policy signers, attestation.
 * State lives in storage, so replicas on one PostgreSQL serve the same keys and policies; each replica caches
 * policies for `policyCacheMs` and re-reads signing keys every `keyRefreshMs`.
 */
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Logger } from '@cloister/service-kit';
import type { Storage } from '@cloister/storage';
import { AuditLog } from './audit.js';
import { evidenceClaims, parseEvidence, type AttestationType, type Claims, type ClaimValue } from './claims.js';
import { badRequest, ServiceError } from './errors.js';
import { decryptPrivateKey, encryptPrivateKey, generateSigningKey } from './keys.js';
import { defaultPolicyText, policyHash } from './policy/defaults.js';
import { MaaPolicyError } from './policy/errors.js';
import { claim, evaluateMaaPolicy, issuedClaimsObject, type PolicyClaim } from './policy/evaluate.js';
import type { MaaPolicy } from './policy/ast.js';
import { parseMaaPolicy } from './policy/parser.js';
import { parsePolicyJws, policyTextOf, policyTokenHash, signerOf, unsignedPolicyJws, type PolicySigner } from './policy/wire.js';
import type { AttestRequest } from './request.js';
import { loadPolicy, q, type AuditRecord } from './store.js';
import { TOKEN_LIFETIME_SECONDS, jwkOf, signToken, signTokenJson, tokenPayload, unsignedToken, type ActiveKey, type Jwk } from './tokens.js';
import type { InstanceVerifier } from './verify.js';

export type InstanceName = 'real' | 'simulated';

export interface InstanceOptions {
  readonly name: InstanceName;
  readonly issuer: string;
  readonly db: Storage;
  readonly kek: Uint8Array;
  readonly verifier: InstanceVerifier;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** Policy cache lifetime (default 1000 ms; 0: read on every attestation). */
  readonly policyCacheMs?: number;
  /** Re-read signing keys this often (default 30 s). */
  readonly keyRefreshMs?: number;
  /** Keep the evidence in the audit record (default true; pruned after the retention period). */
  readonly keepEvidence?: boolean;
  /** Initial policy signers (isolated mode): DER certificates. */
  readonly policySigners?: readonly Uint8Array[];
  /** Called once per attestation with its outcome (metrics). */
  readonly onAttestation?: (type: AttestationType, outcome: string, code: string | null, seconds: number) => void;
}

interface LoadedKey extends ActiveKey {
  readonly generation: number;
  readonly jwk: Jwk;
}

interface CachedPolicy {
  readonly at: number;
  readonly text: string;
  readonly jws: string;
  readonly parsed: MaaPolicy;
  readonly hash: string;
  readonly signer: Record<string, unknown> | null;
}

/** Claim names the policy's issued claims never overwrite at the top level of a token. */
function reserved(name: string): boolean {
  return ['iss', 'iat', 'nbf', 'exp', 'jti', 'nonce', 'cnf'].includes(name) || name.startsWith('x-ms-') || name.startsWith('x-cloister-');
}

/** Legacy `$`-names of incoming claims still accepted by MAA (claim-sets.md, deprecated incoming claims). */
const DOLLAR_ALIASES: Readonly<Record<string, string>> = {
  '$is-debuggable': 'x-ms-sgx-is-debuggable',
  '$sgx-mrsigner': 'x-ms-sgx-mrsigner',
  '$sgx-mrenclave': 'x-ms-sgx-mrenclave',
  '$product-id': 'x-ms-sgx-product-id',
  '$svn': 'x-ms-sgx-svn',
  '$tee': 'x-ms-attestation-type',
};

/** The incoming claim set of a policy evaluation: scalar token claims, `$` aliases, runtime JSON members. */
export function incomingClaims(claims: Claims): PolicyClaim[] {
  const out: PolicyClaim[] = [];
  const scalar = (v: ClaimValue | undefined): v is string | number | boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  for (const [k, v] of Object.entries(claims)) {
    if (scalar(v)) out.push(claim(k, v));
    else if (Array.isArray(v) && k === 'x-cloister-advisory-ids') for (const a of v) if (typeof a === 'string') out.push(claim('x-cloister-advisory-id', a));
  }
  for (const [alias, name] of Object.entries(DOLLAR_ALIASES)) {
    const v = claims[name];
    if (scalar(v)) out.push(claim(alias, v));
  }
  const runtime = claims['x-ms-runtime'];
  if (typeof runtime === 'object' && runtime !== null && !Array.isArray(runtime)) {
    for (const [k, v] of Object.entries(runtime)) if (scalar(v)) out.push(claim(k, v, 'CustomClaim'));
  }
  return out;
}

/** Registered claims the token adds after the caller's claims (tokens.ts tokenPayload). */
const TOKEN_REGISTERED = ['iss', 'iat', 'nbf', 'exp', 'jti'] as const;

/**
 * `JSON.stringify(tokenPayload(claims, options))` from the claims' JSON text: the registered claims are appended to
 * the object text (the same bytes JSON.stringify gives, as none of them is among the claims: otherwise the object is
 * serialised again).
 */
function tokenPayloadJson(claimsJson: string, claims: JWTPayload, options: { issuer: string; lifetimeSeconds: number; jti: boolean }): string {
  const full = tokenPayload({}, options);
  if (claimsJson.length < 3 || TOKEN_REGISTERED.some((k) => k in claims)) return JSON.stringify({ ...claims, ...full });
  return `${claimsJson.slice(0, -1)},${JSON.stringify(full).slice(1)}`;
}

export function sha256hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Turns a policy-language error into the 400 a caller sees (code POLICY_INVALID, with line and column). */
export function policyFault(e: unknown): unknown {
  if (e instanceof MaaPolicyError) {
    return badRequest('POLICY_INVALID', e.message, { policyCode: e.code, line: e.line, column: e.column });
  }
  return e;
}

export class AttestationInstance {
  readonly name: InstanceName;
  readonly issuer: string;
  readonly #o: InstanceOptions;
  #keys: LoadedKey[] = [];
  #keysAt = 0;
  readonly #policies = new Map<string, CachedPolicy>();
  readonly #policyReads = new Map<string, Promise<CachedPolicy>>();
  #refreshing: Promise<void> | undefined;

  private constructor(o: InstanceOptions) {
    this.#o = o;
    this.name = o.name;
    this.issuer = o.issuer;
  }

  /** The storage key of this instance ('' for the real one). */
  get id(): string {
    return this.name === 'real' ? '' : 'simulated';
  }

  get verifier(): InstanceVerifier {
    return this.#o.verifier;
  }

  static async open(o: InstanceOptions): Promise<AttestationInstance> {
    const inst = new AttestationInstance(o);
    for (const der of o.policySigners ?? []) {
      const s = signerOf(der);
      await q(o.db, 'INSERT INTO attestation_policy_certificates (instance, sha256, certificate) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [inst.id, s.sha256, der]);
    }
    await inst.#loadKeys();
    if (inst.#keys.length === 0) {
      await inst.#insertKey(1);
      await inst.#loadKeys();
    }
    if (inst.#keys.length === 0) throw new ServiceError('KEY_UNAVAILABLE', 500, 'no signing key could be created');
    return inst;
  }

  async #insertKey(generation: number): Promise<boolean> {
    const k = await generateSigningKey(this.issuer);
    const blob = encryptPrivateKey(this.#o.kek, this.id, k.kid, k.privateKey);
    const rows = await q<{ generation: number }>(
      this.#o.db,
      'INSERT INTO attestation_signing_keys (instance, generation, kid, certificate, private_key, not_after) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING generation',
      [this.id, generation, k.kid, k.certificate, blob, k.notAfter],
    );
    return rows.length > 0;
  }

  async #loadKeys(): Promise<void> {
    const rows = await q<{ generation: number; kid: string; certificate: Uint8Array; private_key: Uint8Array }>(
      this.#o.db,
      'SELECT generation, kid, certificate, private_key FROM attestation_signing_keys WHERE instance = $1 AND (retire_at IS NULL OR retire_at > now()) AND not_after > now() ORDER BY generation DESC',
      [this.id],
    );
    const known = new Map(this.#keys.map((k) => [k.kid, k]));
    this.#keys = rows.map((r) => {
      const prior = known.get(r.kid);
      if (prior !== undefined) return prior;
      const certificate = new Uint8Array(r.certificate);
      return {
        generation: Number(r.generation),
        kid: r.kid,
        certificate,
        privateKey: decryptPrivateKey(this.#o.kek, this.id, r.kid, new Uint8Array(r.private_key)),
        jwk: jwkOf(r.kid, certificate),
      };
    });
    this.#keysAt = Date.now();
  }

  /** Re-reads keys when the copy is older than keyRefreshMs (never fails a request: a failed read keeps the copy). */
  #maybeRefreshKeys(): void {
    if (Date.now() - this.#keysAt < (this.#o.keyRefreshMs ?? 30_000) || this.#refreshing !== undefined) return;
    this.#refreshing = this.#loadKeys()
      .catch((e: unknown) => this.#o.logger.warn({ code: (e as { code?: string }).code }, 'signing keys not refreshed'))
      .finally(() => {
        this.#refreshing = undefined;
      });
  }

  /** The JWKS of `/certs`: every key not yet retired, newest first. */
  jwks(): { keys: Jwk[] } {
    this.#maybeRefreshKeys();
    return { keys: this.#keys.map((k) => k.jwk) };
  }

  activeKey(): ActiveKey {
    this.#maybeRefreshKeys();
    const k = this.#keys[0];
    if (k === undefined) throw new ServiceError('KEY_UNAVAILABLE', 503, 'no signing key');
    return k;
  }

  /**
   * A new signing key becomes active; the previous ones stay in `/certs` for `overlapMs` (default 8 h 5 min: every
   * token they signed stays verifiable until it expires), then leave it.
   */
  async rotateSigningKey(overlapMs = (TOKEN_LIFETIME_SECONDS + 300) * 1000): Promise<string> {
    const rows = await q<{ g: number | null }>(this.#o.db, 'SELECT max(generation) AS g FROM attestation_signing_keys WHERE instance = $1', [this.id]);
    const next = Number(rows[0]?.g ?? 0) + 1;
    if (await this.#insertKey(next)) {
      await q(this.#o.db, 'UPDATE attestation_signing_keys SET retire_at = $2 WHERE instance = $1 AND generation < $3 AND retire_at IS NULL', [
        this.id,
        new Date(Date.now() + overlapMs),
        next,
      ]);
      await this.#audit({ kind: 'signing-key', outcome: 'rotated', actor: 'admin', detail: { generation: next } });
    }
    await this.#loadKeys();
    return this.activeKey().kid;
  }

  async #audit(r: Partial<AuditRecord> & Pick<AuditRecord, 'kind' | 'outcome'>): Promise<void> {
    await this.#o.audit.append({
      at: new Date(),
      instance: this.id,
      actor: null,
      attestationType: null,
      code: null,
      evidenceHash: null,
      evidence: null,
      claims: null,
      claimsHash: null,
      tcbStatus: null,
      advisories: null,
      policyHash: null,
      steps: null,
      detail: null,
      ...r,
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Policies

  async policy(type: AttestationType): Promise<CachedPolicy> {
    const ttl = this.#o.policyCacheMs ?? 1000;
    const hit = this.#policies.get(type);
    if (hit !== undefined && Date.now() - hit.at < ttl) return hit;
    // Concurrent requests share one read.
    const pending = this.#policyReads.get(type);
    if (pending !== undefined) return pending;
    const read = this.#readPolicy(type, hit).finally(() => this.#policyReads.delete(type));
    this.#policyReads.set(type, read);
    return read;
  }

  async #readPolicy(type: AttestationType, hit: CachedPolicy | undefined): Promise<CachedPolicy> {
    const stored = await loadPolicy(this.#o.db, this.id, type);
    const text = stored?.text ?? defaultPolicyText(type);
    let parsed: MaaPolicy;
    if (hit !== undefined && hit.text === text) parsed = hit.parsed;
    else parsed = parseMaaPolicy(text);
    const entry: CachedPolicy = { at: Date.now(), text, jws: stored?.jws ?? unsignedPolicyJws(text), parsed, hash: policyHash(text), signer: stored?.signer ?? null };
    this.#policies.set(type, entry);
    return entry;
  }

  async policySigners(): Promise<PolicySigner[]> {
    const rows = await q<{ certificate: Uint8Array }>(this.#o.db, 'SELECT certificate FROM attestation_policy_certificates WHERE instance = $1 ORDER BY added_at, sha256', [this.id]);
    return rows.map((r) => signerOf(new Uint8Array(r.certificate)));
  }

  /** Isolated mode (signers configured): the JWS must be signed by one of them. Otherwise unsigned or signed. */
  async #checkSigner(signer: PolicySigner | undefined): Promise<void> {
    const signers = await this.policySigners();
    if (signers.length === 0) return;
    if (signer === undefined) throw badRequest('POLICY_SIGNATURE_REQUIRED', 'this instance accepts only policies signed by one of its policy signer certificates');
    if (!signers.some((s) => s.sha256 === signer.sha256)) throw badRequest('POLICY_SIGNER_UNKNOWN', 'the JWS is signed by a certificate that is not a policy signer of this instance');
  }

  #managementToken(claims: JWTPayload): Promise<string> {
    return signToken(this.activeKey(), claims, { issuer: this.issuer, lifetimeSeconds: 3600 });
  }

  async getPolicy(type: AttestationType): Promise<string> {
    const p = await this.policy(type);
    return this.#managementToken({ 'x-ms-policy': p.jws });
  }

  async setPolicy(type: AttestationType, jwsText: string, actor: string): Promise<string> {
    const jws = await parsePolicyJws(jwsText);
    await this.#checkSigner(jws.signer);
    const text = policyTextOf(jws);
    try {
      parseMaaPolicy(text);
    } catch (e) {
      throw policyFault(e);
    }
    const tokenHash = policyTokenHash(jwsText);
    await q(
      this.#o.db,
      `INSERT INTO attestation_policies (instance, attestation_type, policy_jws, policy_text, signer, version) VALUES ($1, $2, $3, $4, $5, 1)
       ON CONFLICT (instance, attestation_type) DO UPDATE SET policy_jws = EXCLUDED.policy_jws, policy_text = EXCLUDED.policy_text,
       signer = EXCLUDED.signer, version = attestation_policies.version + 1, updated_at = now()`,
      [this.id, type, jwsText, text, jws.signer === undefined ? null : JSON.stringify(jws.signer.jwk)],
    );
    this.#policies.delete(type);
    this.#policyReads.delete(type);
    await this.#audit({ kind: 'policy', outcome: 'updated', actor, attestationType: type, policyHash: policyHash(text), detail: { tokenHash, signer: jws.signer?.thumbprint ?? null, text } });
    const claims: JWTPayload = { 'x-ms-policy-result': 'Updated', 'x-ms-policy-token-hash': tokenHash };
    if (jws.signer !== undefined) claims['x-ms-policy-signer'] = jws.signer.jwk;
    return this.#managementToken(claims);
  }

  async resetPolicy(type: AttestationType, jwsText: string, actor: string): Promise<string> {
    const jws = await parsePolicyJws(jwsText);
    await this.#checkSigner(jws.signer);
    await q(this.#o.db, 'DELETE FROM attestation_policies WHERE instance = $1 AND attestation_type = $2', [this.id, type]);
    this.#policies.delete(type);
    this.#policyReads.delete(type);
    await this.#audit({ kind: 'policy', outcome: 'reset', actor, attestationType: type, policyHash: policyHash(defaultPolicyText(type)), detail: { signer: jws.signer?.thumbprint ?? null } });
    return this.#managementToken({ 'x-ms-policy-result': 'Removed' });
  }

  async getCertificates(): Promise<string> {
    const signers = await this.policySigners();
    return this.#managementToken({ 'x-ms-policy-certificates': { keys: signers.map((s) => s.jwk) } });
  }

  /** POST /certificates:add|remove: a JWS signed by an existing policy signer, payload {"policyCertificate": JWK}. */
  async modifyCertificates(op: 'add' | 'remove', jwsText: string, actor: string): Promise<string> {
    const jws = await parsePolicyJws(jwsText);
    const signers = await this.policySigners();
    if (jws.signer === undefined) throw badRequest('POLICY_SIGNATURE_REQUIRED', 'policy certificate changes must be signed by a policy signer');
    if (!signers.some((s) => s.sha256 === jws.signer!.sha256)) throw badRequest('POLICY_SIGNER_UNKNOWN', 'the JWS is not signed by a policy signer of this instance');
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(jws.payload).toString('utf8'));
    } catch {
      throw badRequest('INVALID_REQUEST', 'the JWS payload is not JSON');
    }
    const jwk = (body as Record<string, unknown> | null)?.['policyCertificate'] as Record<string, unknown> | undefined;
    const x5c = jwk?.['x5c'];
    if (!Array.isArray(x5c) || typeof x5c[0] !== 'string') throw badRequest('CERTIFICATE_INVALID', 'policyCertificate must be a JWK with x5c');
    const target = signerOf(new Uint8Array(Buffer.from(x5c[0], 'base64')));
    if (op === 'add') {
      await q(this.#o.db, 'INSERT INTO attestation_policy_certificates (instance, sha256, certificate) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [this.id, target.sha256, target.certificate]);
    } else {
      await q(this.#o.db, 'DELETE FROM attestation_policy_certificates WHERE instance = $1 AND sha256 = $2', [this.id, target.sha256]);
    }
    await this.#audit({ kind: 'certificate', outcome: op === 'add' ? 'added' : 'removed', actor, detail: { thumbprint: target.thumbprint } });
    return this.#managementToken({ 'x-ms-certificate-thumbprint': target.thumbprint, 'x-ms-policycertificates-result': op === 'add' ? 'IsPresent' : 'IsAbsent' });
  }

  openIdMetadata(): Record<string, unknown> {
    return {
      response_types_supported: ['token', 'none'],
      id_token_signing_alg_values_supported: ['RS256'],
      revocation_endpoint: `${this.issuer}/revoke`,
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/certs`,
      claims_supported: [
        'cnf', 'nonce', 'x-ms-ver', 'x-ms-attestation-type', 'x-ms-policy-hash', 'x-ms-policy-signer', 'x-ms-sgx-is-debuggable',
        'x-ms-sgx-mrenclave', 'x-ms-sgx-mrsigner', 'x-ms-sgx-svn', 'x-ms-sgx-product-id', 'x-ms-sgx-report-data', 'x-ms-sgx-ehd',
        'x-ms-sgx-collateral', 'x-ms-runtime', 'x-ms-inittime', 'is-debuggable', 'sgx-mrsigner', 'sgx-mrenclave', 'product-id', 'svn', 'tee',
        'x-cloister-tcb-status', 'x-cloister-advisory-ids', ...(this.name === 'simulated' ? ['x-cloister-simulated'] : []),
      ],
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Attestation

  /** Verifies evidence, evaluates the policy and returns the signed token; every outcome is audited. */
  async attest(type: AttestationType, req: AttestRequest, actor: string): Promise<string> {
    this.#o.audit.admit();
    const started = process.hrtime.bigint();
    const report = (): void => this.#o.onAttestation?.(type, record.outcome, record.code, Number(process.hrtime.bigint() - started) / 1e9);
    const steps: Record<string, unknown>[] = [];
    const record: { -readonly [K in keyof AuditRecord]: AuditRecord[K] } = {
      at: new Date(),
      instance: this.id,
      kind: 'attestation',
      actor,
      attestationType: type,
      outcome: 'refused',
      code: null,
      evidenceHash: sha256hex(req.evidence),
      evidence: this.#o.keepEvidence === false ? null : req.evidence,
      claims: null,
      claimsHash: null,
      tcbStatus: null,
      advisories: null,
      policyHash: null,
      steps,
      detail: req.draftPolicyForAttestation !== undefined ? { draftPolicy: true } : null,
    };
    let token: string;
    try {
      const parsed = parseEvidence(type, req.evidence);
      steps.push({ step: 'parse', ok: true, format: parsed.unwrapped.format, quoteVersion: parsed.quote.version });
      const verified = await this.#o.verifier.verify(parsed);
      const r = verified.result;
      record.tcbStatus = r.status;
      record.advisories = [...r.advisoryIds];
      steps.push({ step: 'collateral', ok: true, source: verified.collateralSource, tcbEvaluationDataNumber: r.collateral.tcbEvaluationDataNumber });
      steps.push({ step: 'quote', ok: true, status: r.status, advisoryIds: r.advisoryIds, trustAnchor: r.trustAnchor.name, simulated: r.simulated, relaxations: r.relaxations });
      steps.push({ step: 'evidence-rules', ok: true, checks: verified.decision.checks });
      const claims: Claims = evidenceClaims(parsed, {
        ...(req.runtimeData !== undefined ? { runtimeData: req.runtimeData } : {}),
        ...(req.initTimeData !== undefined ? { initTimeData: req.initTimeData } : {}),
        collateral: verified.collateral,
      });
      steps.push({ step: 'runtime-data', ok: true, bound: req.runtimeData !== undefined, dataType: req.runtimeData?.dataType ?? null });
      claims['x-cloister-tcb-status'] = r.status;
      claims['x-cloister-advisory-ids'] = [...r.advisoryIds];
      if (this.name === 'simulated') claims['x-cloister-simulated'] = true;

      let policy: MaaPolicy;
      let hash: string;
      let signer: Record<string, unknown> | null = null;
      if (req.draftPolicyForAttestation !== undefined) {
        try {
          policy = parseMaaPolicy(req.draftPolicyForAttestation);
        } catch (e) {
          throw policyFault(e);
        }
        hash = policyHash(req.draftPolicyForAttestation);
      } else {
        // Parsed and hashed once per policy text (the cache entry), not per attestation.
        const p = await this.policy(type);
        policy = p.parsed;
        hash = p.hash;
        signer = p.signer;
      }
      record.policyHash = hash;
      let evaluation;
      try {
        evaluation = evaluateMaaPolicy(policy, incomingClaims(claims));
      } catch (e) {
        throw policyFault(e);
      }
      steps.push({ step: 'policy', ok: evaluation.permitted, decidedBy: evaluation.decidedBy ?? null, properties: evaluation.properties });
      if (!evaluation.permitted) {
        throw badRequest(
          'POLICY_DENIED',
          evaluation.decidedBy === undefined
            ? 'the attestation policy permitted nothing for this evidence'
            : `the attestation policy denied this evidence (rule at line ${evaluation.decidedBy.line})`,
          evaluation.decidedBy === undefined ? undefined : { line: evaluation.decidedBy.line, column: evaluation.decidedBy.column },
        );
      }
      const issued = issuedClaimsObject(evaluation.issued);
      const payload: JWTPayload = { ...claims };
      for (const [k, v] of Object.entries(issued)) if (!reserved(k) && !(k in payload)) payload[k] = v;
      payload['x-ms-policy'] = issued;
      payload['x-ms-policy-hash'] = hash;
      if (signer !== null) payload['x-ms-policy-signer'] = signer;
      if (req.nonce !== undefined) payload['nonce'] = req.nonce;
      const minutes = evaluation.properties['report_validity_in_minutes'];
      const lifetime = typeof minutes === 'number' && minutes > 0 && minutes * 60 < TOKEN_LIFETIME_SECONDS ? minutes * 60 : TOKEN_LIFETIME_SECONDS;
      const opts = { issuer: this.issuer, lifetimeSeconds: lifetime, jti: true };
      // The claims are serialised once: that text is hashed, stored in the audit record and (with the token's
      // registered claims appended) signed.
      const claimsJson = JSON.stringify(payload);
      if (req.draftPolicyForAttestation !== undefined) token = unsignedToken(payload, opts);
      else token = await signTokenJson(this.activeKey(), tokenPayloadJson(claimsJson, payload, opts), this.issuer);
      record.outcome = 'issued';
      record.claims = payload;
      record.claimsJson = claimsJson;
      record.claimsHash = sha256hex(claimsJson);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      record.code = typeof code === 'string' ? code : 'INTERNAL';
      record.outcome = e instanceof ServiceError && e.status < 500 ? 'refused' : 'failed';
      steps.push({ step: 'error', ok: false, code: record.code, message: e instanceof ServiceError ? e.message : 'internal error' });
      await this.#o.audit.append(record).catch(() => undefined);
      report();
      throw e;
    }
    try {
      await this.#o.audit.append(record);
    } catch (e) {
      // The record stays queued and is written when the database returns: it must say that no token was sent.
      record.outcome = 'failed';
      record.code = (e as { code?: string }).code ?? 'STORAGE_UNAVAILABLE';
      steps.push({ step: 'audit', ok: false, code: record.code, message: 'the token was not sent: the audit record could not be stored' });
      report();
      throw e;
    }
    report();
    return token;
  }
}
