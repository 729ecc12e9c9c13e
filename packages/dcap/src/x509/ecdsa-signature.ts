/**
 * ECDSA signature encodings: the DER `ECDSA-Sig-Value` of X.509 / CRL signatures (RFC 5480 §2.2 / RFC 3279 §2.2.3)
 *
 *   ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
 *
 * and the fixed-size IEEE P1363 form r ‖ s that WebCrypto verifies. Both directions are total: malformed input gives
 * undefined, never an exception.
 */

/** Reads a minimal DER length at `p`; returns [length, next offset] or undefined. */
function readLength(der: Uint8Array, p: number): [number, number] | undefined {
  if (p >= der.length) return undefined;
  const first = der[p]!;
  if (first < 0x80) return [first, p + 1];
  if (first === 0x81) {
    if (p + 1 >= der.length) return undefined;
    const len = der[p + 1]!;
    return len >= 0x80 ? [len, p + 2] : undefined;
  }
  if (first === 0x82) {
    if (p + 2 >= der.length) return undefined;
    const len = (der[p + 1]! << 8) | der[p + 2]!;
    return len >= 0x100 ? [len, p + 3] : undefined;
  }
  return undefined; // indefinite or longer than any ECDSA signature
}

function validSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= 256;
}

/**
 * Strict DER ECDSA-Sig-Value → r ‖ s, each left-padded to `size` bytes (32 for P-256, 48 for P-384, 66 for P-521).
 * Undefined unless the input is exactly one SEQUENCE of two positive (non-zero), minimally encoded INTEGERs that fit
 * in `size` bytes, with nothing before, between or after.
 */
export function ecdsaDerToP1363(der: Uint8Array, size = 32): Uint8Array | undefined {
  if (!(der instanceof Uint8Array) || !validSize(size) || der.length < 2 || der[0] !== 0x30) return undefined;
  const seqLen = readLength(der, 1);
  if (seqLen === undefined || seqLen[1] + seqLen[0] !== der.length) return undefined;
  const out = new Uint8Array(2 * size);
  let p = seqLen[1];
  for (let k = 0; k < 2; k++) {
    if (p >= der.length || der[p] !== 0x02) return undefined;
    const l = readLength(der, p + 1);
    if (l === undefined) return undefined;
    const [len, start] = l;
    const end = start + len;
    if (len === 0 || end > der.length) return undefined;
    const b0 = der[start]!;
    if (b0 >= 0x80) return undefined; // negative
    let s = start;
    if (b0 === 0) {
      if (len === 1) return undefined; // zero
      if (der[start + 1]! < 0x80) return undefined; // non-minimal
      s++;
    }
    if (end - s > size) return undefined;
    out.set(der.subarray(s, end), k * size + size - (end - s));
    p = end;
  }
  return p === der.length ? out : undefined;
}

function encodeLength(len: number, out: number[]): void {
  if (len < 0x80) out.push(len);
  else if (len < 0x100) out.push(0x81, len);
  else out.push(0x82, len >> 8, len & 0xff);
}

function pushInteger(v: Uint8Array, out: number[]): void {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  const pad = v[i]! >= 0x80 ? 1 : 0;
  out.push(0x02);
  encodeLength(v.length - i + pad, out);
  if (pad) out.push(0);
  for (; i < v.length; i++) out.push(v[i]!);
}

/**
 * IEEE P1363 r ‖ s (two equal halves) → DER ECDSA-Sig-Value. Undefined for an empty or odd-length input or when r or
 * s is zero (not a valid ECDSA signature, and not representable by {@link ecdsaDerToP1363}).
 */
export function p1363ToEcdsaDer(signature: Uint8Array): Uint8Array | undefined {
  if (!(signature instanceof Uint8Array)) return undefined;
  const n = signature.length;
  if (n === 0 || n % 2 !== 0 || n > 512) return undefined;
  const size = n / 2;
  const r = signature.subarray(0, size);
  const s = signature.subarray(size);
  let rz = true;
  let sz = true;
  for (let i = 0; i < size; i++) {
    if (r[i] !== 0) rz = false;
    if (s[i] !== 0) sz = false;
  }
  if (rz || sz) return undefined;
  const body: number[] = [];
  pushInteger(r, body);
  pushInteger(s, body);
  const out: number[] = [0x30];
  encodeLength(body.length, out);
  for (let i = 0; i < body.length; i++) out.push(body[i]!);
  return Uint8Array.from(out);
}
