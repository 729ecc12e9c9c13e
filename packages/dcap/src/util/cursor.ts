/**
 * A bounded little-endian reader over a byte string. Every read checks the remaining length first and fails with
 * the caller's error code and a message naming the field, its offset and what was missing; nothing is allocated from
 * an unchecked length. `bytes()` returns views (subarray), never copies.
 */
import { DcapError, type DcapErrorCode } from '../errors.js';

export class Cursor {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  readonly #code: DcapErrorCode;
  readonly #what: string;
  #pos: number;

  constructor(buf: Uint8Array, code: DcapErrorCode, what: string, offset = 0) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#code = code;
    this.#what = what;
    this.#pos = offset;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  get buffer(): Uint8Array {
    return this.#buf;
  }

  fail(message: string): never {
    throw new DcapError(this.#code, `${this.#what}: ${message}`);
  }

  #need(n: number, field: string): void {
    if (!Number.isSafeInteger(n) || n < 0) this.fail(`${field} has an invalid length ${n}`);
    if (n > this.remaining) {
      this.fail(`truncated at ${field} (offset ${this.#pos} needs ${n} bytes, ${this.remaining} remain)`);
    }
  }

  u8(field: string): number {
    this.#need(1, field);
    return this.#view.getUint8(this.#pos++);
  }

  u16(field: string): number {
    this.#need(2, field);
    const v = this.#view.getUint16(this.#pos, true);
    this.#pos += 2;
    return v;
  }

  u32(field: string): number {
    this.#need(4, field);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  u64(field: string): bigint {
    this.#need(8, field);
    const v = this.#view.getBigUint64(this.#pos, true);
    this.#pos += 8;
    return v;
  }

  bytes(n: number, field: string): Uint8Array {
    this.#need(n, field);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  skip(n: number, field: string): void {
    this.#need(n, field);
    this.#pos += n;
  }
}
