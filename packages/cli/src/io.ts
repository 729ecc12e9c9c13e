/**
 * File input for the CLI: a path, or `-` for standard input (once per command). Reads are bounded before they
 * allocate: a regular file's size is checked first, a pipe is read in chunks up to the bound (INPUT_TOO_LARGE).
 * Quotes may be raw bytes, hex or base64 (detected).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MAX_TEXT_INPUT_CHARS, decodeBinaryInput } from '@cloister/dcap';
import { CliError } from './errors.js';

/** Largest file the CLI reads (a collateral bundle with large CRLs is a few MB). */
export const MAX_INPUT_FILE_BYTES = 64 * 1024 * 1024;

let stdinTaken = false;

function errnoCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? 'error';
}

/** Reads all of `fd`, refusing more than `max` bytes before reading them. */
function readBounded(fd: number, max: number, what: string, name: string): Uint8Array {
  const st = fstatSync(fd);
  if (st.isFile() && st.size > max) {
    throw new CliError('INPUT_TOO_LARGE', `${what} ${name} is ${st.size} bytes, more than the ${max} accepted`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      if (errnoCode(e) === 'EAGAIN') continue; // a non-blocking pipe with nothing yet
      if (errnoCode(e) === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    total += n;
    if (total > max) throw new CliError('INPUT_TOO_LARGE', `${what} ${name} is more than the ${max} bytes accepted`);
    chunks.push(chunk.subarray(0, n));
  }
  const b = Buffer.concat(chunks, total);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The bytes of `path` (`-`: standard input), at most `max` bytes. */
export function readInputFile(path: string, what: string, max = MAX_INPUT_FILE_BYTES): Uint8Array {
  if (path === '-') {
    if (stdinTaken) throw new CliError('INVALID_ARGUMENT', `only one input can be read from standard input (${what} is "-" too)`);
    stdinTaken = true;
    try {
      return readBounded(0, max, what, '(standard input)');
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError('INPUT_UNREADABLE', `cannot read ${what} from standard input: ${errnoCode(e)}`, { cause: e });
    }
  }
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read ${what} ${path}: ${errnoCode(e)}`, { cause: e });
  }
  try {
    return readBounded(fd, max, what, path);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('INPUT_UNREADABLE', `cannot read ${what} ${path}: ${errnoCode(e)}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}

/** A quote or evidence file: raw, hex or base64 (bounded: see `decodeBinaryInput`). */
export function readBinaryInput(path: string, what: string): Uint8Array {
  return decodeBinaryInput(readInputFile(path, what, MAX_TEXT_INPUT_CHARS + 1));
}

export function readTextInput(path: string, what: string): string {
  return new TextDecoder().decode(readInputFile(path, what));
}

/** JSON-friendly view: bytes as lower-case hex, bigint as decimal string, Maps as objects. */
export function toJsonValue(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v)]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonValue(v);
    return out;
  }
  return value;
}

/** An optional ISO-8601 time flag (`--now`) as epoch ms; INVALID_ARGUMENT when it does not parse. */
export function timeOption(value: string | undefined, flag = '--now'): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new CliError('INVALID_ARGUMENT', `${flag} ${value} is not an ISO-8601 time`);
  return t;
}

/** A pino-like logger (the SDK's HostLogger shape) for an enclave's `ctx.log` records. */
export interface EnclaveLogSink {
  info(obj: Record<string, unknown>, message?: string): void;
  warn(obj: Record<string, unknown>, message?: string): void;
  error(obj: Record<string, unknown>, message?: string): void;
}

/**
 * An enclave's `ctx.log` records as one line each — `enclave info: greeted {"name":"world"}` — handed to `write`
 * with the record itself (for JSON output). The record's fields were bounded by the host before they reach here.
 */
export function enclaveLogger(write: (line: string, record: Record<string, unknown>) => void): EnclaveLogSink {
  const emit = (level: string) => (record: Record<string, unknown>, message?: string) => {
    // `enclave: true` marks every record the host forwards; the line already says so.
    const { enclave: _marker, ...obj } = record;
    const fields = JSON.stringify(obj);
    write(`enclave ${level}: ${message ?? ''}${fields !== '{}' ? ` ${fields}` : ''}`, { level, ...(message !== undefined ? { msg: message } : {}), ...obj });
  };
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}
