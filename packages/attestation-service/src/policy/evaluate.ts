/**
 * Evaluation of an MAA policy over a claim set (claim-rule-grammar.md "Claim rule": a rule with no conditions fires;
 * otherwise each condition must be met by at least one claim, identifiers bind the matching claim for later
 * conditions and for the action; `add` puts a claim in the incoming set, `issue` in the incoming and the outgoing
 * set, `issueproperty` sets a property of the evaluation).
 *
 * Order: configurationrules, then authorizationrules — the first rule whose conditions hold and whose action is
 * permit() or deny() decides; none deciding is a denial (fail closed) — then issuancerules in order.
 * Bounded: each rule's search visits at most MAX_STEPS claim/condition pairs and keeps at most MAX_BINDINGS
 * bindings, beyond which evaluation fails with POLICY_EVALUATION (never a hang).
 */
import type { ClaimAction, Condition, Literal, MaaPolicy, Operand, PropertyTest, Rule } from './ast.js';
import { MaaPolicyError } from './errors.js';

export type ClaimValueType = 'String' | 'Integer' | 'Boolean';
export type ClaimIssuer = 'AttestationService' | 'AttestationPolicy' | 'CustomClaim';

export interface PolicyClaim {
  readonly type: string;
  readonly value: Literal;
  readonly valueType: ClaimValueType;
  readonly issuer: ClaimIssuer;
}

export interface PolicyEvaluation {
  readonly permitted: boolean;
  /** The authorization rule that decided (undefined: none matched, a denial). */
  readonly decidedBy: { readonly line: number; readonly column: number; readonly action: 'permit' | 'deny' } | undefined;
  /** Outgoing claims (issuancerules `issue`), in order, duplicates removed. */
  readonly issued: readonly PolicyClaim[];
  /** `issueproperty` results (configuration and issuance rules). */
  readonly properties: Readonly<Record<string, Literal>>;
}

export const MAX_STEPS = 200_000;
export const MAX_BINDINGS = 1024;
/** Most claims an evaluation may add (add/issue); keeps a claim set from growing without bound. */
export const MAX_ADDED_CLAIMS = 4096;

export function valueTypeOf(v: Literal): ClaimValueType {
  return typeof v === 'number' ? 'Integer' : typeof v === 'boolean' ? 'Boolean' : 'String';
}

export function claim(type: string, value: Literal, issuer: ClaimIssuer = 'AttestationService'): PolicyClaim {
  return { type, value, valueType: valueTypeOf(value), issuer };
}

type Bindings = ReadonlyMap<string, PolicyClaim>;

function resolve(o: Operand, b: Bindings): Literal | undefined {
  if (o.kind === 'literal') return o.value;
  const c = b.get(o.id);
  return c === undefined ? undefined : c[o.property];
}

function compare(actual: Literal, op: PropertyTest['op'], expected: Literal): boolean {
  if (op === '==') return typeof actual === typeof expected && actual === expected;
  if (op === '!=') return !(typeof actual === typeof expected && actual === expected);
  if (typeof actual !== 'number' || typeof expected !== 'number') return false;
  switch (op) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    default:
      return actual >= expected;
  }
}

function passes(c: PolicyClaim, cond: Condition, b: Bindings): boolean {
  for (const t of cond.tests) {
    const expected = resolve(t.operand, b);
    if (expected === undefined || !compare(c[t.property], t.op, expected)) return false;
  }
  return true;
}

class Budget {
  steps = 0;
  tick(rule: Rule): void {
    if (++this.steps > MAX_STEPS) {
      throw new MaaPolicyError('POLICY_EVALUATION', `the rule needs more than ${MAX_STEPS} steps to evaluate`, rule.line, rule.column);
    }
  }
}

/** Every binding of the rule's identifiers that meets its conditions (one empty binding for a rule with none). */
function bindingsOf(rule: Rule, claims: readonly PolicyClaim[]): Bindings[] {
  if (rule.when.length === 0) return [new Map()];
  const out: Bindings[] = [];
  const budget = new Budget();
  const search = (conj: readonly Condition[], k: number, b: Map<string, PolicyClaim>): void => {
    if (k === conj.length) {
      if (out.length >= MAX_BINDINGS) throw new MaaPolicyError('POLICY_EVALUATION', `the rule matches more than ${MAX_BINDINGS} claim combinations`, rule.line, rule.column);
      out.push(new Map(b));
      return;
    }
    const cond = conj[k]!;
    for (const c of claims) {
      budget.tick(rule);
      if (!passes(c, cond, b)) continue;
      if (cond.id === undefined) {
        // Existence only: one witness is enough, no branching.
        search(conj, k + 1, b);
        return;
      }
      b.set(cond.id, c);
      search(conj, k + 1, b);
      b.delete(cond.id);
    }
  };
  for (const conj of rule.when) search(conj, 0, new Map());
  return out;
}

