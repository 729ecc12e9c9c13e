/** `cloister up`, the README's main job, as a process: every step passes and the verified identity is reported. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './run-cli.js';

test('cloister up --json: a simulated node runs the hello-world enclave and verifies its out-of-process quote', async () => {
  const r = await run(['up', '--json', '--name', 'CI']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as {
    ok: boolean;
    greeting: string;
    enclave: { mrenclave: string; mrsigner: string };
    verified: { status: string; simulated: boolean; identity: { mrenclave: string; debug: boolean; isvProdId: number } };
  };
  assert.equal(out.ok, true);
  assert.equal(out.greeting, 'Hello, CI, from inside an enclave!');
  assert.equal(out.verified.status, 'UpToDate');
  assert.equal(out.verified.simulated, true);
  assert.equal(out.verified.identity.mrenclave, out.enclave.mrenclave);
  assert.equal(out.verified.identity.debug, false);
  assert.equal(out.verified.identity.isvProdId, 1);
});

test('cloister up fails clearly, naming the step, when the enclave directory is wrong', async () => {
  const r = await run(['up', '--enclave', '/nonexistent-enclave']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /FAILED at "build \+ sign the enclave": INVALID_MANIFEST/);
});

test('cloister enclave run: one ecall on the sim backend, its quote verified against the enclave', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'cloister-run-'));
  try {
    assert.equal((await run(['sim', 'init', join(dir, 'p')])).code, 0);
    assert.equal((await run(['enclave', 'build', 'examples/helloworld'])).code, 0);
    assert.equal((await run(['enclave', 'sign', 'examples/helloworld'])).code, 0);
    const r = await run(['enclave', 'run', 'examples/helloworld', '--ecall', 'greet', '--args', '{"name":"run"}', '--platform', join(dir, 'p'), '--verify']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { result: { greeting: string }; verified: { status: string; simulated: boolean } };
    assert.equal(out.result.greeting, 'Hello, run, from inside an enclave!');
    assert.equal(out.verified.status, 'UpToDate');
    assert.equal(out.verified.simulated, true);
    const bad = await run(['enclave', 'run', 'examples/helloworld', '--ecall', 'nope', '--platform', join(dir, 'p')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /UNKNOWN_CALL|no ecall nope/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
