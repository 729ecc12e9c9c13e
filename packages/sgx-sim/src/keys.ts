/**
 * Deterministic NIST P-256 keys of a simulated platform (the simulated CAs, the PCK key, the QE attestation key) and
 * raw ECDSA signatures.
 *
 * P-256 (FIPS 186-4 D.1.2.3 / SEC 2 §2.4.2 secp256r1) has the group order
 *   n = FFFFFFFF 00000000 FFFFFFFF FFFFFFFF BCE6FAAD A7179E84 F3B9CAC2 FC632551.
 * A private key is an integer d in [1, n−1] (SEC 1 §3.2.1); a 32-byte seed s is mapped to d = (s mod (n−1)) + 1,
 * which is always in range (the bias, about 2⁻³², is irrelevant for a simulator).
 *
 * DCAP carries public keys as raw X ‖ Y (64 bytes, the SEC 1 uncompressed point without its 0x04 prefix) and
 * signatures as raw r ‖ s (64 bytes, each big-endian): dcap-attestation.md §1.5, §1.6. Node's `dsaEncoding:
 * 'ieee-p1363'` is exactly that r ‖ s form.
 */
import { createECDH, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

export interface P256Key {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER (RFC 5480). */
  readonly spki: Uint8Array;
  /** 64 bytes: X ‖ Y. */
  readonly raw: Uint8Array;
  /** PKCS #8 DER of the private key (to import it into WebCrypto). */
  readonly pkcs8: Uint8Array;
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bigIntTo32(v: bigint): Buffer {
  const out = Buffer.alloc(32);
  let x = v;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** The P-256 key whose private scalar is (seed mod (n−1)) + 1. `seed` must be 32 bytes (e.g. `platform.derive(…)`). */
export function p256FromSeed(seed: Uint8Array): P256Key {
  if (seed.length !== 32) throw new RangeError('a P-256 seed must be 32 bytes');
  const d = bigIntTo32((bytesToBigInt(seed) % (P256_ORDER - 1n)) + 1n);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey(); // 65 bytes: 0x04 ‖ X ‖ Y
  const x = point.subarray(1, 33);
  const y = point.subarray(33, 65);
  const privateKey = createPrivateKey({
    key: { kty: 'EC', crv: 'P-256', x: x.toString('base64url'), y: y.toString('base64url'), d: d.toString('base64url') },
    format: 'jwk',
  });
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    raw: new Uint8Array(point.subarray(1)),
    pkcs8: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
  };
}

/** ECDSA-P256-SHA256 over `data`: the 64-byte raw r ‖ s (IEEE P1363) signature DCAP quotes and collateral carry. */
export function signP256Raw(key: P256Key | KeyObject, data: Uint8Array): Uint8Array {
  const privateKey = 'privateKey' in key ? key.privateKey : key;
  return new Uint8Array(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}

/** ECDSA-P256-SHA256 over `data` as a DER ECDSA-Sig-Value (the form X.509 certificates and CRLs carry). */
export function signP256Der(key: P256Key | KeyObject, data: Uint8Array): Uint8Array {
  const privateKey = 'privateKey' in key ? key.privateKey : key;
  return new Uint8Array(sign('sha256', data, { key: privateKey, dsaEncoding: 'der' }));
}
