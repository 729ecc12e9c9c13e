/**
 * The enclave environment allowlist (enclave.json `env`, docs/developers/enclave-sdk.md "Environment").
 *
 * An enclave's environment is exactly its manifest's `env` (measured; nothing passes through from the host). A name
 * is ALLOWED only if
 *  1. it is a portable name: upper-case ASCII letters, digits and `_`, starting with a letter, at most 128 characters
 *     (POSIX.1-2017 XBD 8.1: names used by the utilities are upper-case letters, digits and underscore); and
 *  2. nothing below the application reads it: it does not start with a reserved prefix and is not a reserved name.
 *
 * Reserved prefixes: `LD_` (ld.so: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT …), `DYLD_`, `GLIBC_` (GLIBC_TUNABLES),
 * `MALLOC_` (glibc malloc), `GCONV_` (iconv modules), `LC_` (locales), `NODE_` (Node.js: NODE_OPTIONS, NODE_PATH,
 * NODE_ICU_DATA, NODE_EXTRA_CA_CERTS …), `UV_` (libuv), `OPENSSL_` and `SSL_` (OpenSSL: OPENSSL_CONF,
 * OPENSSL_MODULES, SSL_CERT_FILE …), `ICU_` (ICU data), `V8_`, `CLOISTER_` and `GRAMINE_` (this runtime's own
 * switches, e.g. its test hooks), `SGX_` (the host's AESM selection).
 * Reserved names: GCONV_PATH, LOCPATH, NLSPATH, LANG, LANGUAGE, TZ, TZDIR, HOSTALIASES, LOCALDOMAIN, RES_OPTIONS,
 * RESOLV_HOST_CONF, GETCONF_DIR, POSIXLY_CORRECT, PATH, TMPDIR (read by libc, the resolver or Node's loader).
 *
 * Checked by validateEnclaveJson (so `cloister enclave build`, `sign`, `measure` and every load refuse it) and again
 * by each backend when it starts a process (EnclaveError ENV_NOT_ALLOWED).
 */
import { EnclaveError } from '../errors.js';

export const ENV_NAME_PATTERN = /^[A-Z][A-Z0-9_]{0,127}$/;

export const RESERVED_ENV_PREFIXES = [
  'LD_',
  'DYLD_',
  'GLIBC_',
  'MALLOC_',
  'GCONV_',
  'LC_',
  'NODE_',
  'UV_',
  'OPENSSL_',
  'SSL_',
  'ICU_',
  'V8_',
  'CLOISTER_',
  'GRAMINE_',
  'SGX_',
] as const;

export const RESERVED_ENV_NAMES = [
  'GCONV_PATH',
  'LOCPATH',
  'NLSPATH',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TZDIR',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'RES_OPTIONS',
  'RESOLV_HOST_CONF',
  'GETCONF_DIR',
  'POSIXLY_CORRECT',
  'PATH',
  'TMPDIR',
] as const;

/** Largest value of one variable, and of the whole environment. */
export const MAX_ENV_VALUE_BYTES = 4096;
export const MAX_ENV_ENTRIES = 64;

/** Why `name` is refused, or undefined if it is on the allowlist. */
export function envNameRefusal(name: string): string | undefined {
  if (!ENV_NAME_PATTERN.test(name)) return 'names are upper-case letters, digits and _ (starting with a letter, ≤ 128)';
  const prefix = RESERVED_ENV_PREFIXES.find((p) => name.startsWith(p));
  if (prefix !== undefined) return `the ${prefix}* variables are read by the loader, libc or the runtime`;
  if ((RESERVED_ENV_NAMES as readonly string[]).includes(name)) return `${name} is read by libc, the resolver or the runtime`;
  return undefined;
}

/** Throw EnclaveError ENV_NOT_ALLOWED unless every variable of `env` is allowed. */
export function assertEnvAllowed(env: Readonly<Record<string, string>>, where: string): void {
  const entries = Object.entries(env);
  if (entries.length > MAX_ENV_ENTRIES) throw new EnclaveError('ENV_NOT_ALLOWED', `${where}: more than ${MAX_ENV_ENTRIES} variables`);
  for (const [name, value] of entries) {
    const why = envNameRefusal(name);
    if (why !== undefined) throw new EnclaveError('ENV_NOT_ALLOWED', `${where}: ${JSON.stringify(name.slice(0, 130))} is not allowed: ${why}`);
    if (typeof value !== 'string' || value.includes('\0') || Buffer.byteLength(value) > MAX_ENV_VALUE_BYTES) {
      throw new EnclaveError('ENV_NOT_ALLOWED', `${where}: ${name} must be a string of at most ${MAX_ENV_VALUE_BYTES} bytes without NUL`);
    }
  }
}

/** enclave.json `env` entries (`NAME=value`) as a record; ENV_NOT_ALLOWED for a refused name. */
export function envRecord(entries: readonly string[], where: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const at = e.indexOf('=');
    out[at < 0 ? e : e.slice(0, at)] = at < 0 ? '' : e.slice(at + 1);
  }
  assertEnvAllowed(out, where);
  return out;
}
