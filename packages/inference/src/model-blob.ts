/**
 * The encrypted model blob (browser-safe: WebCrypto only). One file, what the model owner registers and hashes:
 *
 * ```text
 * offset size  field
 *  0      8    magic "CLMODEL1" (ASCII)
 *  8      1    algorithm: 1 = AES-256-GCM (NIST SP 800-38D, 96-bit IV, 128-bit tag)
 *  9      3    reserved, zero
 * 12     12    IV (random per encryption)
 * 24      4    ciphertext length L, big-endian (includes the 16-byte tag)
 * 28      L    AES-256-GCM(key, IV, plaintext, AAD = bytes 0..27) ciphertext ‖ tag
 * ```
 *
 * The plaintext is an archive of named files (the OCR model is three: `det.onnx`, `rec.onnx`, `keys.txt`):
 * u16be count, then per entry u16be name length, the UTF-8 name ([A-Za-z0-9._-], ≤ 64 bytes), u32be size, the bytes.
 * The model hash bound into attestation is SHA-256 of the whole blob (the ciphertext as registered), so a verifier
 * knows which encrypted model the enclave was given without seeing the model.
 */
import { InferenceError } from './errors.js';
import { concatBytes, sha256, toHex } from './bytes.js';

export const MODEL_BLOB_MAGIC = 'CLMODEL1';
export const MODEL_BLOB_HEADER_BYTES = 28;
export const MODEL_BLOB_ALG_AES_256_GCM = 1;
/** Largest blob accepted (bytes). */
export const MAX_MODEL_BLOB_BYTES = 256 * 1024 * 1024;
export const MAX_MODEL_ENTRIES = 16;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const TAG_BYTES = 16;

export interface ModelFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface EncryptedModel {
  readonly blob: Uint8Array;
  /** The 32-byte AES key (to register with the key broker; never stored next to the blob). */
  readonly key: Uint8Array;
  /** Hex SHA-256 of the blob. */
  readonly hash: string;
}

function invalid(message: string): never {
  throw new InferenceError('INVALID_MODEL_BLOB', message);
}

/** The archive bytes of `files`. */
export function packModelFiles(files: readonly ModelFile[]): Uint8Array {
  if (files.length === 0 || files.length > MAX_MODEL_ENTRIES) invalid(`a model has 1..${MAX_MODEL_ENTRIES} files`);
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(2);
  new DataView(head.buffer).setUint16(0, files.length);
  parts.push(head);
  const seen = new Set<string>();
  for (const f of files) {
    if (!NAME.test(f.name) || seen.has(f.name)) invalid(`bad or duplicate file name ${JSON.stringify(f.name)}`);
    seen.add(f.name);
    const name = enc.encode(f.name);
    const h = new Uint8Array(2 + name.length + 4);
    const dv = new DataView(h.buffer);
    dv.setUint16(0, name.length);
    h.set(name, 2);
    dv.setUint32(2 + name.length, f.bytes.length);
    parts.push(h, f.bytes);
  }
  return concatBytes(...parts);
}

/** Parse an archive (sizes checked before each slice). */
export function unpackModelFiles(archive: Uint8Array): ModelFile[] {
  const dv = new DataView(archive.buffer, archive.byteOffset, archive.byteLength);
  if (archive.length < 2) invalid('archive truncated');
  const count = dv.getUint16(0);
  if (count === 0 || count > MAX_MODEL_ENTRIES) invalid(`archive has ${count} files`);
  const out: ModelFile[] = [];
  let at = 2;
  const dec = new TextDecoder('utf-8', { fatal: true });
  for (let i = 0; i < count; i++) {
    if (at + 2 > archive.length) invalid('archive truncated');
    const nameLen = dv.getUint16(at);
    if (nameLen === 0 || nameLen > 64 || at + 2 + nameLen + 4 > archive.length) invalid('archive entry name');
    const name = dec.decode(archive.subarray(at + 2, at + 2 + nameLen));
    if (!NAME.test(name)) invalid('archive entry name');
    const size = dv.getUint32(at + 2 + nameLen);
    const start = at + 2 + nameLen + 4;
    if (start + size > archive.length) invalid(`archive entry ${name} truncated`);
    out.push({ name, bytes: archive.subarray(start, start + size) });
    at = start + size;
  }
  if (at !== archive.length) invalid('trailing bytes after the archive');
  return out;
}

