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
  /** A call did not finish in time. */
  'TIMEOUT',
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
