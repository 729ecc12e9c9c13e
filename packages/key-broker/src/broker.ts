/**
 * The key broker: Key Vault's key operations (create, import, get, release) over the shared storage, the KEK and
 * every key in the clear kept in the enclave (kek-enclave.ts), M-of-N governance with the ledger, the audit log of
 * release decisions, and the KEK's lifecycle (created and sealed; unsealed on restart; transferred from a replica;
 * recovered from members' shares).
 */
import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import type { Logger } from 'pino';
import type { Queryable, Storage } from '@cloister/storage';
import { KeyBrokerError } from './errors.js';
import { canonicalJson } from './canonical.js';
import { GENESIS_PREV, LEDGER_JWS_TYP, encodeEntry, sha256Hex, signedPayload, type LedgerLine } from './ledger.js';
import { KEY_NAME, memberOf, verifyBallot, verifyProposal, type Action, type Member } from './governance.js';
import { decodeReleasePolicyData, evaluateReleasePolicy, parseReleasePolicy } from './release-policy.js';
import { targetKeyOf } from './target-key.js';
import type { TokenVerifier } from './token.js';
import type { BrokerEnclave, PeerConfig } from './kek-enclave.js';
import { isReleaseEncryption, type ReleaseEncryption } from '../enclave/src/key-wrap.js';
import type { KeyKind } from '../enclave/src/enclave.js';

export const RELEASE_POLICY_CONTENT_TYPE = 'application/json; charset=utf-8';

export interface StoredReleasePolicy {
  readonly contentType: string;
  /** base64url of the policy JSON (Key Vault's KeyReleasePolicy.data). */
  readonly data: string;
  readonly immutable: boolean;
}

interface KeyRow {
  name: string;
  version: string;
  kty: string;
  key_size: number | null;
  crv: string | null;
  key_ops: string[];
  public_jwk: JsonWebKey;
  wrapped: Uint8Array;
  attributes: Record<string, unknown>;
  tags: Record<string, string>;
  release_policy: StoredReleasePolicy | null;
}

/** Key Vault's KeyBundle (REST: JsonWebKey + KeyAttributes + tags + release_policy). */
export interface KeyBundle {
  readonly key: Record<string, unknown>;
  readonly attributes: Record<string, unknown>;
  readonly tags: Record<string, string>;
  readonly release_policy?: StoredReleasePolicy;
}

export interface GovernanceConfig {
  readonly members: readonly unknown[];
  readonly threshold: number;
}

export interface KeyBrokerOptions {
  readonly storage: Storage;
  readonly enclave: BrokerEnclave;
  readonly verifier: TokenVerifier;
  readonly logger: Logger;
  /** Members and threshold for a new broker (genesis); afterwards the ledger is authoritative. */
  readonly governance?: GovernanceConfig;
  /**
   * A running replica's attested TLS port: when the database holds a broker state that no sealed blob here opens,
   * the KEK is taken from it (mutually attested TLS), retried every `joinRetryMs` (default 15 s) until it succeeds.
   */
  readonly join?: { readonly host: string; readonly port: number };
  readonly joinRetryMs?: number;
  /** The host's API port, where the enclave relays decrypted attested-TLS connections. */
  readonly apiPort?: number;
  readonly peer?: PeerConfig;
}

export type BrokerState = 'ready' | 'awaiting-recovery';

export interface ReleaseRequest {
  readonly target: unknown;
  readonly nonce?: unknown;
  readonly enc?: unknown;
}

const DEFAULT_OPS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'],
  EC: ['sign', 'verify'],
  oct: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
};

function kindOf(kty: unknown): KeyKind {
  const k = typeof kty === 'string' ? kty.replace(/-HSM$/, '') : '';
  if (k === 'RSA' || k === 'EC' || k === 'oct') return k;
  throw new KeyBrokerError('BadParameter', 'kty must be RSA, RSA-HSM, EC, EC-HSM, oct or oct-HSM');
}

function aadOf(name: string, version: string): string {
  return `cloister-kb/v1/${name}/${version}`;
}

function checkName(name: string): void {
  if (!KEY_NAME.test(name)) throw new KeyBrokerError('BadParameter', 'a key name is 1-127 characters of 0-9, a-z, A-Z and -');
}

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

function policyFromRequest(p: unknown): StoredReleasePolicy | undefined {
  if (p === undefined || p === null) return undefined;
  if (typeof p !== 'object') throw new KeyBrokerError('BadParameter', 'release_policy must be an object');
  const o = p as Record<string, unknown>;
  if (typeof o['data'] !== 'string') throw new KeyBrokerError('BadParameter', 'release_policy.data must be base64url of the policy JSON');
  decodeReleasePolicyData(o['data']);
  return { contentType: typeof o['contentType'] === 'string' ? o['contentType'] : RELEASE_POLICY_CONTENT_TYPE, data: o['data'], immutable: o['immutable'] === true };
}

export function encodeReleasePolicy(policy: unknown, immutable = false): StoredReleasePolicy {
  parseReleasePolicy(policy);
  return { contentType: RELEASE_POLICY_CONTENT_TYPE, data: Buffer.from(JSON.stringify(policy)).toString('base64url'), immutable };
}

