/**
 * Shamir secret sharing over GF(2^8) (the AES field, polynomial x^8+x^4+x^3+x+1), byte by byte: `split` gives `n`
 * shares of which any `threshold` recover the secret and fewer reveal nothing. A share is its x coordinate (1…255)
 * followed by one y byte per secret byte. Used for the members' recovery shares of the broker's key-encryption key.
 */
import { randomBytes } from 'node:crypto';

const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    // multiply by the generator 3
    x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0);
    x &= 0xff;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255]!;
}

function mul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

function div(a: number, b: number): number {
  if (b === 0) throw new RangeError('division by zero');
  if (a === 0) return 0;
  return EXP[(LOG[a]! + 255 - LOG[b]!) % 255]!;
}

export function split(secret: Uint8Array, n: number, threshold: number): Uint8Array[] {
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new RangeError('shares must be 1-255');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > n) throw new RangeError('threshold must be 1..shares');
  const shares = Array.from({ length: n }, (_, i) => {
    const s = new Uint8Array(secret.length + 1);
    s[0] = i + 1;
    return s;
  });
  const coeffs = new Uint8Array(threshold);
  for (let b = 0; b < secret.length; b++) {
    coeffs[0] = secret[b]!;
    coeffs.set(randomBytes(threshold - 1), 1);
    for (const share of shares) {
      const x = share[0]!;
      let y = 0;
      for (let k = threshold - 1; k >= 0; k--) y = mul(y, x) ^ coeffs[k]!;
      share[b + 1] = y;
    }
  }
  coeffs.fill(0);
  return shares;
}

export function combine(shares: readonly Uint8Array[]): Uint8Array {
  const first = shares[0];
  if (first === undefined) throw new RangeError('no shares');
  const xs = shares.map((s) => s[0]!);
  if (new Set(xs).size !== xs.length || xs.includes(0)) throw new RangeError('shares must have distinct, non-zero x');
  if (shares.some((s) => s.length !== first.length)) throw new RangeError('shares differ in length');
  const out = new Uint8Array(first.length - 1);
  for (let b = 0; b < out.length; b++) {
    let acc = 0;
    for (let i = 0; i < shares.length; i++) {
      // Lagrange basis at x = 0.
      let num = 1;
      let den = 1;
      for (let j = 0; j < shares.length; j++) {
        if (i === j) continue;
        num = mul(num, xs[j]!);
        den = mul(den, xs[i]! ^ xs[j]!);
      }
      acc ^= mul(shares[i]![b + 1]!, div(num, den));
    }
    out[b] = acc;
  }
  return out;
}
