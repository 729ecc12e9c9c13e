/** Default limits on what a client may make the enclave read, decode and compute. Browser-safe constants. */
export const DEFAULT_LIMITS = Object.freeze({
  /** Largest HTTP request body (the JSON or HPKE envelope), checked from Content-Length and while reading. */
  maxBodyBytes: 8 * 1024 * 1024,
  /** Largest PNG file (bytes) inside a request. */
  maxImageBytes: 4 * 1024 * 1024,
  /** Most decoded pixels (width × height), checked from the PNG header before anything is inflated. */
  maxPixels: 4_000_000,
  /** Longest side of a decoded image. */
  maxImageSide: 4096,
  /** Per-request deadline for the inference itself (ms). */
  requestTimeoutMs: 30_000,
  /** Time to receive the request head and body (ms). */
  headersTimeoutMs: 10_000,
  /** Requests waiting for the model at once (beyond it: BUSY). */
  maxQueue: 16,
  /** Most text lines recognised in one image. */
  maxBoxes: 64,
  /** Most FP32 elements in one tensor input. */
  maxTensorElements: 3 * 48 * 2048,
});

export type InferenceLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };
