/** `cloister up`, the README's main job, as a process: every step passes and the verified identity is reported. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@cloister/testkit';
import { run } from './run-cli.js';

/** A copy of examples/helloworld in a temporary directory that builds there (node_modules linked to the repo's). */
function exampleCopy(parent: string, name = 'hello'): string {
  const dir = join(parent, name);
  for (const f of ['enclave.json', 'src']) cpSync(join(repoRoot, 'examples', 'helloworld', f), join(dir, f), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

test('cloister up --json: a simulated node runs the hello-world enclave and verifies its out-of-process quote', async () => {
  const r = await run(['up', '--json', '--name', 'CI']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as {
    ok: boolean;
    greeting: string;
    enclave: { mrenclave: string; mrsigner: string; signedHere: boolean };
    verified: { status: string; simulated: boolean; identity: { mrenclave: string; debug: boolean; isvProdId: number } };
    enclaveLog: { level: string; msg: string; who: string }[];
  };
  assert.equal(out.ok, true);
  assert.equal(out.greeting, 'Hello, CI, from inside an enclave!');
  assert.equal(out.verified.status, 'UpToDate');
  assert.equal(out.verified.simulated, true);
  assert.equal(out.verified.identity.mrenclave, out.enclave.mrenclave);
  assert.equal(out.verified.identity.debug, false);
  assert.equal(out.verified.identity.isvProdId, 1);
  assert.equal(out.enclave.signedHere, true);
  // ctx.log inside the enclave is visible.
  assert.deepEqual(
    out.enclaveLog.map((l) => [l.level, l.msg, l.who]),
    [['info', 'greeted', 'CI']],
  );
});

test("cloister up --enclave DIR runs the user's signed enclave as signed: no rebuild, no re-signing, its own ecall", async () => {
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

    const r = await run(['up', '--enclave', dir, '--json', '--args', '{"name":"user"}']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as {
      enclave: { mrenclave: string; mrsigner: string; signedHere: boolean };
      greeting: string;
      verified: { status: string; identity: { mrenclave: string; mrsigner: string } };
    };
    assert.equal(out.enclave.signedHere, false);
    assert.equal(out.enclave.mrsigner, mine.mrsigner); // the user's key, not a throwaway one
    assert.equal(out.verified.identity.mrsigner, mine.mrsigner);
    assert.equal(out.verified.identity.mrenclave, mine.mrenclave);
    assert.equal(out.greeting, 'Hello, user, from inside an enclave!');
    assert.deepEqual(readFileSync(join(dir, 'enclave.sigstruct')), before.sig);
    assert.equal(statSync(join(dir, 'enclave.key.pem')).mtimeMs, before.key);

    // A named ecall that does not exist is a usage error (exit 2), naming the ecalls there are.
    const bad = await run(['up', '--enclave', dir, '--ecall', 'greet']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no ecall greet \(it has: welcome\)/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('cloister up fails clearly, naming the step, when the enclave directory is wrong or unsigned', async () => {
  const r = await run(['up', '--enclave', '/nonexistent-enclave']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /FAILED at "load your signed enclave": INVALID_MANIFEST/);
  const tmp = mkdtempSync(join(tmpdir(), 'cloister-up-unsigned-'));
  try {
    const dir = exampleCopy(tmp);
    assert.equal((await run(['enclave', 'build', dir])).code, 0);
    const u = await run(['up', '--enclave', dir]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /FAILED at "load your signed enclave": INVALID_SIGNATURE: .*not signed/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('cloister enclave run: one ecall on the sim backend, its quote verified against the enclave, ctx.log on stderr', async () => {
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
