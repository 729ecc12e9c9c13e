/**
 * The policy management wire format (reference §1.6, verified against @azure/attestation 1.0.0 and Microsoft's
 * recordings): PUT bodies are compact JWS (RFC 7515 §7.1) whose payload is `{"AttestationPolicy": BASE64URL(text)}`
 * (StoredAttestationPolicy); unsigned ones have header `{"alg":"none"}` and an empty signature (RFC 7519 §6
 * unsecured JWT), signed ones carry the signer certificate in `x5c` (RFC 7515 §4.1.6). Reset bodies have an empty
 * payload. Policy-certificate bodies are a JSON string literal holding a JWS whose payload is
 * `{"policyCertificate": JWK}` (RFC 7517 with `x5c`).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { compactVerify } from 'jose';
import { badRequest } from '../errors.js';

/** Algorithms a policy signer may use (what @azure/attestation signs with, and their kin). */
export const POLICY_SIGNING_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;

export interface PolicySigner {
  /** DER of x5c[0]. */
  readonly certificate: Uint8Array;
  /** Hex SHA-256 of the DER (the key Cloister stores signers under). */
  readonly sha256: string;
  /** Upper-case hex SHA-1 of the DER (`x-ms-certificate-thumbprint`, as Windows shows thumbprints). */
  readonly thumbprint: string;
  /** The signer as a JWK with x5c (the `x-ms-policy-signer` claim). */
  readonly jwk: Record<string, unknown>;
}

export interface ParsedJws {
  readonly header: Record<string, unknown>;
  /** The decoded payload bytes. */
  readonly payload: Uint8Array;
  /** Present when the JWS is signed (its signature checked against its own x5c[0]). */
  readonly signer: PolicySigner | undefined;
}

const MAX_JWS = 512 * 1024;

function b64urlDecode(part: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw badRequest('INVALID_REQUEST', `the JWS ${what} is not base64url`);
  return new Uint8Array(Buffer.from(part, 'base64url'));
}

export function signerOf(der: Uint8Array): PolicySigner {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    throw badRequest('CERTIFICATE_INVALID', 'x5c[0] is not a DER X.509 certificate');
  }
  const jwk = cert.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return {
    certificate: der,
    sha256: createHash('sha256').update(der).digest('hex'),
    thumbprint: createHash('sha1').update(der).digest('hex').toUpperCase(),
    jwk: { ...jwk, x5c: [Buffer.from(der).toString('base64')] },
  };
}

/** Parses a compact JWS and, when signed, verifies it with the certificate in its own header. */
export async function parsePolicyJws(text: string): Promise<ParsedJws> {
  if (text.length > MAX_JWS) throw badRequest('INVALID_REQUEST', `the JWS is longer than ${MAX_JWS} characters`);
  const jws = text.trim();
  const parts = jws.split('.');
  if (parts.length !== 3) throw badRequest('INVALID_REQUEST', 'the body is not a compact JWS (three dot-separated parts)');
  const [h, p, s] = parts as [string, string, string];
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(b64urlDecode(h, 'header')).toString('utf8'));
  } catch (e) {
    if ((e as { code?: string }).code === 'INVALID_REQUEST') throw e;
    throw badRequest('INVALID_REQUEST', 'the JWS header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw badRequest('INVALID_REQUEST', 'the JWS header is not a JSON object');
  const hdr = header as Record<string, unknown>;
  const payload = b64urlDecode(p, 'payload');
  if (hdr['alg'] === 'none') {
    if (s !== '') throw badRequest('INVALID_REQUEST', 'an unsigned JWS (alg none) has an empty signature');
    return { header: hdr, payload, signer: undefined };
  }
  if (typeof hdr['alg'] !== 'string' || !(POLICY_SIGNING_ALGS as readonly string[]).includes(hdr['alg'])) {
    throw badRequest('POLICY_SIGNATURE_INVALID', `JWS alg must be none or one of ${POLICY_SIGNING_ALGS.join(', ')}`);
  }
  const x5c = hdr['x5c'];
  if (!Array.isArray(x5c) || typeof x5c[0] !== 'string' || x5c.length > 10) {
    throw badRequest('POLICY_SIGNATURE_INVALID', 'a signed JWS carries its signer certificate in x5c');
  }
  const der = new Uint8Array(Buffer.from(x5c[0], 'base64'));
  const signer = signerOf(der);
  try {
    await compactVerify(jws, new X509Certificate(der).publicKey, { algorithms: [hdr['alg']] });
  } catch {
    throw badRequest('POLICY_SIGNATURE_INVALID', 'the JWS signature does not verify with its x5c certificate');
  }
  return { header: hdr, payload, signer };
}

/** `{"AttestationPolicy": BASE64URL(text)}` → the policy text. */
export function policyTextOf(jws: ParsedJws): string {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(jws.payload));
  } catch {
    throw badRequest('INVALID_REQUEST', 'the JWS payload is not JSON');
  }
  const enc = (body as Record<string, unknown> | null)?.['AttestationPolicy'];
  if (typeof enc !== 'string') throw badRequest('INVALID_REQUEST', 'the JWS payload has no AttestationPolicy string');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b64urlDecode(enc, 'AttestationPolicy'));
  } catch (e) {
    if ((e as { code?: string }).code === 'INVALID_REQUEST') throw e;
    throw badRequest('INVALID_REQUEST', 'AttestationPolicy is not UTF-8');
  }
}

/** An unsigned StoredAttestationPolicy JWS for `text` (what GET returns for a default policy). */
export function unsignedPolicyJws(text: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ AttestationPolicy: Buffer.from(text, 'utf8').toString('base64url') })).toString('base64url');
  return `${header}.${payload}.`;
}

/** `x-ms-policy-token-hash`: BASE64URL(SHA-256(the JWS exactly as sent)) (reference §1.6, verified). */
export function policyTokenHash(jwsText: string): string {
  return createHash('sha256').update(jwsText, 'utf8').digest('base64url');
}
