/** Small helpers shared by the parser tests. */
import assert from 'node:assert/strict';
import { DcapError } from '../src/errors.js';

export function u16(n: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, true);
  return b;
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** `fn` throws a DcapError with exactly `code`. */
export function expectCode(fn: () => unknown, code: string, what = ''): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(DcapError.is(e), `${what}: not a DcapError: ${String(e)}`);
      assert.equal(e.code, code, `${what}: ${e.message}`);
      return true;
    },
    what,
  );
}