function coerce(v: Literal, valueType: string | undefined, rule: Rule): Literal {
  if (valueType === undefined) return v;
  if (valueType === 'String') return String(v);
  if (valueType === 'Integer') {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?[0-9]+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) throw new MaaPolicyError('POLICY_EVALUATION', `value ${JSON.stringify(v)} is not an Integer`, rule.action.line, rule.action.column);
    return n;
  }
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new MaaPolicyError('POLICY_EVALUATION', `value ${JSON.stringify(v)} is not a Boolean`, rule.action.line, rule.action.column);
}

function produced(rule: Rule, action: ClaimAction, b: Bindings): PolicyClaim {
  if (action.kind === 'copy') {
    const c = b.get(action.claim)!;
    return { type: c.type, value: c.value, valueType: c.valueType, issuer: 'AttestationPolicy' };
  }
  const type = resolve(action.type, b);
  const raw = resolve(action.value, b);
  if (type === undefined || raw === undefined) {
    throw new MaaPolicyError('POLICY_EVALUATION', 'an identifier of the action is unbound', action.line, action.column);
  }
  const value = coerce(raw, action.valueType, rule);
  return { type: String(type), value, valueType: valueTypeOf(value), issuer: 'AttestationPolicy' };
}

const key = (c: PolicyClaim): string => `${c.type}\u0000${typeof c.value}\u0000${String(c.value)}`;

/** Evaluates `policy` over `incoming`. Throws MaaPolicyError POLICY_EVALUATION only when a bound is exceeded. */
export function evaluateMaaPolicy(policy: MaaPolicy, incoming: readonly PolicyClaim[]): PolicyEvaluation {
  const set: PolicyClaim[] = [...incoming];
  const seen = new Set(set.map(key));
  const issued: PolicyClaim[] = [];
  const issuedKeys = new Set<string>();
  const properties: Record<string, Literal> = Object.create(null) as Record<string, Literal>;
  let added = 0;
  const addClaim = (c: PolicyClaim, rule: Rule, out: boolean): void => {
    const k = key(c);
    if (!seen.has(k)) {
      if (++added > MAX_ADDED_CLAIMS) throw new MaaPolicyError('POLICY_EVALUATION', `the policy adds more than ${MAX_ADDED_CLAIMS} claims`, rule.line, rule.column);
      seen.add(k);
      set.push(c);
    }
    if (out && !issuedKeys.has(k)) {
      issuedKeys.add(k);
      issued.push(c);
    }
  };
  const run = (rule: Rule, bindings: Bindings[]): void => {
    const a = rule.action;
    if (a.kind === 'decision') return;
    for (const b of bindings) {
      const c = produced(rule, a, b);
      if (a.name === 'issueproperty') properties[c.type] = c.value;
      else addClaim(c, rule, a.name === 'issue');
    }
  };

  for (const rule of policy.configurationrules) run(rule, bindingsOf(rule, set));

  let decidedBy: PolicyEvaluation['decidedBy'];
  for (const rule of policy.authorizationrules) {
    const bindings = bindingsOf(rule, set);
    if (bindings.length === 0) continue;
    if (rule.action.kind === 'decision') {
      decidedBy = { line: rule.line, column: rule.column, action: rule.action.name };
      break;
    }
    run(rule, bindings);
  }
  const permitted = decidedBy?.action === 'permit';
  if (permitted) for (const rule of policy.issuancerules) run(rule, bindingsOf(rule, set));
  return Object.freeze({ permitted, decidedBy, issued: Object.freeze(issued), properties: Object.freeze({ ...properties }) });
}

/** `x-ms-policy`: the issued claims as an object (a type issued with several values becomes an array). */
export function issuedClaimsObject(issued: readonly PolicyClaim[]): Record<string, Literal | Literal[]> {
  const out: Record<string, Literal | Literal[]> = {};
  for (const c of issued) {
    const prior = Object.hasOwn(out, c.type) ? out[c.type] : undefined;
    const value = prior === undefined ? c.value : Array.isArray(prior) ? [...prior, c.value] : [prior, c.value];
    // defineProperty: a claim named "__proto__" is an ordinary key, never the prototype.
    Object.defineProperty(out, c.type, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
