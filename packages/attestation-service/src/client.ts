/**
 * A small client of the MAA data plane for the CLI and for relying parties in TypeScript: POST an attestation, fetch
 * `/certs`, and verify a token offline against a JWKS (signature RS256 with the `x5c[0]` of the key named by `kid`,
 * `exp`/`nbf`, and the issuer). Responses are bounded (size and time) on the receiving side.
 */
import { X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { ServiceError } from '@cloister/service-kit';
import type { AttestationType, RuntimeDataType } from './claims.js';

export interface ClientOptions {
  /** Extra CA certificates (PEM) to trust for the service's TLS. */
  readonly ca?: string;
  /** Per request, default 30 s. */
  readonly timeoutMs?: number;
  /** Largest response body, default 1 MiB. */
  readonly maxResponseBytes?: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

function clientError(code: string, message: string): ServiceError {
  return new ServiceError(code, 502, message);
}

/** One JSON request; resolves with the status and the parsed body (undefined when empty or not JSON). */
export function jsonRequest(url: string, method: 'GET' | 'POST', body: string | undefined, o: ClientOptions = {}): Promise<HttpAnswer> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(new ServiceError('INVALID_ARGUMENT', 400, `${url} is not a URL`));
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return Promise.reject(new ServiceError('INVALID_ARGUMENT', 400, `${url}: only http and https`));
  const max = o.maxResponseBytes ?? 1024 * 1024;
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method,
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
        timeout: o.timeoutMs ?? 30_000,
        ...(o.ca !== undefined && u.protocol === 'https:' ? { ca: o.ca } : {}),
      },
      (res) => {
        const declared = Number(res.headers['content-length'] ?? 0);
        if (declared > max) {
          res.destroy();
          reject(clientError('RESPONSE_TOO_LARGE', `the answer from ${u.host} is larger than ${max} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (c: Buffer) => {
          total += c.length;
          if (total > max) {
            res.destroy();
            reject(clientError('RESPONSE_TOO_LARGE', `the answer from ${u.host} is larger than ${max} bytes`));
          } else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(clientError('SERVICE_TIMEOUT', `${u.host} did not answer within ${o.timeoutMs ?? 30_000} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof ServiceError) reject(e);
      else reject(clientError('SERVICE_UNREACHABLE', `cannot reach ${u.host}: ${e.code ?? e.message}`));
    });
    req.end(body);
  });
}

function answerError(a: HttpAnswer, what: string): ServiceError {
  const err = (a.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof err?.code === 'string' ? err.code : `HTTP_${a.status}`;
  const message = typeof err?.message === 'string' ? err.message : `${what} answered ${a.status}`;
  return new ServiceError(code, a.status >= 400 && a.status < 600 ? a.status : 502, message);
}

export interface AttestOptions extends ClientOptions {
  readonly runtimeData?: Uint8Array;
  readonly runtimeDataType?: RuntimeDataType;
  readonly apiVersion?: string;
  readonly nonce?: string;
}

/** POST `/attest/{type}`; resolves with the token. A refusal rejects with the service's code. */
export async function attest(baseUrl: string, type: AttestationType, evidence: Uint8Array, o: AttestOptions = {}): Promise<string> {
  const field = type === 'SgxEnclave' ? 'quote' : 'report';
  const body: Record<string, unknown> = { [field]: Buffer.from(evidence).toString('base64url') };
  if (o.runtimeData !== undefined) body['runtimeData'] = { data: Buffer.from(o.runtimeData).toString('base64url'), dataType: o.runtimeDataType ?? 'Binary' };
  if (o.nonce !== undefined) body['nonce'] = o.nonce;
  const url = `${baseUrl.replace(/\/+$/, '')}/attest/${type}?api-version=${o.apiVersion ?? (o.nonce !== undefined ? '2022-08-01' : '2020-10-01')}`;
  const a = await jsonRequest(url, 'POST', JSON.stringify(body), o);
  const token = (a.body as { token?: unknown } | undefined)?.token;
  if (a.status !== 200 || typeof token !== 'string') throw answerError(a, 'the attestation service');
  return token;
}

export interface JwksDocument {
  readonly keys: readonly { readonly kid?: unknown; readonly x5c?: unknown }[];
}

export async function fetchJwks(baseUrl: string, o: ClientOptions = {}): Promise<JwksDocument> {
  const a = await jsonRequest(`${baseUrl.replace(/\/+$/, '')}/certs`, 'GET', undefined, o);
  if (a.status !== 200 || !Array.isArray((a.body as { keys?: unknown } | undefined)?.keys)) throw answerError(a, '/certs');
  return a.body as JwksDocument;
}

export interface VerifiedToken {
  readonly header: Record<string, unknown>;
  readonly claims: JWTPayload & Record<string, unknown>;
  readonly kid: string;
}

export interface VerifyTokenOptions {
  readonly jwks: JwksDocument;
  /** Required `iss` (exact match); undefined: not checked. */
  readonly issuer?: string;
  /** Seconds of clock skew tolerated (default 60). */
  readonly clockToleranceSeconds?: number;
  readonly now?: Date;
}

function invalid(message: string): ServiceError {
  return new ServiceError('TOKEN_INVALID', 401, message);
}

/** Verifies an attestation token against a JWKS in MAA's `/certs` form (kid + x5c). TOKEN_INVALID when it fails. */
export async function verifyAttestationToken(token: string, o: VerifyTokenOptions): Promise<VerifiedToken> {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
    decodeJwt(token);
  } catch {
    throw invalid('not a JWT');
  }
  if (header['alg'] !== 'RS256') throw invalid(`alg ${String(header['alg'])} is not RS256 (a draft-policy token is unsigned and cannot be verified)`);
  const kid = header['kid'];
  if (typeof kid !== 'string') throw invalid('the token header has no kid');
  const jwk = o.jwks.keys.find((k) => k.kid === kid);
  const x5c = jwk?.x5c;
  if (!Array.isArray(x5c) || typeof x5c[0] !== 'string') throw invalid(`no key ${kid} with an x5c certificate in the JWKS`);
  let key;
  try {
    key = new X509Certificate(Buffer.from(x5c[0], 'base64')).publicKey;
  } catch {
    throw invalid(`the x5c certificate of key ${kid} does not parse`);
  }
  try {
    const r = await jwtVerify(token, key, {
      algorithms: ['RS256'],
      clockTolerance: o.clockToleranceSeconds ?? 60,
      ...(o.issuer !== undefined ? { issuer: o.issuer } : {}),
      ...(o.now !== undefined ? { currentDate: o.now } : {}),
    });
    return { header, claims: r.payload as JWTPayload & Record<string, unknown>, kid };
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw invalid(
      code === 'ERR_JWT_EXPIRED'
        ? 'the token has expired'
        : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED'
          ? `claim check failed: ${(e as Error).message}`
          : 'the signature does not verify with the key named by kid',
    );
  }
}
