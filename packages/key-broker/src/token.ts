/**
 * Verifies an attestation token (an MAA-format JWT, RFC 7519) against the JWKS of the configured authority that
 * issued it: the unverified `iss` selects the authority (one not configured is refused before any network call), the
 * signing key comes from `<authority>/certs` by `kid` (MAA publishes `x5c` certificates without `n`/`e`: the key is
 * taken from the leaf certificate), then the signature, `iss`, `exp` and `nbf` are checked. The token's `jku` header
 * is never followed.
 *
 * Bounded: tokens over 64 KiB are refused unread; a JWKS fetch has a deadline and a size cap; JWKS are cached and
 * re-fetched on an unknown `kid` at most once per `refetchIntervalMs`.
 */
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { KeyBrokerError } from './errors.js';
import { normaliseAuthority } from './release-policy.js';
import { readStreamBounded } from '@cloister/service-kit';

export const MAX_TOKEN_BYTES = 64 * 1024;
const MAX_JWKS_BYTES = 256 * 1024;
const MAX_KEYS = 64;

export interface TokenVerifierOptions {
  /** Authority URLs (Cloister's attestation service, MAA instances); the token's `iss` must be one of them. */
  readonly authorities: readonly string[];
  /** Accepted signature algorithms (default RS256, as MAA signs). */
  readonly algorithms?: readonly string[];
  /** Clock skew allowed on exp/nbf, seconds (default 60). */
  readonly clockToleranceSec?: number;
  readonly fetchTimeoutMs?: number;
  /** JWKS cache lifetime (default 10 min). */
  readonly cacheMs?: number;
  /** Least time between two fetches of one authority's JWKS (default 30 s). */
  readonly refetchIntervalMs?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => Date;
}

export interface VerifiedToken {
  readonly authority: string;
  readonly claims: JWTPayload & Record<string, unknown>;
}

interface Jwks {
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly fetchedAt: number;
}

function keyFromJwk(jwk: Record<string, unknown>): KeyObject | undefined {
  try {
    const x5c = jwk['x5c'];
    if (Array.isArray(x5c) && typeof x5c[0] === 'string') {
      // RFC 7517 §4.7: standard base64 DER, the leaf first.
      return new X509Certificate(Buffer.from(x5c[0], 'base64')).publicKey;
    }
    if (typeof jwk['kty'] === 'string') return createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    return undefined;
  }
  return undefined;
}

async function readBounded(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > limit) throw new Error(`JWKS larger than ${limit} bytes`);
  const bytes = await readStreamBounded(res.body, limit);
  if (bytes === undefined) throw new Error(`JWKS larger than ${limit} bytes`);
  return new TextDecoder().decode(bytes);
}

export class TokenVerifier {
  readonly #authorities: ReadonlyMap<string, string>;
  readonly #options: TokenVerifierOptions;
  readonly #jwks = new Map<string, Jwks>();
  readonly #inflight = new Map<string, Promise<Jwks>>();

