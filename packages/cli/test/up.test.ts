/**
 * `cloister up`, the README's main job, as a process: the whole stack on a simulated node — every step's output, the
 * JSON report, the user's own enclave run as signed, failures naming their step, and the temporary directory removed.
 * Each run starts real services and enclaves, so the timeouts are generous (the machine may be busy).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@cloister/testkit';
import { run } from './run-cli.js';

const SLOW = { timeout: 280_000 };
const HEX64 = '[0-9a-f]{64}';

/** A copy of examples/helloworld in a temporary directory that builds there (node_modules linked to the repo's). */
function exampleCopy(parent: string, name = 'hello'): string {
  const dir = join(parent, name);
  for (const f of ['enclave.json', 'src']) cpSync(join(repoRoot, 'examples', 'helloworld', f), join(dir, f), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function workDirOf(stdout: string): string {
  const m = /^ {2}work dir (\S+)$/m.exec(stdout);
  assert.ok(m?.[1] !== undefined, `no work dir in ${stdout}`);
  return m[1];
}

test('cloister up --once: six numbered steps with timings, from the node to the dashboard, then it exits and cleans up', SLOW, async () => {
  const r = await run(['up', '--once', '--name', 'CI']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const o = r.stdout;
  const t = ' +\\d+\\.\\d s$';
  assert.match(o, /SIMULATED: no hardware protection/);
  assert.match(o, new RegExp(`^ {2}1/6 {2}simulated SGX node +EPC 64 MiB, \\d+ enclave slots, quote helper${t}`, 'm'));
  assert.match(o, /device plugin registered with kubelet \(in-process stand-in\) · AESM socket \S+aesm\.socket$/m);
  assert.match(o, new RegExp(`^ {2}2/6 {2}attestation service +http://127\\.0\\.0\\.1:\\d+ \\(simulated instance\\)${t}`, 'm'));
  assert.match(o, new RegExp(`^ {2}3/6 {2}key broker +KEK sealed in enclave [0-9a-f]{8}…${t}`, 'm'));
  assert.match(o, /trusts tokens of http:\/\/127\.0\.0\.1:\d+\/simulated$/m);
  assert.match(o, new RegExp(`^ {2}4/6 {2}hello-world enclave +"Hello, CI, from inside an enclave!"${t}`, 'm'));
  assert.match(o, new RegExp(`^ +MRENCLAVE ${HEX64}$`, 'm'));
  assert.match(o, /^ +token eyJ\S+…\S+ verified \(RS256, \/certs kid \S+\): TCB UpToDate, simulated$/m);
  assert.match(o, new RegExp(`^ {2}5/6 {2}confidential OCR +key released by policy, 2 lines read${t}`, 'm'));
  assert.match(o, /key "ocr-model" released to enclave [0-9a-f]{8}…/);
  // The text recognised in the sample image, through the attested client.
  assert.match(o, /^ +│ Confidential inference$/m);
  assert.match(o, /^ +│ Hello from an enclave 2026$/m);
  // Served by the attestation service and, for its part, by the key broker.
  assert.match(o, new RegExp(`^ {2}6/6 {2}dashboard +http://127\\.0\\.0\\.1:\\d+/ui/${t}`, 'm'));
  assert.match(o, /^ +key broker: http:\/\/127\.0\.0\.1:\d+\/ui\/$/m);
  assert.match(o, /^ {2}all 6 steps passed in \d+\.\d s$/m);
  assert.doesNotMatch(o, /serving/);
  // ctx.log inside the enclave goes to stderr.
  assert.match(r.stderr, /enclave info: greeted \{"who":"CI"\}/);
  assert.equal(existsSync(workDirOf(o)), false, 'the temporary directory is removed');
});

test("cloister up --json --enclave DIR: one JSON document with every step; the user's signed enclave runs as signed and is attested through the service", SLOW, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cloister-up-user-'));
  try {
    const dir = exampleCopy(tmp);
    // The user's enclave has another ecall name than the bundled example's `greet`.
    const src = join(dir, 'src', 'enclave.ts');
    writeFileSync(src, readFileSync(src, 'utf8').replace('async greet(', 'async welcome('));
    assert.equal((await run(['enclave', 'build', dir])).code, 0);
    const signed = await run(['enclave', 'sign', dir, '--json']);
    assert.equal(signed.code, 0, signed.stderr);
    const mine = JSON.parse(signed.stdout) as { mrenclave: string; mrsigner: string };
    const before = { sig: readFileSync(join(dir, 'enclave.sigstruct')), key: statSync(join(dir, 'enclave.key.pem')).mtimeMs };

    const r = await run(['up', '--once', '--enclave', dir, '--json', '--args', '{"name":"user"}']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      enclave: { mrenclave: string; mrsigner: string; signedHere: boolean };
      greeting: string;
      token: string;
      verified: { status: string; simulated: boolean; issuer: string; identity: { mrenclave: string; mrsigner: string; debug: boolean; isvProdId: number } };
      steps: { n: number; step: string; ms: number; [k: string]: unknown }[];
      enclaveLog: { level: string; msg: string; who: string }[];
      serving: boolean;
      totalMs: number;
    };
    assert.equal(out.ok, true);
    assert.equal(out.serving, false);
    assert.deepEqual(
      out.steps.map((s) => [s.n, s.step]),
      [[1, 'node'], [2, 'attestationService'], [3, 'keyBroker'], [4, 'enclave'], [5, 'ocr'], [6, 'dashboard']],
    );
    assert.ok(out.steps.every((s) => Number.isInteger(s.ms) && s.ms >= 0));
    const step = (name: string): Record<string, unknown> => out.steps.find((s) => s.step === name)!;
    assert.equal((step('node')['resources'] as Record<string, number>)['kubernetes.azure.com/sgx_epc_mem_in_MiB'], 64);
    assert.match(String(step('keyBroker')['mrenclave']), new RegExp(`^${HEX64}$`));
    assert.match(String(step('ocr')['text']), /Confidential inference\nHello from an enclave 2026/);
    assert.equal(step('ocr')['keyName'], 'ocr-model');
    assert.match(String(step('dashboard')['url']), /^http:\/\/127\.0\.0\.1:\d+\/ui\/$/);
    assert.equal(step('dashboard')['served'], true);
    assert.equal((step('dashboard')['keyBroker'] as { served: boolean }).served, true);

    // The user's key, not a throwaway one; nothing rebuilt or re-signed.
    assert.equal(out.enclave.signedHere, false);
    assert.equal(out.enclave.mrsigner, mine.mrsigner);
    assert.equal(out.verified.identity.mrsigner, mine.mrsigner);
    assert.equal(out.verified.identity.mrenclave, mine.mrenclave);
    assert.equal(out.verified.identity.debug, false);
    assert.equal(out.verified.identity.isvProdId, 1);
    assert.equal(out.verified.status, 'UpToDate');
    assert.equal(out.verified.simulated, true);
    assert.equal(out.greeting, 'Hello, user, from inside an enclave!');
    assert.deepEqual(readFileSync(join(dir, 'enclave.sigstruct')), before.sig);
    assert.equal(statSync(join(dir, 'enclave.key.pem')).mtimeMs, before.key);
    // The token is the service's: the simulated instance's issuer, the enclave's identity, the greeting as runtime data.
    const claims = JSON.parse(Buffer.from(out.token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.iss, out.verified.issuer);
    assert.match(String(claims.iss), /\/simulated$/);
    assert.equal(claims['x-ms-sgx-mrenclave'], mine.mrenclave);
    assert.equal(Buffer.from(String(claims['x-ms-sgx-ehd']), 'base64url').toString(), out.greeting);
    assert.deepEqual(
      out.enclaveLog.map((l) => [l.level, l.msg, l.who]),
      [['info', 'greeted', 'user']],
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('cloister up fails clearly, naming the step, and removes its temporary directory', SLOW, async () => {
  // A wrong or unsigned --enclave is found before anything starts.
  const r = await run(['up', '--enclave', '/nonexistent-enclave']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /FAILED at "4\/6 your enclave: load your signed enclave": INVALID_MANIFEST/);
  const both = await run(['up', '--once', '--serve']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /INVALID_ARGUMENT: --once and --serve exclude each other/);
  const tmp = mkdtempSync(join(tmpdir(), 'cloister-up-unsigned-'));
  try {
    const dir = exampleCopy(tmp);
    assert.equal((await run(['enclave', 'build', dir])).code, 0);
    const u = await run(['up', '--enclave', dir]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /FAILED at "4\/6 your enclave: load your signed enclave": INVALID_SIGNATURE: .*not signed/);

    // A named ecall that does not exist is a usage error (exit 2) at step 4, naming the ecalls there are; the
    // services of steps 1–3 are stopped and the directory removed.
    assert.equal((await run(['enclave', 'sign', dir])).code, 0);
    const bad = await run(['up', '--once', '--enclave', dir, '--ecall', 'nope', '--json']);
    assert.equal(bad.code, 2, bad.stdout + bad.stderr);
    const failed = JSON.parse(bad.stdout) as { ok: boolean; step: string; error: { code: string; message: string }; steps: { step: string }[]; platform: { dir: string } };
    assert.equal(failed.ok, false);
    assert.equal(failed.step, '4/6 your enclave: start (sim backend)');
    assert.equal(failed.error.code, 'INVALID_ARGUMENT');
    assert.match(failed.error.message, /no ecall nope \(it has: greet\)/);
    assert.deepEqual(failed.steps.map((s) => s.step), ['node', 'attestationService', 'keyBroker']);
    assert.equal(existsSync(join(failed.platform.dir, '..')), false);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('cloister enclave run: one ecall on the sim backend, its quote verified against the enclave, ctx.log on stderr', SLOW, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-run-'));
  try {
    const enclave = exampleCopy(dir);
    assert.equal((await run(['sim', 'init', join(dir, 'p')])).code, 0);
    assert.equal((await run(['enclave', 'build', enclave])).code, 0);
    assert.equal((await run(['enclave', 'sign', enclave])).code, 0);
    const r = await run(['enclave', 'run', enclave, '--ecall', 'greet', '--args', '{"name":"run"}', '--platform', join(dir, 'p'), '--verify']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { result: { greeting: string }; verified: { status: string; simulated: boolean } };
    assert.equal(out.result.greeting, 'Hello, run, from inside an enclave!');
    assert.equal(out.verified.status, 'UpToDate');
    assert.equal(out.verified.simulated, true);
    assert.match(r.stderr, /enclave info: greeted \{"who":"run"\}/);
    const bad = await run(['enclave', 'run', enclave, '--ecall', 'nope', '--platform', join(dir, 'p')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout, /UNKNOWN_CALL|no ecall nope/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
