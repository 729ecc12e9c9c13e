/**
 * Attestation tokens: RS256 JWTs (RFC 7519, RFC 7515) signed with node:crypto (unsigned draft tokens with jose), header
 * `{"alg":"RS256","jku":"<issuer>/certs","kid":…,"typ":"JWT"}` (reference §1.3: MAA's header, no x5c), and the
 * JWKS MAA serves at `/certs`: `{"keys":[{"kty":"RSA","kid":…,"x5c":[std base64 DER]}]}` (§1.4: no use/alg).
 */
import { randomFillSync, sign, type KeyObject } from 'node:crypto';
import { UnsecuredJWT, type JWTPayload } from 'jose';
import { base64std } from './base64.js';

export interface ActiveKey {
  readonly kid: string;
  readonly certificate: Uint8Array;
  readonly privateKey: KeyObject;
}

export interface Jwk {
  readonly kty: 'RSA';
  readonly kid: string;
  readonly x5c: readonly string[];
}

/** MAA's attestation token lifetime: 8 hours, iat == nbf (reference §1.3). */
export const TOKEN_LIFETIME_SECONDS = 8 * 3600;

export function jwkOf(kid: string, certificate: Uint8Array): Jwk {
  return { kty: 'RSA', kid, x5c: [base64std(certificate)] };
}

/** Random bytes for jti values, drawn 256 jtis at a time (one call into the CSPRNG instead of one per token). */
const JTI_BYTES = 32;
const jtiPool = Buffer.alloc(JTI_BYTES * 256);
let jtiNext = jtiPool.length;

/** jti: 32 random bytes as 64 hex digits, like MAA's. */
export function newJti(): string {
  if (jtiNext === jtiPool.length) {
    randomFillSync(jtiPool);
    jtiNext = 0;
  }
  const hex = jtiPool.toString('hex', jtiNext, jtiNext + JTI_BYTES);
  // Each pooled byte is used once: wipe it so no jti can repeat even if the pool were reused without refilling.
  jtiPool.fill(0, jtiNext, jtiNext + JTI_BYTES);
  jtiNext += JTI_BYTES;
  return hex;
}

export interface SignOptions {
  readonly issuer: string;
  readonly lifetimeSeconds: number;
  readonly now?: number;
  /** Add jti (attestation tokens have one; policy-management results do not). */
  readonly jti?: boolean;
}

/** The claims of a token: the caller's, then iss, iat == nbf, exp (and jti). */
export function tokenPayload(claims: JWTPayload, options: SignOptions): JWTPayload {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const payload: JWTPayload = { ...claims, iss: options.issuer, iat, nbf: iat, exp: iat + options.lifetimeSeconds };
  if (options.jti === true) payload.jti = newJti();
  return payload;
}

/** BASE64URL(UTF8(JWS Protected Header)) per signing key and issuer: the header never changes between tokens. */
const headers = new WeakMap<KeyObject, Map<string, string>>();

function encodedHeader(key: ActiveKey, issuer: string): string {
  let byIssuer = headers.get(key.privateKey);
  if (byIssuer === undefined) {
    byIssuer = new Map();
    headers.set(key.privateKey, byIssuer);
  }
  let h = byIssuer.get(issuer);
  if (h === undefined) {
    h = Buffer.from(JSON.stringify({ alg: 'RS256', jku: `${issuer}/certs`, kid: key.kid, typ: 'JWT' }), 'utf8').toString('base64url');
    if (byIssuer.size >= 16) byIssuer.clear();
    byIssuer.set(issuer, h);
  }
  return h;
}

/**
 * Signs the JSON text of a payload (RFC 7515 §5.1 compact serialisation: BASE64URL(header) '.' BASE64URL(payload)
 * '.' BASE64URL(signature); RS256 = RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3). The signature is computed by
 * node:crypto in libuv's thread pool, off the event loop. `payloadJson` is `JSON.stringify` of the claims — the
 * caller keeps it to hash and store the same text.
 */
export function signTokenJson(key: ActiveKey, payloadJson: string, issuer: string): Promise<string> {
  const input = `${encodedHeader(key, issuer)}.${Buffer.from(payloadJson, 'utf8').toString('base64url')}`;
  return new Promise((resolve, reject) => {
    sign('sha256', Buffer.from(input, 'latin1'), key.privateKey, (err, signature) => {
      if (err !== null) reject(err);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}

export async function signToken(key: ActiveKey, claims: JWTPayload, options: SignOptions): Promise<string> {
  return signTokenJson(key, JSON.stringify(tokenPayload(claims, options)), options.issuer);
}

/** An unsigned token (`alg: none`), MAA's answer to an attestation against a draft policy ("cannot be validated"). */
export function unsignedToken(claims: JWTPayload, options: SignOptions): string {
  return new UnsecuredJWT(tokenPayload(claims, options)).encode();
}
