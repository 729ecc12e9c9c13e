/** Every package's entry points have explicit export lists: no `export *` / `export type *` (the project's rule). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '@cloister/testkit';

function indexFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) indexFiles(path, out);
    else if (name === 'index.ts') out.push(path);
  }
  return out;
}

test('no package index.ts re-exports with export *', () => {
  const files = readdirSync(join(repoRoot, 'packages'))
    .map((p) => join(repoRoot, 'packages', p, 'src'))
    .filter((d) => existsSync(d))
    .flatMap((d) => indexFiles(d));
  assert.ok(files.length >= 10, `found ${files.length} index files`);
  const offenders = files.filter((f) => /^\s*export\s+(type\s+)?\*/m.test(readFileSync(f, 'utf8'))).map((f) => relative(repoRoot, f));
  assert.deepEqual(offenders, []);
});
