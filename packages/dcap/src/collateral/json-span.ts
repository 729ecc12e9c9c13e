/**
 * A small, bounded JSON (RFC 8259) scanner that finds where a top-level member's value sits in the source text.
 *
 * Intel signs the bytes of the `tcbInfo` / `enclaveIdentity` value exactly as the PCS serves them
 * (dcap-attestation.md §2.4), so the signed text must be cut out of the response body, never re-serialised.
 * The scanner validates the whole document (strings, escapes, numbers, literals, nesting), so the substring it returns
 * is the value a conforming JSON parser would see.
 */
import { DcapError, type DcapErrorCode } from '../errors.js';

/** Deepest nesting of objects / arrays accepted (Intel collateral nests 5 deep). */
export const JSON_SPAN_MAX_DEPTH = 64;
/** Longest document accepted, in UTF-16 code units (PCS bodies are well below 100 kB). */
export const JSON_SPAN_MAX_LENGTH = 4 * 1024 * 1024;

interface Scan {
  readonly text: string;
  pos: number;
  readonly code: DcapErrorCode;
}

function fail(s: Scan, what: string): never {
  throw new DcapError(s.code, `invalid JSON at offset ${s.pos}: ${what}`);
}

function skipWhitespace(s: Scan): void {
  const t = s.text;
  while (s.pos < t.length) {
    const c = t.charCodeAt(s.pos);
    // RFC 8259 §2: space, horizontal tab, line feed, carriage return; nothing else.
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) s.pos++;
    else return;
  }
}

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * Scans a string starting at the opening quote; leaves `pos` after the closing quote.
 * With `decode`, returns the decoded value (used for member names only).
 */
function scanString(s: Scan, decode: boolean): string | undefined {
  const t = s.text;
  if (t.charCodeAt(s.pos) !== 0x22) fail(s, 'expected a string');
  s.pos++;
  let out = decode ? '' : undefined;
  let runStart = s.pos;
  for (;;) {
    if (s.pos >= t.length) fail(s, 'unterminated string');
    const c = t.charCodeAt(s.pos);
    if (c === 0x22) {
      if (out !== undefined) out += t.slice(runStart, s.pos);
      s.pos++;
      return out;
    }
    if (c < 0x20) fail(s, 'control character in string');
    if (c !== 0x5c) {
      s.pos++;
      continue;
    }
    // Escape sequence.
    if (out !== undefined) out += t.slice(runStart, s.pos);
    const e = t.charCodeAt(s.pos + 1);
    switch (e) {
      case 0x22: // "
      case 0x5c: // \
      case 0x2f: // /
        if (out !== undefined) out += String.fromCharCode(e);
        s.pos += 2;
        break;
      case 0x62: // b
        if (out !== undefined) out += '\b';
        s.pos += 2;
        break;
      case 0x66: // f
        if (out !== undefined) out += '\f';
        s.pos += 2;
        break;
      case 0x6e: // n
        if (out !== undefined) out += '\n';
        s.pos += 2;
        break;
      case 0x72: // r
        if (out !== undefined) out += '\r';
        s.pos += 2;
        break;
      case 0x74: // t
        if (out !== undefined) out += '\t';
        s.pos += 2;
        break;
      case 0x75: {
        // u + 4 hex digits
        for (let i = 2; i < 6; i++) if (!isHexDigit(t.charCodeAt(s.pos + i))) fail(s, 'bad \\u escape');
        if (out !== undefined) out += String.fromCharCode(parseInt(t.slice(s.pos + 2, s.pos + 6), 16));
        s.pos += 6;
        break;
      }
      default:
        fail(s, 'bad escape');
    }
    runStart = s.pos;
  }
}

function scanDigits(s: Scan): number {
  const start = s.pos;
  const t = s.text;
  while (s.pos < t.length) {
    const c = t.charCodeAt(s.pos);
    if (c < 48 || c > 57) break;
    s.pos++;
  }
  return s.pos - start;
}

/** RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. */
function scanNumber(s: Scan): void {
  const t = s.text;
  if (t.charCodeAt(s.pos) === 0x2d) s.pos++;
  const first = t.charCodeAt(s.pos);
  if (first === 0x30) s.pos++;
  else if (first >= 0x31 && first <= 0x39) scanDigits(s);
  else fail(s, 'bad number');
  if (t.charCodeAt(s.pos) === 0x2e) {
    s.pos++;
    if (scanDigits(s) === 0) fail(s, 'bad fraction');
  }
  const e = t.charCodeAt(s.pos);
  if (e === 0x65 || e === 0x45) {
    s.pos++;
    const sign = t.charCodeAt(s.pos);
    if (sign === 0x2b || sign === 0x2d) s.pos++;
    if (scanDigits(s) === 0) fail(s, 'bad exponent');
  }
}

