/**
 * Strict validation of an enclave policy. Whatever the input (parsed JSON from a file, a flag, a request body, or an
 * object built in code), the result is either a frozen, normalized {@link Policy} or a PolicyError POLICY_INVALID
 * naming the offending key: unknown keys (a misspelt `mrenclaev` would otherwise silently accept any enclave), wrong
 * types, bad hex lengths, unknown TCB statuses, and a policy with no identity rule (`{}`) are all refused.
 * Bounded: at most MAX_POLICY_JSON characters of JSON and MAX_LIST_ENTRIES entries per list.
 */
import { TCB_STATUSES } from '@cloister/dcap';
import { PolicyError } from './errors.js';
import type { EnclavePolicy, EvidenceRules, Policy } from './types.js';

/** The keys a policy may have; anything else is refused. */
export const POLICY_KEYS = [
  'mrenclave',
  'mrsigner',
  'isvProdId',
  'minIsvSvn',
  'allowDebug',
  'acceptedTcbStatuses',
  'acceptedAdvisories',
  'allowSimulated',
  'reportData',
] as const;

/** The keys of the evidence rules alone (parseEvidenceRules): what services reuse beside their own claim rules. */
export const EVIDENCE_RULE_KEYS = ['allowDebug', 'acceptedTcbStatuses', 'acceptedAdvisories', 'allowSimulated'] as const;

export const DEFAULT_ACCEPTED_TCB_STATUSES: readonly string[] = Object.freeze(['UpToDate']);

/** Longest policy JSON text parsePolicyJson reads. */
export const MAX_POLICY_JSON = 64 * 1024;
/** Most entries in `mrenclave`, `acceptedTcbStatuses` or `acceptedAdvisories`. */
export const MAX_LIST_ENTRIES = 256;

const KEYS: ReadonlySet<string> = new Set(POLICY_KEYS);
const EVIDENCE_KEYS: ReadonlySet<string> = new Set(EVIDENCE_RULE_KEYS);
const STATUSES: ReadonlySet<string> = new Set(TCB_STATUSES);
const HEX = /^(?:0x)?((?:[0-9a-fA-F]{2})+)$/;
/** Intel advisory IDs look like INTEL-SA-00334 or INTEL-DOC-00001. */
const ADVISORY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const parsedPolicies = new WeakSet<object>();
const parsedRules = new WeakSet<object>();

function invalid(key: string, message: string): never {
  throw new PolicyError('POLICY_INVALID', `invalid policy: ${key === '$' ? '' : `${key}: `}${message}`, { key });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Hex of exactly `bytes` bytes (optional 0x, any case) → lower-case hex. */
function hexOf(value: unknown, key: string, bytes: number): string {
  const m = typeof value === 'string' ? HEX.exec(value) : null;
  const hex = m?.[1];
  if (hex === undefined || hex.length !== bytes * 2) invalid(key, `must be ${bytes} bytes of hex (${bytes * 2} hex digits)`);
  return hex.toLowerCase();
}

function u16(value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) {
    invalid(key, 'must be an integer 0..65535');
  }
  return value;
}

function bool(value: unknown, key: string): boolean {
  if (typeof value !== 'boolean') invalid(key, 'must be true or false');
  return value;
}

function list(value: unknown, key: string): readonly unknown[] {
  if (!Array.isArray(value)) invalid(key, 'must be a list');
  if (value.length === 0) invalid(key, 'must not be empty');
  if (value.length > MAX_LIST_ENTRIES) invalid(key, `must have at most ${MAX_LIST_ENTRIES} entries`);
  return value as readonly unknown[];
}

function reportDataOf(value: unknown): string {
  if (value instanceof Uint8Array) {
    if (value.length < 1 || value.length > 64) invalid('reportData', 'must be 1..64 bytes');
    let hex = '';
    for (const b of value) hex += b.toString(16).padStart(2, '0');
    return hex;
  }
  const m = typeof value === 'string' ? HEX.exec(value) : null;
  const hex = m?.[1];
  if (hex === undefined || hex.length > 128) invalid('reportData', 'must be 1..64 bytes of hex (a prefix of REPORTDATA)');
  return hex.toLowerCase();
}

function objectWithKeys(input: unknown, keys: ReadonlySet<string>, what: string): Record<string, unknown> {
  if (!isPlainObject(input)) invalid('$', `${what} is a JSON object`);
  for (const key of Object.keys(input)) {
    if (!keys.has(key)) invalid(key, `unknown key (${what} has: ${[...keys].join(', ')})`);
  }
  return input;
}

