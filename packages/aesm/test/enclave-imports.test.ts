/**
 * The enclave SDK reaches AESM through this package only: `import '@cloister/enclave'` loads neither the node agent
 * nor its server stack (grpc-js, pino, prom-client). Checked in a fresh Node process with a module-resolution hook
 * that records every module the import graph resolves (ESM and the CommonJS entry points it reaches), plus
 * `require.cache` afterwards. A positive control proves the detector sees grpc-js when the node agent is imported.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '@cloister/testkit';

const dir = mkdtempSync(join(tmpdir(), 'cloister-imports-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOOKS = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(out, result.url + '\\n');
  return result;
}
`;

const MAIN = `
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
const [hooks, out, specifier] = process.argv.slice(1);
register(hooks, { data: { out } });
await import(specifier);
const require = createRequire(import.meta.url);
for (const file of Object.keys(require('node:module')._cache)) appendFileSync(out, 'file://' + file + '\\n');
`;

/** Every module URL resolved (and every CommonJS file cached) while importing `specifier` in a fresh process. */
function loadedBy(specifier: string, name: string): string[] {
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(hooks, HOOKS);
  const out = join(dir, `${name}.log`);
  writeFileSync(out, '');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', MAIN, pathToFileURL(hooks).href, out, specifier], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `importing ${specifier} failed: ${r.stderr}`);
  return readFileSync(out, 'utf8').split('\n').filter((l) => l !== '');
}

const SERVER_STACK = ['/node_modules/@grpc/grpc-js/', '/node_modules/pino/', '/node_modules/prom-client/', '/packages/node-agent/'];

test("import '@cloister/enclave' loads @cloister/aesm but not the node agent, grpc-js, pino or prom-client", () => {
  const urls = loadedBy('@cloister/enclave', 'enclave');
  assert.ok(urls.some((u) => u.includes('/packages/enclave/dist/src/index.js')), 'the enclave entry was resolved');
  assert.ok(urls.some((u) => u.includes('/packages/aesm/dist/src/')), 'the AESM client comes from @cloister/aesm');
  for (const part of SERVER_STACK) {
    assert.deepEqual(urls.filter((u) => u.includes(part)), [], `nothing under ${part}`);
  }
});

test('the detector sees grpc-js when the node agent is imported (control)', () => {
  const urls = loadedBy('@cloister/node-agent', 'node-agent');
  assert.ok(urls.some((u) => u.includes('/node_modules/@grpc/grpc-js/')));
  assert.ok(urls.some((u) => u.includes('/packages/aesm/dist/src/')));
});
