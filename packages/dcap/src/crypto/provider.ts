/**
 * The one door through which `@cloister/dcap` does cryptography. DCAP needs exactly two primitives (Intel SGX DCAP:
 * every signature in a quote, a PCK chain, a CRL and in TCB info / QE identity is ECDSA over P-256 with SHA-256), so
 * the provider offers exactly those. The default is WebCrypto ({@link webCryptoProvider}), which runs unchanged in
 * browsers; Node users may inject the faster `nodeCryptoProvider` from `@cloister/dcap/node`. Both pass the same tests.
 */

/** An imported P-256 public key; opaque, only meaningful to the provider that made it. */
export interface P256PublicKey {
  readonly provider: string;
}

export interface CryptoProvider {
  readonly name: string;
  sha256(data: Uint8Array): Promise<Uint8Array>;
  /**
   * Import a P-256 public key, either SubjectPublicKeyInfo DER (`spki`) or an uncompressed SEC1 point
   * `04 ‖ X ‖ Y` (`raw`, 65 bytes). Resolves undefined when the bytes are not a valid P-256 point: never throws.
   */
  importP256PublicKey(key: Uint8Array, format: 'spki' | 'raw'): Promise<P256PublicKey | undefined>;
  /**
   * ECDSA-P256-SHA256 verification of `signature` in IEEE P1363 form (r ‖ s, 32 bytes each, big-endian) over `data`.
   * Fails closed: any exception, wrong length or foreign key resolves false.
   */
  verifyP256(key: P256PublicKey, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
}
