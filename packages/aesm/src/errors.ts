/**
 * Typed errors of the AESM client, with stable codes (callers branch on `code`, never on the message). The four AESM_*
 * codes correspond to what Intel's client libraries report for the same conditions.
 */
export const AESM_CLIENT_ERROR_CODES = [
  /** The AESM service answered with an aesm_error_t other than AESM_SUCCESS (its name and number are on the error). */
  'AESM_ERROR',
  /** The AESM service did not answer within the client's timeout (Intel: SGX_ERROR_SERVICE_TIMEOUT). */
  'AESM_TIMEOUT',
  /** No AESM service to talk to: socket missing, refusing, or not accessible (Intel: SGX_ERROR_SERVICE_UNAVAILABLE). */
  'AESM_UNAVAILABLE',
  /** The AESM service broke the protocol: closed early, oversized or malformed response (Intel: SGX_ERROR_UNEXPECTED). */
  'AESM_PROTOCOL',
  /** The caller's input is malformed (wrong-sized REPORT, key id, buffer size); nothing was sent. */
  'INVALID_REQUEST',
  /** Bad client options (timeout, response cap). */
  'CONFIG_INVALID',
] as const;

export type AesmClientErrorCode = (typeof AESM_CLIENT_ERROR_CODES)[number];

const BRAND = Symbol.for('@cloister/aesm/AesmError');

export class AesmError extends Error {
  readonly code: AesmClientErrorCode;

  constructor(code: AesmClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'AesmError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for an AesmError from any copy of this package. */
  static is(value: unknown): value is AesmError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
