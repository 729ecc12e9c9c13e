/**
 * A small, bounded CBOR (RFC 8949) decoder and encoder for RA-TLS evidence: unsigned and negative integers, byte and
 * text strings, arrays, maps, tags, simple values (false, true, null, undefined) and floats (decode only).
 * Definite lengths only; indefinite lengths, reserved additional information and non-minimal heads are rejected
 * (the evidence is hashed byte for byte, so only one encoding is meaningful). Limits: nesting depth, total item
 * count; a declared length can never exceed the bytes that remain. Duplicate map keys are rejected. Text must be
 * valid UTF-8. Every failure is RatlsError('INVALID_EVIDENCE').
 */
import { RatlsError } from './errors.js';

export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | CborMap
  | CborTagged;

/** A CBOR map, keeping the encoded order. */
export class CborMap {
  readonly entries: ReadonlyArray<readonly [CborValue, CborValue]>;

  constructor(entries: ReadonlyArray<readonly [CborValue, CborValue]>) {
    this.entries = entries;
  }

  /** The value under a text or integer key. */
  get(key: string | number): CborValue {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  has(key: string | number): boolean {
    for (const [k] of this.entries) if (k === key) return true;
    return false;
  }
}

/** A tagged item (major type 6). */
export class CborTagged {
  readonly tag: number;
  readonly value: CborValue;

