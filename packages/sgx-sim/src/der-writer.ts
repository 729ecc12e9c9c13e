/**
 * A small DER encoder (ITU-T X.690 §8 basic encoding with the §10 distinguished-encoding restrictions) for the few
 * structures the simulated PKI writes byte by byte: the Intel SGX PCK extension value, the CRL number, and anything
 * else @peculiar/x509 cannot express. Every function returns one complete TLV; composite helpers take encoded TLVs.
 *
 * Identifier octets used here (X.690 §8.1.2, universal class):
 *   BOOLEAN 0x01, INTEGER 0x02, BIT STRING 0x03, OCTET STRING 0x04, NULL 0x05, OBJECT IDENTIFIER 0x06,
 *   ENUMERATED 0x0a, UTF8String 0x0c, PrintableString 0x13, UTCTime 0x17, GeneralizedTime 0x18,
 *   SEQUENCE 0x30 (constructed), SET 0x31 (constructed); context-specific [n] 0x80 | n (0xa0 | n when constructed).
 */

import { concatBytes } from '@cloister/dcap';

export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/**
 * X.690 §8.1.3 / §10.1: definite length, short form for 0..127, otherwise long form with the minimum number of
 * length octets.
 */
function lengthOctets(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid DER length ${length}`);
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with a single-octet identifier (tag numbers 0..30, which is all this encoder needs). */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new RangeError(`unsupported DER identifier octet 0x${tag.toString(16)}`);
  }
  const len = lengthOctets(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

/** Already-encoded DER, passed through unchanged (for readability where a TLV comes from elsewhere). */
export function raw(der: Uint8Array): Uint8Array {
  return der;
}

/** SEQUENCE / SEQUENCE OF: the encodings of the components in the order given (X.690 §8.9, §8.10). */
export function sequence(...items: readonly Uint8Array[]): Uint8Array {
  return tlv(DER_TAG.SEQUENCE, concatBytes(...items));
}

/**
 * SET OF: X.690 §10.3 — the component encodings sorted in ascending order as octet strings (a shorter encoding that
 * is a prefix of a longer one sorts first, as if padded with trailing zero octets).
 */
export function set(...items: readonly Uint8Array[]): Uint8Array {
  const sorted = [...items].sort((a, b) => {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  });
  return tlv(DER_TAG.SET, concatBytes(...sorted));
}

/**
 * Two's-complement content octets of an integer in the minimum number of octets (X.690 §8.3.2: the first nine bits
 * are never all ones nor all zeros).
 */
function integerContent(value: bigint): Uint8Array {
  if (value === 0n) return Uint8Array.of(0);
  const bytes: number[] = [];
  let v = value;
  // Emit low octets until the remaining value is fully represented by the sign of the last octet.
  for (;;) {
    const octet = Number(v & 0xffn);
    bytes.unshift(octet);
    v >>= 8n; // arithmetic shift on bigint keeps the sign
    if ((v === 0n && (octet & 0x80) === 0) || (v === -1n && (octet & 0x80) !== 0)) break;
  }
  return Uint8Array.from(bytes);
}

/**
 * INTEGER (X.690 §8.3) from a number, a bigint, or unsigned big-endian magnitude bytes (a serial number, a private
 * scalar). Bytes are read as a non-negative value; the minimal encoding is produced in every case.
 */
export function integer(value: number | bigint | Uint8Array): Uint8Array {
  let v: bigint;
  if (value instanceof Uint8Array) {
    v = 0n;
    for (const b of value) v = (v << 8n) | BigInt(b);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`INTEGER ${value} is not a safe integer`);
    v = BigInt(value);
  } else {
    v = value;
  }
  return tlv(DER_TAG.INTEGER, integerContent(v));
}

/** ENUMERATED (X.690 §8.4: encoded as the INTEGER of its value). */
export function enumerated(value: number): Uint8Array {
  return tlv(DER_TAG.ENUMERATED, integerContent(BigInt(value)));
}

/** BOOLEAN (X.690 §11.1: TRUE is 0xFF in DER). */
export function boolean(value: boolean): Uint8Array {
  return tlv(DER_TAG.BOOLEAN, Uint8Array.of(value ? 0xff : 0x00));
}

/** NULL (X.690 §8.8). */
export function nullValue(): Uint8Array {
  return Uint8Array.of(DER_TAG.NULL, 0);
}

/** Base-128 with the continuation bit on every octet but the last (X.690 §8.19.2). */
function base128(n: bigint): number[] {
  const out = [Number(n & 0x7fn)];
  for (let v = n >> 7n; v > 0n; v >>= 7n) out.unshift(Number(v & 0x7fn) | 0x80);
  return out;
}

/**
 * OBJECT IDENTIFIER from dotted text (X.690 §8.19): the first two arcs combine into 40·X + Y (X ∈ {0,1,2}, Y < 40
 * unless X = 2), then each arc in base 128.
 */
export function oid(dotted: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new RangeError(`invalid OBJECT IDENTIFIER "${dotted}"`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [first, second] = arcs as [bigint, bigint];
  if (first < 2n && second >= 40n) throw new RangeError(`invalid OBJECT IDENTIFIER "${dotted}": second arc ≥ 40`);
  const content = [...base128(first * 40n + second)];
  for (const arc of arcs.slice(2)) content.push(...base128(arc));
  return tlv(DER_TAG.OID, Uint8Array.from(content));
}

/** OCTET STRING (X.690 §8.7, primitive in DER). */
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(DER_TAG.OCTET_STRING, bytes);
}

/** BIT STRING (X.690 §8.6, primitive in DER): initial octet = number of unused bits in the last octet (0..7). */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`invalid BIT STRING unused-bit count ${unusedBits}`);
  }
  const content = new Uint8Array(1 + bytes.length);
  content[0] = unusedBits;
  content.set(bytes, 1);
  // X.690 §11.2.1: the unused bits are zero in DER.
  const last = content.length - 1;
  if (bytes.length > 0) content[last] = content[last]! & (0xff << unusedBits) & 0xff;
  return tlv(DER_TAG.BIT_STRING, content);
}

/** UTF8String (X.690 §8.23, primitive in DER). */
export function utf8String(text: string): Uint8Array {
  return tlv(DER_TAG.UTF8_STRING, new TextEncoder().encode(text));
}

/** PrintableString (X.680 §41.4: A–Z a–z 0–9 space ' ( ) + , - . / : = ?). */
export function printableString(text: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)) throw new RangeError(`"${text}" is not a PrintableString`);
  return tlv(DER_TAG.PRINTABLE_STRING, new TextEncoder().encode(text));
}

function asDate(time: Date | number | string): Date {
  const d = time instanceof Date ? time : new Date(time);
  if (!Number.isFinite(d.getTime())) throw new RangeError(`invalid time ${String(time)}`);
  return d;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * UTCTime as RFC 5280 §4.1.2.5.1 requires: YYMMDDHHMMSSZ (seconds present, Zulu, no fraction), years 1950–2049.
 * Fractional seconds are truncated.
 */
export function utcTime(time: Date | number | string): Uint8Array {
  const d = asDate(time);
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError(`UTCTime cannot hold the year ${y} (RFC 5280: 1950–2049)`);
  const text =
    pad(y % 100) + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) + pad(d.getUTCHours()) + pad(d.getUTCMinutes()) +
    pad(d.getUTCSeconds()) + 'Z';
  return tlv(DER_TAG.UTC_TIME, new TextEncoder().encode(text));
}

/**
 * GeneralizedTime as RFC 5280 §4.1.2.5.2 requires: YYYYMMDDHHMMSSZ (seconds present, Zulu, no fraction).
 * Fractional seconds are truncated.
 */
export function generalizedTime(time: Date | number | string): Uint8Array {
  const d = asDate(time);
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`GeneralizedTime cannot hold the year ${y}`);
  const text =
    pad(y, 4) + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) + pad(d.getUTCHours()) + pad(d.getUTCMinutes()) +
    pad(d.getUTCSeconds()) + 'Z';
  return tlv(DER_TAG.GENERALIZED_TIME, new TextEncoder().encode(text));
}

/** RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050 on (§4.1.2.5, §5.1.2.4). */
export function time(t: Date | number | string): Uint8Array {
  return asDate(t).getUTCFullYear() < 2050 ? utcTime(t) : generalizedTime(t);
}

/** EXPLICIT context tag [n]: constructed, wrapping one complete encoding (X.690 §8.14.2). */
export function explicitTag(n: number, inner: Uint8Array): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`context tag [${n}] out of range`);
  return tlv(0xa0 | n, inner);
}

/**
 * IMPLICIT context tag [n]: replaces the identifier of `inner` (a complete TLV), keeping its constructed bit
 * (X.690 §8.14.3).
 */
export function implicitTag(n: number, inner: Uint8Array): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`context tag [${n}] out of range`);
  if (inner.length < 2) throw new RangeError('IMPLICIT tag needs a complete TLV');
  const out = new Uint8Array(inner);
  out[0] = 0x80 | (inner[0]! & 0x20) | n;
  return out;
}
