/**
 * The broker's errors: a ServiceError (service-kit) whose body is Key Vault's error shape
 * `{"error":{"code","message",…}}` (Key Vault REST: Error / KeyVaultError). Codes are stable and in Key Vault's
 * PascalCase; a release refusal also carries `rule` (and, for claims, `claim`) so that a caller can branch on it.
 */
import { ServiceError } from '@cloister/service-kit';

export const KB_ERROR_CODES = [
  'BadParameter',
  'KeyNotFound',
  'KeyNotExportable',
  'Conflict',
  'Unauthorized',
  'Forbidden',
  'GovernanceEnabled',
  'TokenInvalid',
  'TokenExpired',
  'TokenNotYetValid',
  'TokenSignatureInvalid',
  'AuthorityNotConfigured',
  'AuthorityUnavailable',
  'ReleasePolicyNotSatisfied',
  'TargetKeyMissing',
  'ProposalInvalid',
  'ProposalNotFound',
  'ProposalNotOpen',
  'BallotInvalid',
  'BallotSignatureInvalid',
  'BallotReplayed',
  'MemberUnknown',
  'KekUnavailable',
] as const;
export type KbErrorCode = (typeof KB_ERROR_CODES)[number];

const STATUS: Readonly<Record<KbErrorCode, number>> = {
  BadParameter: 400,
  KeyNotFound: 404,
  KeyNotExportable: 403,
  Conflict: 409,
  Unauthorized: 401,
  Forbidden: 403,
  GovernanceEnabled: 403,
  TokenInvalid: 403,
  TokenExpired: 403,
  TokenNotYetValid: 403,
  TokenSignatureInvalid: 403,
  AuthorityNotConfigured: 403,
  AuthorityUnavailable: 503,
  ReleasePolicyNotSatisfied: 403,
  TargetKeyMissing: 403,
  ProposalInvalid: 400,
  ProposalNotFound: 404,
  ProposalNotOpen: 409,
  BallotInvalid: 400,
  BallotSignatureInvalid: 403,
  BallotReplayed: 409,
  MemberUnknown: 403,
  KekUnavailable: 503,
};

export class KeyBrokerError extends ServiceError {
  declare readonly code: KbErrorCode;
  constructor(code: KbErrorCode, message: string, details?: Readonly<Record<string, string | number | boolean>>, options?: { cause?: unknown }) {
    super(code, STATUS[code], message, details, options);
  }

  static is(e: unknown, code?: KbErrorCode): e is KeyBrokerError {
    return e instanceof KeyBrokerError && (code === undefined || e.code === code);
  }
}
