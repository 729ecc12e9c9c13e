/**
 * Attestation tokens: RS256 JWTs (RFC 7519, RFC 7515) signed with jose, header
 * `{"alg":"RS256","jku":"<issuer>/certs","kid":…,"typ":"JWT"}` (reference §1.3: MAA's header, no x5c), and the
 * JWKS MAA serves at `/certs`: `{"keys":[{"kty":"RSA","kid":…,"x5c":[std base64 DER]}]}` (§1.4: no use/alg).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
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

/** jti: 32 random bytes as 64 hex digits, like MAA's. */
export function newJti(): string {
  return randomBytes(32).toString('hex');
}

export interface SignOptions {
  readonly issuer: string;
  readonly lifetimeSeconds: number;
  readonly now?: number;
  /** Add jti (attestation tokens have one; policy-management results do not). */
  readonly jti?: boolean;
}

export async function signToken(key: ActiveKey, claims: JWTPayload, options: SignOptions): Promise<string> {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const payload: JWTPayload = { ...claims, iss: options.issuer, iat, nbf: iat, exp: iat + options.lifetimeSeconds };
  if (options.jti === true) payload.jti = newJti();
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', jku: `${options.issuer}/certs`, kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

/** An unsigned token (`alg: none`), MAA's answer to an attestation against a draft policy ("cannot be validated"). */
export function unsignedToken(claims: JWTPayload, options: SignOptions): string {
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const payload: JWTPayload = { ...claims, iss: options.issuer, iat, nbf: iat, exp: iat + options.lifetimeSeconds };
  if (options.jti === true) payload.jti = newJti();
  return new UnsecuredJWT(payload).encode();
}
