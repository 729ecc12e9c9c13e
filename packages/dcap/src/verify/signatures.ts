/**
 * Signature checks with memoisation. Only *successful* verifications of deterministic inputs are remembered, keyed by
 * the exact signature, key and signed bytes, so a cache hit can never accept bytes that were not verified. The quote
 * signature itself is never memoised: it is the per-quote work.
 */
import type { CryptoProvider, P256PublicKey } from '../crypto/provider.js';
import { bytesKey } from '../util/bytes.js';
import { LruCache } from '../util/lru.js';
import { ecdsaDerToP1363 } from '../x509/ecdsa-signature.js';
import type { Certificate, Crl } from '../x509/types.js';

/** RFC 5758 §3.2 ecdsa-with-SHA256; RFC 5480 §2.1.1.1 secp256r1; id-ecPublicKey. */
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const ID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const SECP256R1 = '1.2.840.10045.3.1.7';

export class SignatureChecker {
  readonly crypto: CryptoProvider;
  readonly #keys: LruCache<string, P256PublicKey | null>;
  readonly #verified: LruCache<string, true>;
  /** Successful X.509 signature checks by object identity: parsed certificates and CRLs are immutable. */
  readonly #signedBy = new WeakMap<Certificate | Crl, WeakSet<Certificate>>();

  constructor(crypto: CryptoProvider, maxEntries: number) {
    this.crypto = crypto;
    this.#keys = new LruCache(maxEntries);
    this.#verified = new LruCache(maxEntries * 4);
  }

  async importKey(key: Uint8Array, format: 'spki' | 'raw'): Promise<P256PublicKey | undefined> {
    const k = format + bytesKey(key);
    const hit = this.#keys.get(k);
    if (hit !== undefined) return hit ?? undefined;
    const imported = await this.crypto.importP256PublicKey(key, format);
    this.#keys.set(k, imported ?? null);
    return imported;
  }

  /** ECDSA-P256-SHA256 over `data` with a raw r‖s signature; memoised when `memo` is set. */
  async verifyRaw(
    key: Uint8Array,
    format: 'spki' | 'raw',
    signature: Uint8Array,
    data: Uint8Array,
    memo: boolean,
  ): Promise<boolean> {
    let k: string | undefined;
    if (memo) {
      k = `${format}${bytesKey(key)}|${bytesKey(signature)}|${bytesKey(data)}`;
      if (this.#verified.get(k)) return true;
    }
    const imported = await this.importKey(key, format);
    if (imported === undefined) return false;
    const ok = await this.crypto.verifyP256(imported, signature, data);
    if (ok && k !== undefined) this.#verified.set(k, true);
    return ok;
  }

  /** True when `issuer`'s key is a P-256 key, usable for ECDSA-P256-SHA256. */
  static isP256(cert: Certificate): boolean {
    return cert.publicKeyAlgorithm === ID_EC_PUBLIC_KEY && cert.publicKeyCurve === SECP256R1;
  }

  /** The X.509 signature of `signed` (a certificate or CRL) by `issuer`'s key; ecdsa-with-SHA256 only. */
  async verifySignedBy(signed: Certificate | Crl, issuer: Certificate): Promise<boolean> {
    if (this.#signedBy.get(signed)?.has(issuer)) return true;
    if (signed.signatureAlgorithm !== ECDSA_WITH_SHA256 || !SignatureChecker.isP256(issuer)) return false;
    const sig = ecdsaDerToP1363(signed.signatureValue, 32);
    if (sig === undefined) return false;
    const ok = await this.verifyRaw(issuer.spki, 'spki', sig, signed.tbs, false);
    if (ok) {
      let set = this.#signedBy.get(signed);
      if (set === undefined) this.#signedBy.set(signed, (set = new WeakSet()));
      set.add(issuer);
    }
    return ok;
  }
}
