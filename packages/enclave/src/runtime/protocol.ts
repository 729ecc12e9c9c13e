/**
 * The sim backend's wire protocol between the host (src/host/create-sim-enclave.ts) and the enclave process
 * (src/runtime/enclave-main.ts), carried by Node IPC with `serialization: 'advanced'` (the V8 serializer, i.e. the
 * structured clone algorithm). Both sides validate every message they receive; unknown or malformed ones are ignored.
 *
 * host → enclave:  { t: 'load', bundlePath, maxPayloadBytes }
 *                  { t: 'ecall', id, name, args }
 *                  { t: 'reply', id, ok: true, value } | { t: 'reply', id, ok: false, error: { code, message } }
 * enclave → host:  { t: 'ready', ecalls: string[] } | { t: 'load-failed', error }
 *                  { t: 'result', id, ok: true, value } | { t: 'result', id, ok: false, error }
 *                  { t: 'ocall', id, name, args }
 *                  { t: 'svc', id, op: 'self' | 'report' | 'quote' | 'seal' | 'unseal', args: unknown[] }
 *                  { t: 'log', level: 'info' | 'warn' | 'error', message, fields }
 * Ecall ids are allocated by the host, ocall/svc ids by the enclave: the two id spaces are independent.
 */
import { serialize } from 'node:v8';
import { EnclaveError, type EnclaveErrorCode } from '../errors.js';

export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** Longest error message that crosses the boundary (longer ones are cut). */
export const MAX_ERROR_MESSAGE_LENGTH = 4096;
/** Longest log message that crosses the boundary. */
export const MAX_LOG_MESSAGE_LENGTH = 8192;
export const MAX_PATH_LENGTH = 4096;

export const SVC_OPS = ['self', 'report', 'quote', 'seal', 'unseal'] as const;
export type SvcOp = (typeof SVC_OPS)[number];
export const LOG_LEVELS = ['info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface WireError {
  readonly code: string;
  readonly message: string;
}

export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: WireError };

const CODE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** True for a plain message object `{ t: string, … }` (not an array, not a class instance other than Object). */
export function isMessage(value: unknown): value is { readonly t: string } & Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  return typeof (value as { t?: unknown }).t === 'string';
}

export function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

export function isWireError(value: unknown): value is WireError {
  if (typeof value !== 'object' || value === null) return false;
  const { code, message } = value as { code?: unknown; message?: unknown };
  return typeof code === 'string' && CODE.test(code) && typeof message === 'string' && message.length <= MAX_ERROR_MESSAGE_LENGTH;
}

/** Parse `{ ok, value | error }` of a result / reply message, or undefined if malformed. */
export function parseOutcome(msg: Record<string, unknown>): Outcome | undefined {
  if (msg.ok === true) return { ok: true, value: msg.value };
  if (msg.ok === false && isWireError(msg.error)) return { ok: false, error: msg.error };
  return undefined;
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * What an error looks like on the wire: its own `code` if it has a well-formed string one (EnclaveError, Node's
 * ERR_* errors, `{ code: 'X' }`), else `fallback`; its message, cut; never its stack.
 */
export function toWireError(err: unknown, fallback: EnclaveErrorCode = 'CALL_FAILED'): WireError {
  let code: string = fallback;
  let message = '';
  if (typeof err === 'object' && err !== null) {
    const c: unknown = (err as { code?: unknown }).code;
    if (typeof c === 'string' && CODE.test(c)) code = c;
    let m: unknown;
    try {
      m = (err as { message?: unknown }).message;
    } catch {
      m = undefined;
    }
    message = typeof m === 'string' ? m : '';
  } else if (typeof err === 'string') {
    message = err;
  } else if (err !== undefined) {
    message = String(err);
  }
  return { code, message: cut(message, MAX_ERROR_MESSAGE_LENGTH) };
}

/**
 * An EnclaveError carrying a code from the other side. Codes outside ENCLAVE_ERROR_CODES (an application's own
 * `{ code: 'X' }`, Node's `ERR_ACCESS_DENIED`) are kept as they are: `err.code` is then a plain string at run time.
 */
export function fromWireError(error: WireError): EnclaveError {
  return new EnclaveError(error.code as EnclaveErrorCode, error.message);
}

/**
 * The serialized size of `value` (V8 serializer, as the IPC channel uses). Throws EnclaveError INVALID_ARGUMENT if it
 * cannot be cloned (functions, symbols, …) and PAYLOAD_TOO_LARGE if it exceeds `maxBytes`.
 */
export function checkPayload(value: unknown, maxBytes: number, what: string): number {
  if (value === undefined || value === null || typeof value === 'boolean') return 4;
  if (typeof value === 'number') return 12;
  if (typeof value === 'string' && value.length <= 1024) return value.length * 2 + 8;
  let size: number;
  try {
    size = serialize(value).byteLength;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new EnclaveError('INVALID_ARGUMENT', `${what} cannot cross the enclave boundary: ${cut(reason, 200)}`);
  }
  if (size > maxBytes) {
    throw new EnclaveError('PAYLOAD_TOO_LARGE', `${what} is ${size} bytes serialized, over the limit of ${maxBytes}`);
  }
  return size;
}
