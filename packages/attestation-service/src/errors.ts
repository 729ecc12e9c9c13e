/**
 * Typed errors of the attestation service. HTTP answers use service-kit's ServiceError (`{"error":{"code","message"}}`,
 * 4xx for the caller's faults, 5xx for the service's own); {@link badRequest} and friends name the codes in one place.
 */
import { ServiceError } from '@cloister/service-kit';

/** The stable error codes the service answers with (besides service-kit's BODY_TOO_LARGE, INVALID_JSON, …). */
export const ATTESTATION_ERROR_CODES = [
  'INVALID_REQUEST',
  'MISSING_API_VERSION',
  'UNSUPPORTED_API_VERSION',
  'UNSUPPORTED_ATTESTATION_TYPE',
  'INVALID_BASE64',
  'UNKNOWN_DATA_TYPE',
  'INVALID_RUNTIME_JSON',
  'EVIDENCE_INVALID',
  'WRONG_EVIDENCE_TYPE',
  'UNSUPPORTED_TEE',
  'RUNTIME_DATA_MISMATCH',
  'INITTIME_DATA_MISMATCH',
  'COLLATERAL_NOT_FOUND',
  'COLLATERAL_UNAVAILABLE',
  'QUOTE_INVALID',
  'EVIDENCE_REFUSED',
  'POLICY_DENIED',
  'POLICY_INVALID',
  'POLICY_SIGNATURE_INVALID',
  'POLICY_SIGNER_UNKNOWN',
  'POLICY_SIGNATURE_REQUIRED',
  'CERTIFICATE_INVALID',
  'STORAGE_UNAVAILABLE',
  'AUDIT_BACKLOG',
] as const;
export type AttestationErrorCode = (typeof ATTESTATION_ERROR_CODES)[number];

type Details = Readonly<Record<string, string | number | boolean>>;

export function badRequest(code: AttestationErrorCode, message: string, details?: Details): ServiceError {
  return new ServiceError(code, 400, message, details);
}

export function unavailable(code: AttestationErrorCode, message: string, details?: Details): ServiceError {
  return new ServiceError(code, 503, message, details);
}

export { ServiceError };
