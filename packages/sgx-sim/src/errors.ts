/**
 * Typed errors of `@cloister/sgx-sim`. Codes follow Intel's `sgx_status_t` names without the `SGX_ERROR_` prefix
 * where one exists (intel/linux-sgx:common/inc/sgx_error.h); the platform-file codes are the simulator's own.
 */
export const SIM_ERROR_CODES = [
  'INVALID_PARAMETER',
  /** EGETKEY: unknown key name. */
  'INVALID_KEYNAME',
  /** EGETKEY: PROVISION/PROVISION_SEAL key for an enclave without PROVISION_KEY; KSS policy without KSS. */
  'INVALID_ATTRIBUTE',
  /** EGETKEY: requested ISVSVN above the enclave's (no upgrade). */
  'INVALID_ISVSVN',
  /** EGETKEY: requested CPUSVN above the platform's. */
  'INVALID_CPUSVN',
  /** EGETKEY: requested CONFIGSVN above the enclave's. */
  'INVALID_CONFIGSVN',
  /** A REPORT or sealed blob whose MAC/tag does not verify (wrong key: other enclave, signer, platform, or tampered). */
  'MAC_MISMATCH',
  /** A sealed blob or structure whose layout is wrong. */
  'INVALID_SEALED_DATA',
  /** A REPORT that is not targeted at this enclave or is malformed. */
  'INVALID_REPORT',
  /** A SIGSTRUCT that is malformed or whose signature does not verify. */
  'INVALID_SIGNATURE',
  /** An enclave image or manifest that is malformed. */
  'INVALID_ENCLAVE',
  /** A platform directory that is missing, unreadable, or not a simulated platform. */
  'PLATFORM_INVALID',
] as const;

export type SimErrorCode = (typeof SIM_ERROR_CODES)[number];

const BRAND = Symbol.for('@cloister/sgx-sim/SimError');

export class SimError extends Error {
  readonly code: SimErrorCode;

  constructor(code: SimErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SimError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  static is(value: unknown): value is SimError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