/** The evidence rules of an object whose keys were checked (defaults: fail closed). */
function evidenceRulesOf(p: Record<string, unknown>): EvidenceRules {
  const present = (k: string): boolean => p[k] !== undefined;
  const allowDebug = present('allowDebug') ? bool(p['allowDebug'], 'allowDebug') : false;
  const allowSimulated = present('allowSimulated') ? bool(p['allowSimulated'], 'allowSimulated') : false;
  let acceptedTcbStatuses = DEFAULT_ACCEPTED_TCB_STATUSES;
  if (present('acceptedTcbStatuses')) {
    acceptedTcbStatuses = list(p['acceptedTcbStatuses'], 'acceptedTcbStatuses').map((s, i) => {
      if (typeof s !== 'string' || !STATUSES.has(s)) invalid(`acceptedTcbStatuses[${i}]`, `must be one of ${TCB_STATUSES.join(', ')}`);
      return s;
    });
  }
  let acceptedAdvisories: readonly string[] = [];
  if (present('acceptedAdvisories')) {
    acceptedAdvisories = list(p['acceptedAdvisories'], 'acceptedAdvisories').map((a, i) => {
      if (typeof a !== 'string' || !ADVISORY.test(a)) invalid(`acceptedAdvisories[${i}]`, 'must be an advisory ID such as INTEL-SA-00334');
      return a.toUpperCase();
    });
  }
  return {
    allowDebug,
    acceptedTcbStatuses: Object.freeze([...new Set(acceptedTcbStatuses)]),
    acceptedAdvisories: Object.freeze([...new Set(acceptedAdvisories)]),
    allowSimulated,
  };
}

/**
 * Validate the evidence rules alone — `allowDebug`, `acceptedTcbStatuses`, `acceptedAdvisories`, `allowSimulated`,
 * nothing else — for a service that applies its own claim rules (an MAA or AKV release policy) and reuses these with
 * decideEvidenceRules. PolicyError POLICY_INVALID (with `key`) as for parsePolicy.
 */
export function parseEvidenceRules(input: unknown): EvidenceRules {
  if (typeof input === 'object' && input !== null && parsedRules.has(input)) return input as EvidenceRules;
  const rules: EvidenceRules = Object.freeze(evidenceRulesOf(objectWithKeys(input, EVIDENCE_KEYS, 'evidence rules')));
  parsedRules.add(rules);
  return rules;
}

/** Validate `input` as an enclave policy. Throws PolicyError POLICY_INVALID (with `key`) when it is not one. */
export function parsePolicy(input: unknown): Policy {
  if (typeof input === 'object' && input !== null && parsedPolicies.has(input)) return input as Policy;
  const p = objectWithKeys(input, KEYS, 'a policy');
  const present = (k: string): boolean => p[k] !== undefined;

  if (!present('mrenclave') && !present('mrsigner')) {
    invalid('mrenclave', 'a policy must name the accepted enclave: mrenclave, or mrsigner with isvProdId');
  }
  let mrenclave: string[] | undefined;
  if (present('mrenclave')) {
    const v = p['mrenclave'];
    mrenclave = typeof v === 'string' ? [hexOf(v, 'mrenclave', 32)] : list(v, 'mrenclave').map((m, i) => hexOf(m, `mrenclave[${i}]`, 32));
  }
  const mrsigner = present('mrsigner') ? hexOf(p['mrsigner'], 'mrsigner', 32) : undefined;
  const isvProdId = present('isvProdId') ? u16(p['isvProdId'], 'isvProdId') : undefined;
  if (mrsigner !== undefined && mrenclave === undefined && isvProdId === undefined) {
    invalid('isvProdId', 'mrsigner needs isvProdId (one signer signs many products) unless mrenclave is pinned too');
  }
  const minIsvSvn = present('minIsvSvn') ? u16(p['minIsvSvn'], 'minIsvSvn') : 0;
  const rules = evidenceRulesOf(p);
  const reportData = present('reportData') ? reportDataOf(p['reportData']) : undefined;

  const policy: Policy = Object.freeze({
    mrenclave: mrenclave === undefined ? undefined : Object.freeze([...new Set(mrenclave)]),
    mrsigner,
    isvProdId,
    minIsvSvn,
    ...rules,
    reportData,
  });
  parsedPolicies.add(policy);
  return policy;
}

/** Parse JSON text (a file, a flag, a request body) and validate it: PolicyError POLICY_INVALID for both kinds of fault. */
export function parsePolicyJson(text: string): Policy {
  if (typeof text !== 'string') invalid('$', 'policy JSON must be text');
  if (text.length > MAX_POLICY_JSON) invalid('$', `policy JSON is longer than ${MAX_POLICY_JSON} characters`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    invalid('$', 'not valid JSON');
  }
  return parsePolicy(value);
}

/** The policy as JSON (the same schema parsePolicy reads; defaults written out so that a reader sees them). */
export function policyToJson(policy: Policy | EnclavePolicy): Record<string, unknown> {
  const p = parsePolicy(policy);
  const out: Record<string, unknown> = {};
  if (p.mrenclave !== undefined) out['mrenclave'] = p.mrenclave.length === 1 ? p.mrenclave[0] : [...p.mrenclave];
  if (p.mrsigner !== undefined) out['mrsigner'] = p.mrsigner;
  if (p.isvProdId !== undefined) out['isvProdId'] = p.isvProdId;
  out['minIsvSvn'] = p.minIsvSvn;
  out['allowDebug'] = p.allowDebug;
  out['acceptedTcbStatuses'] = [...p.acceptedTcbStatuses];
  if (p.acceptedAdvisories.length > 0) out['acceptedAdvisories'] = [...p.acceptedAdvisories];
  out['allowSimulated'] = p.allowSimulated;
  if (p.reportData !== undefined) out['reportData'] = p.reportData;
  return out;
}
