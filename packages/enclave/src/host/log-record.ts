/**
 * The host's view of an enclave log record (`{ t: 'log', level, message, fields }`, frame kind 3, at most
 * MAX_LOG_FRAME_BYTES before it is deserialized). The enclave chooses the level among info | warn | error and the
 * message (cut to MAX_LOG_MESSAGE_LENGTH); its fields are copied under these rules:
 *  - at most MAX_LOG_FIELDS fields, names matching FIELD_NAME (64 characters at most);
 *  - reserved names are dropped: the logger's own keys (pino: level, time, msg, pid, hostname, name, v, err, …),
 *    the host's markers (enclave, stream) and prototype keys, so that an enclave cannot forge where a line comes
 *    from, its level or its time; `droppedFields` then lists how many were dropped;
 *  - values: strings cut to MAX_LOG_FIELD_STRING, numbers, booleans, null, bigint (as a string); any other value
 *    (objects, arrays, bytes) is replaced by its type name, so nothing nested reaches the host's serializers.
 */
import { LOG_LEVELS, MAX_LOG_MESSAGE_LENGTH, type LogLevel } from '../runtime/protocol.js';

export const MAX_LOG_FIELDS = 32;
export const MAX_LOG_FIELD_STRING = 1024;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** Keys the enclave may not set (pino's core keys and serializers, the host's own markers, prototype keys). */
export const RESERVED_LOG_KEYS: ReadonlySet<string> = new Set([
  'level',
  'levelLabel',
  'time',
  'timestamp',
  'msg',
  'message',
  'pid',
  'hostname',
  'name',
  'v',
  'err',
  'error',
  'req',
  'res',
  'stack',
  'type',
  'enclave',
  'stream',
  'droppedFields',
  '__proto__',
  'constructor',
  'prototype',
  'toJSON',
]);

export interface EnclaveLogRecord {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

function fieldValue(v: unknown): unknown {
  switch (typeof v) {
    case 'string':
      return v.length <= MAX_LOG_FIELD_STRING ? v : `${v.slice(0, MAX_LOG_FIELD_STRING - 1)}…`;
    case 'number':
    case 'boolean':
      return v;
    case 'bigint':
      return v.toString().slice(0, 64);
    case 'undefined':
      return null;
    default:
      if (v === null) return null;
      if (Array.isArray(v)) return '[array]';
      if (v instanceof Uint8Array) return '[bytes]';
      return `[${typeof v}]`;
  }
}

/** The record to log, or undefined if `msg` is not a well-formed log message. Never throws. */
export function sanitizeLogRecord(msg: Record<string, unknown>): EnclaveLogRecord | undefined {
  const { level, message, fields } = msg;
  if (!(LOG_LEVELS as readonly unknown[]).includes(level) || typeof message !== 'string') return undefined;
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let dropped = 0;
  if (typeof fields === 'object' && fields !== null && !Array.isArray(fields)) {
    let kept = 0;
    for (const key of Object.keys(fields)) {
      if (kept >= MAX_LOG_FIELDS || !FIELD_NAME.test(key) || RESERVED_LOG_KEYS.has(key)) {
        dropped++;
        continue;
      }
      out[key] = fieldValue((fields as Record<string, unknown>)[key]);
      kept++;
    }
  }
  const plain: Record<string, unknown> = { ...out };
  if (dropped > 0) plain.droppedFields = dropped;
  return {
    level: level as LogLevel,
    message: message.length <= MAX_LOG_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_LOG_MESSAGE_LENGTH - 1)}…`,
    fields: plain,
  };
}
