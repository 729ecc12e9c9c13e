/**
 * Tests only: which modules an import pulls in. A fresh Node process imports `specifier` from the repository root
 * with a module-resolution hook recording every URL the import graph resolves (ESM, and the CommonJS entry points it
 * reaches), plus every file in the CommonJS cache afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './index.js';

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
export function modulesLoadedBy(specifier: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-imports-'));
  try {
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(hooks, HOOKS);
    const out = join(dir, 'loaded.log');
    writeFileSync(out, '');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', MAIN, pathToFileURL(hooks).href, out, specifier], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`importing ${specifier} failed: ${r.stderr}`);
    return readFileSync(out, 'utf8').split('\n').filter((l) => l !== '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
