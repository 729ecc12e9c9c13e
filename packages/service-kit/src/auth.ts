/**
 * Admin authentication: `Authorization: Bearer <token>` compared in constant time with the token read from a file.
 * Without a configured token every management call is refused (fail closed). The token never reaches a log.
 */
import { readFileSync, statSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ServiceError } from './errors.js';

const MAX_TOKEN_FILE = 4096;

/** Reads a secret file (trailing newline trimmed), refusing an empty or oversized one. */
export function readSecretFile(path: string, what = 'secret'): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new ServiceError('CONFIG_INVALID', 400, `cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (size > MAX_TOKEN_FILE) throw new ServiceError('CONFIG_INVALID', 400, `the ${what} file ${path} is larger than ${MAX_TOKEN_FILE} bytes`);
  const text = readFileSync(path, 'utf8').trim();
  if (text.length < 16) throw new ServiceError('CONFIG_INVALID', 400, `the ${what} in ${path} is shorter than 16 characters`);
  return text;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** True when `presented` equals `expected`, in time independent of where they differ (hashes compared). */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Parses `Authorization: Bearer X`; undefined when absent or of another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * Middleware requiring the admin token. `token` undefined: every call is refused with 403 `ADMIN_DISABLED`
 * (management is off until an operator configures a token).
 */
export function requireAdmin(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined) {
      throw new ServiceError('ADMIN_DISABLED', 403, 'management is disabled: start the service with --admin-token-file');
    }
    const presented = bearerToken(c.req.header('authorization'));
    if (presented === undefined) {
      c.header('www-authenticate', 'Bearer');
      throw new ServiceError('UNAUTHENTICATED', 401, 'this call needs Authorization: Bearer <admin token>');
    }
    if (!tokensEqual(presented, token)) throw new ServiceError('FORBIDDEN', 403, 'the admin token is not valid');
    await next();
  };
}
