/**
 * Azure Key Vault release policies (Key Vault "key release policy grammar", Microsoft Learn
 * includes/key-management-policy-grammar.md): `{"version":"1.0.0","anyOf":[{"authority":URL,"allOf"|"anyOf":[…]}]}`,
 * conditions `{"claim":"a.b","equals":v}` (dotted names address nested claims), nested `anyOf`/`allOf`; the older
 * `{"claim","condition":"equals","value"}` form is accepted too. A missing claim makes its condition false.
 *
 * `evaluateReleasePolicy` returns the decision with the reason of a refusal: which authority branch applied and the
 * first condition that failed (claim, expected, actual) — never the token's other contents.
 */
import { KeyBrokerError } from './errors.js';

export type Scalar = string | number | boolean;

export type Condition =
  | { readonly kind: 'claim'; readonly claim: string; readonly equals: Scalar }
  | { readonly kind: 'anyOf' | 'allOf'; readonly of: readonly Condition[] };

export interface AuthorityRule {
  readonly authority: string;
  readonly kind: 'anyOf' | 'allOf';
  readonly of: readonly Condition[];
}

export interface ReleasePolicy {
  readonly version: string;
  readonly anyOf: readonly AuthorityRule[];
}

export const MAX_RELEASE_POLICY_BYTES = 32 * 1024;
const MAX_DEPTH = 8;
const MAX_CONDITIONS = 256;

export type ReleaseRefusalRule = 'authority' | 'claim' | 'anyOf';

export type ReleaseDecision =
  | { readonly ok: true; readonly authority: string }
  | {
      readonly ok: false;
      readonly rule: ReleaseRefusalRule;
      readonly message: string;
      readonly claim?: string;
      readonly expected?: Scalar;
      readonly actual?: string;
    };

function bad(message: string): never {
  throw new KeyBrokerError('BadParameter', `invalid release policy: ${message}`);
}

/** Authorities compare without a trailing slash and with a lower-case scheme and host. */
export function normaliseAuthority(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname.replace(/\/+$/, '');
    return `${u.protocol}//${u.host}${path}`.toLowerCase();
  } catch {
    return url.replace(/\/+$/, '').toLowerCase();
  }
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function parseConditions(list: unknown, depth: number, count: { n: number }): Condition[] {
  if (!Array.isArray(list) || list.length === 0) bad('anyOf/allOf must be a non-empty array');
  return list.map((c) => parseCondition(c, depth, count));
}

function parseCondition(c: unknown, depth: number, count: { n: number }): Condition {
  if (depth > MAX_DEPTH) bad(`conditions nest deeper than ${MAX_DEPTH}`);
  if (++count.n > MAX_CONDITIONS) bad(`more than ${MAX_CONDITIONS} conditions`);
  if (typeof c !== 'object' || c === null || Array.isArray(c)) bad('a condition must be an object');
  const o = c as Record<string, unknown>;
  if ('anyOf' in o || 'allOf' in o) {
    if ('anyOf' in o && 'allOf' in o) bad('a condition has both anyOf and allOf');
    const kind = 'anyOf' in o ? 'anyOf' : 'allOf';
    return { kind, of: parseConditions(o[kind], depth + 1, count) };
  }
  if (typeof o['claim'] !== 'string' || o['claim'] === '') bad('a condition needs a claim name');
  let value: unknown;
  if ('equals' in o) value = o['equals'];
  else if (o['condition'] === 'equals' && 'value' in o) value = o['value'];
  else bad(`claim ${o['claim']}: the only operator is equals`);
  if (!isScalar(value)) bad(`claim ${o['claim']}: equals takes a string, number or boolean`);
  return { kind: 'claim', claim: o['claim'], equals: value };
}

export function parseReleasePolicy(input: unknown): ReleasePolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad('the policy must be a JSON object');
  const o = input as Record<string, unknown>;
  const version = o['version'] ?? '1.0.0';
  if (typeof version !== 'string' || !/^1\.0(\.0)?$/.test(version)) bad('version must be 1.0.0');
  if (!Array.isArray(o['anyOf']) || o['anyOf'].length === 0) bad('the top level must be anyOf: [ { authority, allOf|anyOf } ]');
  const count = { n: 0 };
  const anyOf = o['anyOf'].map((a): AuthorityRule => {
    if (typeof a !== 'object' || a === null) bad('each anyOf entry must be an object');
    const r = a as Record<string, unknown>;
    if (typeof r['authority'] !== 'string') bad('each anyOf entry needs an authority URL');
    if ('anyOf' in r === 'allOf' in r) bad(`authority ${r['authority']}: exactly one of allOf, anyOf`);
    const kind = 'anyOf' in r ? 'anyOf' : 'allOf';
    return { authority: r['authority'], kind, of: parseConditions(r[kind], 1, count) };
  });
  return { version, anyOf };
}

/** Decodes Key Vault's `release_policy.data` (base64url of the policy JSON) and parses it. */
export function decodeReleasePolicyData(data: string): ReleasePolicy {
  if (data.length > (MAX_RELEASE_POLICY_BYTES * 4) / 3 + 4) bad(`larger than ${MAX_RELEASE_POLICY_BYTES} bytes`);
  const text = Buffer.from(data, 'base64url').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    bad('data is not base64url of JSON');
  }
  return parseReleasePolicy(json);
}

/** The value at a dotted claim name; a literal key containing dots wins over the path. */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === undefined) return '(missing)';
  const s = typeof v === 'string' ? JSON.stringify(v) : isScalar(v) ? String(v) : `(${Array.isArray(v) ? 'array' : typeof v})`;
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

type Failure = Extract<ReleaseDecision, { ok: false }>;

function check(c: Condition, claims: Readonly<Record<string, unknown>>): Failure | undefined {
  if (c.kind === 'claim') {
    const actual = claimAt(claims, c.claim);
    // Strict equality on JSON scalars; strings compare case-sensitively (hex claims are lower-case).
    if (actual === c.equals) return undefined;
    return {
      ok: false,
      rule: 'claim',
      claim: c.claim,
      expected: c.equals,
      actual: show(actual),
      message: `claim ${c.claim} is ${show(actual)}, the policy requires ${show(c.equals)}`,
    };
  }
  if (c.kind === 'allOf') {
    for (const x of c.of) {
      const f = check(x, claims);
      if (f !== undefined) return f;
    }
    return undefined;
  }
  let first: Failure | undefined;
  for (const x of c.of) {
    const f = check(x, claims);
    if (f === undefined) return undefined;
    first ??= f;
  }
  return first === undefined ? undefined : { ...first, message: `none of anyOf holds; first: ${first.message}` };
}

/** Holds `claims` (of a token whose signature, iss, exp and nbf are verified) to the policy. */
export function evaluateReleasePolicy(policy: ReleasePolicy, claims: Readonly<Record<string, unknown>>): ReleaseDecision {
  const iss = typeof claims['iss'] === 'string' ? normaliseAuthority(claims['iss']) : '';
  const branches = policy.anyOf.filter((a) => normaliseAuthority(a.authority) === iss);
  if (branches.length === 0) {
    return {
      ok: false,
      rule: 'authority',
      actual: show(claims['iss']),
      message: `the token's issuer ${show(claims['iss'])} is not an authority of this key's release policy`,
    };
  }
  let first: Failure | undefined;
  for (const b of branches) {
    const f = check({ kind: b.kind, of: b.of }, claims);
    if (f === undefined) return { ok: true, authority: b.authority };
    first ??= f;
  }
  return first!;
}
