#!/usr/bin/env node
// tsc writes files with mode 0644; the workspaces' `bin` entries must be executable for `npx cloister` (npm links
// them at install time, before `prepare` builds them, so it cannot chmod them itself).
import { chmodSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgPath = join(root, 'packages', dir, 'package.json');
  if (!existsSync(pkgPath)) continue;
  const bin = JSON.parse(readFileSync(pkgPath, 'utf8')).bin ?? {};
  for (const rel of typeof bin === 'string' ? [bin] : Object.values(bin)) {
    const file = join(root, 'packages', dir, rel);
    if (existsSync(file)) chmodSync(file, 0o755);
  }
}
