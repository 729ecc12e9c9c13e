/**
 * Random input never escapes the typed errors: parsePolicy on arbitrary JSON (and on near-policies built from the real
 * keys with random values) either returns a policy or throws PolicyError POLICY_INVALID with a key; a parsed policy
 * held against random evidence either passes or throws PolicyError POLICY_MISMATCH whose rule is the decision's first
 * failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { POLICY_RULES, PolicyError, decidePolicy, parseEvidenceRules, evaluatePolicy, parsePolicy, parsePolicyJson, policyToJson, type Policy, type PolicyEvidence } from '../src/index.js';

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  hex(32),
  fc.array(hex(32), { maxLength: 3 }),
  fc.integer({ min: -2, max: 70000 }),
  fc.boolean(),
  fc.constantFrom(['UpToDate'], ['SWHardeningNeeded', 'OutOfDate'], ['INTEL-SA-00334'], 'ab', ''),
);
const junkKey = fc.oneof(fc.constantFrom('mrenclaev', 'productId', '__proto__', 'allowdebug'), fc.string({ maxLength: 8 }));
/** Each key: usually a valid value, sometimes any value; sometimes a misspelt or unknown key besides. */
const maybe = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: value });
const nearPolicy = fc
  .tuple(
    fc.record(
      {
        mrenclave: maybe(fc.oneof(hex(32), fc.array(hex(32), { minLength: 1, maxLength: 3 }))),
        mrsigner: maybe(hex(32)),
        isvProdId: maybe(fc.integer({ min: 0, max: 0xffff })),
        minIsvSvn: maybe(fc.integer({ min: 0, max: 0xffff })),
        allowDebug: maybe(fc.boolean()),
        allowSimulated: maybe(fc.boolean()),
        acceptedTcbStatuses: maybe(fc.subarray(['UpToDate', 'SWHardeningNeeded', 'OutOfDate', 'Revoked'], { minLength: 1 })),
        acceptedAdvisories: maybe(fc.array(fc.integer({ min: 0, max: 99999 }).map((n) => `INTEL-SA-${String(n).padStart(5, '0')}`), { minLength: 1, maxLength: 3 })),
        reportData: maybe(fc.integer({ min: 1, max: 64 }).chain(hex)),
      },
      { requiredKeys: [] },
    ),
    fc.option(fc.dictionary(junkKey, value, { minKeys: 1, maxKeys: 2 }), { freq: 5 }),
  )
  .map(([known, junk]) => (junk === null ? known : { ...known, ...junk }));

function parseOrInvalid(input: unknown): Policy | undefined {
  try {
    return parsePolicy(input);
  } catch (e) {
    assert.ok(PolicyError.is(e), `not a PolicyError: ${String(e)}`);
    assert.equal(e.code, 'POLICY_INVALID');
    assert.equal(typeof e.key, 'string');
    return undefined;
  }
}

test('random JSON → a policy or POLICY_INVALID, nothing else', () => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => void parseOrInvalid(v)), { numRuns: 400 });
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => {
      try {
        parseEvidenceRules(v);
      } catch (e) {
        assert.ok(PolicyError.is(e) && e.code === 'POLICY_INVALID' && typeof e.key === 'string', String(e));
      }
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      try {
        parsePolicyJson(s);
      } catch (e) {
        assert.ok(PolicyError.is(e) && e.code === 'POLICY_INVALID', String(e));
      }
    }),
    { numRuns: 300 },
  );
});

test('near-policies: accepted ones round-trip through policyToJson; refused ones name a key', () => {
  let accepted = 0;
  fc.assert(
    fc.property(nearPolicy, (v) => {
      const p = parseOrInvalid(v);
      if (p === undefined) return;
      accepted++;
      assert.deepEqual(parsePolicy(JSON.parse(JSON.stringify(policyToJson(p)))), p);
    }),
    { numRuns: 600 },
  );
  assert.ok(accepted > 0, 'some random policies are valid');
});

const evidence: fc.Arbitrary<PolicyEvidence> = fc.record({
  teeType: fc.constantFrom('SGX', 'TDX'),
  simulated: fc.boolean(),
  status: fc.constantFrom('UpToDate', 'SWHardeningNeeded', 'OutOfDate', 'Revoked'),
  advisoryIds: fc.array(fc.constantFrom('INTEL-SA-00334', 'INTEL-SA-00615'), { maxLength: 2 }),
  claims: fc.record({
    mrenclave: hex(32),
    mrsigner: hex(32),
    isvProdId: fc.integer({ min: 0, max: 3 }),
    isvSvn: fc.integer({ min: 0, max: 3 }),
    debug: fc.boolean(),
    reportData: hex(64),
  }),
});

test('random evidence → the decision or POLICY_MISMATCH naming its first failed rule', () => {
  const policy = fc.record(
    {
      mrenclave: fc.oneof(hex(32), fc.array(hex(32), { minLength: 1, maxLength: 2 })),
      isvProdId: fc.integer({ min: 0, max: 3 }),
      minIsvSvn: fc.integer({ min: 0, max: 3 }),
      allowDebug: fc.boolean(),
      allowSimulated: fc.boolean(),
      acceptedTcbStatuses: fc.constantFrom(['UpToDate'], ['UpToDate', 'SWHardeningNeeded'], ['OutOfDate']),
    },
    { requiredKeys: ['mrenclave'] },
  );
  fc.assert(
    fc.property(policy, evidence, fc.boolean(), (pol, ev, pin) => {
      const p = pin ? { ...pol, mrenclave: ev.claims['mrenclave'] as string } : pol;
      const d = decidePolicy(p, ev);
      try {
        assert.deepEqual(evaluatePolicy(p, ev), d);
        assert.equal(d.ok, true);
      } catch (e) {
        assert.ok(PolicyError.is(e) && e.code === 'POLICY_MISMATCH', String(e));
        assert.ok(POLICY_RULES.includes(e.rule!));
        assert.equal(e.rule, d.failures[0]?.rule);
      }
    }),
    { numRuns: 400 },
  );
});
