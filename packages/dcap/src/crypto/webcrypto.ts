/** The default {@link CryptoProvider}: WebCrypto (`globalThis.crypto.subtle`), browser and Node alike. */
import type { CryptoProvider, P256PublicKey } from './provider.js';

interface WebCryptoKey extends P256PublicKey {
  readonly key: CryptoKey;
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** WebCrypto wants an ArrayBuffer-backed view; copy only when the bytes live in a SharedArrayBuffer. */
function plain(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}

export function createWebCryptoProvider(subtle: SubtleCrypto = globalThis.crypto.subtle): CryptoProvider {
  const name = 'webcrypto';
  return {
    name,
    async sha256(data) {
      return new Uint8Array(await subtle.digest('SHA-256', plain(data)));
    },
    async importP256PublicKey(key, format) {
      try {
        const k = await subtle.importKey(format, plain(key), ECDSA_P256, false, ['verify']);
        const handle: WebCryptoKey = { provider: name, key: k };
        return handle;
      } catch {
        return undefined;
      }
    },
    async verifyP256(key, signature, data) {
      if (key.provider !== name || signature.length !== 64) return false;
      try {
        return await subtle.verify(ECDSA_SHA256, (key as WebCryptoKey).key, plain(signature), plain(data));
      } catch {
        return false;
      }
    },
  };
}

let defaultProvider: CryptoProvider | undefined;

/** The shared WebCrypto provider (created on first use). */
export function webCryptoProvider(): CryptoProvider {
  return (defaultProvider ??= createWebCryptoProvider());
}