  constructor(tag: number, value: CborValue) {
    this.tag = tag;
    this.value = value;
  }
}

export interface CborDecodeOptions {
  /** Maximum nesting depth of arrays, maps and tags. Default 16. */
  readonly maxDepth?: number;
  /** Maximum number of data items. Default 10 000. */
  readonly maxItems?: number;
}

const fail = (message: string): never => {
  throw new RatlsError('INVALID_EVIDENCE', `CBOR: ${message}`);
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

class Decoder {
  readonly #b: Uint8Array;
  readonly #v: DataView;
  #pos = 0;
  #items = 0;
  readonly #maxDepth: number;
  readonly #maxItems: number;

  constructor(bytes: Uint8Array, options: CborDecodeOptions) {
    this.#b = bytes;
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#maxDepth = options.maxDepth ?? 16;
    this.#maxItems = options.maxItems ?? 10_000;
  }

  get pos(): number {
    return this.#pos;
  }

  #need(n: number, what: string): void {
    if (n > this.#b.length - this.#pos) fail(`${what} at offset ${this.#pos} runs past the end of the input`);
  }

  /** The argument of a head with additional information `ai`; minimal encodings only. */
  #argument(ai: number, at: number): number | bigint {
    if (ai < 24) return ai;
    let value: number | bigint;
    switch (ai) {
      case 24:
        this.#need(1, 'argument');
        value = this.#b[this.#pos]!;
        this.#pos += 1;
        if (value < 24) fail(`non-minimal argument at offset ${at}`);
        return value;
      case 25:
        this.#need(2, 'argument');
        value = this.#v.getUint16(this.#pos);
        this.#pos += 2;
        if (value <= 0xff) fail(`non-minimal argument at offset ${at}`);
        return value;
      case 26:
        this.#need(4, 'argument');
        value = this.#v.getUint32(this.#pos);
        this.#pos += 4;
        if (value <= 0xffff) fail(`non-minimal argument at offset ${at}`);
        return value;
      case 27: {
        this.#need(8, 'argument');
        const big = this.#v.getBigUint64(this.#pos);
        this.#pos += 8;
        if (big <= 0xffffffffn) fail(`non-minimal argument at offset ${at}`);
        return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      case 31:
        return fail(`indefinite length at offset ${at} is not supported`);
      default:
        return fail(`reserved additional information ${ai} at offset ${at}`);
    }
  }

  #length(ai: number, at: number, what: string): number {
    const n = this.#argument(ai, at);
    if (typeof n === 'bigint' || n > this.#b.length - this.#pos) fail(`${what} length at offset ${at} exceeds the input`);
    return n as number;
  }

  item(depth: number): CborValue {
    if (++this.#items > this.#maxItems) fail(`more than ${this.#maxItems} data items`);
    const at = this.#pos;
    this.#need(1, 'item head');
    const head = this.#b[this.#pos]!;
    this.#pos += 1;
    const major = head >> 5;
    const ai = head & 0x1f;
    switch (major) {
      case 0:
        return this.#argument(ai, at);
      case 1: {
        const n = this.#argument(ai, at);
        if (typeof n === 'bigint') return -1n - n;
        return n >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2: {
        const n = this.#length(ai, at, 'byte string');
        const out = this.#b.subarray(this.#pos, this.#pos + n);
        this.#pos += n;
        return out;
      }
      case 3: {
        const n = this.#length(ai, at, 'text string');
        let text = '';
        try {
          text = utf8.decode(this.#b.subarray(this.#pos, this.#pos + n));
        } catch {
          fail(`text string at offset ${at} is not valid UTF-8`);
        }
        this.#pos += n;
        return text;
      }
      case 4: {
        const n = this.#length(ai, at, 'array');
        if (depth >= this.#maxDepth) fail(`nesting deeper than ${this.#maxDepth}`);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.#length(ai, at, 'map');
        if (depth >= this.#maxDepth) fail(`nesting deeper than ${this.#maxDepth}`);
        const entries: Array<readonly [CborValue, CborValue]> = [];
        const seen = new Set<string>();
        for (let i = 0; i < n; i++) {
          const keyStart = this.#pos;
          const key = this.item(depth + 1);
          const keyId = hexOf(this.#b.subarray(keyStart, this.#pos));
          if (seen.has(keyId)) fail(`duplicate map key at offset ${keyStart}`);
          seen.add(keyId);
          entries.push([key, this.item(depth + 1)]);
        }
        return new CborMap(entries);
      }
      case 6: {
        const tag = this.#argument(ai, at);
        if (typeof tag === 'bigint') return fail(`tag at offset ${at} is too large`);
        if (depth >= this.#maxDepth) fail(`nesting deeper than ${this.#maxDepth}`);
        return new CborTagged(tag, this.item(depth + 1));
      }
      default: {
        // major 7
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 23) return undefined;
        if (ai === 25) {
          this.#need(2, 'half float');
          const v = halfToNumber(this.#v.getUint16(this.#pos));
          this.#pos += 2;
          return v;
        }
        if (ai === 26) {
          this.#need(4, 'float');
          const v = this.#v.getFloat32(this.#pos);
          this.#pos += 4;
          return v;
        }
        if (ai === 27) {
          this.#need(8, 'double');
          const v = this.#v.getFloat64(this.#pos);
          this.#pos += 8;
          return v;
        }
        return fail(`unsupported simple value (additional information ${ai}) at offset ${at}`);
      }
    }
  }
}

function hexOf(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Decodes exactly one CBOR data item that spans all of `bytes`. Byte strings are views into `bytes`. */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): CborValue {
  const d = new Decoder(bytes, options);
  const value = d.item(0);
  if (d.pos !== bytes.length) fail(`${bytes.length - d.pos} trailing bytes after the data item`);
  return value;
}

// ---------------------------------------------------------------------------------------------------------------------
// Encoding

function head(major: number, n: number | bigint, out: number[]): void {
  const m = major << 5;
  const big = BigInt(n);
  if (big < 0n || big > 0xffffffffffffffffn) throw new RangeError('CBOR argument out of range');
  if (big < 24n) out.push(m | Number(big));
  else if (big <= 0xffn) out.push(m | 24, Number(big));
  else if (big <= 0xffffn) out.push(m | 25, Number(big >> 8n), Number(big & 0xffn));
  else if (big <= 0xffffffffn) {
    out.push(m | 26);
    for (let s = 24n; s >= 0n; s -= 8n) out.push(Number((big >> s) & 0xffn));
  } else {
    out.push(m | 27);
    for (let s = 56n; s >= 0n; s -= 8n) out.push(Number((big >> s) & 0xffn));
  }
}

function encodeInto(value: CborValue, out: number[], depth: number): void {
  if (depth > 64) throw new RangeError('CBOR value nested too deeply');
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError('only safe integers can be encoded (no floats)');
    if (value >= 0) head(0, value, out);
    else head(1, -1 - value, out);
  } else if (typeof value === 'bigint') {
    if (value >= 0n) head(0, value, out);
    else head(1, -1n - value, out);
  } else if (typeof value === 'string') {
    const b = new TextEncoder().encode(value);
    head(3, b.length, out);
    for (let i = 0; i < b.length; i++) out.push(b[i]!);
  } else if (value instanceof Uint8Array) {
    head(2, value.length, out);
    for (let i = 0; i < value.length; i++) out.push(value[i]!);
  } else if (value === false) out.push(0xf4);
  else if (value === true) out.push(0xf5);
  else if (value === null) out.push(0xf6);
  else if (value === undefined) out.push(0xf7);
  else if (Array.isArray(value)) {
    head(4, value.length, out);
    for (const v of value) encodeInto(v, out, depth + 1);
  } else if (value instanceof CborMap) {
    head(5, value.entries.length, out);
    for (const [k, v] of value.entries) {
      encodeInto(k, out, depth + 1);
      encodeInto(v, out, depth + 1);
    }
  } else if (value instanceof CborTagged) {
    head(6, value.tag, out);
    encodeInto(value.value, out, depth + 1);
  } else {
    throw new TypeError('not a CBOR value');
  }
}

/** Encodes `value` with definite lengths and minimal heads; maps keep their entry order. */
export function encodeCbor(value: CborValue): Uint8Array {
  const out: number[] = [];
  encodeInto(value, out, 0);
  return Uint8Array.from(out);
}

/** A JSON-friendly view: byte strings as lower-case hex, maps with text/integer keys as objects, tags as {tag, value}. */
export function cborToJson(value: CborValue): unknown {
  if (value instanceof Uint8Array) return hexOf(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(cborToJson);
  if (value instanceof CborMap) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value.entries) {
      if (typeof k === 'string' || typeof k === 'number') {
        // defineProperty: a "__proto__" key stays an ordinary property
        Object.defineProperty(out, String(k), { value: cborToJson(v), enumerable: true, writable: true, configurable: true });
      }
    }
    return out;
  }
  if (value instanceof CborTagged) return { tag: value.tag, value: cborToJson(value.value) };
  return value;
}
