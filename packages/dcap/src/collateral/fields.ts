/**
 * Strict field readers shared by the TCB Info and Enclave Identity parsers. Every failure is a {@link DcapError} with
 * the caller's code and a JSON path (`tcbLevels[2].tcb.pcesvn`) so that a rejected collateral file is easy to find.
 */
import { checkJsonBudget } from '../util/json-budget.js';
import { DcapError, type DcapErrorCode } from '../errors.js';
import { tryFromHex } from '../util/bytes.js';
import type { IsvTcbLevel } from './types.js';

export type JsonObject = Readonly<Record<string, unknown>>;

/** Where we are: the error code to throw and a path prefix for messages. */
export interface FieldContext {
  readonly code: DcapErrorCode;
  readonly path: string;
}

/** Longest status / advisory / id / category string accepted. */
export const MAX_SHORT_STRING = 128;
/** Most TCB levels (or advisory IDs) accepted in one array; Intel serves tens. */
export const MAX_LEVELS = 256;

export function at(ctx: FieldContext, key: string | number): FieldContext {
  const path = typeof key === 'number' ? `${ctx.path}[${key}]` : ctx.path === '' ? key : `${ctx.path}.${key}`;
  return { code: ctx.code, path };
}

export function invalid(ctx: FieldContext, message: string): never {
  throw new DcapError(ctx.code, `${ctx.path === '' ? 'document' : ctx.path}: ${message}`);
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asObject(ctx: FieldContext, value: unknown): JsonObject {
  if (!isObject(value)) invalid(ctx, 'expected an object');
  return value;
}

/** The member `key` of `obj`, which must be present (own property). */
function member(ctx: FieldContext, obj: JsonObject, key: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(obj, key)) invalid(ctx, 'missing');
  return obj[key];
}

export function has(obj: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

export function objectField(ctx: FieldContext, obj: JsonObject, key: string): JsonObject {
  const c = at(ctx, key);
  return asObject(c, member(c, obj, key));
}

export function uintField(ctx: FieldContext, obj: JsonObject, key: string, max: number): number {
  const c = at(ctx, key);
  const v = member(c, obj, key);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    invalid(c, `expected an integer in [0, ${max}]`);
  }
  return v;
}

export function stringField(ctx: FieldContext, obj: JsonObject, key: string, maxLength = MAX_SHORT_STRING): string {
  const c = at(ctx, key);
  const v = member(c, obj, key);
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    invalid(c, `expected a non-empty string of at most ${maxLength} characters`);
  }
  return v;
}

/** Hex string of exactly `byteLength` bytes (either case). */
export function hexField(ctx: FieldContext, obj: JsonObject, key: string, byteLength: number): Uint8Array {
  const c = at(ctx, key);
  const v = member(c, obj, key);
  const bytes = typeof v === 'string' && v.length === byteLength * 2 ? tryFromHex(v) : undefined;
  if (bytes === undefined) invalid(c, `expected ${byteLength * 2} hex digits`);
  return bytes;
}

export function arrayField(ctx: FieldContext, obj: JsonObject, key: string, min: number, max: number): unknown[] {
  const c = at(ctx, key);
  const v = member(c, obj, key);
  if (!Array.isArray(v)) invalid(c, 'expected an array');
  if (v.length < min || v.length > max) invalid(c, `expected ${min}..${max} entries, got ${v.length}`);
  return v;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * Milliseconds since the epoch of an ISO-8601 UTC timestamp as Intel writes them (`2025-06-19T10:56:11Z`; optional
 * fraction). Other offsets and out-of-range fields are rejected. Undefined when malformed.
 */
export function parseIsoUtc(text: string): number | undefined {
  const m = ISO_DATE.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = m[7] === undefined ? 0 : Number(`${m[7]}00`.slice(0, 3));
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime();
}

export function dateField(ctx: FieldContext, obj: JsonObject, key: string): number {
  const c = at(ctx, key);
  const v = member(c, obj, key);
  const ms = typeof v === 'string' ? parseIsoUtc(v) : undefined;
  if (ms === undefined) invalid(c, 'expected an ISO-8601 UTC date (YYYY-MM-DDThh:mm:ssZ)');
  return ms;
}

/** A date kept as served (validated). */
export function dateStringField(ctx: FieldContext, obj: JsonObject, key: string): string {
  dateField(ctx, obj, key);
  return obj[key] as string;
}

/** `advisoryIDs`: optional array of strings, absent → []. */
export function advisoryIdsField(ctx: FieldContext, obj: JsonObject): string[] {
  if (!has(obj, 'advisoryIDs')) return [];
  const c = at(ctx, 'advisoryIDs');
  const list = arrayField(ctx, obj, 'advisoryIDs', 0, MAX_LEVELS);
  return list.map((v, i) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_SHORT_STRING) invalid(at(c, i), 'expected a string');
    return v;
  });
}

/**
 * `tcbLevels` of an enclave identity or a TDX module identity: `[{tcb:{isvsvn}, tcbDate, tcbStatus, advisoryIDs?}]`,
 * 1..{@link MAX_LEVELS} entries.
 */
export function isvTcbLevelsField(ctx: FieldContext, obj: JsonObject): IsvTcbLevel[] {
  const c = at(ctx, 'tcbLevels');
  return arrayField(ctx, obj, 'tcbLevels', 1, MAX_LEVELS).map((value, i) => {
    const lc = at(c, i);
    const level = asObject(lc, value);
    const tcb = objectField(lc, level, 'tcb');
    return {
      isvSvn: uintField(at(lc, 'tcb'), tcb, 'isvsvn', 0xffff),
      tcbDate: dateStringField(lc, level, 'tcbDate'),
      tcbStatus: stringField(lc, level, 'tcbStatus'),
      advisoryIds: advisoryIdsField(lc, level),
    };
  });
}

/** JSON.parse of a collateral document: size-limited, must be an object; else `code`. */
export function parseJsonObject(body: unknown, code: DcapErrorCode, what: string, maxLength: number): JsonObject {
  if (typeof body !== 'string') throw new DcapError(code, `${what} is not a string`);
  if (body.length > maxLength) throw new DcapError(code, `${what} is longer than ${maxLength} characters`);
  checkJsonBudget(body, what);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new DcapError(code, `${what} is not JSON`);
  }
  if (!isObject(value)) throw new DcapError(code, `${what} is not a JSON object`);
  return value;
}