function header(iv: Uint8Array, ciphertextLength: number): Uint8Array {
  const h = new Uint8Array(MODEL_BLOB_HEADER_BYTES);
  h.set(new TextEncoder().encode(MODEL_BLOB_MAGIC), 0);
  h[8] = MODEL_BLOB_ALG_AES_256_GCM;
  h.set(iv, 12);
  new DataView(h.buffer).setUint32(24, ciphertextLength);
  return h;
}

async function aesKey(key: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  if (key.length !== 32) throw new InferenceError('KEY_UNWRAP_FAILED', 'the model key must be 32 bytes (AES-256)');
  return globalThis.crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, [usage]);
}

/** Encrypt `files` under a fresh (or the given) AES-256 key. */
export async function encryptModel(files: readonly ModelFile[], key?: Uint8Array): Promise<EncryptedModel> {
  const k = key ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
  const plaintext = packModelFiles(files);
  if (plaintext.length + MODEL_BLOB_HEADER_BYTES + TAG_BYTES > MAX_MODEL_BLOB_BYTES) invalid('model over the blob limit');
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const h = header(iv, plaintext.length + TAG_BYTES);
  const ct = new Uint8Array(
    await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: h as Uint8Array<ArrayBuffer>, tagLength: 128 },
      await aesKey(k, 'encrypt'),
      plaintext as Uint8Array<ArrayBuffer>,
    ),
  );
  const blob = concatBytes(h, ct);
  return { blob, key: k, hash: toHex(await sha256(blob)) };
}

/** Check a blob's header (magic, algorithm, sizes) without a key. INVALID_MODEL_BLOB. */
export function parseModelBlobHeader(blob: Uint8Array): { iv: Uint8Array; ciphertext: Uint8Array; aad: Uint8Array } {
  if (!(blob instanceof Uint8Array) || blob.length < MODEL_BLOB_HEADER_BYTES + TAG_BYTES) invalid('blob truncated');
  if (blob.length > MAX_MODEL_BLOB_BYTES) invalid('blob over the size limit');
  if (new TextDecoder().decode(blob.subarray(0, 8)) !== MODEL_BLOB_MAGIC) invalid('not a model blob (magic)');
  if (blob[8] !== MODEL_BLOB_ALG_AES_256_GCM) invalid(`unknown algorithm ${String(blob[8])}`);
  if (blob[9] !== 0 || blob[10] !== 0 || blob[11] !== 0) invalid('reserved bytes are not zero');
  const len = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(24);
  if (len !== blob.length - MODEL_BLOB_HEADER_BYTES) invalid('ciphertext length does not match the blob');
  return {
    iv: blob.subarray(12, 24),
    ciphertext: blob.subarray(MODEL_BLOB_HEADER_BYTES),
    aad: blob.subarray(0, MODEL_BLOB_HEADER_BYTES),
  };
}

/** Decrypt a blob: INVALID_MODEL_BLOB (format), MODEL_DECRYPT_FAILED (wrong key or any byte changed). */
export async function decryptModel(blob: Uint8Array, key: Uint8Array): Promise<ModelFile[]> {
  const { iv, ciphertext, aad } = parseModelBlobHeader(blob);
  let plaintext: Uint8Array;
  try {
    plaintext = new Uint8Array(
      await globalThis.crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: iv.slice(), additionalData: aad.slice(), tagLength: 128 },
        await aesKey(key, 'decrypt'),
        ciphertext.slice(),
      ),
    );
  } catch (e) {
    if (InferenceError.is(e)) throw e;
    throw new InferenceError('MODEL_DECRYPT_FAILED', 'the model blob does not decrypt with the released key (wrong key or tampered blob)');
  }
  return unpackModelFiles(plaintext);
}

/** Hex SHA-256 of a blob: the model hash. */
export async function modelHash(blob: Uint8Array): Promise<string> {
  return toHex(await sha256(blob));
}