  constructor(options: TokenVerifierOptions) {
    this.#options = options;
    const m = new Map<string, string>();
    for (const a of options.authorities) {
      let u: URL;
      try {
        u = new URL(a);
      } catch {
        throw new KeyBrokerError('BadParameter', `authority ${a} is not a URL`);
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new KeyBrokerError('BadParameter', `authority ${a} is not http(s)`);
      m.set(normaliseAuthority(a), a.replace(/\/+$/, ''));
    }
    this.#authorities = m;
  }

  get authorities(): readonly string[] {
    return [...this.#authorities.values()];
  }

  async #fetchJwks(authority: string): Promise<Jwks> {
    const doFetch = this.#options.fetch ?? fetch;
    let text: string;
    try {
      const res = await doFetch(`${authority}/certs`, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.#options.fetchTimeoutMs ?? 5_000),
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      text = await readBounded(res, MAX_JWKS_BYTES);
    } catch (e) {
      throw new KeyBrokerError('AuthorityUnavailable', `cannot fetch the signing keys of ${authority}: ${(e as Error).message}`, { authority });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new KeyBrokerError('AuthorityUnavailable', `the signing keys of ${authority} are not JSON`, { authority });
    }
    const list = (body as { keys?: unknown }).keys;
    if (!Array.isArray(list)) throw new KeyBrokerError('AuthorityUnavailable', `${authority}/certs has no keys array`, { authority });
    const keys = new Map<string, KeyObject>();
    for (const k of list.slice(0, MAX_KEYS)) {
      if (typeof k !== 'object' || k === null) continue;
      const key = keyFromJwk(k as Record<string, unknown>);
      const kid = (k as { kid?: unknown }).kid;
      if (key !== undefined) keys.set(typeof kid === 'string' ? kid : '', key);
    }
    return { keys, fetchedAt: Date.now() };
  }

  async #keyFor(authority: string, kid: string | undefined): Promise<KeyObject | undefined> {
    const pick = (j: Jwks): KeyObject | undefined => (kid !== undefined ? j.keys.get(kid) : j.keys.size === 1 ? [...j.keys.values()][0] : undefined);
    const cached = this.#jwks.get(authority);
    const now = Date.now();
    if (cached !== undefined && now - cached.fetchedAt < (this.#options.cacheMs ?? 600_000)) {
      const k = pick(cached);
      if (k !== undefined || now - cached.fetchedAt < (this.#options.refetchIntervalMs ?? 30_000)) return k;
    }
    let p = this.#inflight.get(authority);
    if (p === undefined) {
      p = this.#fetchJwks(authority).finally(() => this.#inflight.delete(authority));
      this.#inflight.set(authority, p);
    }
    const fresh = await p;
    this.#jwks.set(authority, fresh);
    return pick(fresh);
  }

  async verify(token: unknown): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token.length === 0) throw new KeyBrokerError('TokenInvalid', 'target must be an attestation token (a JWT)');
    if (token.length > MAX_TOKEN_BYTES) throw new KeyBrokerError('TokenInvalid', `the attestation token is larger than ${MAX_TOKEN_BYTES} bytes`);
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new KeyBrokerError('TokenInvalid', 'the attestation token is not a compact JWT');
    }
    const iss = typeof unverified.iss === 'string' ? unverified.iss : undefined;
    if (iss === undefined) throw new KeyBrokerError('TokenInvalid', 'the attestation token has no iss');
    const authority = this.#authorities.get(normaliseAuthority(iss));
    if (authority === undefined) {
      throw new KeyBrokerError('AuthorityNotConfigured', `the token's issuer ${iss.slice(0, 200)} is not a configured authority`, { rule: 'authority' });
    }
    const algorithms = [...(this.#options.algorithms ?? ['RS256'])];
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
      throw new KeyBrokerError('TokenInvalid', `the token's alg ${String(header.alg)} is not accepted (${algorithms.join(', ')})`);
    }
    const key = await this.#keyFor(authority, header.kid);
    if (key === undefined) throw new KeyBrokerError('TokenSignatureInvalid', `no signing key ${String(header.kid)} at ${authority}/certs`, { rule: 'signature' });
    try {
      const { payload } = await jwtVerify(token, key, {
        issuer: iss,
        algorithms,
        clockTolerance: this.#options.clockToleranceSec ?? 60,
        requiredClaims: ['exp'],
        ...(this.#options.now !== undefined ? { currentDate: this.#options.now() } : {}),
      });
      return { authority, claims: payload as VerifiedToken['claims'] };
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new KeyBrokerError('TokenExpired', 'the attestation token has expired', { rule: 'exp' });
      if (e instanceof joseErrors.JWTClaimValidationFailed && e.claim === 'nbf') {
        throw new KeyBrokerError('TokenNotYetValid', 'the attestation token is not valid yet (nbf)', { rule: 'nbf' });
      }
      if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
        throw new KeyBrokerError('TokenSignatureInvalid', 'the attestation token signature does not verify', { rule: 'signature' });
      }
      if (e instanceof joseErrors.JWTClaimValidationFailed) throw new KeyBrokerError('TokenInvalid', `the attestation token: ${e.message}`, { rule: e.claim });
      throw new KeyBrokerError('TokenInvalid', 'the attestation token is malformed');
    }
  }
}
