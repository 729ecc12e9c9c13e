/** File input for the CLI: raw bytes, hex or base64 are all accepted (detected). */
import { readFileSync } from 'node:fs';
import { decodeBinaryInput } from '@cloister/dcap';
import { CliError } from './errors.js';

export function readInputFile(path: string, what: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause: e,
    });
  }
}

/** A quote or evidence file: raw, hex or base64. */
export function readBinaryInput(path: string, what: string): Uint8Array {
  return decodeBinaryInput(readInputFile(path, what));
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