export class KeyBroker {
  readonly #o: KeyBrokerOptions;
  #state: BrokerState = 'ready';
  #signingJwk: (JsonWebKey & { kid: string }) | undefined;
  #serial: Promise<unknown> = Promise.resolve();
  #joinTimer: NodeJS.Timeout | undefined;
  #recoveryKey: { jwk: JsonWebKey & { kid: string }; quote: Uint8Array } | undefined;
  #closed = false;

  private constructor(o: KeyBrokerOptions) {
    this.#o = o;
  }

  get state(): BrokerState {
    return this.#state;
  }

  /** The broker's ledger/response signing key (public), held in the enclave. */
  get signingJwk(): JsonWebKey & { kid: string } {
    if (this.#signingJwk === undefined) throw new KeyBrokerError('KekUnavailable', 'the broker has no key-encryption key: recover it (docs/key-broker.md)');
    return this.#signingJwk;
  }

  get enclave(): BrokerEnclave {
    return this.#o.enclave;
  }

  static async open(o: KeyBrokerOptions): Promise<KeyBroker> {
    const b = new KeyBroker(o);
    await o.enclave.ecalls.configure({ ...(o.apiPort !== undefined ? { apiPort: o.apiPort } : {}), ...(o.peer !== undefined ? { peer: o.peer } : {}) });
    await b.#openKek();
    return b;
  }

  async #meta<T>(k: string, q: Queryable = this.#o.storage): Promise<T | undefined> {
    const r = await q.query<{ v: T }>('SELECT v FROM kb_meta WHERE k = $1', [k]);
    return r.rows[0]?.v;
  }

