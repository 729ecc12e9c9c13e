/**
 * Typed errors of `@cloister/dcap`.
 *
 * Every failure of untrusted input is a {@link DcapError} whose `code` is stable. Verification codes are Intel
 * Quote Verification Library `Status` names without the `STATUS_` prefix
 * (intel/SGX-TDX-DCAP-QuoteVerificationLibrary:Src/AttestationLibrary/include/SgxEcdsaAttestation/QuoteVerification.h,
 * table in testdata/FORMAT.md "Error codes"); the few that QVL has no name for are Cloister's own and are
 * listed last. Messages never contain secrets.
 */
export const DCAP_ERROR_CODES = [
  // quote / certification data format
  'UNSUPPORTED_QUOTE_FORMAT',
  'UNSUPPORTED_CERT_FORMAT',
  'UNSUPPORTED_QE_CERTIFICATION_DATA_TYPE',
  // certificate chains
  'SGX_ROOT_CA_MISSING',
  'SGX_INTERMEDIATE_CA_MISSING',
  'SGX_PCK_MISSING',
  'SGX_TCB_SIGNING_CERT_MISSING',
  'SGX_ROOT_CA_INVALID_ISSUER',
  'SGX_INTERMEDIATE_CA_INVALID_ISSUER',
  'SGX_PCK_INVALID_ISSUER',
  'SGX_TCB_SIGNING_CERT_INVALID_ISSUER',
  'SGX_PCK_CERT_CHAIN_UNTRUSTED',
  'SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED',
  // CRLs
  'SGX_CRL_UNSUPPORTED_FORMAT',
  'SGX_CRL_UNKNOWN_ISSUER',
  'SGX_CRL_INVALID_EXTENSIONS',
  'SGX_CRL_INVALID_SIGNATURE',
  // PCK CRL issuer chain (PckCrlVerifier::verify / verifyCRLIssuerCertChain)
  'SGX_ROOT_CA_INVALID',
  'SGX_ROOT_CA_UNTRUSTED',
  'SGX_CA_CERT_INVALID',
  'SGX_CA_CERT_UNSUPPORTED_FORMAT',
  // revocation
  'SGX_INTERMEDIATE_CA_REVOKED',
  'SGX_PCK_REVOKED',
  'SGX_TCB_SIGNING_CERT_REVOKED',
  'PCK_REVOKED',
  // time
  'SGX_PCK_CERT_CHAIN_EXPIRED',
  'SGX_SIGNING_CERT_CHAIN_EXPIRED',
  'SGX_CRL_EXPIRED',
  'SGX_TCB_INFO_EXPIRED',
  'SGX_ENCLAVE_IDENTITY_EXPIRED',
  // collateral format
  'SGX_TCB_INFO_UNSUPPORTED_FORMAT',
  'SGX_TCB_INFO_INVALID',
  'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT',
  'SGX_ENCLAVE_IDENTITY_INVALID',
  'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_VERSION',
  // collateral signatures
  'TCB_INFO_INVALID_SIGNATURE',
  'SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE',
  // quote against collateral
  'INVALID_PCK_CERT',
  'INVALID_PCK_CRL',
  'TCB_INFO_MISMATCH',
  'TDX_MODULE_MISMATCH',
  'INVALID_QE_REPORT_SIGNATURE',
  'INVALID_QE_REPORT_DATA',
  'INVALID_QUOTE_SIGNATURE',
  'QE_IDENTITY_MISMATCH',
  'TCB_NOT_SUPPORTED',
  'TCB_UNRECOGNIZED_STATUS',
  // QVL STATUS_MISSING_PARAMETERS: a required input (collateral field, trust root) is absent or unusable
  'MISSING_PARAMETERS',
  // Cloister's own: input bytes are neither raw, hex nor base64 / a collateral source could not deliver
  'INVALID_INPUT_ENCODING',
  'COLLATERAL_UNAVAILABLE',
  // Cloister's own: an input over its size, nesting or element budget, refused before it is decoded or parsed
  'INPUT_TOO_LARGE',
] as const;

export type DcapErrorCode = (typeof DCAP_ERROR_CODES)[number];

const BRAND = Symbol.for('@cloister/dcap/DcapError');

export class DcapError extends Error {
  readonly code: DcapErrorCode;

  constructor(code: DcapErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'DcapError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static is(value: unknown): value is DcapError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

export function isDcapErrorCode(value: string): value is DcapErrorCode {
  return (DCAP_ERROR_CODES as readonly string[]).includes(value);
}
