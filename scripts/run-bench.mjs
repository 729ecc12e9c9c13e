#!/usr/bin/env node
// `npm run bench -- NAME`: runs bench/NAME (compiled to bench/dist/NAME/index.js). Its last line is
// `NAME: key=value …`.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const name = process.argv[2];
const available = readdirSync(join(root, 'bench')).filter((d) => existsSync(join(root, 'bench', 'dist', d, 'index.js')));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME   (one of: ${available.join(', ')})`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [join(root, 'bench', 'dist', name, 'index.js'), ...process.argv.slice(3)], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
