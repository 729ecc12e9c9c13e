/**
 * The one place an enclave policy is held against verified evidence. `decidePolicy` checks every rule and returns the
 * decision (services log it, or apply only the evidence rules); `evaluatePolicy` throws PolicyError POLICY_MISMATCH
 * naming the first failed rule (in POLICY_RULES order) and returns the decision when all pass.
 *
 * Defaults fail closed: debug enclaves, simulated evidence, and any TCB status but UpToDate are refused unless the
 * policy opts in, and every opt-in in force is listed in the decision. Evidence without a TCB status fails the
 * tcbStatus rule unless the caller states that it verified provenance only (`tcbNotEvaluated`).
 */
import { PolicyError } from './errors.js';
import { parseEvidenceRules, parsePolicy } from './schema.js';
import type {
  EnclavePolicy,
  EvidenceRules,
  EvidenceRulesInput,
  Policy,
  PolicyDecision,
  PolicyEvidence,
  PolicyOptIn,
  PolicyRule,
  RuleCheck,
} from './types.js';

const ANY = 'any';

function str(claims: PolicyEvidence['claims'], name: string): string | undefined {
  const v = claims[name];
  return typeof v === 'string' ? v.toLowerCase() : undefined;
}

function num(claims: PolicyEvidence['claims'], name: string): number | undefined {
  const v = claims[name];
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

/** Evidence values as shown in a check (bounded: a message never carries more than 200 characters of one value). */
function shown(v: string | number | boolean | undefined): string {
  if (v === undefined) return '(absent)';
  const t = String(v);
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

function check(rule: PolicyRule, pass: boolean, expected: string, actual: string): RuleCheck {
  return Object.freeze({ rule, outcome: pass ? 'pass' : 'fail', expected, actual });
}

function simulatedAndDebug(p: EvidenceRules, evidence: PolicyEvidence, checks: RuleCheck[], optIns: PolicyOptIn[]): void {
  const simulated = evidence.simulated !== false;
  checks.push(check('simulated', !simulated || p.allowSimulated, p.allowSimulated ? 'any (allowSimulated)' : 'false', String(simulated)));
  if (p.allowSimulated) optIns.push({ option: 'allowSimulated', value: 'true', used: simulated });

  const debug = evidence.claims['debug'];
  const isDebug = debug !== false;
  checks.push(check('debug', !isDebug || p.allowDebug, p.allowDebug ? 'any (allowDebug)' : 'false', shown(debug)));
  if (p.allowDebug) optIns.push({ option: 'allowDebug', value: 'true', used: isDebug });
}

function tcb(p: EvidenceRules, evidence: PolicyEvidence, checks: RuleCheck[], optIns: PolicyOptIn[]): void {
  const nonDefaultStatuses = p.acceptedTcbStatuses.filter((s) => s !== 'UpToDate');
  const advisories = (evidence.advisoryIds ?? []).map((a) => a.toUpperCase());
  if (evidence.status === undefined && evidence.tcbNotEvaluated === true) {
    checks.push(Object.freeze({ rule: 'tcbStatus', outcome: 'skip', expected: p.acceptedTcbStatuses.join(' | '), actual: 'not evaluated (no collateral)' }));
    checks.push(Object.freeze({ rule: 'advisories', outcome: 'skip', expected: p.acceptedAdvisories.join(' | ') || 'none', actual: 'not evaluated (no collateral)' }));
    optIns.push({ option: 'tcbNotEvaluated', value: 'true', used: true });
  } else {
    const status = evidence.status;
    checks.push(check('tcbStatus', status !== undefined && p.acceptedTcbStatuses.includes(status), p.acceptedTcbStatuses.join(' | '), shown(status)));
    const refused = status === 'UpToDate' ? [] : advisories.filter((a) => !p.acceptedAdvisories.includes(a));
    checks.push(
      check('advisories', refused.length === 0, p.acceptedAdvisories.join(' | ') || 'none', shown(refused.length > 0 ? refused.join(', ') : advisories.join(', ') || 'none')),
    );
  }
  if (nonDefaultStatuses.length > 0) {
    optIns.push({ option: 'acceptedTcbStatuses', value: nonDefaultStatuses.join(','), used: evidence.status !== undefined && nonDefaultStatuses.includes(evidence.status) });
  }
  if (p.acceptedAdvisories.length > 0) {
    optIns.push({
      option: 'acceptedAdvisories',
      value: p.acceptedAdvisories.join(','),
      used: evidence.status !== undefined && evidence.status !== 'UpToDate' && advisories.some((a) => p.acceptedAdvisories.includes(a)),
    });
  }
}

function decision(checks: RuleCheck[], optIns: PolicyOptIn[]): PolicyDecision {
  const failures = checks.filter((k) => k.outcome === 'fail');
  return Object.freeze({
    ok: failures.length === 0,
    checks: Object.freeze(checks),
    failures: Object.freeze(failures),
    optIns: Object.freeze(optIns.map((o) => Object.freeze(o))),
  });
}

/** Check every rule of `policy` against `evidence`; never throws for evidence (POLICY_INVALID for a bad policy). */
export function decidePolicy(policy: Policy | EnclavePolicy, evidence: PolicyEvidence): PolicyDecision {
  const p = parsePolicy(policy);
  const c = evidence.claims;
  const checks: RuleCheck[] = [];
  const optIns: PolicyOptIn[] = [];

  checks.push(check('teeType', evidence.teeType === 'SGX', 'SGX', shown(evidence.teeType)));
  simulatedAndDebug(p, evidence, checks, optIns);

  const mrenclave = str(c, 'mrenclave');
  checks.push(
    p.mrenclave === undefined
      ? check('mrenclave', true, ANY, shown(mrenclave))
      : check('mrenclave', mrenclave !== undefined && p.mrenclave.includes(mrenclave), p.mrenclave.join(' | '), shown(mrenclave)),
  );

  const mrsigner = str(c, 'mrsigner');
  checks.push(
    p.mrsigner === undefined
      ? check('mrsigner', true, ANY, shown(mrsigner))
      : check('mrsigner', mrsigner === p.mrsigner, p.mrsigner, shown(mrsigner)),
  );

  const isvProdId = num(c, 'isvProdId');
  checks.push(
    p.isvProdId === undefined
      ? check('isvProdId', true, ANY, shown(isvProdId))
      : check('isvProdId', isvProdId === p.isvProdId, String(p.isvProdId), shown(isvProdId)),
  );

  const isvSvn = num(c, 'isvSvn');
  checks.push(check('isvSvn', isvSvn !== undefined && isvSvn >= p.minIsvSvn, `>= ${p.minIsvSvn}`, shown(isvSvn)));

  tcb(p, evidence, checks, optIns);

  const reportData = str(c, 'reportData');
  if (p.reportData === undefined) checks.push(check('reportData', true, ANY, shown(reportData)));
  else {
    const prefix = reportData?.slice(0, p.reportData.length);
    checks.push(check('reportData', prefix === p.reportData, `${p.reportData}${p.reportData.length < 128 ? '…' : ''}`, shown(prefix)));
  }
  return decision(checks, optIns);
}

/**
 * The evidence rules alone — simulated, debug, tcbStatus, advisories, in that order — for services whose own policy
 * language names the enclave (an MAA policy, an AKV release policy): the same checks, defaults and opt-ins as an
 * enclave policy, for SGX or TDX evidence. Never throws for evidence (POLICY_INVALID for malformed rules).
 */
export function decideEvidenceRules(rules: EvidenceRules | EvidenceRulesInput, evidence: PolicyEvidence): PolicyDecision {
  const p = parseEvidenceRules(rules);
  const checks: RuleCheck[] = [];
  const optIns: PolicyOptIn[] = [];
  simulatedAndDebug(p, evidence, checks, optIns);
  tcb(p, evidence, checks, optIns);
  return decision(checks, optIns);
}

/** decideEvidenceRules that throws PolicyError POLICY_MISMATCH (`rule`) on the first failed rule. */
export function evaluateEvidenceRules(rules: EvidenceRules | EvidenceRulesInput, evidence: PolicyEvidence): PolicyDecision {
  const d = decideEvidenceRules(rules, evidence);
  if (!d.ok) throw mismatchError(d);
  return d;
}

const EXPLAIN: Record<PolicyRule, (k: RuleCheck) => string> = {
  teeType: (k) => `this is a ${k.actual} quote; enclave policies apply to SGX quotes only`,
  simulated: () => "the quote chains to a root that is not Intel's (simulated evidence proves nothing about SGX hardware); set allowSimulated to accept it",
  debug: () => 'the enclave is a debug enclave (its memory is readable by the host); set allowDebug to accept it',
  mrenclave: (k) => `mrenclave ${k.actual} is not ${k.expected}`,
  mrsigner: (k) => `mrsigner ${k.actual} is not ${k.expected}`,
  isvProdId: (k) => `isvProdId ${k.actual} is not ${k.expected}`,
  isvSvn: (k) => `isvSvn ${k.actual} is not ${k.expected}`,
  tcbStatus: (k) => `TCB status ${k.actual} is not one of ${k.expected} (acceptedTcbStatuses)`,
  advisories: (k) => `advisories ${k.actual} are not accepted (acceptedAdvisories: ${k.expected})`,
  reportData: (k) => `reportData starts with ${k.actual}, expected ${k.expected}`,
};

/** The error for a failed decision: POLICY_MISMATCH naming the first failed rule, the decision attached. */
export function mismatchError(decision: PolicyDecision): PolicyError {
  const first = decision.failures[0];
  if (first === undefined) throw new TypeError('mismatchError: the decision has no failure');
  const more = decision.failures.length > 1 ? ` (also failed: ${decision.failures.slice(1).map((f) => f.rule).join(', ')})` : '';
  return new PolicyError('POLICY_MISMATCH', `policy rule ${first.rule}: ${EXPLAIN[first.rule](first)}${more}`, {
    rule: first.rule,
    expected: first.expected,
    actual: first.actual,
    decision,
  });
}

/** Hold `evidence` to `policy`: the decision when every rule passes, else PolicyError POLICY_MISMATCH (`rule`). */
export function evaluatePolicy(policy: Policy | EnclavePolicy, evidence: PolicyEvidence): PolicyDecision {
  const decision = decidePolicy(policy, evidence);
  if (!decision.ok) throw mismatchError(decision);
  return decision;
}
