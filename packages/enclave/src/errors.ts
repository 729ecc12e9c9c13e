/** Typed errors of the enclave SDK, with stable codes; an error thrown by an ecall or ocall crosses with its code. */
export const ENCLAVE_ERROR_CODES = [
  /** enclave.json or the enclave directory is malformed. */
  'INVALID_MANIFEST',
  /** The enclave is not signed, or its SIGSTRUCT does not match the measured bundle. */
  'INVALID_SIGNATURE',
  /** No such ecall / ocall is declared. */
  'UNKNOWN_CALL',
  /** A value that cannot cross the boundary (functions, symbols, …) or is larger than the limit. */
  'INVALID_ARGUMENT',
  'PAYLOAD_TOO_LARGE',
  /** The enclave process died (crash, OOM, killed); pending calls fail with this code. */
  'ENCLAVE_CRASHED',
  /** The enclave was terminated by its host. */
  'ENCLAVE_TERMINATED',
  /** The enclave did not load in time (loadTimeoutMs). */
  'TIMEOUT',
  /**
   * An ecall did not finish within its timeout (callTimeoutMs, default 60 s). If the enclave then also fails a
   * liveness probe (it is spinning), it is killed and its other pending calls fail with this code too.
   */
  'ENCLAVE_TIMEOUT',
  /**
   * The enclave sent bytes that are not the protocol (a bad frame length, a frame over the limit of its kind, a
   * payload that does not deserialize, a message of the wrong kind, a stream over its window): the host ends it.
   */
  'ENCLAVE_PROTOCOL',
  /** The enclave went over its memory budget (enclave.json heapSizeMiB): the host ends it. */
  'ENCLAVE_OUT_OF_MEMORY',
  /** An enclave.json `env` name outside the allowlist (loader, libc, OpenSSL, ICU, Node variables …). */
  'ENV_NOT_ALLOWED',
  /** A relayed connection the host does not allow, or that failed to open (ctx.connect). */
  'CONNECT_REFUSED',
  /** Too many relayed streams, or a stream used after it closed. */
  'STREAM_LIMIT',
  /** Too many ocall / platform-service requests from one enclave running in the host at once (64). */
  'REQUEST_LIMIT',
  /** An ecall handler or an ocall threw an error without a code of its own. */
  'CALL_FAILED',
  /** Attestation could not be produced (AESM unreachable, no platform, …). */
  'ATTESTATION_FAILED',
  /** Evidence verified but does not satisfy the policy (identity, debug, TCB status). */
  'POLICY_MISMATCH',
  /** Sealed data cannot be unsealed by this enclave. */
  'UNSEAL_FAILED',
  /** A backend that is not available here (e.g. gramine without Gramine). */
  'BACKEND_UNAVAILABLE',
] as const;

export type EnclaveErrorCode = (typeof ENCLAVE_ERROR_CODES)[number];

const BRAND = Symbol.for('@cloister/enclave/EnclaveError');

export class EnclaveError extends Error {
  readonly code: EnclaveErrorCode;

  constructor(code: EnclaveErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'EnclaveError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  static is(value: unknown): value is EnclaveError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
