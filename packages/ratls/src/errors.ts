/**
 * Typed errors of `@cloister/ratls`. Every failure of untrusted input (a certificate, its evidence, the quote inside)
 * is a {@link RatlsError} with a stable `code`; a failed quote verification keeps the `DcapError` as `cause` and its
 * code in the message and in {@link RatlsError.dcapCode}. A policy that refuses the enclave is @cloister/policy's
 * PolicyError (POLICY_MISMATCH with the failed `rule`, or POLICY_INVALID), the same error every Cloister verifier throws.
 */
export const RATLS_ERROR_CODES = [
  /** The certificate carries no attestation evidence extension this package knows. */
  'NO_EVIDENCE',
  /** An evidence extension is malformed (CBOR, tag, claims, or the quote inside). */
  'INVALID_EVIDENCE',
  /** The quote's report data does not bind the certificate's public key. */
  'BINDING_MISMATCH',
  /** The quote does not verify (signatures, chain to the trust root, collateral). */
  'UNTRUSTED_EVIDENCE',
  /** The certificate is malformed, its self-signature does not verify, or it is outside its validity. */
  'INVALID_CERTIFICATE',
] as const;

export type RatlsErrorCode = (typeof RATLS_ERROR_CODES)[number];

const BRAND = Symbol.for('@cloister/ratls/RatlsError');

export class RatlsError extends Error {
  readonly code: RatlsErrorCode;
  /** For UNTRUSTED_EVIDENCE (and wrapped parse failures): the code of the underlying DcapError. */
  readonly dcapCode: string | undefined;

  constructor(code: RatlsErrorCode, message: string, options?: { cause?: unknown; dcapCode?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.dcapCode = options?.dcapCode;
    this.name = 'RatlsError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static is(value: unknown): value is RatlsError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

export function isRatlsErrorCode(value: string): value is RatlsErrorCode {
  return (RATLS_ERROR_CODES as readonly string[]).includes(value);
}
