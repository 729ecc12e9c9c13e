/**
 * A strict, bounded DER (ITU-T X.690 §10) reader.
 *
 * What it accepts:
 * - single-octet identifiers only (tag numbers 0..30); the high-tag-number form (low five bits all set) is rejected;
 * - definite lengths only, in their minimal encoding (short form below 128, long form without leading zero octets,
 *   at most four length octets); the length is checked against the bytes that remain in the enclosing element
 *   before any view is taken, so nothing is allocated from an unchecked length and nothing is read out of bounds;
 * - nesting up to {@link MAX_DER_DEPTH} constructed levels per reader tree.
 *
 * A {@link DerReader} is a cursor over `[start, end)` of one buffer. Constructed values are read by opening a child
 * reader over the contents (no copy); primitive contents are returned as `subarray` views. Every failure is a
 * {@link DcapError} with the caller's code, naming the field and the offset in the outermost buffer.
 */
import { DcapError, type DcapErrorCode } from '../errors.js';
import { toHex, tryDecodeUtf8 } from '../util/bytes.js';

/** Universal tags (identifier octets, constructed bit included where DER requires it). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific class bits. `CONTEXT | CONSTRUCTED | n` is `[n]` EXPLICIT / constructed IMPLICIT. */
export const CONTEXT = 0x80;
export const CONSTRUCTED = 0x20;

/** Maximum depth of nested constructed values a reader tree may open. */
export const MAX_DER_DEPTH = 32;

/** One TLV: identifier octet, header length, and views of the contents and of the whole encoding. */
export interface DerElement {
  readonly tag: number;
  readonly headerLength: number;
  readonly contents: Uint8Array;
  readonly raw: Uint8Array;
}

export class DerReader {
  readonly #buf: Uint8Array;
  readonly #end: number;
  readonly #depth: number;
  readonly #code: DcapErrorCode;
  readonly #what: string;
  #pos: number;
  /** Start of the last TLV read (its identifier octet) and start/end of its contents. */
  #tStart = 0;
  #cStart = 0;
  #cEnd = 0;

