/**
 * Typed errors of @cloister/inference: a stable string `code` (callers branch on it, never on messages) and, where a
 * caller must tell cases apart, a `detail` naming the field or limit. Browser-safe.
 */
export const INFERENCE_ERROR_CODES = [
  /** The request is not a valid Open Inference Protocol v2 request (`field` names what is wrong). */
  'INVALID_REQUEST',
  /** The request body, the image or its decoded pixels are over a limit (`limit` names which). */
  'TOO_LARGE',
  /** The image is not a PNG this server decodes. */
  'INVALID_IMAGE',
  /** No such model (Open Inference Protocol: 404). */
  'MODEL_NOT_FOUND',
  /** The model is not loaded yet: its key has not been released or it is not decrypted (503). */
  'MODEL_NOT_READY',
  /** The inference did not finish within the per-request deadline. */
  'TIMEOUT',
  /** Too many requests waiting for the model (429). */
  'BUSY',
  /** The model blob is malformed (header, sizes, entries). */
  'INVALID_MODEL_BLOB',
  /** The model blob does not decrypt with the released key (wrong key or tampered: AES-GCM tag mismatch). */
  'MODEL_DECRYPT_FAILED',
  /** The model blob is not the one bound into the attestation (hash differs). */
  'MODEL_HASH_MISMATCH',
  /** The key could not be released (attestation refused, broker refused, no token). */
  'KEY_RELEASE_FAILED',
  /** The released key could not be unwrapped inside the enclave. */
  'KEY_UNWRAP_FAILED',
  /** The enclave's evidence does not verify or does not bind what it claims (runtime data, HPKE key, model hash). */
  'EVIDENCE_INVALID',
  /** An HPKE message does not open (wrong context, replayed, tampered). */
  'HPKE_DECRYPT_FAILED',
  /** The same HPKE encapsulated key was seen before (a replayed request). */
  'REPLAYED',
  /** The ONNX runtime failed (session creation or run). */
  'RUNTIME_FAILED',
  /** The server answered with an error or something that is not the protocol. */
  'SERVER_ERROR',
  /** The server refused to start (no key, bad model, enclave failure). */
  'NOT_STARTED',
] as const;

export type InferenceErrorCode = (typeof INFERENCE_ERROR_CODES)[number];

const BRAND = Symbol.for('@cloister/inference/InferenceError');

export interface InferenceErrorDetails {
  /** The limit that was exceeded (TOO_LARGE), e.g. `maxBodyBytes`, `maxPixels`. */
  readonly limit?: string;
  /** The request field that is wrong (INVALID_REQUEST). */
  readonly field?: string;
  /** HTTP status the server answered (SERVER_ERROR), or should answer. */
  readonly status?: number;
  /** A code from the layer below (e.g. a DcapError or PolicyError code for EVIDENCE_INVALID). */
  readonly cause?: unknown;
  /** The remote error code the server sent (SERVER_ERROR). */
  readonly remoteCode?: string;
}

export class InferenceError extends Error {
  readonly code: InferenceErrorCode;
  readonly limit: string | undefined;
  readonly field: string | undefined;
  readonly status: number | undefined;
  readonly remoteCode: string | undefined;

  constructor(code: InferenceErrorCode, message: string, details: InferenceErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.name = 'InferenceError';
    this.limit = details.limit;
    this.field = details.field;
    this.status = details.status;
    this.remoteCode = details.remoteCode;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for an InferenceError (also across bundles and the enclave boundary: by brand or by a known code). */
  static is(value: unknown): value is InferenceError {
    return (
      typeof value === 'object' &&
      value !== null &&
      ((value as Record<symbol, unknown>)[BRAND] === true ||
        ((value as { name?: unknown }).name === 'InferenceError' &&
          (INFERENCE_ERROR_CODES as readonly string[]).includes(String((value as { code?: unknown }).code))))
    );
  }
}

/** The HTTP status of each code when a server answers with it (Open Inference Protocol: errors are `{ error }`). */
export const HTTP_STATUS: Readonly<Record<InferenceErrorCode, number>> = {
  INVALID_REQUEST: 400,
  TOO_LARGE: 413,
  INVALID_IMAGE: 400,
  MODEL_NOT_FOUND: 404,
  MODEL_NOT_READY: 503,
  TIMEOUT: 504,
  BUSY: 429,
  INVALID_MODEL_BLOB: 500,
  MODEL_DECRYPT_FAILED: 500,
  MODEL_HASH_MISMATCH: 500,
  KEY_RELEASE_FAILED: 500,
  KEY_UNWRAP_FAILED: 500,
  EVIDENCE_INVALID: 500,
  HPKE_DECRYPT_FAILED: 400,
  REPLAYED: 400,
  RUNTIME_FAILED: 500,
  SERVER_ERROR: 502,
  NOT_STARTED: 503,
};
