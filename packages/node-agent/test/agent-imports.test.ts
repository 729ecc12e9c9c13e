/**
 * The agent process uses service-kit's plumbing without its web framework: `import '@cloister/node-agent/agent'`
 * (what `cloister node-agent` loads) resolves `@cloister/service-kit/core` but neither Hono nor @hono/node-server —
 * they would add about 15 MB to the idle RSS bench/device-plugin measures. Checked in a fresh Node process with a
 * module-resolution hook that records every module the import graph resolves; a control proves the detector sees Hono
 * when service-kit's main entry is imported.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '@cloister/testkit';

const dir = mkdtempSync(join(tmpdir(), 'cloister-agent-imports-'));
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
import { register } from 'node:module';
const [hooks, out, specifier] = process.argv.slice(1);
register(hooks, { data: { out } });
await import(specifier);
`;

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

const FRAMEWORK = ['/node_modules/hono/', '/node_modules/@hono/'];

test("import '@cloister/node-agent/agent' loads service-kit's core, not Hono", () => {
  const urls = loadedBy('@cloister/node-agent/agent', 'agent');
  assert.ok(urls.some((u) => u.includes('/packages/service-kit/dist/src/core.js')), 'service-kit/core was resolved');
  assert.ok(urls.some((u) => u.includes('/packages/service-kit/dist/src/probes.js')), 'the probe server comes from service-kit');
  for (const part of FRAMEWORK) assert.deepEqual(urls.filter((u) => u.includes(part)), [], `nothing under ${part}`);
});

test("the detector sees Hono when service-kit's main entry is imported (control)", () => {
  const urls = loadedBy('@cloister/service-kit', 'service-kit');
  assert.ok(urls.some((u) => u.includes('/node_modules/hono/')));
});
