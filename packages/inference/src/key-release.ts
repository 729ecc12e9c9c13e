/**
 * Key release, both ends of the enclave's part (Node: node:crypto; runs inside the enclave).
 *
 * The enclave's key-encryption key (KEK) is an RSA-2048 key generated inside; its public half is the one JWK in
 * the runtime data's `keys` (what Azure Key Vault Secure Key Release reads from the token's `x-ms-runtime.keys`,
 * reference §3.1). The broker answers `POST /keys/{name}/release` with `{ "value": <JWS> }`; the JWS payload's
 * `response.key.key.key_hsm` is base64url JSON `{ schema_version, header: { kid, alg: "dir", enc }, ciphertext }`
 * where `ciphertext = RSA-OAEP(KEK, ephemeral AES-256 key) ‖ AES-KWP(ephemeral key, target key)` (RFC 3447 §7.1 /
 * RFC 5649; reference §3.1 after MarbleRun's hsm.go). `enc` picks the OAEP hash: `RSA_AES_KEY_WRAP_256` SHA-256,
 * `RSA_AES_KEY_WRAP_384` SHA-384, `CKM_RSA_AES_KEY_WRAP` SHA-1 (PKCS#11's default).
 *
 * The JWS signature is not what protects the key: only the KEK's holder — this enclave — can unwrap it, and a
 * wrong key fails the model's AES-GCM tag (MODEL_DECRYPT_FAILED). The host carries the token and the wrapped key
 * and learns neither the key nor the model.
 */
import { createDecipheriv, createPublicKey, generateKeyPairSync, privateDecrypt, constants, randomBytes, createCipheriv, publicEncrypt, type KeyObject } from 'node:crypto';
import { InferenceError } from './errors.js';
import type { RsaPublicJwk } from './runtime-data.js';
import { fromBase64, toBase64Url } from './bytes.js';

/** Most characters of a release response read. */
export const MAX_RELEASE_VALUE_CHARS = 64 * 1024;
const KWP_IV = Buffer.from('A65959A6', 'hex');

export type KeyWrapAlgorithm = 'RSA_AES_KEY_WRAP_256' | 'RSA_AES_KEY_WRAP_384' | 'CKM_RSA_AES_KEY_WRAP';
const OAEP_HASH: Record<KeyWrapAlgorithm, string> = {
  RSA_AES_KEY_WRAP_256: 'sha256',
  RSA_AES_KEY_WRAP_384: 'sha384',
  CKM_RSA_AES_KEY_WRAP: 'sha1',
};

export interface KeyEncryptionKey {
  readonly jwk: RsaPublicJwk;
  readonly privateKey: KeyObject;
}

export function generateKeyEncryptionKey(kid: string): KeyEncryptionKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return { jwk: { kty: 'RSA', kid, key_ops: ['encrypt'], n: jwk.n, e: jwk.e }, privateKey };
}

function fail(message: string): never {
  throw new InferenceError('KEY_UNWRAP_FAILED', message);
}

function b64json(text: string, what: string): Record<string, unknown> {
  const bytes = fromBase64(text, MAX_RELEASE_VALUE_CHARS);
  if (bytes === undefined) fail(`${what} is not base64url`);
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // below
  }
  fail(`${what} is not a JSON object`);
}

/** The `key_hsm` object of a release response value (a compact JWS, or its payload JSON as the 7.3 example shows). */
export function keyHsmOf(value: string): { enc: KeyWrapAlgorithm; ciphertext: Uint8Array } {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_RELEASE_VALUE_CHARS) fail('the release value is empty or too long');
  const parts = value.split('.');
  const payload = parts.length === 3 ? b64json(parts[1]!, 'the JWS payload') : b64json(value, 'the release value');
  const key = ((payload.response as Record<string, unknown> | undefined)?.key as Record<string, unknown> | undefined)?.key as
    | Record<string, unknown>
    | undefined;
  if (typeof key?.key_hsm !== 'string') fail('the release value has no response.key.key.key_hsm');
  const hsm = b64json(key.key_hsm, 'key_hsm');
  const header = hsm.header as Record<string, unknown> | undefined;
  const enc = header?.enc;
  if (typeof enc !== 'string' || !(enc in OAEP_HASH)) fail('key_hsm.header.enc is not a supported wrapping algorithm');
  if (typeof hsm.ciphertext !== 'string') fail('key_hsm has no ciphertext');
  const ciphertext = fromBase64(hsm.ciphertext, MAX_RELEASE_VALUE_CHARS);
  if (ciphertext === undefined) fail('key_hsm.ciphertext is not base64url');
  return { enc: enc as KeyWrapAlgorithm, ciphertext };
}

/** Unwrap a released key with the KEK (inside the enclave). KEY_UNWRAP_FAILED on any failure. */
export function unwrapReleasedKey(kek: KeyEncryptionKey, value: string): Uint8Array {
  const { enc, ciphertext } = keyHsmOf(value);
  const modulusBytes = Math.ceil((Buffer.from(kek.jwk.n, 'base64url').length * 8) / 8);
  if (ciphertext.length <= modulusBytes + 8) fail('the wrapped key is too short');
  try {
    const ephemeral = privateDecrypt(
      { key: kek.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[enc] },
      ciphertext.subarray(0, modulusBytes),
    );
    if (ephemeral.length !== 32 && ephemeral.length !== 16 && ephemeral.length !== 24) fail('the ephemeral key has a bad length');
    const d = createDecipheriv(`id-aes${ephemeral.length * 8}-wrap-pad`, ephemeral, KWP_IV);
    const key = Buffer.concat([d.update(ciphertext.subarray(modulusBytes)), d.final()]);
    return new Uint8Array(key);
  } catch (e) {
    if (InferenceError.is(e)) throw e;
    fail('the released key does not unwrap with this enclave key');
  }
}

/**
 * The wrapping a broker does (RSA-OAEP ‖ AES-KWP), for tests and for the local key release of
 * examples without a broker: the `key_hsm` JSON value for `target` under `jwk`.
 */
export function wrapKeyForJwk(jwk: RsaPublicJwk, target: Uint8Array, enc: KeyWrapAlgorithm = 'RSA_AES_KEY_WRAP_256'): string {
  const pub = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
  const ephemeral = randomBytes(32);
  const wrapped = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH[enc] }, ephemeral);
  const c = createCipheriv('id-aes256-wrap-pad', ephemeral, KWP_IV);
  const kwp = Buffer.concat([c.update(target), c.final()]);
  const hsm = { schema_version: '1.0', header: { kid: jwk.kid, alg: 'dir', enc }, ciphertext: toBase64Url(Buffer.concat([wrapped, kwp])) };
  return toBase64Url(Buffer.from(JSON.stringify(hsm)));
}
