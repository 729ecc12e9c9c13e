/** `cloister enclave init|build|sign|measure` as a user runs them, in a temp dir. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './run-cli.js';

test('cloister enclave init → build → sign → measure', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'cloister-enclave-cli-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'app');

  const init = await run(['enclave', 'init', dir, '--name', 'cli-app']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /created .*enclave\.json/);
  assert.equal(JSON.parse(readFileSync(join(dir, 'enclave.json'), 'utf8')).name, 'cli-app');
  assert.match(init.stdout, /next: cd .* && npm install && npm start/);
  // The SDK through file: specs that exist (tarballs of the installed CLI, or the packages here): no registry names.
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; scripts: Record<string, string> };
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['@cloister/dcap', '@cloister/enclave', '@cloister/sgx-sim']);
  for (const spec of Object.values(pkg.dependencies)) {
    assert.match(spec, /^file:\//);
    assert.ok(existsSync(spec.slice('file:'.length)), spec);
  }
  assert.equal(pkg.scripts['start'], 'npm run build && node build/host.js');
  assert.match(readFileSync(join(dir, 'src', 'enclave.ts'), 'utf8'), /async greet\(/);
  const again = await run(['enclave', 'init', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error INVALID_MANIFEST: .*already has/m);

  const early = await run(['enclave', 'sign', dir]);
  assert.equal(early.code, 1);
  assert.match(early.stderr, /error INVALID_MANIFEST: .*cloister enclave build/);

  const build = await run(['enclave', 'build', dir]);
  assert.equal(build.code, 0, build.stderr);
  assert.match(build.stdout, /built .*dist\/enclave\.bundle\.mjs \(\d+ bytes, sha256 [0-9a-f]{64}\)/);
  assert.ok(existsSync(join(dir, 'dist', 'enclave.bundle.mjs')));

  const sign = await run(['enclave', 'sign', dir]);
  assert.equal(sign.code, 0, sign.stderr);
  const mrenclave = /^MRENCLAVE ([0-9a-f]{64})$/m.exec(sign.stdout)?.[1];
  const mrsigner = /^MRSIGNER {2}([0-9a-f]{64})$/m.exec(sign.stdout)?.[1];
  assert.ok(mrenclave !== undefined && mrsigner !== undefined, sign.stdout);
  assert.match(sign.stderr, /warning: generated a new signing key .*HSM/);
  assert.equal(statSync(join(dir, 'enclave.key.pem')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dir, 'enclave.sigstruct')).length, 1808);

  const measure = await run(['enclave', 'measure', dir]);
  assert.equal(measure.code, 0, measure.stderr);
  assert.equal(measure.stdout, `MRENCLAVE ${mrenclave}\n`, 'sign and measure print the same MRENCLAVE');

  const json = await run(['enclave', 'sign', dir, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const signed = JSON.parse(json.stdout) as { ok: boolean; mrenclave: string; mrsigner: string; keyGenerated: boolean };
  assert.deepEqual([signed.ok, signed.mrenclave, signed.mrsigner, signed.keyGenerated], [true, mrenclave, mrsigner, false]);

  // A rebuild of unchanged sources gives the same MRENCLAVE; a changed source another one.
  assert.equal((await run(['enclave', 'build', dir])).code, 0);
  assert.equal((await run(['enclave', 'measure', dir])).stdout, `MRENCLAVE ${mrenclave}\n`);
  const src = join(dir, 'src', 'enclave.ts');
  writeFileSync(src, readFileSync(src, 'utf8').replace('Hello', 'Howdy'));
  assert.equal((await run(['enclave', 'build', dir])).code, 0);
  const changed = await run(['enclave', 'measure', dir, '--json']);
  assert.notEqual((JSON.parse(changed.stdout) as { mrenclave: string }).mrenclave, mrenclave);

  const broken = await run(['enclave', 'measure', join(root, 'nothing-here')]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /error INVALID_MANIFEST: .*enclave\.json is missing/);
});
