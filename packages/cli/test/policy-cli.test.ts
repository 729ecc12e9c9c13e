/**
 * One policy engine behind three doors: the same four policies — a misspelt key, an empty policy, a wrong identity,
 * the right identity — through the library (`verifyEvidence`, `verifyAttestedCertificate`), `cloister verify --policy`
 * on the real Intel quote of the corpus (Phala-Network/dcap-qvl sample) and `cloister ratls verify --policy` on the
 * real Gramine RA-TLS certificate (CCC-Attestation/interoperable-ra-tls): the same code, the same rule or key, the
 * same message, exit 1 for a mismatch and 2 for a malformed policy. Then a simulated platform made with
 * `cloister sim`, and the one identity output style of verify, quote inspect and ratls inspect|verify.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyEvidence } from '@cloister/enclave';
import { PolicyError } from '@cloister/policy';
import { verifyAttestedCertificate } from '@cloister/ratls';
import { loadDcapCases, testdataDir } from '@cloister/testkit';
import { run, type Run } from './run-cli.js';

const quoteCase = loadDcapCases().find((c) => c.json.id === 'dcapqvl-sgx-v3')!;
const QUOTE_MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';
// The real quote is ConfigurationAndSWHardeningNeeded with two advisories: a policy must accept them to pass.
const QUOTE_OPT_INS = { acceptedTcbStatuses: ['ConfigurationAndSWHardeningNeeded'], acceptedAdvisories: ['INTEL-SA-00289', 'INTEL-SA-00615'] };
const certFile = join(testdataDir, 'ratls', 'gramine-cert.pem');
const certExpect = JSON.parse(readFileSync(join(testdataDir, 'ratls', 'gramine-cert.expect.json'), 'utf8')) as {
  verifyAt: string;
  claims: { mrenclave: string };
};
// The Gramine certificate is a debug enclave, checked from its signatures (no collateral).
const CERT_OPT_INS = { allowDebug: true };

const verifyArgs = (policy: string, extra: string[] = []) => [
  'verify', join(quoteCase.dir, 'quote.bin'), '--collateral', join(quoteCase.dir, 'collateral.json'), '--now', quoteCase.json.now,
  '--policy', policy, '--json', ...extra,
];
const ratlsArgs = (policy: string, extra: string[] = []) => [
  'ratls', 'verify', certFile, '--signatures-only', '--now', certExpect.verifyAt, '--policy', policy, '--json', ...extra,
];

interface JsonError {
  ok: false;
  error: { code: string; message: string; rule?: string; key?: string; expected?: string; actual?: string };
}

function errorOf(r: Run): JsonError['error'] {
  const out = JSON.parse(r.stdout) as JsonError;
  assert.equal(out.ok, false);
  return out.error;
}

async function libraryError(p: Promise<unknown>): Promise<PolicyError> {
  try {
    await p;
  } catch (e) {
    assert.ok(PolicyError.is(e), `a PolicyError, got ${String(e)}`);
    return e;
  }
  assert.fail('the library accepted the policy');
}

const libQuote = (policy: unknown) =>
  verifyEvidence(quoteCase.quote, policy as never, { collateral: quoteCase.collateralText!, now: quoteCase.json.now });
const libCert = (policy: unknown) => verifyAttestedCertificate(readFileSync(certFile, 'utf8'), policy as never, { signaturesOnly: true, now: certExpect.verifyAt });

test('a misspelt key: POLICY_INVALID naming it, from the library and both commands (exit 2)', async () => {
  const q = { mrenclaev: QUOTE_MRENCLAVE, ...QUOTE_OPT_INS };
  const c = { mrenclaev: certExpect.claims.mrenclave, ...CERT_OPT_INS };
  const [lq, lc] = [await libraryError(libQuote(q)), await libraryError(libCert(c))];
  const [rq, rc] = [await run(verifyArgs(JSON.stringify(q))), await run(ratlsArgs(JSON.stringify(c)))];
  for (const [lib, r] of [[lq, rq], [lc, rc]] as const) {
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const e = errorOf(r);
    assert.equal(lib.code, 'POLICY_INVALID');
    assert.equal(e.code, lib.code);
    assert.equal(e.key, 'mrenclaev');
    assert.equal(lib.key, 'mrenclaev');
    assert.equal(e.message, lib.message);
  }
});

test('an empty policy: POLICY_INVALID (no identity rule), from the library and both commands (exit 2)', async () => {
  const [lq, lc] = [await libraryError(libQuote({})), await libraryError(libCert({}))];
  const [rq, rc] = [await run(verifyArgs('{}')), await run(ratlsArgs('{}'))];
  for (const [lib, r] of [[lq, rq], [lc, rc]] as const) {
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const e = errorOf(r);
    assert.equal(lib.code, 'POLICY_INVALID');
    assert.deepEqual([e.code, e.key, e.message], [lib.code, lib.key, lib.message]);
    assert.equal(e.key, 'mrenclave');
  }
  // Text mode says the same on stderr, no stack.
  const text = await run(verifyArgs('{}').filter((a) => a !== '--json'));
  assert.equal(text.code, 2);
  assert.match(text.stderr, /^error POLICY_INVALID: invalid policy: mrenclave: /);
  assert.doesNotMatch(text.stderr, /\n\s+at /);
});

test('a wrong identity: POLICY_MISMATCH rule mrenclave, the same error from the library and both commands (exit 1)', async () => {
  const wrong = '00'.repeat(32);
  const q = { mrenclave: wrong, ...QUOTE_OPT_INS };
  const c = { mrenclave: wrong, ...CERT_OPT_INS };
  const [lq, lc] = [await libraryError(libQuote(q)), await libraryError(libCert(c))];
  const [rq, rc] = [await run(verifyArgs(JSON.stringify(q))), await run(ratlsArgs(JSON.stringify(c)))];
  for (const [lib, r, actual] of [[lq, rq, QUOTE_MRENCLAVE], [lc, rc, certExpect.claims.mrenclave]] as const) {
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const e = errorOf(r);
    assert.equal(lib.code, 'POLICY_MISMATCH');
    assert.equal(lib.rule, 'mrenclave');
    assert.deepEqual([e.code, e.rule, e.expected, e.actual, e.message], [lib.code, lib.rule, wrong, actual, lib.message]);
  }
});

test('the right identity passes everywhere; the policy may come from a file; opt-ins are reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-policy-'));
  try {
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ mrenclave: QUOTE_MRENCLAVE, ...QUOTE_OPT_INS }));
    const lib = await libQuote({ mrenclave: QUOTE_MRENCLAVE, ...QUOTE_OPT_INS });
    assert.equal(lib.identity.mrenclave, QUOTE_MRENCLAVE);
    const r = await run(verifyArgs(file));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; identity: Record<string, unknown>; policy: { ok: boolean; optIns: { option: string; used: boolean }[] } };
    assert.equal(out.ok, true);
    assert.deepEqual(out.identity, { ...lib.identity });
    assert.equal(out.policy.ok, true);
    assert.deepEqual(out.policy.optIns.map((o) => [o.option, o.used]), [['acceptedTcbStatuses', true], ['acceptedAdvisories', true]]);
    // Without the TCB opt-ins the same quote is refused on its status, by the same rule as the library.
    const strict = await run(verifyArgs(JSON.stringify({ mrenclave: QUOTE_MRENCLAVE })));
    assert.equal(strict.code, 1);
    assert.equal(errorOf(strict).rule, 'tcbStatus');

    const lc = await libCert({ mrenclave: certExpect.claims.mrenclave, ...CERT_OPT_INS });
    const rc = await run(ratlsArgs(JSON.stringify({ mrenclave: certExpect.claims.mrenclave }), ['--allow-debug']));
    assert.equal(rc.code, 0, rc.stdout + rc.stderr);
    const outC = JSON.parse(rc.stdout) as { identity: Record<string, unknown>; policy: { ok: boolean; checks: { rule: string; outcome: string }[] } };
    assert.deepEqual(outC.identity, { ...lc.identity });
    assert.deepEqual(outC.policy.checks.filter((k) => k.outcome === 'skip').map((k) => k.rule), ['tcbStatus', 'advisories']);
    // The debug enclave is refused when the policy does not opt in.
    const dbg = await run(ratlsArgs(JSON.stringify({ mrenclave: certExpect.claims.mrenclave })));
    assert.equal(dbg.code, 1);
    assert.equal(errorOf(dbg).rule, 'debug');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--allow-debug without --policy is a usage error; without --policy nothing is checked and the output says so', async () => {
  const r = await run(['verify', join(quoteCase.dir, 'quote.bin'), '--collateral', join(quoteCase.dir, 'collateral.json'), '--now', quoteCase.json.now, '--allow-debug', '--json']);
  assert.equal(r.code, 2);
  assert.equal(errorOf(r).code, 'USAGE');
  const none = await run(['ratls', 'verify', certFile, '--signatures-only', '--now', certExpect.verifyAt]);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /^ {2}policy {10}none: the identity was not checked/m);
});

test('a simulated platform (cloister sim): refused unless the policy allows simulated evidence', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-policy-sim-'));
  try {
    const platform = join(dir, 'platform');
    const mrenclave = 'c0ffee'.padEnd(64, '0');
    assert.equal((await run(['sim', 'init', platform])).code, 0);
    const root = await run(['sim', 'root', '--platform', platform, '--out', join(dir, 'root.pem')]);
    assert.equal(root.code, 0, root.stderr);
    assert.equal((await run(['sim', 'quote', '--platform', platform, '--mrenclave', mrenclave, '--isv-prod-id', '4', '--isv-svn', '2', '--out', join(dir, 'q.bin')])).code, 0);
    assert.equal((await run(['sim', 'collateral', '--platform', platform, '--out', join(dir, 'c.json')])).code, 0);
    const args = (policy: object, extra: string[] = []) => [
      'verify', join(dir, 'q.bin'), '--collateral', join(dir, 'c.json'), '--trust-root', join(dir, 'root.pem'), '--policy', JSON.stringify(policy), '--json', ...extra,
    ];
    const refused = await run(args({ mrenclave }));
    assert.equal(refused.code, 1);
    assert.equal(errorOf(refused).rule, 'simulated');
    const svn = await run(args({ mrenclave, isvProdId: 4, minIsvSvn: 3 }, ['--allow-simulated']));
    assert.deepEqual([svn.code, errorOf(svn).rule, errorOf(svn).actual], [1, 'isvSvn', '2']);
    const ok = await run(args({ mrenclave, isvProdId: 4, minIsvSvn: 2 }, ['--allow-simulated']));
    assert.equal(ok.code, 0, ok.stdout);
    const out = JSON.parse(ok.stdout) as { simulated: boolean; identity: { isvProdId: number; isvSvn: number }; policy: { optIns: { option: string; used: boolean }[] } };
    assert.equal(out.simulated, true);
    assert.deepEqual([out.identity.isvProdId, out.identity.isvSvn], [4, 2]);
    assert.deepEqual(out.policy.optIns, [{ option: 'allowSimulated', value: 'true', used: true }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one identity style: verify, quote inspect, ratls inspect and ratls verify print the same fields and JSON keys', async () => {
  const KEYS = ['mrenclave', 'mrsigner', 'isvProdId', 'isvSvn', 'debug', 'reportData'];
  const quote = join(quoteCase.dir, 'quote.bin');
  const verifyBase = ['verify', quote, '--collateral', join(quoteCase.dir, 'collateral.json'), '--now', quoteCase.json.now];
  const ratlsBase = ['ratls', 'verify', certFile, '--signatures-only', '--now', certExpect.verifyAt];
  const texts = await Promise.all([run(verifyBase), run(['quote', 'inspect', quote]), run(['ratls', 'inspect', certFile]), run(ratlsBase)]);
  for (const t of texts) {
    assert.equal(t.code, 0, t.stderr);
    // Each identity field on its own line: two spaces, the field name padded to 16, the value.
    for (const k of KEYS) assert.match(t.stdout, new RegExp(`^(  )+${k}${' '.repeat(16 - k.length)}\\S`, 'm'), `${k} in\n${t.stdout}`);
  }
  const [v, qi, ri, rv] = await Promise.all([
    run([...verifyBase, '--json']),
    run(['quote', 'inspect', quote, '--json']),
    run(['ratls', 'inspect', certFile, '--json']),
    run([...ratlsBase, '--json']),
  ]);
  const idOf = (r: Run) => (JSON.parse(r.stdout) as { identity: Record<string, unknown> }).identity;
  assert.deepEqual(Object.keys(idOf(v)), KEYS);
  assert.deepEqual(idOf(qi), idOf(v));
  const inspected = JSON.parse(ri.stdout) as { evidence: { identity: Record<string, unknown> }[] };
  for (const e of inspected.evidence) assert.deepEqual(Object.keys(e.identity), KEYS);
  assert.deepEqual(Object.keys(idOf(rv)), KEYS);
  assert.equal(idOf(rv)['mrenclave'], certExpect.claims.mrenclave);
});
