/**
 * The one document an inference enclave binds into its REPORTDATA (browser-safe).
 *
 * `REPORTDATA = SHA-256(canonical JSON of the document) ‖ 32 zero bytes`, the binding Microsoft Azure Attestation
 * checks for runtime data (reference §1.2: "the first 32 bytes of the report_data field of the quote contains the
 * SHA256 hash of the decoded `data` field of the runtime data"). The document is sent to the attestation service as
 * `runtimeData: { data: base64url(bytes), dataType: "JSON" }`, so the token's `x-ms-runtime` claim carries it
 * whole: the wrapping key in `keys` (Azure Key Vault Secure Key Release reads the key-encryption key from
 * `x-ms-runtime.keys`, reference §3.1), the RA-TLS key hash, the HPKE public key and the model hash.
 *
 * Canonical JSON is RFC 8785 (JCS) restricted to what the document holds: objects with keys sorted by UTF-16 code
 * units (§3.2.3), arrays, strings (JSON.stringify's escaping is JCS's §3.2.2.2), booleans and safe integers; no
 * whitespace.
 */
import { InferenceError } from './errors.js';
import { bytesEqual, concatBytes, sha256, utf8 } from './bytes.js';

/** An RSA public key as a JWK (RFC 7517), as AKV reads it from `x-ms-runtime.keys`. */
export interface RsaPublicJwk {
  readonly kty: 'RSA';
  readonly kid: string;
  readonly key_ops: readonly string[];
  readonly n: string;
  readonly e: string;
}

export interface InferenceRuntimeData {
  /** Format version of this document: 1. */
  readonly version: 1;
  /** The enclave's key-encryption key (RSA-OAEP), first and only entry: the broker wraps the model key to it. */
  readonly keys: readonly RsaPublicJwk[];
  /** Hex SHA-256 of the RA-TLS certificate's SubjectPublicKeyInfo DER. */
  readonly 'ratls-key-hash': string;
  /** The enclave's HPKE public key (RFC 9180 SerializePublicKey), base64url. */
  readonly 'hpke-public-key': string;
  /** The HPKE suite: RFC 9180 §7 identifiers. */
  readonly 'hpke-suite': { readonly kem: number; readonly kdf: number; readonly aead: number };
  /** Hex SHA-256 of the encrypted model blob the owner registered (the ciphertext, not the plaintext). */
  readonly 'model-hash': string;
  /** The model name served. */
  readonly model: string;
}

/** Most bytes of a runtime-data document a verifier reads. */
export const MAX_RUNTIME_DATA_BYTES = 16 * 1024;

/** RFC 8785 canonical JSON of a value made of objects, arrays, strings, booleans, null and safe integers. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError('canonicalJson: only safe integers are supported');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    // JCS §3.2.3: sort by the UTF-16 code units of the names (JavaScript's default string order).
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: unsupported ${typeof value}`);
}

export function encodeRuntimeData(doc: InferenceRuntimeData): Uint8Array {
  return utf8(canonicalJson(doc));
}

/** REPORTDATA for `runtimeData` bytes: SHA-256 ‖ 32 zero bytes. */
export async function reportDataFor(runtimeData: Uint8Array): Promise<Uint8Array> {
  return concatBytes(await sha256(runtimeData), new Uint8Array(32));
}

const HEX64 = /^[0-9a-f]{64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;

function bad(message: string): never {
  throw new InferenceError('EVIDENCE_INVALID', `runtime data: ${message}`);
}

/**
 * Parse runtime-data bytes, check that they are canonical (re-encoding gives the same bytes) and that `reportData`
 * binds them. EVIDENCE_INVALID otherwise.
 */
export async function parseRuntimeData(bytes: Uint8Array, reportData: Uint8Array): Promise<InferenceRuntimeData> {
  if (bytes.length > MAX_RUNTIME_DATA_BYTES) bad(`over ${MAX_RUNTIME_DATA_BYTES} bytes`);
  const expected = await reportDataFor(bytes);
  if (!bytesEqual(expected, reportData)) bad('REPORTDATA does not bind this document');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    bad('not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('not an object');
  const v = value as Record<string, unknown>;
  if (v.version !== 1) bad('unsupported version');
  if (!HEX64.test(String(v['ratls-key-hash']))) bad('ratls-key-hash');
  if (!HEX64.test(String(v['model-hash']))) bad('model-hash');
  if (typeof v['hpke-public-key'] !== 'string' || !B64URL.test(v['hpke-public-key'])) bad('hpke-public-key');
  if (typeof v.model !== 'string' || v.model.length === 0 || v.model.length > 128) bad('model');
  const suite = v['hpke-suite'] as Record<string, unknown> | undefined;
  if (typeof suite !== 'object' || suite === null || ![suite.kem, suite.kdf, suite.aead].every((n) => Number.isSafeInteger(n))) bad('hpke-suite');
  if (!Array.isArray(v.keys) || v.keys.length !== 1) bad('keys');
  const k = v.keys[0] as Record<string, unknown>;
  if (k.kty !== 'RSA' || typeof k.n !== 'string' || typeof k.e !== 'string' || typeof k.kid !== 'string' || !Array.isArray(k.key_ops)) bad('keys[0]');
  const doc = value as InferenceRuntimeData;
  if (!bytesEqual(encodeRuntimeData(doc), bytes)) bad('not canonical JSON');
  return doc;
}
