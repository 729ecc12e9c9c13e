/**
 * AES-128-CMAC (RFC 4493), the MAC SGX uses for REPORTs and for EGETKEY key derivation
 * (Intel SDM Vol. 3D §38 "EREPORT"/"EGETKEY": `CMAC(key, data)`).
 *
 * RFC 4493 §2.3 / §2.4:
 *   L  = AES-128(K, 0^128)
 *   K1 = L << 1, xor Rb (0x87) into the last byte if msb(L) = 1
 *   K2 = K1 << 1, the same way
 *   n  = ceil(len / 16), at least 1; the last block is XORed with K1 when it is complete, otherwise it is padded
 *        with 10* and XORed with K2; T = the last block of AES-128-CBC(K, IV = 0) over the prepared message.
 *
 * Implemented over node:crypto AES-128-ECB (for L) and AES-128-CBC without padding (for the chain).
 */
import { createCipheriv } from 'node:crypto';

const BLOCK = 16;
const ZERO_IV = new Uint8Array(BLOCK);

/** Doubling in GF(2^128) as RFC 4493 §2.3 defines it (shift left by one bit, conditional xor with Rb = 0x87). */
function dbl(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK);
  let carry = 0;
  for (let i = BLOCK - 1; i >= 0; i--) {
    const b = block[i]!;
    out[i] = ((b << 1) | carry) & 0xff;
    carry = b >>> 7;
  }
  if ((block[0]! & 0x80) !== 0) out[BLOCK - 1] = out[BLOCK - 1]! ^ 0x87;
  return out;
}

/** The RFC 4493 subkeys K1 and K2 of `key`. */
function subkeys(key: Uint8Array): { k1: Uint8Array; k2: Uint8Array } {
  const ecb = createCipheriv('aes-128-ecb', key, null);
  ecb.setAutoPadding(false);
  const l = new Uint8Array(ecb.update(new Uint8Array(BLOCK)));
  ecb.final();
  const k1 = dbl(l);
  return { k1, k2: dbl(k1) };
}

/** AES-128-CMAC of `message` under the 16-byte `key`; returns the 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 16) throw new RangeError('AES-128-CMAC needs a 16-byte key');
  const { k1, k2 } = subkeys(key);
  const n = Math.max(1, Math.ceil(message.length / BLOCK));
  const complete = message.length > 0 && message.length % BLOCK === 0;
  const prepared = new Uint8Array(n * BLOCK);
  prepared.set(message);
  const last = (n - 1) * BLOCK;
  if (!complete) prepared[message.length] = 0x80;
  const sub = complete ? k1 : k2;
  for (let i = 0; i < BLOCK; i++) prepared[last + i] = prepared[last + i]! ^ sub[i]!;
  const cbc = createCipheriv('aes-128-cbc', key, ZERO_IV);
  cbc.setAutoPadding(false);
  const chain = cbc.update(prepared);
  cbc.final();
  return new Uint8Array(chain.subarray(chain.length - BLOCK));
}
