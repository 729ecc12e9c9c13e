#!/usr/bin/env node
// Regenerates deploy/kubernetes*/ from the install renderer (packages/webhook/src/install). Run after
// `npx tsc -b packages/webhook`. packages/webhook/test/install.test.ts fails when
// the committed files differ from what this writes.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEPLOY_VARIANTS, renderDeploy } from '../packages/webhook/dist/src/index.js';

const root = new URL('..', import.meta.url).pathname;
const files = await renderDeploy();
for (const v of DEPLOY_VARIANTS) {
  const dir = join(root, v.dir);
  // Rendered directories hold only rendered files: stale ones (a part renamed or removed) go.
  for (const f of (() => { try { return readdirSync(dir); } catch { return []; } })()) {
    if (f.endsWith('.yaml') && !files.has(`${v.dir}/${f}`)) rmSync(join(dir, f));
  }
}
for (const [path, content] of files) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}
console.log(`render-deploy: ${files.size} files in ${DEPLOY_VARIANTS.map((v) => v.dir).join(', ')}`);
