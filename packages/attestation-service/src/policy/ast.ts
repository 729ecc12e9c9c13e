/** The parsed form of an MAA policy (see ./parser.ts for the grammar). */

export const POLICY_VERSIONS = ['1.0', '1.1', '1.2'] as const;
export type PolicyVersion = (typeof POLICY_VERSIONS)[number];

export const SECTIONS = ['configurationrules', 'authorizationrules', 'issuancerules'] as const;
export type SectionName = (typeof SECTIONS)[number];

/** Claim properties a condition may test (claim-rule-grammar.md "Claim"). */
export const CLAIM_PROPERTIES = ['type', 'value', 'valueType', 'issuer'] as const;
export type ClaimProperty = (typeof CLAIM_PROPERTIES)[number];

export type Operator = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type Literal = string | number | boolean;

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A value in a condition or an action: a literal or `identifier.property`. */
export type Operand =
  | ({ readonly kind: 'literal'; readonly value: Literal } & Position)
  | ({ readonly kind: 'ref'; readonly id: string; readonly property: ClaimProperty } & Position);

export interface PropertyTest extends Position {
  readonly property: ClaimProperty;
  readonly op: Operator;
  readonly operand: Operand;
}

/** `[id:][ test, test, … ]` — true when at least one claim passes every test. */
export interface Condition extends Position {
  readonly id: string | undefined;
  readonly tests: readonly PropertyTest[];
}

export type ActionName = 'permit' | 'deny' | 'issue' | 'add' | 'issueproperty';

export interface DecisionAction extends Position {
  readonly kind: 'decision';
  readonly name: 'permit' | 'deny';
}

/** `issue(claim=c)` and friends: copy a bound claim. */
export interface CopyClaimAction extends Position {
  readonly kind: 'copy';
  readonly name: 'issue' | 'add' | 'issueproperty';
  readonly claim: string;
  readonly refLine: number;
  readonly refColumn: number;
}

/** `issue(type=…, value=…[, valueType=…])` and friends. */
export interface NewClaimAction extends Position {
  readonly kind: 'new';
  readonly name: 'issue' | 'add' | 'issueproperty';
  readonly type: Operand;
  readonly value: Operand;
  readonly valueType: string | undefined;
}

export type ClaimAction = CopyClaimAction | NewClaimAction;
export type Action = DecisionAction | ClaimAction;

export interface Rule extends Position {
  /** Disjunction of conjunctions; empty: the rule always fires. */
  readonly when: readonly (readonly Condition[])[];
  readonly action: Action;
}

export interface MaaPolicy {
  readonly version: PolicyVersion;
  readonly configurationrules: readonly Rule[];
  readonly authorizationrules: readonly Rule[];
  readonly issuancerules: readonly Rule[];
  /** The text it was parsed from. */
  readonly text: string;
}