  async #setMeta(q: Queryable, k: string, v: unknown): Promise<void> {
    await q.query('INSERT INTO kb_meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v', [k, JSON.stringify(v)]);
  }

  async #storeSealed(blob: Uint8Array, kid: string): Promise<void> {
    await this.#o.storage.query('INSERT INTO kb_sealed (id, blob, signing_kid) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [sha256Hex(Buffer.from(blob).toString('base64')), blob, kid]);
  }

  async #openKek(): Promise<void> {
    const { storage, enclave, logger } = this.#o;
    // Governance for a new broker is checked before anything is created.
    const g = this.#o.governance;
    let genesisMembers: Member[] | undefined;
    if (g !== undefined && g.members.length > 0) {
      genesisMembers = await Promise.all(g.members.map((m) => memberOf(m)));
      if (!Number.isInteger(g.threshold) || g.threshold < 1 || g.threshold > genesisMembers.length) {
        throw new KeyBrokerError('BadParameter', `threshold must be 1-${genesisMembers.length}`);
      }
    }
    const expected = await this.#meta<string>('signing_kid');
    const rows = (await storage.query<{ blob: Uint8Array; signing_kid: string }>('SELECT blob, signing_kid FROM kb_sealed ORDER BY created')).rows;
    for (const row of rows) {
      if (expected !== undefined && row.signing_kid !== expected) continue;
      try {
        const r = await enclave.ecalls.open({ sealed: row.blob });
        if (expected !== undefined && r.signingJwk.kid !== expected) continue;
        this.#signingJwk = r.signingJwk;
        logger.info({ signingKid: r.signingJwk.kid }, 'key-encryption key unsealed');
        return;
      } catch (e) {
        // Sealed on another platform (another replica's node), or by another signer: not ours to open.
        logger.debug({ code: (e as { code?: string }).code }, 'a sealed state does not open here');
      }
    }
    if (expected !== undefined && this.#o.join !== undefined) {
      // Another replica holds the KEK: ask it (mutually attested TLS). Until it answers, wait and retry, so that a
      // replica started before its peer (or while the peer restarts) becomes ready by itself.
      this.#state = 'awaiting-recovery';
      if (!(await this.#tryJoin(expected))) this.#scheduleJoin(expected);
      return;
    }
    if (expected !== undefined) {
      this.#state = 'awaiting-recovery';
      logger.warn({ signingKid: expected }, 'no sealed key-encryption key opens on this platform: join a replica or recover with member shares');
      return;
    }
    const r = await enclave.ecalls.open({});
    // Replicas starting together on an empty database: the first to record its signing key is the broker.
    const won = await storage.query("INSERT INTO kb_meta (k, v) VALUES ('signing_kid', $1) ON CONFLICT (k) DO NOTHING RETURNING k", [JSON.stringify(r.signingJwk.kid)]);
    if (won.rows.length === 0) {
      const winner = (await this.#meta<string>('signing_kid'))!;
      this.#state = 'awaiting-recovery';
      logger.warn({ signingKid: winner }, 'another replica created the broker state first');
      if (this.#o.join !== undefined && !(await this.#tryJoin(winner))) this.#scheduleJoin(winner);
      return;
    }
    this.#signingJwk = r.signingJwk;
    await this.#storeSealed(r.sealed!, r.signingJwk.kid);
    logger.info({ signingKid: r.signingJwk.kid }, 'key-encryption key created and sealed (MRSIGNER)');
    // Entry 0 of the ledger: the broker's signing key (which signs every entry) and the governance it starts with.
    const members = genesisMembers ?? [];
    await this.#exclusive(async () =>
      this.#tx(async (tx) => {
        for (const m of members) await tx.query('INSERT INTO kb_members (kid, jwk) VALUES ($1, $2)', [m.kid, JSON.stringify(m.jwk)]);
        if (members.length > 0) await this.#setMeta(tx, 'threshold', this.#o.governance!.threshold);
        await this.#appendLedger(tx, 'genesis', { members: members.map((m) => m.jwk), threshold: members.length > 0 ? this.#o.governance!.threshold : 0, signingKey: this.signingJwk });
        if (members.length > 0) await this.#refreshShares(tx);
      }),
    );
  }

  /** A storage transaction (our own typed refusals thrown inside pass through the storage layer unchanged). */
  #tx<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#o.storage.transaction(fn);
  }

  /** One attempt to take the KEK from the replica at `join`; false (logged) when it fails. */
  async #tryJoin(expected: string): Promise<boolean> {
    const join = this.#o.join!;
    try {
      const r = await this.#o.enclave.ecalls.transferFrom(join);
      if (r.signingJwk.kid !== expected) throw new KeyBrokerError('KekUnavailable', "the replica sent another broker's key-encryption key");
      await this.#storeSealed(r.sealed!, r.signingJwk.kid);
      this.#signingJwk = r.signingJwk;
      await this.#exclusive(() => this.#tx((tx) => this.#appendLedger(tx, 'kek_joined', { signingKid: r.signingJwk.kid, from: `${join.host}:${join.port}`, mrenclave: this.#o.enclave.self.mrenclave })));
      this.#state = 'ready';
      this.#o.logger.info({ signingKid: r.signingJwk.kid, from: `${join.host}:${join.port}` }, 'key-encryption key received from a replica and sealed here');
      return true;
    } catch (e) {
      this.#o.logger.warn(
        { code: (e as { code?: string }).code ?? 'ERROR', rule: (e as { rule?: string }).rule, from: `${join.host}:${join.port}`, reason: (e as Error).message?.slice(0, 200) },
        'could not take the key-encryption key from the replica; retrying',
      );
      return false;
    }
  }

  #scheduleJoin(expected: string): void {
    this.#joinTimer = setTimeout(() => {
      void this.#tryJoin(expected).then((ok) => {
        if (!ok && !this.#closed && this.#state !== 'ready') this.#scheduleJoin(expected);
      });
    }, this.#o.joinRetryMs ?? 15_000);
    this.#joinTimer.unref();
  }

  /** Stops background work (the join retries). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#joinTimer);
  }

  /** One state change at a time (ledger order), across this process. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#serial.then(fn, fn);
    this.#serial = next.catch(() => undefined);
    return next;
  }

  #ready(): void {
    if (this.#state !== 'ready') throw new KeyBrokerError('KekUnavailable', 'the broker has no key-encryption key: recover it (docs/key-broker.md)');
  }

  // ------------------------------------------------------------------------------------------------ keys

  async governed(): Promise<boolean> {
    const r = await this.#o.storage.query<{ n: string }>('SELECT count(*)::text AS n FROM kb_members');
    return Number(r.rows[0]?.n ?? '0') > 0;
  }

  async #refuseIfGoverned(): Promise<void> {
    if (await this.governed()) throw new KeyBrokerError('GovernanceEnabled', 'governance is on: keys change only through enacted proposals (cloister kb propose)');
  }

  #bundle(vault: string, row: KeyRow): KeyBundle {
    return {
      key: { kid: `${vault}/keys/${row.name}/${row.version}`, kty: row.kty, key_ops: row.key_ops, ...row.public_jwk, ...(row.public_jwk.kty !== undefined ? { kty: row.kty } : {}) },
      attributes: row.attributes,
      tags: row.tags,
      ...(row.release_policy !== null ? { release_policy: row.release_policy } : {}),
    };
  }

  async #insertKey(tx: Queryable, row: KeyRow): Promise<void> {
    await tx.query(
      'INSERT INTO kb_keys (name, version, kty, key_size, crv, key_ops, public_jwk, wrapped, attributes, tags, release_policy) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)',
      [row.name, row.version, row.kty, row.key_size, row.crv, JSON.stringify(row.key_ops), JSON.stringify(row.public_jwk), row.wrapped, JSON.stringify(row.attributes), JSON.stringify(row.tags), row.release_policy === null ? null : JSON.stringify(row.release_policy)],
    );
  }

  #attributes(req: unknown, policy: StoredReleasePolicy | undefined): Record<string, unknown> {
    const a = (typeof req === 'object' && req !== null ? req : {}) as Record<string, unknown>;
    const exportable = a['exportable'] === true;
    if (exportable && policy === undefined) throw new KeyBrokerError('BadParameter', 'an exportable key needs a release_policy');
    const t = nowSec();
    return {
      enabled: a['enabled'] !== false,
      ...(typeof a['nbf'] === 'number' ? { nbf: a['nbf'] } : {}),
      ...(typeof a['exp'] === 'number' ? { exp: a['exp'] } : {}),
      created: t,
      updated: t,
      recoveryLevel: 'Purgeable',
      recoverableDays: 0,
      exportable,
    };
  }

  #tags(t: unknown): Record<string, string> {
    if (t === undefined || t === null) return {};
    if (typeof t !== 'object' || Object.values(t).some((v) => typeof v !== 'string') || Object.keys(t).length > 15) throw new KeyBrokerError('BadParameter', 'tags are at most 15 string values');
    return t as Record<string, string>;
  }

  /** A new key version generated inside the enclave, wrapped under the KEK with its name and version as AAD. */
  async #generate(spec: { name: string; kty: string; size?: unknown; crv?: unknown; ops?: unknown; attributes: Record<string, unknown>; tags: Record<string, string>; policy: StoredReleasePolicy | null }): Promise<KeyRow> {
    const kind = kindOf(spec.kty);
    const keySize = typeof spec.size === 'number' ? spec.size : kind === 'RSA' ? 2048 : kind === 'oct' ? 256 : undefined;
    const curve = kind === 'EC' ? (typeof spec.crv === 'string' ? spec.crv : 'P-256') : undefined;
    const version = randomBytes(16).toString('hex');
    let g;
    try {
      g = await this.#o.enclave.ecalls.generate({ kty: kind, ...(keySize !== undefined ? { size: keySize } : {}), ...(curve !== undefined ? { crv: curve } : {}), aad: aadOf(spec.name, version) });
    } catch (e) {
      if ((e as { code?: string }).code === 'BAD_PARAMETER') throw new KeyBrokerError('BadParameter', (e as Error).message);
      throw e;
    }
    return {
      name: spec.name,
      version,
      kty: spec.kty,
      key_size: keySize ?? null,
      crv: curve ?? null,
      key_ops: Array.isArray(spec.ops) ? spec.ops.map(String).slice(0, 16) : [...(DEFAULT_OPS[kind] ?? [])],
      public_jwk: g.publicJwk,
      wrapped: g.wrapped,
      attributes: spec.attributes,
      tags: spec.tags,
      release_policy: spec.policy,
    };
  }

  /** POST /keys/{name}/create (Key Vault KeyCreateParameters). */
  async createKey(vault: string, name: string, body: Record<string, unknown>): Promise<KeyBundle> {
    this.#ready();
    checkName(name);
    await this.#refuseIfGoverned();
    const policy = policyFromRequest(body['release_policy']) ?? null;
    const row = await this.#generate({ name, kty: String(body['kty']), size: body['key_size'], crv: body['crv'], ops: body['key_ops'], attributes: this.#attributes(body['attributes'], policy ?? undefined), tags: this.#tags(body['tags']), policy });
    await this.#exclusive(() =>
      this.#tx(async (tx) => {
        await this.#insertKey(tx, row);
        await this.#appendLedger(tx, 'key_created', { name, version: row.version, kty: row.kty, release_policy: policy, by: 'admin' });
      }),
    );
    return this.#bundle(vault, row);
  }

  /** PUT /keys/{name} (Key Vault KeyImportParameters: `key` a JWK with its private parts). */
  async importKey(vault: string, name: string, body: Record<string, unknown>): Promise<KeyBundle> {
    this.#ready();
    checkName(name);
    await this.#refuseIfGoverned();
    const jwk = body['key'];
    if (typeof jwk !== 'object' || jwk === null) throw new KeyBrokerError('BadParameter', 'key (a JWK) is required');
    const policy = policyFromRequest(body['release_policy']) ?? null;
    const kty = String((jwk as Record<string, unknown>)['kty'] ?? '');
    const kind = kindOf(kty);
    const version = randomBytes(16).toString('hex');
    let w;
    try {
      w = await this.#o.enclave.ecalls.importKey({ jwk: jwk as JsonWebKey, aad: aadOf(name, version) });
    } catch (e) {
      if ((e as { code?: string }).code === 'BAD_PARAMETER') throw new KeyBrokerError('BadParameter', (e as Error).message);
      throw e;
    }
    const hsm = body['Hsm'] === true || body['hsm'] === true;
    const row: KeyRow = {
      name,
      version,
      kty: hsm && !kty.endsWith('-HSM') ? `${kty}-HSM` : kty,
      key_size: null,
      crv: typeof w.publicJwk.crv === 'string' ? w.publicJwk.crv : null,
      key_ops: Array.isArray((jwk as Record<string, unknown>)['key_ops']) ? ((jwk as Record<string, unknown>)['key_ops'] as unknown[]).map(String).slice(0, 16) : [...(DEFAULT_OPS[kind] ?? [])],
      public_jwk: w.publicJwk,
      wrapped: w.wrapped,
      attributes: this.#attributes(body['attributes'], policy ?? undefined),
      tags: this.#tags(body['tags']),
      release_policy: policy,
    };
    await this.#exclusive(() =>
      this.#tx(async (tx) => {
        await this.#insertKey(tx, row);
        await this.#appendLedger(tx, 'key_imported', { name, version, kty: row.kty, release_policy: policy, by: 'admin' });
      }),
    );
    return this.#bundle(vault, row);
  }

  async #row(name: string, version: string | undefined, q: Queryable = this.#o.storage): Promise<KeyRow> {
    checkName(name);
    const r =
      version === undefined || version === ''
        ? await q.query<KeyRow>('SELECT * FROM kb_keys WHERE name = $1 ORDER BY seq DESC LIMIT 1', [name])
        : await q.query<KeyRow>('SELECT * FROM kb_keys WHERE name = $1 AND version = $2', [name, version]);
    const row = r.rows[0];
    if (row === undefined) throw new KeyBrokerError('KeyNotFound', `A key with (name/id) ${name}${version ? `/${version}` : ''} was not found in this key vault.`);
    return row;
  }

  /** GET /keys/{name}[/{version}]: the public part and attributes (never the private key). */
  async getKey(vault: string, name: string, version?: string): Promise<KeyBundle> {
    return this.#bundle(vault, await this.#row(name, version));
  }

  async #audit(name: string, version: string | undefined, granted: boolean, code: string, detail: Record<string, unknown>): Promise<void> {
    this.#o.logger.info({ audit: 'release', key: name, version, granted, code, ...detail }, granted ? 'key released' : 'key release refused');
    try {
      await this.#o.storage.query('INSERT INTO kb_audit (key_name, key_version, granted, code, detail) VALUES ($1, $2, $3, $4, $5)', [name, version ?? null, granted, code, JSON.stringify(detail)]);
    } catch (e) {
      this.#o.logger.error({ code: (e as { code?: string }).code }, 'audit record not stored');
    }
  }

  /**
   * POST /keys/{name}[/{version}]/release: verify the attestation token, hold its claims to the key's release policy,
   * then have the enclave rewrap the key to the token's RSA key. Every decision is audited with the token's identity.
   */
  async release(vault: string, name: string, version: string | undefined, body: ReleaseRequest, apiVersion: string): Promise<{ value: string }> {
    let identity: Record<string, unknown> = {};
    let row: KeyRow | undefined;
    try {
      this.#ready();
      if (typeof body !== 'object' || body === null) throw new KeyBrokerError('BadParameter', 'the body is {target, nonce?, enc?}');
      const enc: ReleaseEncryption = body.enc === undefined || body.enc === null ? 'CKM_RSA_AES_KEY_WRAP' : isReleaseEncryption(body.enc) ? body.enc : (() => {
        throw new KeyBrokerError('BadParameter', 'enc must be CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384');
      })();
      if (body.nonce !== undefined && (typeof body.nonce !== 'string' || body.nonce.length > 1024)) throw new KeyBrokerError('BadParameter', 'nonce must be a string of at most 1024 characters');
      const token = await this.#o.verifier.verify(body.target);
      const c = token.claims;
      identity = {
        iss: c.iss,
        mrenclave: c['x-ms-sgx-mrenclave'],
        mrsigner: c['x-ms-sgx-mrsigner'],
        productId: c['x-ms-sgx-product-id'],
        svn: c['x-ms-sgx-svn'],
        debuggable: c['x-ms-sgx-is-debuggable'],
        attestationType: c['x-ms-attestation-type'],
        jti: c.jti,
      };
      row = await this.#row(name, version);
      if (row.attributes['exportable'] !== true || row.release_policy === null) {
        throw new KeyBrokerError('KeyNotExportable', `key ${name} is not exportable (no release policy)`);
      }
      if (row.attributes['enabled'] === false) throw new KeyBrokerError('Forbidden', `key ${name} is disabled`);
      const decision = evaluateReleasePolicy(decodeReleasePolicyData(row.release_policy.data), c);
      if (!decision.ok) {
        throw new KeyBrokerError('ReleasePolicyNotSatisfied', `the release policy of ${name} refuses this token: ${decision.message}`, {
          rule: decision.rule,
          ...(decision.claim !== undefined ? { claim: decision.claim } : {}),
        });
      }
      const target = targetKeyOf(c);
      const kid = `${vault}/keys/${name}/${row.version}`;
      const payload = {
        request: { 'api-version': apiVersion, enc, kid: `${vault}/keys/${name}${version ? `/${version}` : ''}`, ...(typeof body.nonce === 'string' ? { nonce: body.nonce } : {}) },
        response: {
          key: {
            key: { kid, kty: row.kty, key_ops: row.key_ops, ...row.public_jwk, ...(row.public_jwk.kty !== undefined ? { kty: row.kty } : {}) },
            attributes: row.attributes,
            tags: row.tags,
            release_policy: { data: row.release_policy.data, immutable: row.release_policy.immutable },
          },
        },
      };
      let value: string;
      try {
        value = await this.#o.enclave.ecalls.release({ wrapped: row.wrapped, aad: aadOf(row.name, row.version), target: target.jwk, targetKid: target.kid, enc, payload });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'BAD_PARAMETER' || (e instanceof Error && /target RSA key|not an RSA key/.test(e.message))) throw new KeyBrokerError('TargetKeyMissing', `the token's encryption key cannot be used: ${(e as Error).message}`, { rule: 'targetKey' });
        throw e;
      }
      await this.#audit(name, row.version, true, 'Granted', { ...identity, authority: decision.authority, enc, targetKeySource: target.source });
      return { value };
    } catch (e) {
      const code = e instanceof KeyBrokerError ? e.code : 'Internal';
      await this.#audit(name, row?.version ?? version, false, code, { ...identity, reason: e instanceof Error ? e.message.slice(0, 300) : 'error', ...(e instanceof KeyBrokerError ? (e.details ?? {}) : {}) });
      throw e;
    }
  }

  /**
   * Trustee KBS resource release: `claims` come from evidence the KBS verified itself (iss "kbs"); the key's release
   * policy holds them like a token's, and the enclave encrypts the key to the TEE's key as a flattened JWE.
   */
  async releaseToTee(name: string, claims: Readonly<Record<string, unknown>>, teePubkey: JsonWebKey): Promise<unknown> {
    const identity = { iss: claims['iss'], mrenclave: claims['x-ms-sgx-mrenclave'], mrsigner: claims['x-ms-sgx-mrsigner'], productId: claims['x-ms-sgx-product-id'], svn: claims['x-ms-sgx-svn'], debuggable: claims['x-ms-sgx-is-debuggable'], via: 'kbs' };
    let row: KeyRow | undefined;
    try {
      this.#ready();
      row = await this.#row(name, undefined);
      if (row.attributes['exportable'] !== true || row.release_policy === null) throw new KeyBrokerError('KeyNotExportable', `key ${name} is not exportable (no release policy)`);
      if (row.attributes['enabled'] === false) throw new KeyBrokerError('Forbidden', `key ${name} is disabled`);
      const decision = evaluateReleasePolicy(decodeReleasePolicyData(row.release_policy.data), claims);
      if (!decision.ok) {
        throw new KeyBrokerError('ReleasePolicyNotSatisfied', `the release policy of ${name} refuses this TEE: ${decision.message}`, { rule: decision.rule, ...(decision.claim !== undefined ? { claim: decision.claim } : {}) });
      }
      let jwe: unknown;
      try {
        jwe = await this.#o.enclave.ecalls.releaseJwe({ wrapped: row.wrapped, aad: aadOf(row.name, row.version), teePubkey });
      } catch (e) {
        if ((e as { code?: string }).code === 'BAD_PARAMETER') throw new KeyBrokerError('TargetKeyMissing', (e as Error).message, { rule: 'targetKey' });
        throw e;
      }
      await this.#audit(name, row.version, true, 'Granted', { ...identity, authority: decision.authority, enc: 'JWE' });
      return jwe;
    } catch (e) {
      const code = e instanceof KeyBrokerError ? e.code : 'Internal';
      await this.#audit(name, row?.version, false, code, { ...identity, reason: e instanceof Error ? e.message.slice(0, 300) : 'error', ...(e instanceof KeyBrokerError ? (e.details ?? {}) : {}) });
      throw e;
    }
  }

  async auditLog(limit = 100): Promise<unknown[]> {
    const r = await this.#o.storage.query<{ seq: string; at: Date; key_name: string; key_version: string | null; granted: boolean; code: string; detail: unknown }>(
      'SELECT seq::text AS seq, at, key_name, key_version, granted, code, detail FROM kb_audit ORDER BY seq DESC LIMIT $1',
      [Math.max(1, Math.min(1000, limit))],
    );
    return r.rows.map((x) => ({ seq: Number(x.seq), at: new Date(x.at).toISOString(), key: x.key_name, version: x.key_version, granted: x.granted, code: x.code, detail: x.detail }));
  }

  // ------------------------------------------------------------------------------------------------ ledger

  async #appendLedger(tx: Queryable, type: string, body: unknown): Promise<LedgerLine> {
    // Replicas share the ledger: appends are serialised by the database until the transaction ends.
    await tx.query('LOCK TABLE kb_ledger IN EXCLUSIVE MODE');
    const last = (await tx.query<{ seq: number; hash: string }>('SELECT seq, hash FROM kb_ledger ORDER BY seq DESC LIMIT 1')).rows[0];
    const seq = last === undefined ? 0 : Number(last.seq) + 1;
    const entry = encodeEntry({ seq, prev: last?.hash ?? GENESIS_PREV, at: new Date().toISOString(), type, body: JSON.parse(canonicalJson(body)) as unknown });
    const hash = sha256Hex(entry);
    const sig = await this.#o.enclave.ecalls.sign({ payload: signedPayload(seq, hash), typ: LEDGER_JWS_TYP });
    await tx.query('INSERT INTO kb_ledger (seq, entry, hash, sig) VALUES ($1, $2, $3, $4)', [seq, entry, hash, sig]);
    return { entry, hash, sig };
  }

  async ledger(from = 0, limit = 10_000): Promise<LedgerLine[]> {
    const r = await this.#o.storage.query<LedgerLine>('SELECT entry, hash, sig FROM kb_ledger WHERE seq >= $1 ORDER BY seq LIMIT $2', [from, limit]);
    return r.rows.map((x) => ({ entry: x.entry, hash: x.hash, sig: x.sig }));
  }

  async receipt(seq: number): Promise<LedgerLine> {
    const r = await this.#o.storage.query<LedgerLine>('SELECT entry, hash, sig FROM kb_ledger WHERE seq = $1', [seq]);
    const x = r.rows[0];
    if (x === undefined) throw new KeyBrokerError('KeyNotFound', `no ledger entry ${seq}`);
    return { entry: x.entry, hash: x.hash, sig: x.sig };
  }

  // ------------------------------------------------------------------------------------------------ governance

  async #members(q: Queryable = this.#o.storage): Promise<Map<string, JWK>> {
    const r = await q.query<{ kid: string; jwk: JWK }>('SELECT kid, jwk FROM kb_members');
    return new Map(r.rows.map((x) => [x.kid, x.jwk]));
  }

  async members(): Promise<{ members: Member[]; threshold: number }> {
    const m = await this.#members();
    return { members: [...m].map(([kid, jwk]) => ({ kid, jwk })), threshold: (await this.#meta<number>('threshold')) ?? 0 };
  }

  /** Submits a member-signed proposal; returns its id and state. */
  async propose(jws: unknown): Promise<ProposalView> {
    this.#ready();
    return this.#exclusive(async () => {
      const members = await this.#members();
      if (members.size === 0) throw new KeyBrokerError('ProposalInvalid', 'governance is off (no members)');
      const p = await verifyProposal(jws, members);
      return this.#tx(async (tx) => {
        const exists = await tx.query('SELECT 1 FROM kb_proposals WHERE id = $1', [p.id]);
        if (exists.rows.length > 0) throw new KeyBrokerError('Conflict', `proposal ${p.id} was already submitted`);
        await tx.query('INSERT INTO kb_proposals (id, jws, actions, proposer, state) VALUES ($1, $2, $3, $4, $5)', [p.id, jws as string, JSON.stringify(p.actions), p.proposer, 'open']);
        await this.#appendLedger(tx, 'proposal', { id: p.id, proposer: p.proposer, proposal: jws });
        return this.#view(tx, p.id);
      });
    });
  }

  async proposal(id: string): Promise<ProposalView> {
    return this.#view(this.#o.storage, id);
  }

  async #view(q: Queryable, id: string): Promise<ProposalView> {
    const r = await q.query<{ id: string; actions: Action[]; proposer: string; state: string; outcome: unknown }>('SELECT id, actions, proposer, state, outcome FROM kb_proposals WHERE id = $1', [id]);
    const p = r.rows[0];
    if (p === undefined) throw new KeyBrokerError('ProposalNotFound', `no proposal ${id.slice(0, 80)}`);
    const ballots = (await q.query<{ member: string; vote: string }>('SELECT member, vote FROM kb_ballots WHERE proposal = $1 ORDER BY member', [id])).rows;
    return { id: p.id, proposer: p.proposer, actions: p.actions, state: p.state as ProposalView['state'], ballots, ...(p.outcome !== null ? { outcome: p.outcome } : {}) };
  }

  /** Records a member's ballot; at threshold the proposal is enacted (all actions in one transaction) or rejected. */
  async vote(id: string, jws: unknown): Promise<ProposalView> {
    this.#ready();
    return this.#exclusive(async () => {
      const members = await this.#members();
      const view = await this.#view(this.#o.storage, id);
      const b = await verifyBallot(jws, id, members);
      if (view.state !== 'open') throw new KeyBrokerError('ProposalNotOpen', `proposal ${id} is ${view.state}`);
      if (view.ballots.some((x) => x.member === b.member)) throw new KeyBrokerError('BallotReplayed', `member ${b.member} already voted on ${id}`, { rule: 'replay' });
      return this.#tx(async (tx) => {
        await tx.query('INSERT INTO kb_ballots (proposal, member, vote, jws) VALUES ($1, $2, $3, $4)', [id, b.member, b.vote, jws as string]);
        await this.#appendLedger(tx, 'ballot', { proposal: id, member: b.member, vote: b.vote, ballot: jws });
        const threshold = (await this.#meta<number>('threshold', tx)) ?? 1;
        const ballots = (await tx.query<{ member: string; vote: string }>('SELECT member, vote FROM kb_ballots WHERE proposal = $1', [id])).rows.filter((x) => members.has(x.member));
        const accepts = ballots.filter((x) => x.vote === 'accept').length;
        const rejects = ballots.filter((x) => x.vote === 'reject').length;
        if (accepts >= threshold) {
          const outcome = await this.#enact(tx, view.actions);
          await tx.query('UPDATE kb_proposals SET state = $2, outcome = $3 WHERE id = $1', [id, 'enacted', JSON.stringify(outcome)]);
          await this.#appendLedger(tx, 'enacted', { proposal: id, accepts, outcome });
        } else if (rejects > members.size - threshold) {
          await tx.query('UPDATE kb_proposals SET state = $2 WHERE id = $1', [id, 'rejected']);
          await this.#appendLedger(tx, 'rejected', { proposal: id, rejects });
        }
        return this.#view(tx, id);
      });
    });
  }

  async #enact(tx: Queryable, actions: readonly Action[]): Promise<unknown[]> {
    const out: unknown[] = [];
    let membersChanged = false;
    for (const a of actions) {
      switch (a.type) {
        case 'create_key': {
          const existing = await tx.query('SELECT 1 FROM kb_keys WHERE name = $1', [a.name]);
          if (existing.rows.length > 0) throw new KeyBrokerError('Conflict', `key ${a.name} exists (rotate it instead)`);
          const policy = encodeReleasePolicy(a.release_policy);
          const row = await this.#generate({ name: a.name, kty: a.kty, size: a.key_size, crv: a.crv, attributes: this.#attributes({ exportable: a.exportable !== false }, policy), tags: {}, policy });
          await this.#insertKey(tx, row);
          out.push({ type: a.type, name: a.name, version: row.version });
          break;
        }
        case 'rotate_key': {
          const cur = await this.#row(a.name, undefined, tx);
          const row = await this.#generate({ name: a.name, kty: cur.kty, size: cur.key_size ?? undefined, crv: cur.crv ?? undefined, ops: cur.key_ops, attributes: { ...cur.attributes, created: nowSec(), updated: nowSec() }, tags: cur.tags, policy: cur.release_policy });
          await this.#insertKey(tx, row);
          out.push({ type: a.type, name: a.name, version: row.version });
          break;
        }
        case 'set_release_policy': {
          const cur = await this.#row(a.name, undefined, tx);
          if (cur.release_policy?.immutable === true) throw new KeyBrokerError('Conflict', `the release policy of ${a.name} is immutable`);
          await tx.query('UPDATE kb_keys SET release_policy = $3, attributes = $4 WHERE name = $1 AND version = $2', [a.name, cur.version, JSON.stringify(encodeReleasePolicy(a.release_policy)), JSON.stringify({ ...cur.attributes, updated: nowSec() })]);
          out.push({ type: a.type, name: a.name, version: cur.version });
          break;
        }
        case 'delete_key': {
          const r = await tx.query('DELETE FROM kb_keys WHERE name = $1', [a.name]);
          if (r.rowCount === 0) throw new KeyBrokerError('KeyNotFound', `no key ${a.name}`);
          out.push({ type: a.type, name: a.name });
          break;
        }
        case 'add_member': {
          const m = await memberOf(a.jwk);
          await tx.query('INSERT INTO kb_members (kid, jwk) VALUES ($1, $2) ON CONFLICT (kid) DO NOTHING', [m.kid, JSON.stringify(m.jwk)]);
          membersChanged = true;
          out.push({ type: a.type, kid: m.kid });
          break;
        }
        case 'remove_member': {
          await tx.query('DELETE FROM kb_members WHERE kid = $1', [a.kid]);
          membersChanged = true;
          out.push({ type: a.type, kid: a.kid });
          break;
        }
        case 'set_threshold': {
          await this.#setMeta(tx, 'threshold', a.threshold);
          membersChanged = true;
          out.push({ type: a.type, threshold: a.threshold });
          break;
        }
      }
    }
    if (membersChanged) {
      const n = (await this.#members(tx)).size;
      const t = (await this.#meta<number>('threshold', tx)) ?? 1;
      if (n === 0 || t > n) throw new KeyBrokerError('ProposalInvalid', `the result would have ${n} members and threshold ${t}`);
      await this.#refreshShares(tx);
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------------ recovery

  /** New recovery shares for the current member set and threshold (one per member, encrypted to its key). */
  async #refreshShares(tx: Queryable): Promise<void> {
    const members = [...(await this.#members(tx))];
    const threshold = (await this.#meta<number>('threshold', tx)) ?? 1;
    const shares = await this.#o.enclave.ecalls.recoveryShares({ members: members.map(([, jwk]) => jwk as JsonWebKey), threshold });
    await tx.query('DELETE FROM kb_recovery_shares');
    for (let i = 0; i < members.length; i++) {
      await tx.query('INSERT INTO kb_recovery_shares (member, share, threshold) VALUES ($1, $2, $3)', [members[i]![0], shares[i]!, threshold]);
    }
  }

  async recoveryShare(member: string): Promise<{ member: string; share: string; threshold: number }> {
    const r = await this.#o.storage.query<{ member: string; share: string; threshold: number }>('SELECT member, share, threshold FROM kb_recovery_shares WHERE member = $1', [member]);
    const x = r.rows[0];
    if (x === undefined) throw new KeyBrokerError('MemberUnknown', `no recovery share for ${member.slice(0, 80)}`);
    return x;
  }

  /**
   * While awaiting recovery: a fresh recovery key made in the enclave (replacing any previous one) and a quote whose
   * REPORTDATA[0..32] is SHA-256 of its thumbprint; members verify it before they re-encrypt their shares to it.
   */
  async recoveryKey(): Promise<{ jwk: JsonWebKey & { kid: string }; quote: Uint8Array }> {
    if (this.#state !== 'awaiting-recovery') throw new KeyBrokerError('Conflict', 'the broker is not awaiting recovery');
    this.#recoveryKey = await this.#o.enclave.ecalls.recoveryKey(undefined);
    return this.#recoveryKey;
  }

  /** The recovery key made last (what members fetch). */
  currentRecoveryKey(): { jwk: JsonWebKey & { kid: string }; quote: Uint8Array } {
    if (this.#state !== 'awaiting-recovery' || this.#recoveryKey === undefined) throw new KeyBrokerError('Conflict', 'no recovery in progress (the operator starts one: POST /recovery/key)');
    return this.#recoveryKey;
  }

  /** While awaiting recovery: shares re-encrypted to the recovery key; at threshold the KEK is back and sealed here. */
  async recover(shares: readonly string[]): Promise<void> {
    if (this.#state !== 'awaiting-recovery') throw new KeyBrokerError('Conflict', 'the broker is not awaiting recovery');
    let r;
    try {
      r = await this.#o.enclave.ecalls.recover({ shares });
    } catch (e) {
      throw new KeyBrokerError('BadParameter', `recovery failed: ${(e as { code?: string }).code ?? 'error'}: ${(e as Error).message}`);
    }
    const expected = await this.#meta<string>('signing_kid');
    if (r.signingJwk.kid !== expected) throw new KeyBrokerError('BadParameter', 'the shares recovered another broker\'s key');
    await this.#storeSealed(r.sealed!, r.signingJwk.kid);
    this.#signingJwk = r.signingJwk;
    await this.#exclusive(() => this.#tx((tx) => this.#appendLedger(tx, 'kek_recovered', { signingKid: r.signingJwk.kid, shares: shares.length, mrenclave: this.#o.enclave.self.mrenclave })));
    this.#state = 'ready';
    this.#recoveryKey = undefined;
    this.#o.logger.info({ signingKid: r.signingJwk.kid }, 'key-encryption key recovered from member shares and sealed here');
  }
}

export interface ProposalView {
  readonly id: string;
  readonly proposer: string;
  readonly actions: readonly Action[];
  readonly state: 'open' | 'enacted' | 'rejected';
  readonly ballots: readonly { member: string; vote: string }[];
  readonly outcome?: unknown;
}
