/**
 * The one typed error of `@cloister/policy`. Callers branch on `code` and on the field it names — `key` for a policy
 * that does not validate, `rule` for evidence the policy refuses — never on the message. Every value in a message,
 * `expected` or `actual` is a measurement, a number, a status name or an advisory ID: safe to show and to log.
 */
import type { PolicyDecision, PolicyRule } from './types.js';

export const POLICY_ERROR_CODES = [
  /** The policy itself is malformed: an unknown key, a wrong type, a bad hex length, or no identity rule. */
  'POLICY_INVALID',
  /** The evidence verified but the policy refuses it; `rule` names the first rule that failed. */
  'POLICY_MISMATCH',
] as const;

export type PolicyErrorCode = (typeof POLICY_ERROR_CODES)[number];

const BRAND = Symbol.for('@cloister/policy/PolicyError');

export interface PolicyErrorDetails {
  /** POLICY_INVALID: the offending key as a path (`mrenclaev`, `mrenclave[1]`, `$` for the policy as a whole). */
  readonly key?: string;
  /** POLICY_MISMATCH: the rule that failed first. */
  readonly rule?: PolicyRule;
  /** POLICY_MISMATCH: what the policy accepts, as shown to a user. */
  readonly expected?: string;
  /** POLICY_MISMATCH: what the evidence says. */
  readonly actual?: string;
  /** POLICY_MISMATCH: every rule as it was checked. */
  readonly decision?: PolicyDecision;
}

export class PolicyError extends Error {
  readonly code: PolicyErrorCode;
  readonly key: string | undefined;
  readonly rule: PolicyRule | undefined;
  readonly expected: string | undefined;
  readonly actual: string | undefined;
  readonly decision: PolicyDecision | undefined;

  constructor(code: PolicyErrorCode, message: string, details: PolicyErrorDetails = {}) {
    super(message);
    this.name = 'PolicyError';
    this.code = code;
    this.key = details.key;
    this.rule = details.rule;
    this.expected = details.expected;
    this.actual = details.actual;
    this.decision = details.decision;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static is(value: unknown): value is PolicyError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
