/**
 * `cloister ratls inspect|verify` on the real RA-TLS certificates of the corpus (Gramine and Intel SGX SDK, from
 * CCC-Attestation/interoperable-ra-tls): the formats found, the claims, signature-only verification at the
 * certificate's `verifyAt`, and the debug-enclave policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testdataDir } from '@cloister/testkit';
import { run } from './run-cli.js';

const dir = join(testdataDir, 'ratls');

interface Expect {
  verifyAt: string;
  subject: string;
  spkiSha256: string;
  claims: { mrenclave: string; mrsigner: string; debug: boolean };
}

function expectOf(name: string): Expect {
  return JSON.parse(readFileSync(join(dir, `${name}.expect.json`), 'utf8')) as Expect;
}

interface InspectJson {
  spkiSha256: string;
  evidence: { format: string; oid: string; quote: { mrenclave: string; mrsigner: string; debug: boolean }; binding: { ok: boolean; description: string } }[];
}

test('ratls inspect --json shows both evidence formats of the Gramine certificate, each bound to the key', async () => {
  const expect = expectOf('gramine-cert');
  const r = await run(['ratls', 'inspect', join(dir, 'gramine-cert.pem'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as InspectJson;
  assert.equal(out.spkiSha256, expect.spkiSha256);
  const oids = out.evidence.map((e) => e.oid).sort();
  assert.deepEqual(oids, ['0.6.9.42.840.113741.1337.6', '2.23.133.5.4.9']);
  assert.equal(new Set(out.evidence.map((e) => e.format)).size, 2, 'two distinct formats');
  for (const e of out.evidence) {
    assert.equal(e.binding.ok, true, `${e.format}: ${e.binding.description}`);
    assert.equal(e.quote.mrenclave, expect.claims.mrenclave);
    assert.equal(e.quote.mrsigner, expect.claims.mrsigner);
    assert.equal(e.quote.debug, true);
  }
});

test('ratls inspect prints a text summary', async () => {
  const r = await run(['ratls', 'inspect', join(dir, 'intel-sgxsdk-cert.pem')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 evidence format\(s\)/);
  assert.match(r.stdout, /2\.23\.133\.5\.4\.9/);
  assert.match(r.stdout, /1\.2\.840\.113741\.1\.13\.1/);
  assert.match(r.stdout, new RegExp(expectOf('intel-sgxsdk-cert').claims.mrenclave));
});

for (const name of ['gramine-cert', 'intel-sgxsdk-cert']) {
  test(`ratls verify --signatures-only --policy … --allow-debug accepts ${name} at its verifyAt`, async () => {
    const expect = expectOf(name);
    const policy = JSON.stringify({ mrenclave: expect.claims.mrenclave });
    const r = await run(['ratls', 'verify', join(dir, `${name}.pem`), '--signatures-only', '--now', expect.verifyAt, '--policy', policy, '--allow-debug', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; format: string; claims: Record<string, unknown>; certificate: { spkiSha256: string } };
    assert.equal(out.ok, true);
    assert.equal(out.claims['mrenclave'], expect.claims.mrenclave);
    assert.equal(out.certificate.spkiSha256, expect.spkiSha256);
  });
}

test('ratls verify --policy without --allow-debug refuses the debug enclave with POLICY_MISMATCH (rule debug)', async () => {
  const expect = expectOf('gramine-cert');
  const policy = JSON.stringify({ mrenclave: expect.claims.mrenclave });
  const r = await run(['ratls', 'verify', join(dir, 'gramine-cert.pem'), '--signatures-only', '--now', expect.verifyAt, '--policy', policy, '--json']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string; rule: string } };
  assert.equal(out.ok, false);
  assert.equal(out.error.code, 'POLICY_MISMATCH');
  assert.equal(out.error.rule, 'debug');
});

test('ratls verify --policy with another MRENCLAVE fails with POLICY_MISMATCH; the right one passes (text output)', async () => {
  const expect = expectOf('gramine-cert');
  const cert = join(dir, 'gramine-cert.pem');
  const common = ['--signatures-only', '--now', expect.verifyAt, '--allow-debug'];
  const bad = await run(['ratls', 'verify', cert, ...common, '--policy', JSON.stringify({ mrenclave: '00'.repeat(32) }), '--json']);
  assert.equal(bad.code, 1);
  assert.equal((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, 'POLICY_MISMATCH');
  const good = await run(['ratls', 'verify', cert, ...common, '--policy', JSON.stringify({ mrenclave: expect.claims.mrenclave })]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /RA-TLS certificate verified/);
  assert.match(good.stdout, new RegExp(expect.claims.mrenclave));
});

test('ratls verify without --collateral or --signatures-only is a usage error', async () => {
  const r = await run(['ratls', 'verify', join(dir, 'gramine-cert.pem'), '--json']);
  assert.equal(r.code, 2);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
});
