/**
 * The wire protocol between the host (src/host/enclave-host.ts) and the enclave process (sim:
 * src/runtime/enclave-main.ts; Gramine: src/runtime/gramine-main.ts), carried as frames of the framed channel
 * (stdio-channel.ts: `u32 LE length ‖ u8 kind ‖ v8.serialize(message)`, the structured clone algorithm). Every
 * message belongs to one KIND, and each kind has its own frame-size limit, checked by the receiver from the frame
 * header BEFORE the payload is buffered or deserialized; a message whose `t` is not of its frame's kind ends the
 * channel (ENCLAVE_PROTOCOL on the host). Both sides validate every message; malformed fields are ignored.
 *
 * kind 1 control   host → enclave: { t: 'load', bundlePath, maxPayloadBytes }, { t: 'ping', id }
 *                  enclave → host: { t: 'hello' }, { t: 'ready', ecalls: string[] } | { t: 'load-failed', error },
 *                                  { t: 'pong', id }
 * kind 2 call      host → enclave: { t: 'ecall', id, name, args },
 *                                  { t: 'reply', id, ok: true, value } | { t: 'reply', id, ok: false, error: { code, message } }
 *                  enclave → host: { t: 'result', id, ok, value | error }, { t: 'ocall', id, name, args },
 *                                  { t: 'svc', id, op: 'self' | 'report' | 'quote' | 'seal' | 'unseal', args: unknown[] }
 * kind 3 log       enclave → host: { t: 'log', level: 'info' | 'warn' | 'error', message, fields }
 * kind 4 stream    enclave → host: { t: 'sopen', id, sid, host, port } (answered by a 'reply' of kind 2)
 *                  both ways:      { t: 'sdata', sid, data }, { t: 'sack', sid, n }, { t: 'send', sid },
 *                                  { t: 'sclose', sid, error? }
 *                  host → enclave: { t: 'saccept', sid, info }
 * Ecall ids are allocated by the host, ocall/svc/sopen ids by the enclave: the two id spaces are independent.
 * Stream ids: odd ones are opened by the enclave (ctx.connect), even ones by the host (accepted connections).
 */
import { serialize } from 'node:v8';
import { EnclaveError, type EnclaveErrorCode } from '../errors.js';

export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** Longest error message that crosses the boundary (longer ones are cut). */
export const MAX_ERROR_MESSAGE_LENGTH = 4096;
/** Longest log message that crosses the boundary. */
export const MAX_LOG_MESSAGE_LENGTH = 8192;
export const MAX_PATH_LENGTH = 4096;

/** Frame kinds (the byte after the length): see the module comment. */
export const FRAME_CONTROL = 1;
export const FRAME_CALL = 2;
export const FRAME_LOG = 3;
export const FRAME_STREAM = 4;
export type FrameKind = typeof FRAME_CONTROL | typeof FRAME_CALL | typeof FRAME_LOG | typeof FRAME_STREAM;

const KIND_OF: ReadonlyMap<string, FrameKind> = new Map<string, FrameKind>([
  ['load', FRAME_CONTROL],
  ['ping', FRAME_CONTROL],
  ['pong', FRAME_CONTROL],
  ['hello', FRAME_CONTROL],
  ['ready', FRAME_CONTROL],
  ['load-failed', FRAME_CONTROL],
  ['ecall', FRAME_CALL],
  ['reply', FRAME_CALL],
  ['result', FRAME_CALL],
  ['ocall', FRAME_CALL],
  ['svc', FRAME_CALL],
  ['log', FRAME_LOG],
  ['sopen', FRAME_STREAM],
  ['sdata', FRAME_STREAM],
  ['sack', FRAME_STREAM],
  ['send', FRAME_STREAM],
  ['sclose', FRAME_STREAM],
  ['saccept', FRAME_STREAM],
]);

/** The frame kind of a message type, or undefined for an unknown type. */
export function kindOf(t: string): FrameKind | undefined {
  return KIND_OF.get(t);
}

/** Headroom for a message's envelope (type, id, …) around its payload. */
export const ENVELOPE_BYTES = 64 * 1024;
/** Largest control frame ('ready' lists up to 1024 names of up to 128 characters). */
export const MAX_CONTROL_FRAME_BYTES = 512 * 1024;
/** Largest log frame: a message of MAX_LOG_MESSAGE_LENGTH plus MAX_LOG_FIELDS_BYTES of fields and an envelope. */
export const MAX_LOG_FIELDS_BYTES = 16 * 1024;
export const MAX_LOG_FRAME_BYTES = 64 * 1024;
/** Largest data chunk of a relayed stream, and the window of unacknowledged bytes per stream and direction. */
export const STREAM_CHUNK_BYTES = 64 * 1024;
export const STREAM_WINDOW_BYTES = 256 * 1024;
export const MAX_STREAM_FRAME_BYTES = STREAM_CHUNK_BYTES + 4096;

/** The per-kind frame limits for a channel whose call payloads are at most `maxPayloadBytes`. */
export function frameLimits(maxPayloadBytes: number): (kind: number) => number {
  const call = maxPayloadBytes + ENVELOPE_BYTES;
  return (kind) =>
    kind === FRAME_CALL
      ? call
      : kind === FRAME_CONTROL
        ? MAX_CONTROL_FRAME_BYTES
        : kind === FRAME_LOG
          ? MAX_LOG_FRAME_BYTES
          : kind === FRAME_STREAM
            ? MAX_STREAM_FRAME_BYTES
            : 0;
}

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
 * The serialized size of `value` (V8 serializer, as the framed channel uses). Throws EnclaveError INVALID_ARGUMENT if it
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