function scanLiteral(s: Scan, word: string): void {
  if (!s.text.startsWith(word, s.pos)) fail(s, 'unexpected character');
  s.pos += word.length;
}

/** Scans one value (no surrounding whitespace); leaves `pos` just after it. */
function scanValue(s: Scan, depth: number): void {
  const c = s.text.charCodeAt(s.pos);
  switch (c) {
    case 0x7b: // {
      scanObject(s, depth + 1, undefined);
      return;
    case 0x5b: // [
      scanArray(s, depth + 1);
      return;
    case 0x22:
      scanString(s, false);
      return;
    case 0x74:
      scanLiteral(s, 'true');
      return;
    case 0x66:
      scanLiteral(s, 'false');
      return;
    case 0x6e:
      scanLiteral(s, 'null');
      return;
    default:
      if (c === 0x2d || (c >= 0x30 && c <= 0x39)) scanNumber(s);
      else fail(s, s.pos >= s.text.length ? 'unexpected end' : 'unexpected character');
  }
}

function scanArray(s: Scan, depth: number): void {
  if (depth > JSON_SPAN_MAX_DEPTH) fail(s, `nesting deeper than ${JSON_SPAN_MAX_DEPTH}`);
  s.pos++; // [
  skipWhitespace(s);
  if (s.text.charCodeAt(s.pos) === 0x5d) {
    s.pos++;
    return;
  }
  for (;;) {
    skipWhitespace(s);
    scanValue(s, depth);
    skipWhitespace(s);
    const c = s.text.charCodeAt(s.pos);
    s.pos++;
    if (c === 0x5d) return;
    if (c !== 0x2c) {
      s.pos--;
      fail(s, "expected ',' or ']'");
    }
  }
}

/**
 * Scans an object. When `members` is given (top level only), records each member's value span by decoded name;
 * a repeated name is recorded as `null` (ambiguous).
 */
function scanObject(s: Scan, depth: number, members: Map<string, [number, number] | null> | undefined): void {
  if (depth > JSON_SPAN_MAX_DEPTH) fail(s, `nesting deeper than ${JSON_SPAN_MAX_DEPTH}`);
  s.pos++; // {
  skipWhitespace(s);
  if (s.text.charCodeAt(s.pos) === 0x7d) {
    s.pos++;
    return;
  }
  for (;;) {
    skipWhitespace(s);
    const name = scanString(s, members !== undefined);
    skipWhitespace(s);
    if (s.text.charCodeAt(s.pos) !== 0x3a) fail(s, "expected ':'");
    s.pos++;
    skipWhitespace(s);
    const start = s.pos;
    scanValue(s, depth);
    if (members !== undefined && name !== undefined) {
      members.set(name, members.has(name) ? null : [start, s.pos]);
    }
    skipWhitespace(s);
    const c = s.text.charCodeAt(s.pos);
    s.pos++;
    if (c === 0x7d) return;
    if (c !== 0x2c) {
      s.pos--;
      fail(s, "expected ',' or '}'");
    }
  }
}

/**
 * The exact source text of the value of top-level member `key` of the JSON object `text`, or undefined when the
 * object has no such member.
 *
 * The whole document is validated; it must be a single JSON object (surrounding whitespace allowed). Throws a
 * {@link DcapError} with `code` when `text` is not such a document, is longer than {@link JSON_SPAN_MAX_LENGTH},
 * nests deeper than {@link JSON_SPAN_MAX_DEPTH}, or names `key` more than once (parsers disagree on which wins).
 */
export function rawJsonMember(
  text: string,
  key: string,
  code: DcapErrorCode = 'INVALID_INPUT_ENCODING',
): string | undefined {
  if (typeof text !== 'string') throw new DcapError(code, 'JSON document is not a string');
  if (text.length > JSON_SPAN_MAX_LENGTH) {
    throw new DcapError(code, `JSON document longer than ${JSON_SPAN_MAX_LENGTH} characters`);
  }
  const s: Scan = { text, pos: 0, code };
  skipWhitespace(s);
  if (text.charCodeAt(s.pos) !== 0x7b) fail(s, 'top-level value is not an object');
  const members = new Map<string, [number, number] | null>();
  scanObject(s, 1, members);
  skipWhitespace(s);
  if (s.pos !== text.length) fail(s, 'trailing data after the top-level object');
  const span = members.get(key);
  if (span === null) throw new DcapError(code, `JSON member "${key.slice(0, 64)}" appears more than once`);
  return span === undefined ? undefined : text.slice(span[0], span[1]);
}
