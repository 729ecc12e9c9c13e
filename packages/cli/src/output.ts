/**
 * How commands report: JSON on stdout with --json, readable text otherwise; failures carry a stable code. One style
 * for every block of facts (`row`: two-space indent, labels padded to one width) and one for an enclave's identity
 * (`identityOf`, `identityBlock`): the same field names — @cloister/dcap's claim names, the one vocabulary of
 * docs/attestation/policy.md — in the text of `verify`, `quote inspect`, `ratls inspect|verify` and as the keys of
 * their `--json` `identity` object.
 */
import { enclaveIdentity, type EnclaveIdentity, type PolicyDecision } from '@cloister/policy';
import { exitCodeFor, hintFor } from './errors.js';

export interface Failure {
  readonly code: string;
  readonly message: string;
  /** PolicyError POLICY_MISMATCH: the failed rule, what the policy accepts and what the evidence says. */
  readonly rule?: string;
  readonly expected?: string;
  readonly actual?: string;
  /** PolicyError POLICY_INVALID: the offending policy key. */
  readonly key?: string;
  /** What the user can do about it, for codes that have a hint (errors.ts hintFor). */
  readonly hint?: string;
}

/** The typed errors of Cloister's packages, each with a stable string `code` (checked by name: no package is loaded). */
const TYPED_ERRORS: ReadonlySet<string> = new Set(['CliError', 'DcapError', 'SimError', 'AgentError', 'EnclaveError', 'RatlsError', 'PolicyError']);

export function failureOf(e: unknown): Failure | undefined {
  if (e instanceof Error && TYPED_ERRORS.has(e.name) && typeof (e as { code?: unknown }).code === 'string') {
    const x = e as Error & { code: string; rule?: unknown; expected?: unknown; actual?: unknown; key?: unknown };
    const field = (k: 'rule' | 'expected' | 'actual' | 'key') => (typeof x[k] === 'string' ? { [k]: x[k] as string } : {});
    const hint = hintFor(x.code);
    return {
      code: x.code,
      message: e.message,
      ...field('rule'),
      ...field('expected'),
      ...field('actual'),
      ...field('key'),
      ...(hint !== undefined ? { hint } : {}),
    };
  }
  return undefined;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Report a failure and set exit code 1 (2 for a usage mistake). Unknown exceptions propagate (a bug, not bad input). */
export function reportFailure(e: unknown, json: boolean): void {
  const f = failureOf(e);
  if (f === undefined) throw e;
  if (json) printJson({ ok: false, error: f });
  else process.stderr.write(`error ${f.code}: ${f.message}\n${f.hint !== undefined ? `hint: ${f.hint}\n` : ''}`);
  // Usage mistakes (USAGE, INVALID_ARGUMENT, a malformed --policy) exit 2; failed / not verified 1 (errors.ts).
  process.exitCode = exitCodeFor(f.code);
}

// ---------------------------------------------------------------------------------------------------------------------
// Aligned blocks and identities

/** Label width of every aligned block. */
export const LABEL_WIDTH = 16;

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/** One aligned line: `  label           value`. */
export function row(label: string, value: unknown, indent = '  '): string {
  return `${indent}${label.padEnd(LABEL_WIDTH)}${text(value)}\n`;
}

/** A TDX trust domain's identity, in dcap's TDX claim names. */
export interface TdIdentity {
  readonly mrtd: string;
  readonly rtmr0: string;
  readonly rtmr1: string;
  readonly rtmr2: string;
  readonly rtmr3: string;
  readonly debug: boolean;
  readonly reportData: string;
}

/** The identity fields of a quote's claims: SGX → mrenclave, mrsigner, isvProdId, isvSvn, debug, reportData. */
export function identityOf(teeType: string, claims: Readonly<Record<string, unknown>>): EnclaveIdentity | TdIdentity {
  if (teeType === 'SGX') return enclaveIdentity(claims);
  const s = (k: string): string => String(claims[k] ?? '');
  return { mrtd: s('mrtd'), rtmr0: s('rtmr0'), rtmr1: s('rtmr1'), rtmr2: s('rtmr2'), rtmr3: s('rtmr3'), debug: claims['debug'] === true, reportData: s('reportData') };
}

/** The identity as an aligned block, its field names as labels (the same keys as in `--json`). */
export function identityBlock(identity: EnclaveIdentity | TdIdentity, indent = '  '): string {
  return Object.entries(identity)
    .map(([k, v]) => row(k, v, indent))
    .join('');
}

/** The policy decision as lines: the verdict, each opt-in in force, the skipped rules. */
export function policyBlock(decision: PolicyDecision | undefined, indent = '  '): string {
  if (decision === undefined) return row('policy', 'none: the identity was not checked (give --policy)', indent);
  const skipped = decision.checks.filter((c) => c.outcome === 'skip').map((c) => c.rule);
  let out = row('policy', `${decision.ok ? 'satisfied' : 'REFUSED'}: ${decision.checks.length - skipped.length} rules checked`, indent);
  for (const c of decision.checks) if (c.expected !== 'any' && c.outcome !== 'skip') out += row(`  ${c.rule}`, `${c.outcome} (${c.expected})`, indent);
  if (skipped.length > 0) out += row('not evaluated', skipped.join(', '), indent);
  for (const o of decision.optIns) out += row('opt-in', `${o.option}=${o.value}${o.used ? ' (needed by this evidence)' : ''}`, indent);
  return out;
}
