/**
 * The wrapping of a released key, as Azure Key Vault Secure Key Release does it (PKCS#11 v2.40 §2.1.21
 * CKM_RSA_AES_KEY_WRAP): a fresh AES-256 key encrypted with RSA-OAEP to the target's public key, followed by the
 * key material wrapped with that AES key by AES Key Wrap with Padding (RFC 5649). `enc` names the OAEP hash:
 * CKM_RSA_AES_KEY_WRAP → SHA-1 (PKCS#11's default), RSA_AES_KEY_WRAP_256 → SHA-256, RSA_AES_KEY_WRAP_384 → SHA-384
 * (MarbleRun decrypts the last with OAEP-SHA-384). Shared by the enclave (wrap) and by clients (unwrap).
 *
 * The key material is the raw bytes of an `oct` key and the PKCS#8 PrivateKeyInfo DER of an RSA or EC key (what
 * CKM_RSA_AES_KEY_WRAP wraps for a private key object).
 */
import { constants, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';

export const RELEASE_ENCRYPTIONS = ['CKM_RSA_AES_KEY_WRAP', 'RSA_AES_KEY_WRAP_256', 'RSA_AES_KEY_WRAP_384'] as const;
export type ReleaseEncryption = (typeof RELEASE_ENCRYPTIONS)[number];

const OAEP_HASH: Readonly<Record<ReleaseEncryption, string>> = {
  CKM_RSA_AES_KEY_WRAP: 'sha1',
  RSA_AES_KEY_WRAP_256: 'sha256',
  RSA_AES_KEY_WRAP_384: 'sha384',
};

/** RFC 5649 §3: the 32-bit alternative initial value A65959A6 (the 32-bit MLI is appended by the cipher). */
const KWP_AIV = Buffer.from('a65959a6', 'hex');

export function isReleaseEncryption(v: unknown): v is ReleaseEncryption {
  return typeof v === 'string' && (RELEASE_ENCRYPTIONS as readonly string[]).includes(v);
}

function rsaPublicKey(target: KeyObject | JsonWebKey): KeyObject {
  const key = 'asymmetricKeyType' in target ? (target as KeyObject) : createPublicKey({ key: target as import('node:crypto').JsonWebKey, format: 'jwk' });
  if (key.asymmetricKeyType !== 'rsa') throw new TypeError('the target key is not an RSA key');
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048 || bits > 8192) throw new TypeError(`the target RSA key has ${bits} bits (2048-8192 accepted)`);
  return key;
}

function kwpCipher(kek: Uint8Array): string {
  if (kek.length !== 16 && kek.length !== 24 && kek.length !== 32) throw new TypeError('an AES-KWP key is 128, 192 or 256 bits');
  return `id-aes${kek.length * 8}-wrap-pad`;
}

/** RFC 5649 AES-KWP (AES-128/192/256). */
export function aesKwpWrap(kek: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv(kwpCipher(kek), kek, KWP_AIV);
  return new Uint8Array(Buffer.concat([c.update(plaintext), c.final()]));
}

export function aesKwpUnwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  const d = createDecipheriv(kwpCipher(kek), kek, KWP_AIV);
  return new Uint8Array(Buffer.concat([d.update(wrapped), d.final()]));
}

/** RSA-OAEP(target, ephemeral AES-256 key) ‖ AES-KWP(ephemeral key, material). */
export function rsaAesKeyWrap(target: KeyObject | JsonWebKey, enc: ReleaseEncryption, material: Uint8Array): Uint8Array {
  const pub = rsaPublicKey(target);
  const ephemeral = randomBytes(32);
  try {
    const head = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[enc] }, ephemeral);
    const tail = aesKwpWrap(ephemeral, material);
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    return out;
  } finally {
    ephemeral.fill(0);
  }
}

/** The inverse, for the holder of the target's private key (the enclave that attested, or a test). */
export function rsaAesKeyUnwrap(privateKey: KeyObject | string, enc: ReleaseEncryption, ciphertext: Uint8Array): Uint8Array {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const n = (key.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  if (n === 0 || ciphertext.length <= n + 8) throw new TypeError('the wrapped key is shorter than the RSA modulus plus one AES-KWP block');
  const ephemeral = privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[enc] }, ciphertext.subarray(0, n));
  try {
    return aesKwpUnwrap(ephemeral, ciphertext.subarray(n));
  } finally {
    ephemeral.fill(0);
  }
}
