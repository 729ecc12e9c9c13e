/**
 * The policy engine on its own: strict parsing (misspelt key, empty policy, wrong types, bad hex lengths), evaluation
 * of every rule against the real Intel quote of the corpus (Phala-Network/dcap-qvl sample, verified by @cloister/dcap:
 * ConfigurationAndSWHardeningNeeded with INTEL-SA-00289 and INTEL-SA-00615), the decision form, and the fail-closed
 * defaults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyQuote, type VerificationResult } from '@cloister/dcap';
import { loadDcapCases } from '@cloister/testkit';
import {
  PolicyError,
  decideEvidenceRules,
  decidePolicy,
  evaluateEvidenceRules,
  parseEvidenceRules,
  enclaveIdentity,
  evaluatePolicy,
  identityFromMaaClaims,
  maaClaimsOf,
  parsePolicy,
  parsePolicyJson,
  policyToJson,
  type PolicyEvidence,
  type PolicyRule,
} from '../src/index.js';

const c = loadDcapCases().find((k) => k.json.id === 'dcapqvl-sgx-v3');
if (c === undefined || c.collateralText === undefined) throw new Error('corpus case dcapqvl-sgx-v3 is missing');
const MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';
const MRSIGNER = '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6';
const HELLO = Buffer.from('Hello, world!').toString('hex');
const STATUS_OK = { acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'], acceptedAdvisories: ['INTEL-SA-00289', 'INTEL-SA-00615'] };

let verified: VerificationResult | undefined;
async function realEvidence(): Promise<VerificationResult> {
  verified ??= await verifyQuote(c!.quote, c!.collateralText, { now: c!.json.now });
  return verified;
}

function invalid(input: unknown, key: string): void {
  assert.throws(
    () => parsePolicy(input),
    (e) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === key,
    `expected POLICY_INVALID at ${key} for ${JSON.stringify(input)}`,
  );
}

function mismatch(fn: () => unknown, rule: PolicyRule): PolicyError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(PolicyError.is(caught), `expected a PolicyError, got ${String(caught)}`);
  assert.equal(caught.code, 'POLICY_MISMATCH');
  assert.equal(caught.rule, rule, caught.message);
  return caught;
}

test('parsePolicy refuses a misspelt key, naming it', () => {
  invalid({ mrenclaev: MRENCLAVE }, 'mrenclaev');
  invalid({ mrenclave: MRENCLAVE, allowdebug: true }, 'allowdebug');
  invalid({ mrenclave: MRENCLAVE, productId: 1 }, 'productId');
  invalid(JSON.parse(`{"mrenclave":"${MRENCLAVE}","__proto__":{"allowDebug":true}}`), '__proto__');
});

test('parsePolicy refuses a policy without an identity rule ({} and only evidence rules)', () => {
  invalid({}, 'mrenclave');
  invalid({ allowSimulated: true, acceptedTcbStatuses: ['UpToDate'] }, 'mrenclave');
  invalid({ isvProdId: 1, minIsvSvn: 2 }, 'mrenclave');
  invalid({ mrsigner: MRSIGNER }, 'isvProdId');
});

test('parsePolicy refuses wrong types, bad hex lengths, unknown statuses, empty or oversized lists', () => {
  for (const v of [null, [], 'mrenclave', 7, new Uint8Array(32), new Map()]) invalid(v, '$');
  invalid({ mrenclave: MRENCLAVE.slice(2) }, 'mrenclave');
  invalid({ mrenclave: `${MRENCLAVE}00` }, 'mrenclave');
  invalid({ mrenclave: 'zz'.repeat(32) }, 'mrenclave');
  invalid({ mrenclave: [MRENCLAVE, 'ab'] }, 'mrenclave[1]');
  invalid({ mrenclave: [] }, 'mrenclave');
  invalid({ mrenclave: Array.from({ length: 257 }, () => MRENCLAVE) }, 'mrenclave');
  invalid({ mrsigner: 42, isvProdId: 0 }, 'mrsigner');
  invalid({ mrsigner: MRSIGNER, isvProdId: '0' }, 'isvProdId');
  invalid({ mrsigner: MRSIGNER, isvProdId: 1.5 }, 'isvProdId');
  invalid({ mrsigner: MRSIGNER, isvProdId: 65536 }, 'isvProdId');
  invalid({ mrenclave: MRENCLAVE, minIsvSvn: -1 }, 'minIsvSvn');
  invalid({ mrenclave: MRENCLAVE, allowDebug: 'yes' }, 'allowDebug');
  invalid({ mrenclave: MRENCLAVE, allowSimulated: 1 }, 'allowSimulated');
  invalid({ mrenclave: MRENCLAVE, acceptedTcbStatuses: 'UpToDate' }, 'acceptedTcbStatuses');
  invalid({ mrenclave: MRENCLAVE, acceptedTcbStatuses: ['UptoDate'] }, 'acceptedTcbStatuses[0]');
  invalid({ mrenclave: MRENCLAVE, acceptedTcbStatuses: [] }, 'acceptedTcbStatuses');
  invalid({ mrenclave: MRENCLAVE, acceptedAdvisories: ['INTEL SA 1'] }, 'acceptedAdvisories[0]');
  invalid({ mrenclave: MRENCLAVE, reportData: 'abc' }, 'reportData');
  invalid({ mrenclave: MRENCLAVE, reportData: '00'.repeat(65) }, 'reportData');
  invalid({ mrenclave: MRENCLAVE, reportData: new Uint8Array(0) }, 'reportData');
});

test('parsePolicy normalizes: 0x and upper-case hex, one MRENCLAVE or a list, defaults filled in, frozen', () => {
  const p = parsePolicy({ mrenclave: `0x${MRENCLAVE.toUpperCase()}` });
  assert.deepEqual(p.mrenclave, [MRENCLAVE]);
  assert.equal(p.allowDebug, false);
  assert.equal(p.allowSimulated, false);
  assert.deepEqual(p.acceptedTcbStatuses, ['UpToDate']);
  assert.deepEqual(p.acceptedAdvisories, []);
  assert.equal(p.minIsvSvn, 0);
  assert.ok(Object.isFrozen(p));
  assert.equal(parsePolicy(p), p, 'a parsed policy is returned as is');
  const q = parsePolicy({ mrsigner: MRSIGNER, isvProdId: 0, minIsvSvn: 0, acceptedAdvisories: ['intel-sa-00289'], reportData: new Uint8Array([1, 2]) });
  assert.deepEqual(q.acceptedAdvisories, ['INTEL-SA-00289']);
  assert.equal(q.reportData, '0102');
  assert.deepEqual(parsePolicy(policyToJson(q)), q, 'policyToJson writes what parsePolicy reads');
  assert.equal(parsePolicy({ mrenclave: MRENCLAVE, mrsigner: MRSIGNER }).isvProdId, undefined, 'mrsigner adds to a pinned mrenclave');
});

test('parsePolicyJson: invalid JSON and oversized text are POLICY_INVALID at $', () => {
  assert.throws(() => parsePolicyJson('{"mrenclave": '), (e) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === '$');
  assert.throws(() => parsePolicyJson(' '.repeat(70_000)), (e) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === '$');
  assert.deepEqual(parsePolicyJson(`{"mrenclave":"${MRENCLAVE}"}`).mrenclave, [MRENCLAVE]);
});

test('the real quote: right identity with its TCB opt-ins passes; wrong identity fails with rule mrenclave', async () => {
  const r = await realEvidence();
  assert.equal(r.simulated, false);
  const decision = evaluatePolicy({ mrenclave: MRENCLAVE, ...STATUS_OK }, r);
  assert.equal(decision.ok, true);
  assert.deepEqual(decision.checks.map((k) => k.rule), ['teeType', 'simulated', 'debug', 'mrenclave', 'mrsigner', 'isvProdId', 'isvSvn', 'tcbStatus', 'advisories', 'reportData']);
  assert.deepEqual(
    decision.optIns.map((o) => [o.option, o.used]),
    [['acceptedTcbStatuses', true], ['acceptedAdvisories', true]],
  );
  evaluatePolicy({ mrsigner: MRSIGNER, isvProdId: 0, ...STATUS_OK }, r);
  const e = mismatch(() => evaluatePolicy({ mrenclave: '00'.repeat(32), ...STATUS_OK }, r), 'mrenclave');
  assert.equal(e.actual, MRENCLAVE);
  assert.equal(e.expected, '00'.repeat(32));
  assert.match(e.message, /^policy rule mrenclave: /);
  assert.equal(e.decision?.ok, false);
});

test('the real quote: mrsigner, isvProdId, minIsvSvn, TCB status, advisories and reportData each fail alone', async () => {
  const r = await realEvidence();
  const base = { mrsigner: MRSIGNER, isvProdId: 0, ...STATUS_OK };
  mismatch(() => evaluatePolicy({ ...base, mrsigner: 'ab'.repeat(32) }, r), 'mrsigner');
  mismatch(() => evaluatePolicy({ ...base, isvProdId: 1 }, r), 'isvProdId');
  const svn = mismatch(() => evaluatePolicy({ ...base, minIsvSvn: 1 }, r), 'isvSvn');
  assert.equal(svn.expected, '>= 1');
  assert.equal(svn.actual, '0');
  const tcb = mismatch(() => evaluatePolicy({ mrenclave: MRENCLAVE }, r), 'tcbStatus');
  assert.equal(tcb.actual, 'ConfigurationAndSWHardeningNeeded');
  assert.deepEqual(tcb.decision?.failures.map((f) => f.rule), ['tcbStatus', 'advisories']);
  const adv = mismatch(() => evaluatePolicy({ ...base, acceptedAdvisories: ['INTEL-SA-00289'] }, r), 'advisories');
  assert.equal(adv.actual, 'INTEL-SA-00615');
  evaluatePolicy({ ...base, reportData: HELLO }, r);
  evaluatePolicy({ ...base, reportData: String(r.claims['reportData']) }, r);
  mismatch(() => evaluatePolicy({ ...base, reportData: Buffer.from('Hello, World!').toString('hex') }, r), 'reportData');
});

const sim = (over: Partial<PolicyEvidence> & { claims?: Record<string, string | number | boolean> } = {}): PolicyEvidence => ({
  teeType: 'SGX',
  simulated: true,
  status: 'UpToDate',
  advisoryIds: [],
  ...over,
  claims: { mrenclave: MRENCLAVE, mrsigner: MRSIGNER, isvProdId: 3, isvSvn: 5, debug: false, reportData: '00'.repeat(64), ...over.claims },
});

test('defaults fail closed: simulated, debug, non-UpToDate refused; each opt-in is visible in the decision', () => {
  mismatch(() => evaluatePolicy({ mrenclave: MRENCLAVE }, sim()), 'simulated');
  const d = evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true }, sim());
  assert.deepEqual(d.optIns, [{ option: 'allowSimulated', value: 'true', used: true }]);
  mismatch(() => evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true }, sim({ claims: { debug: true } })), 'debug');
  const dbg = evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true, allowDebug: true }, sim({ claims: { debug: true } }));
  assert.ok(dbg.optIns.some((o) => o.option === 'allowDebug' && o.used));
  const unused = evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true, allowDebug: true }, sim());
  assert.ok(unused.optIns.some((o) => o.option === 'allowDebug' && !o.used), 'an opt-in in force is listed even when unused');
  mismatch(() => evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true }, sim({ status: 'SWHardeningNeeded' })), 'tcbStatus');
  evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true, acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'] }, sim({ status: 'SWHardeningNeeded' }));
  // UpToDate carries no advisory refusal; missing facts fail closed.
  evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true }, sim({ advisoryIds: ['INTEL-SA-00615'] }));
  mismatch(() => evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true }, { ...sim(), status: undefined } as PolicyEvidence), 'tcbStatus');
  mismatch(() => evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true }, sim({ teeType: 'TDX' })), 'teeType');
  const noDebugClaim = sim();
  const { debug: _d, ...claims } = noDebugClaim.claims;
  mismatch(() => evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true }, { ...noDebugClaim, claims }), 'debug');
});

test('provenance-only evidence (tcbNotEvaluated) skips the TCB rules and says so', () => {
  const { status: _s, ...rest } = sim();
  const d = evaluatePolicy({ mrenclave: MRENCLAVE, allowSimulated: true }, { ...rest, tcbNotEvaluated: true });
  assert.deepEqual(d.checks.filter((k) => k.outcome === 'skip').map((k) => k.rule), ['tcbStatus', 'advisories']);
  assert.ok(d.optIns.some((o) => o.option === 'tcbNotEvaluated' && o.used));
});

test('decidePolicy checks every rule and does not throw on a mismatch', () => {
  const d = decidePolicy({ mrenclave: '11'.repeat(32), mrsigner: '22'.repeat(32), isvProdId: 9, minIsvSvn: 9, reportData: 'ff' }, sim({ claims: { debug: true }, status: 'Revoked', advisoryIds: ['INTEL-SA-00001'] }));
  assert.equal(d.ok, false);
  assert.deepEqual(d.failures.map((f) => f.rule), ['simulated', 'debug', 'mrenclave', 'mrsigner', 'isvProdId', 'isvSvn', 'tcbStatus', 'advisories', 'reportData']);
  assert.equal(d.checks.length, 10);
});

test('enclaveIdentity: the one vocabulary from dcap claims; TDX claims are refused', async () => {
  const r = await realEvidence();
  assert.deepEqual(enclaveIdentity(r.claims), {
    mrenclave: MRENCLAVE,
    mrsigner: MRSIGNER,
    isvProdId: 0,
    isvSvn: 0,
    debug: false,
    reportData: `${HELLO}${'00'.repeat(64 - 13)}`,
  });
  assert.throws(() => enclaveIdentity({ mrtd: 'ab', debug: false }), (e) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === 'claims.mrenclave');
});

test('evidence rules alone (for services with their own claim rules): the same checks, strict keys, no identity', async () => {
  const r = await realEvidence();
  assert.throws(() => parseEvidenceRules({ mrenclave: MRENCLAVE }), (e) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === 'mrenclave');
  assert.throws(() => parseEvidenceRules({ allowdebug: true }), (e) => PolicyError.is(e) && e.key === 'allowdebug');
  assert.deepEqual(parseEvidenceRules({}), { allowDebug: false, acceptedTcbStatuses: ['UpToDate'], acceptedAdvisories: [], allowSimulated: false });
  const d = decideEvidenceRules({}, r);
  assert.deepEqual(d.checks.map((k) => k.rule), ['simulated', 'debug', 'tcbStatus', 'advisories']);
  assert.deepEqual(d.failures.map((k) => k.rule), ['tcbStatus', 'advisories']);
  assert.throws(() => evaluateEvidenceRules({}, r), (e) => PolicyError.is(e) && e.code === 'POLICY_MISMATCH' && e.rule === 'tcbStatus');
  assert.equal(evaluateEvidenceRules(STATUS_OK, r).ok, true);
  // TDX evidence: the evidence rules apply (no teeType rule); the debug claim is TDATTRIBUTES.DEBUG.
  const tdx = { teeType: 'TDX', simulated: false, status: 'UpToDate', advisoryIds: [], claims: { mrtd: 'ab', debug: true } };
  assert.equal(decideEvidenceRules({}, tdx).failures[0]?.rule, 'debug');
  assert.equal(decideEvidenceRules({ allowDebug: true }, tdx).ok, true);
});

test('MAA claim names: an identity maps to x-ms-sgx-* claims and back; a mistyped claim is refused', async () => {
  const id = enclaveIdentity((await realEvidence()).claims);
  const maa = maaClaimsOf(id);
  assert.deepEqual(maa, {
    'x-ms-sgx-mrenclave': MRENCLAVE,
    'x-ms-sgx-mrsigner': MRSIGNER,
    'x-ms-sgx-product-id': 0,
    'x-ms-sgx-svn': 0,
    'x-ms-sgx-is-debuggable': false,
    'x-ms-sgx-report-data': id.reportData,
  });
  assert.deepEqual(identityFromMaaClaims(maa), id);
  assert.throws(
    () => identityFromMaaClaims({ ...maa, 'x-ms-sgx-svn': '0' }),
    (e) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === 'claims.x-ms-sgx-svn',
  );
  // A policy holds MAA-derived claims the same way.
  const claims = identityFromMaaClaims(maa);
  assert.equal(evaluatePolicy({ mrenclave: MRENCLAVE }, { teeType: 'SGX', claims, simulated: false, status: 'UpToDate' }).ok, true);
});
