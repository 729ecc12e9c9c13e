/** AKV release policies: parsing (grammar, bounds), evaluation with explained refusals, dotted claims, the old form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyBrokerError, claimAt, decodeReleasePolicyData, evaluateReleasePolicy, parseReleasePolicy } from '../src/index.js';

const MAA = 'https://sharedweu.weu.attest.azure.net';
const claims = {
  iss: MAA,
  'x-ms-attestation-type': 'sgx',
  'x-ms-sgx-mrsigner': 'bb'.repeat(32),
  'x-ms-sgx-is-debuggable': false,
  'x-ms-sgx-svn': 2,
  'x-ms-isolation-tee': { 'x-ms-attestation-type': 'sevsnpvm' },
};

test('allOf under the token authority: granted; a failing claim names itself', () => {
  const p = parseReleasePolicy({
    version: '1.0.0',
    anyOf: [{ authority: `${MAA}/`, allOf: [{ claim: 'x-ms-sgx-mrsigner', equals: 'bb'.repeat(32) }, { claim: 'x-ms-sgx-is-debuggable', equals: false }] }],
  });
  assert.deepEqual(evaluateReleasePolicy(p, claims), { ok: true, authority: `${MAA}/` });
  const d = evaluateReleasePolicy(p, { ...claims, 'x-ms-sgx-is-debuggable': true });
  assert.equal(d.ok, false);
  assert.ok(!d.ok && d.rule === 'claim' && d.claim === 'x-ms-sgx-is-debuggable' && d.expected === false && d.actual === 'true');
});

test('another issuer is refused by the authority rule; a missing claim is false', () => {
  const p = parseReleasePolicy({ anyOf: [{ authority: 'https://other.example', allOf: [{ claim: 'x-ms-sgx-svn', equals: 2 }] }] });
  const d = evaluateReleasePolicy(p, claims);
  assert.ok(!d.ok && d.rule === 'authority');
  const q = parseReleasePolicy({ anyOf: [{ authority: MAA, allOf: [{ claim: 'x-ms-sgx-product-id', equals: 1 }] }] });
  const m = evaluateReleasePolicy(q, claims);
  assert.ok(!m.ok && m.claim === 'x-ms-sgx-product-id' && m.actual === '(missing)');
});

test('anyOf, nesting, dotted claim names, strict types, the older condition/value form', () => {
  const p = parseReleasePolicy({
    version: '1.0.0',
    anyOf: [
      {
        authority: MAA,
        anyOf: [
          { claim: 'x-ms-sgx-svn', equals: '2' },
          { allOf: [{ claim: 'x-ms-isolation-tee.x-ms-attestation-type', equals: 'sevsnpvm' }, { claim: 'x-ms-sgx-svn', condition: 'equals', value: 2 }] },
        ],
      },
    ],
  });
  assert.equal(evaluateReleasePolicy(p, claims).ok, true);
  // A string "2" does not equal the number 2.
  const strict = parseReleasePolicy({ anyOf: [{ authority: MAA, anyOf: [{ claim: 'x-ms-sgx-svn', equals: '2' }] }] });
  const d = evaluateReleasePolicy(strict, claims);
  assert.ok(!d.ok && /none of anyOf/.test(d.message));
  assert.equal(claimAt(claims, 'x-ms-isolation-tee.x-ms-attestation-type'), 'sevsnpvm');
  assert.equal(claimAt({ 'a.b': 1, a: { b: 2 } }, 'a.b'), 1);
  assert.equal(claimAt(claims, 'x-ms-sgx-svn.constructor'), undefined);
});

test('malformed policies are BadParameter', () => {
  const bad = (p: unknown): void => assert.throws(() => parseReleasePolicy(p), (e: unknown) => KeyBrokerError.is(e, 'BadParameter'));
  bad(null);
  bad({ anyOf: [] });
  bad({ version: '2.0.0', anyOf: [{ authority: MAA, allOf: [{ claim: 'a', equals: 1 }] }] });
  bad({ anyOf: [{ authority: MAA, allOf: [{ claim: 'a', equals: 1 }], anyOf: [{ claim: 'a', equals: 1 }] }] });
  bad({ anyOf: [{ authority: MAA, allOf: [{ claim: 'a', greater: 1 }] }] });
  bad({ anyOf: [{ authority: MAA, allOf: [{ claim: 'a', equals: { x: 1 } }] }] });
  let deep: unknown = { claim: 'a', equals: 1 };
  for (let i = 0; i < 20; i++) deep = { allOf: [deep] };
  bad({ anyOf: [{ authority: MAA, allOf: [deep] }] });
  bad({ anyOf: [{ authority: MAA, allOf: Array.from({ length: 300 }, () => ({ claim: 'a', equals: 1 })) }] });
  assert.throws(() => decodeReleasePolicyData(Buffer.from('not json').toString('base64url')), (e: unknown) => KeyBrokerError.is(e, 'BadParameter'));
  assert.throws(() => decodeReleasePolicyData('A'.repeat(100_000)), (e: unknown) => KeyBrokerError.is(e, 'BadParameter'));
});