  /**
   * A reader over `buf[start, end)`. `what` prefixes error messages (e.g. "certificate"); `code` is the error code of
   * every failure.
   */
  constructor(buf: Uint8Array, code: DcapErrorCode, what: string, start = 0, end = buf.length, depth = 0) {
    if (!(buf instanceof Uint8Array)) throw new DcapError(code, `${what}: input is not a Uint8Array`);
    this.#buf = buf;
    this.#code = code;
    this.#what = what;
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= buf.length)) {
      throw new DcapError(code, `${what}: invalid reader bounds`);
    }
    if (depth > MAX_DER_DEPTH) throw new DcapError(code, `${what}: DER nesting deeper than ${MAX_DER_DEPTH}`);
    this.#pos = start;
    this.#end = end;
    this.#depth = depth;
  }

  get done(): boolean {
    return this.#pos >= this.#end;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  get code(): DcapErrorCode {
    return this.#code;
  }

  fail(message: string): never {
    throw new DcapError(this.#code, `${this.#what}: ${message}`);
  }

  /** Identifier octet of the next element, or -1 at the end. Does not validate the element. */
  peekTag(): number {
    return this.#pos < this.#end ? this.#buf[this.#pos]! : -1;
  }

  /**
   * Parses the header of the next TLV, checks it, advances past it and records its bounds. Returns the identifier
   * octet. `expected` (if ≥ 0) must equal the identifier octet.
   */
  #tlv(expected: number, field: string): number {
    const buf = this.#buf;
    const end = this.#end;
    const start = this.#pos;
    if (start >= end) this.fail(`${field} missing at offset ${start}`);
    const tag = buf[start]!;
    if ((tag & 0x1f) === 0x1f) this.fail(`${field} at offset ${start} uses a high tag number (unsupported)`);
    if (expected >= 0 && tag !== expected) {
      this.fail(`${field} at offset ${start}: expected tag 0x${hex2(expected)}, found 0x${hex2(tag)}`);
    }
    let p = start + 1;
    if (p >= end) this.fail(`${field} at offset ${start} is truncated (no length)`);
    let len = buf[p++]!;
    if (len >= 0x80) {
      const n = len & 0x7f;
      if (n === 0) this.fail(`${field} at offset ${start} uses the indefinite length form (not DER)`);
      if (n > 4) this.fail(`${field} at offset ${start} has a ${n}-octet length`);
      if (end - p < n) this.fail(`${field} at offset ${start} is truncated (length octets)`);
      if (buf[p] === 0) this.fail(`${field} at offset ${start} has a non-minimal length`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
      if (len < 0x80) this.fail(`${field} at offset ${start} has a non-minimal length`);
    }
    if (len > end - p) {
      this.fail(`${field} at offset ${start} is truncated (length ${len}, ${end - p} bytes remain)`);
    }
    this.#tStart = start;
    this.#cStart = p;
    this.#cEnd = p + len;
    this.#pos = p + len;
    return tag;
  }

  /** The complete encoding (header and contents) of the last element read, as a view. */
  lastRaw(): Uint8Array {
    return this.#buf.subarray(this.#tStart, this.#cEnd);
  }

  /** The contents of the last element read, as a view. */
  lastContents(): Uint8Array {
    return this.#buf.subarray(this.#cStart, this.#cEnd);
  }

  #element(tag: number): DerElement {
    return {
      tag,
      headerLength: this.#cStart - this.#tStart,
      contents: this.#buf.subarray(this.#cStart, this.#cEnd),
      raw: this.#buf.subarray(this.#tStart, this.#cEnd),
    };
  }

  /** The next element, whatever its tag. */
  readAny(field: string): DerElement {
    return this.#element(this.#tlv(-1, field));
  }

  /** The next element, which must have identifier octet `tag`. */
  readElement(tag: number, field: string): DerElement {
    return this.#element(this.#tlv(tag, field));
  }

  /** The next element if its identifier octet is `tag`, else undefined (nothing consumed). */
  readOptionalElement(tag: number, field: string): DerElement | undefined {
    return this.peekTag() === tag ? this.readElement(tag, field) : undefined;
  }

  /** A child reader over the contents of the next element, which must be the constructed `tag`. */
  readConstructed(tag: number, field: string): DerReader {
    if ((tag & CONSTRUCTED) === 0) this.fail(`${field}: tag 0x${hex2(tag)} is not constructed`);
    this.#tlv(tag, field);
    return new DerReader(this.#buf, this.#code, this.#what, this.#cStart, this.#cEnd, this.#depth + 1);
  }

  readSequence(field: string): DerReader {
    return this.readConstructed(TAG.SEQUENCE, field);
  }

  readSet(field: string): DerReader {
    return this.readConstructed(TAG.SET, field);
  }

  /** `[n] EXPLICIT` (context-specific, constructed) if it is next, else undefined (nothing consumed). */
  readOptionalExplicit(n: number, field: string): DerReader | undefined {
    const tag = CONTEXT | CONSTRUCTED | n;
    return this.peekTag() === tag ? this.readConstructed(tag, field) : undefined;
  }

  /** Fails unless every byte of this reader was consumed (no trailing data inside the enclosing element). */
  assertEnd(field: string): void {
    if (this.#pos !== this.#end) this.fail(`${field} has ${this.#end - this.#pos} unexpected trailing bytes`);
  }

  /** INTEGER contents (two's complement, big-endian), checked for minimal encoding; a view. */
  readInteger(field: string): Uint8Array {
    this.#tlv(TAG.INTEGER, field);
    this.#checkInteger(field);
    return this.#buf.subarray(this.#cStart, this.#cEnd);
  }

  #checkInteger(field: string): void {
    const buf = this.#buf;
    const s = this.#cStart;
    const len = this.#cEnd - s;
    if (len === 0) this.fail(`${field}: empty INTEGER`);
    if (len > 1) {
      const a = buf[s]!;
      const b = buf[s + 1]!;
      if ((a === 0x00 && b < 0x80) || (a === 0xff && b >= 0x80)) this.fail(`${field}: non-minimal INTEGER`);
    }
  }

  /** A non-negative INTEGER ≤ `max` (at most 2^48) as a number. */
  readSmallInteger(field: string, max: number): number {
    this.#tlv(TAG.INTEGER, field);
    return this.#smallNonNegative(field, max);
  }

  /** ENUMERATED, a non-negative value ≤ `max` (same encoding rules as INTEGER). */
  readEnumerated(field: string, max: number): number {
    this.#tlv(TAG.ENUMERATED, field);
    return this.#smallNonNegative(field, max);
  }

  #smallNonNegative(field: string, max: number): number {
    this.#checkInteger(field);
    const buf = this.#buf;
    const s = this.#cStart;
    const e = this.#cEnd;
    if (buf[s]! >= 0x80) this.fail(`${field}: negative value`);
    if (e - s > 7) this.fail(`${field}: value out of range`);
    let v = 0;
    for (let i = s; i < e; i++) v = v * 256 + buf[i]!;
    if (v > max) this.fail(`${field}: value ${v} exceeds ${max}`);
    return v;
  }

  /** A (signed) INTEGER of any size as a bigint. */
  readBigInteger(field: string): bigint {
    return integerToBigInt(this.readInteger(field));
  }

  /** OBJECT IDENTIFIER as dotted decimal; non-minimal arcs (a leading 0x80 octet) are rejected. */
  readOid(field: string): string {
    this.#tlv(TAG.OBJECT_IDENTIFIER, field);
    const oid = decodeOidRange(this.#buf, this.#cStart, this.#cEnd);
    if (oid === undefined) this.fail(`${field}: malformed OBJECT IDENTIFIER`);
    return oid;
  }

  /** BIT STRING whose unused-bits count must be 0 (keys, signatures); the bytes after the count, as a view. */
  readBitString(field: string): Uint8Array {
    const { unusedBits, bytes } = this.readBitStringWithUnusedBits(field);
    if (unusedBits !== 0) this.fail(`${field}: BIT STRING has ${unusedBits} unused bits`);
    return bytes;
  }

  /** BIT STRING with its unused-bits count; DER requires the unused bits to be zero, which is checked. */
  readBitStringWithUnusedBits(field: string): { unusedBits: number; bytes: Uint8Array } {
    this.#tlv(TAG.BIT_STRING, field);
    const buf = this.#buf;
    const s = this.#cStart;
    const e = this.#cEnd;
    if (e === s) this.fail(`${field}: empty BIT STRING`);
    const unusedBits = buf[s]!;
    if (unusedBits > 7) this.fail(`${field}: BIT STRING unused-bits count ${unusedBits}`);
    if (unusedBits !== 0) {
      if (e - s === 1) this.fail(`${field}: BIT STRING without bits has unused bits`);
      if ((buf[e - 1]! & ((1 << unusedBits) - 1)) !== 0) this.fail(`${field}: BIT STRING unused bits are not zero`);
    }
    return { unusedBits, bytes: buf.subarray(s + 1, e) };
  }

  /** OCTET STRING contents, as a view. */
  readOctetString(field: string): Uint8Array {
    this.#tlv(TAG.OCTET_STRING, field);
    return this.#buf.subarray(this.#cStart, this.#cEnd);
  }

  /** BOOLEAN; DER allows only 0x00 and 0xFF. */
  readBoolean(field: string): boolean {
    this.#tlv(TAG.BOOLEAN, field);
    if (this.#cEnd - this.#cStart !== 1) this.fail(`${field}: BOOLEAN must have one content octet`);
    const b = this.#buf[this.#cStart]!;
    if (b === 0xff) return true;
    if (b === 0x00) return false;
    return this.fail(`${field}: BOOLEAN 0x${hex2(b)} is not DER`);
  }

  readNull(field: string): void {
    this.#tlv(TAG.NULL, field);
    if (this.#cEnd !== this.#cStart) this.fail(`${field}: NULL with contents`);
  }

  /**
   * UTCTime (`YYMMDDHHMMSSZ`, years 50..99 → 19xx, 00..49 → 20xx per RFC 5280 §4.1.2.5.1) or GeneralizedTime
   * (`YYYYMMDDHHMMSSZ`, RFC 5280 §4.1.2.5.2) → milliseconds since the epoch. Other forms (fractions, offsets, missing
   * seconds) are rejected, as are out-of-range fields.
   */
  readTime(field: string): number {
    const tag = this.#tlv(-1, field);
    if (tag !== TAG.UTC_TIME && tag !== TAG.GENERALIZED_TIME) {
      this.fail(`${field} at offset ${this.#tStart}: expected UTCTime or GeneralizedTime, found tag 0x${hex2(tag)}`);
    }
    const t = decodeTimeRange(tag, this.#buf, this.#cStart, this.#cEnd);
    if (t === undefined) this.fail(`${field}: malformed ${tag === TAG.UTC_TIME ? 'UTCTime' : 'GeneralizedTime'}`);
    return t;
  }

  /** A character string (UTF8String, PrintableString, IA5String, BMPString, TeletexString, VisibleString). */
  readString(field: string): string {
    const tag = this.#tlv(-1, field);
    const s = decodeStringRange(tag, this.#buf, this.#cStart, this.#cEnd);
    if (s === undefined) this.fail(`${field}: unsupported string type 0x${hex2(tag)}`);
    if (s === INVALID) this.fail(`${field}: invalid characters for string type 0x${hex2(tag)}`);
    return s;
  }
}

function hex2(n: number): string {
  return n < 16 ? '0' + n.toString(16) : n.toString(16);
}

/** Two's complement big-endian bytes → bigint. */
export function integerToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  // 6 octets at a time keeps the intermediate in the safe-integer range
  let i = 0;
  const head = bytes.length % 6;
  if (head > 0) {
    let chunk = 0;
    for (; i < head; i++) chunk = chunk * 256 + bytes[i]!;
    v = BigInt(chunk);
  }
  for (; i < bytes.length; i += 6) {
    let chunk = 0;
    for (let j = i; j < i + 6; j++) chunk = chunk * 256 + bytes[j]!;
    v = (v << 48n) | BigInt(chunk);
  }
  if (bytes[0]! >= 0x80) v -= 1n << BigInt(bytes.length * 8);
  return v;
}

/** Lower-case hex of an INTEGER's content octets with leading zero octets stripped ("00" for zero). */
export function integerHex(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return toHex(i === 0 ? bytes : bytes.subarray(i));
}

/**
 * OBJECT IDENTIFIER contents → dotted decimal, or undefined when malformed (empty, an arc with a leading 0x80 octet,
 * an unterminated last arc). Arcs beyond 2^53 are decoded exactly (bigint).
 */
export function decodeOid(contents: Uint8Array): string | undefined {
  return decodeOidRange(contents, 0, contents.length);
}

function decodeOidRange(buf: Uint8Array, start: number, end: number): string | undefined {
  if (start >= end) return undefined;
  let out = '';
  let i = start;
  let first = true;
  while (i < end) {
    if (buf[i] === 0x80) return undefined;
    let v = 0;
    let big: bigint | undefined;
    for (;;) {
      if (i >= end) return undefined;
      const b = buf[i++]!;
      if (big !== undefined) big = (big << 7n) | BigInt(b & 0x7f);
      else if (v >= 0x3ffffffffff) big = (BigInt(v) << 7n) | BigInt(b & 0x7f);
      else v = v * 128 + (b & 0x7f);
      if (b < 0x80) break;
    }
    if (first) {
      first = false;
      if (big !== undefined) out = '2.' + (big - 80n).toString();
      else if (v < 40) out = '0.' + v;
      else if (v < 80) out = '1.' + (v - 40);
      else out = '2.' + (v - 80);
    } else {
      out += '.' + (big !== undefined ? big.toString() : v);
    }
  }
  return out;
}

function digits2(buf: Uint8Array, i: number): number {
  const a = buf[i]! - 48;
  const b = buf[i + 1]! - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** UTCTime / GeneralizedTime contents → epoch ms, or undefined when not the strict RFC 5280 form. */
export function decodeTime(tag: number, contents: Uint8Array): number | undefined {
  return decodeTimeRange(tag, contents, 0, contents.length);
}

function decodeTimeRange(tag: number, buf: Uint8Array, s: number, e: number): number | undefined {
  let year: number;
  let p: number;
  if (tag === TAG.UTC_TIME) {
    if (e - s !== 13) return undefined;
    const yy = digits2(buf, s);
    if (yy < 0) return undefined;
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p = s + 2;
  } else if (tag === TAG.GENERALIZED_TIME) {
    if (e - s !== 15) return undefined;
    const hi = digits2(buf, s);
    const lo = digits2(buf, s + 2);
    if (hi < 0 || lo < 0) return undefined;
    year = hi * 100 + lo;
    p = s + 4;
  } else {
    return undefined;
  }
  const month = digits2(buf, p);
  const day = digits2(buf, p + 2);
  const hour = digits2(buf, p + 4);
  const minute = digits2(buf, p + 6);
  const second = digits2(buf, p + 8);
  if (buf[p + 10] !== 0x5a /* Z */) return undefined;
  if (month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) return undefined;
  if (second < 0 || second > 59) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const dim = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day > dim) return undefined;
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60000 + second * 1000;
}

/** Marker for string contents that are invalid for their type. */
const INVALID: unique symbol = Symbol('invalid');

/** Latin-1 (one code point per octet) without TextDecoder, whose 'latin1' is really windows-1252. */
function latin1(buf: Uint8Array, s: number, e: number): string {
  let out = '';
  for (let i = s; i < e; i += 4096) {
    const chunk = buf.subarray(i, Math.min(e, i + 4096));
    out += String.fromCharCode.apply(null, chunk as unknown as number[]);
  }
  return out;
}

function isPrintableChar(c: number): boolean {
  // X.680 PrintableString: A-Z a-z 0-9 space ' ( ) + , - . / : = ?  (plus '*' and '&', which real CAs emit and
  // Go's crypto/x509 also tolerates)
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) return true;
  switch (c) {
    case 0x20: case 0x27: case 0x28: case 0x29: case 0x2b: case 0x2c: case 0x2d: case 0x2e: case 0x2f:
    case 0x3a: case 0x3d: case 0x3f: case 0x2a: case 0x26:
      return true;
    default:
      return false;
  }
}

function decodeStringRange(tag: number, buf: Uint8Array, s: number, e: number): string | typeof INVALID | undefined {
  switch (tag) {
    case TAG.UTF8_STRING: {
      let ascii = true;
      for (let i = s; i < e; i++) {
        if (buf[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return latin1(buf, s, e);
      const text = tryDecodeUtf8(buf.subarray(s, e));
      // TextDecoder silently drops a leading BOM; treat one as invalid rather than lose it
      if (text === undefined || (buf[s] === 0xef && buf[s + 1] === 0xbb && buf[s + 2] === 0xbf)) return INVALID;
      return text;
    }
    case TAG.PRINTABLE_STRING:
      for (let i = s; i < e; i++) if (!isPrintableChar(buf[i]!)) return INVALID;
      return latin1(buf, s, e);
    case TAG.IA5_STRING:
      for (let i = s; i < e; i++) if (buf[i]! >= 0x80) return INVALID;
      return latin1(buf, s, e);
    case TAG.VISIBLE_STRING:
      for (let i = s; i < e; i++) if (buf[i]! < 0x20 || buf[i]! > 0x7e) return INVALID;
      return latin1(buf, s, e);
    case TAG.NUMERIC_STRING:
      for (let i = s; i < e; i++) if (buf[i] !== 0x20 && (buf[i]! < 0x30 || buf[i]! > 0x39)) return INVALID;
      return latin1(buf, s, e);
    case TAG.TELETEX_STRING:
      return latin1(buf, s, e);
    case TAG.BMP_STRING: {
      if ((e - s) % 2 !== 0) return INVALID;
      let out = '';
      for (let i = s; i < e; i += 2) {
        const u = (buf[i]! << 8) | buf[i + 1]!;
        if (u >= 0xd800 && u <= 0xdfff) return INVALID; // UCS-2: no surrogates
        out += String.fromCharCode(u);
      }
      return out;
    }
    default:
      return undefined;
  }
}

/**
 * A character string element → text; undefined for a tag that is not a supported string type; throws `code` when
 * the contents are invalid for the type.
 */
export function decodeString(el: DerElement, code: DcapErrorCode, field: string): string | undefined {
  const s = decodeStringRange(el.tag, el.contents, 0, el.contents.length);
  if (s === INVALID) throw new DcapError(code, `${field}: invalid characters for string type 0x${hex2(el.tag)}`);
  return s;
}

/**
 * Exactly one DER element spanning all of `bytes` (no trailing data). Convenience for callers that hold a single
 * encoded value.
 */
export function readDer(bytes: Uint8Array, code: DcapErrorCode, what: string): DerElement {
  const r = new DerReader(bytes, code, what);
  const el = r.readAny(what);
  r.assertEnd(what);
  return el;
}
