/**
 * The MAA policy language: Microsoft's documented example policies (MicrosoftDocs azure-docs
 * articles/attestation/policy-examples.md, author-sign-policy.md, claim-rule-grammar.md) parse and evaluate as
 * documented; syntax errors report line and column; fuzzed policies give typed errors only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  DEFAULT_SGX_POLICY,
  MAA_POLICY_ERROR_CODES,
  MaaPolicyError,
  claim,
  evaluateMaaPolicy,
  incomingClaims,
  issuedClaimsObject,
  parseMaaPolicy,
  policyHash,
  type PolicyClaim,
} from '../src/index.js';

const MRSIGNER = 'bb'.repeat(32);
const sgxClaims = (o: { debug?: boolean; prodId?: number; svn?: number; mrsigner?: string } = {}): PolicyClaim[] => [
  claim('x-ms-attestation-type', 'sgx'),
  claim('x-ms-sgx-is-debuggable', o.debug ?? false),
  claim('x-ms-sgx-product-id', o.prodId ?? 1),
  claim('x-ms-sgx-svn', o.svn ?? 2),
  claim('x-ms-sgx-mrsigner', o.mrsigner ?? MRSIGNER),
  claim('x-ms-sgx-mrenclave', 'aa'.repeat(32)),
];

// policy-examples.md, "Sample custom policy for an SGX enclave", with <product-id> = 1 and <mrsigner> filled in.
const SAMPLE_CUSTOM = `version= 1.0;
authorizationrules
{
       [ type=="x-ms-sgx-is-debuggable", value==false ]
        && [ type=="x-ms-sgx-product-id", value==1 ]
        && [ type=="x-ms-sgx-svn", value>= 0 ]
        && [ type=="x-ms-sgx-mrsigner", value=="${MRSIGNER}"]
    => permit();
};
issuancerules {
c:[type=="x-ms-sgx-mrsigner"] => issue(type="custom-name", value=c.value);
};`;

test('policy-examples.md sample custom SGX policy: permits the named enclave and issues the custom claim', () => {
  const p = parseMaaPolicy(SAMPLE_CUSTOM);
  assert.equal(p.version, '1.0');
  const ok = evaluateMaaPolicy(p, sgxClaims());
  assert.equal(ok.permitted, true);
  assert.deepEqual(issuedClaimsObject(ok.issued), { 'custom-name': MRSIGNER });
  assert.equal(evaluateMaaPolicy(p, sgxClaims({ debug: true })).permitted, false, 'debuggable enclave');
  assert.equal(evaluateMaaPolicy(p, sgxClaims({ prodId: 2 })).permitted, false, 'other product');
  assert.equal(evaluateMaaPolicy(p, sgxClaims({ mrsigner: 'cc'.repeat(32) })).permitted, false, 'other signer');
  const denied = evaluateMaaPolicy(p, sgxClaims({ debug: true }));
  assert.equal(denied.issued.length, 0, 'nothing is issued when not permitted');
});

test('policy-examples.md default SGX policy: permits, issues the six legacy claims, sets the TCB identifier property', () => {
  const p = parseMaaPolicy(DEFAULT_SGX_POLICY);
  assert.equal(p.version, '1.1');
  const r = evaluateMaaPolicy(p, sgxClaims());
  assert.equal(r.permitted, true);
  assert.deepEqual(issuedClaimsObject(r.issued), {
    'is-debuggable': false,
    'sgx-mrsigner': MRSIGNER,
    'sgx-mrenclave': 'aa'.repeat(32),
    'product-id': 1,
    svn: 2,
    tee: 'sgx',
  });
  assert.equal(r.properties['x-ms-sgx-tcbidentifier'], 'azuredefault');
});

test('author-sign-policy.md example (type="…" with one "=", rules without ";") parses and evaluates', () => {
  const text = `version=1.0;
authorizationrules
{
c:[type="secureBootEnabled", issuer=="AttestationService"]=> permit()
};
issuancerules
{
c:[type="secureBootEnabled", issuer=="AttestationService"]=> issue(claim=c)
c:[type="notSafeMode", issuer=="AttestationService"]=> issue(claim=c)
};`;
  const p = parseMaaPolicy(text);
  const r = evaluateMaaPolicy(p, [claim('secureBootEnabled', true), claim('notSafeMode', true)]);
  assert.equal(r.permitted, true);
  assert.deepEqual(issuedClaimsObject(r.issued), { secureBootEnabled: true, notSafeMode: true });
  // A claim from the client (CustomClaim) does not satisfy issuer=="AttestationService".
  assert.equal(evaluateMaaPolicy(p, [claim('secureBootEnabled', true, 'CustomClaim')]).permitted, false);
});

test('claim-rule-grammar.md: an identifier binds a claim for a later condition; issueproperty sets a property', () => {
  const text = `version=1.0;
authorizationrules { => permit(); };
issuancerules {
  F1:[type=="OSName", issuer=="CustomClaim"] && [type=="OSName", issuer=="AttestationService", value==F1.value]
    => issueproperty(type="report_validity_in_minutes", value=60);
};`;
  const p = parseMaaPolicy(text);
  const same = evaluateMaaPolicy(p, [claim('OSName', 'Windows', 'CustomClaim'), claim('OSName', 'Windows')]);
  assert.equal(same.properties['report_validity_in_minutes'], 60);
  const differ = evaluateMaaPolicy(p, [claim('OSName', 'Linux', 'CustomClaim'), claim('OSName', 'Windows')]);
  assert.equal(differ.properties['report_validity_in_minutes'], undefined);
});

test('deny() decides, ||, !=, add() feeds later rules, and the legacy $-names are incoming claims', () => {
  const text = `version=1.2;
authorizationrules {
  [type=="$is-debuggable", value==true] => deny();
  [type=="x-ms-sgx-svn", value<2] || [type=="x-ms-sgx-product-id", value!=1] => deny();
  c:[type=="x-ms-sgx-mrsigner"] => add(type="signer-seen", value=true);
  [type=="signer-seen", value==true] => permit();
};
issuancerules { c:[type=="$sgx-mrsigner"] => issue(type="legacy-signer", value=c.value); };`;
  const p = parseMaaPolicy(text);
  const claims = (o: Parameters<typeof sgxClaims>[0]) =>
    incomingClaims(Object.fromEntries(sgxClaims(o).map((c) => [c.type, c.value])));
  const ok = evaluateMaaPolicy(p, claims({}));
  assert.equal(ok.permitted, true);
  assert.deepEqual(issuedClaimsObject(ok.issued), { 'legacy-signer': MRSIGNER });
  assert.equal(evaluateMaaPolicy(p, claims({ debug: true })).decidedBy?.action, 'deny');
  assert.equal(evaluateMaaPolicy(p, claims({ svn: 1 })).permitted, false);
  assert.equal(evaluateMaaPolicy(p, claims({ prodId: 9 })).permitted, false);
  // No rule deciding is a denial.
  assert.equal(evaluateMaaPolicy(parseMaaPolicy('version=1.0; authorizationrules { [type=="x", value==1] => permit(); };'), []).permitted, false);
});

test('x-ms-policy-hash is BASE64URL(SHA256(BASE64URL(UTF8(policy text)))) as claim-sets.md documents', () => {
  const text = 'version=1.0; authorizationrules { => permit(); };';
  const inner = Buffer.from(text, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const expected = createHash('sha256').update(inner).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  assert.equal(policyHash(text), expected);
  assert.equal(policyHash(text).length, 43);
});

const SYNTAX_ERRORS: readonly [string, string, number, number][] = [
  ['missing version', 'authorizationrules { => permit(); };', 1, 1],
  ['unknown version', 'version=2.0;', 1, 9],
  ['configurationrules in 1.0', 'version=1.0;\nconfigurationrules { };', 2, 1],
  ['missing comma', 'version=1.0;\nauthorizationrules {\n  [type=="a" value==1] => permit();\n};', 3, 14],
  ['unknown property', 'version=1.0;\nauthorizationrules {\n  [kind=="a"] => permit();\n};', 3, 4],
  ['unterminated string', 'version=1.0;\nauthorizationrules {\n  [type=="a] => permit();\n};', 3, 10],
  ['issue in authorizationrules', 'version=1.0;\nauthorizationrules {\n  => issue(type="a", value=1);\n};', 3, 6],
  ['unbound identifier', 'version=1.0;\nissuancerules {\n  [type=="a"] => issue(type="b", value=c.value);\n};', 3, 40],
  ['ordering a string', 'version=1.0;\nauthorizationrules {\n  [type=="a", value>="x"] => permit();\n};', 3, 20],
  ['missing }', 'version=1.0;\nauthorizationrules {\n  => permit();\n', 4, 1],
  ['unknown section', 'version=1.0;\nrules { };', 2, 1],
  ['bad character', 'version=1.0;\nauthorizationrules { => permit() # };', 2, 34],
  ['duplicate section', 'version=1.0;\nissuancerules { };\nissuancerules { };', 3, 1],
];

for (const [name, text, line, column] of SYNTAX_ERRORS) {
  test(`syntax error (${name}) reports line ${line}, column ${column}`, () => {
    assert.throws(
      () => parseMaaPolicy(text),
      (e: unknown) => {
        assert.ok(e instanceof MaaPolicyError);
        assert.equal(e.code, 'POLICY_SYNTAX');
        assert.deepEqual([e.line, e.column], [line, column], e.message);
        return true;
      },
    );
  });
}

test('an oversized policy is POLICY_TOO_LARGE', () => {
  assert.throws(() => parseMaaPolicy(`version=1.0;${' '.repeat(300 * 1024)}`), (e: unknown) => e instanceof MaaPolicyError && e.code === 'POLICY_TOO_LARGE');
});

test('a rule whose bindings explode fails with POLICY_EVALUATION, not a hang', () => {
  const conds = Array.from({ length: 6 }, (_, i) => `c${i}:[type=="t"]`).join(' && ');
  const p = parseMaaPolicy(`version=1.0; authorizationrules { ${conds} => permit(); };`);
  const claims = Array.from({ length: 40 }, (_, i) => claim('t', i));
  assert.throws(() => evaluateMaaPolicy(p, claims), (e: unknown) => e instanceof MaaPolicyError && e.code === 'POLICY_EVALUATION');
});

const FRAGMENTS = ['version', '=', '==', '1.0', '1.1', ';', 'authorizationrules', 'issuancerules', 'configurationrules', '{', '}', '[', ']', '(', ')',
  'type', 'value', 'issuer', 'valueType', '"x-ms-sgx-svn"', '"a"', '1', '-3', 'true', 'false', 'c', ':', '.', ',', '&&', '||', '=>', 'permit', 'deny',
  'issue', 'add', 'issueproperty', 'claim', '>=', '<', '!=', '\n', ' ', '"', '//x\n', '/*', '$'];

test('fuzz: random token soups and random text parse or fail with a typed error that has a line and column', () => {
  const check = (text: string): void => {
    try {
      const p = parseMaaPolicy(text);
      evaluateMaaPolicy(p, sgxClaims());
    } catch (e) {
      assert.ok(e instanceof MaaPolicyError, `untyped error ${String(e)} for ${JSON.stringify(text)}`);
      assert.ok((MAA_POLICY_ERROR_CODES as readonly string[]).includes(e.code));
      assert.ok(Number.isInteger(e.line) && e.line >= 1 && Number.isInteger(e.column) && e.column >= 1);
    }
  };
  fc.assert(fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 60 }).map((a) => `version=1.1;\n${a.join(' ')}`), (t) => check(t)), { numRuns: 400 });
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (t) => check(t)), { numRuns: 300 });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: SAMPLE_CUSTOM.length }), fc.integer({ min: 0, max: 5 }), fc.string({ maxLength: 3 }), (at, del, ins) =>
      check(SAMPLE_CUSTOM.slice(0, at) + ins + SAMPLE_CUSTOM.slice(at + del)),
    ),
    { numRuns: 400 },
  );
});
