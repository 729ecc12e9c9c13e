#!/usr/bin/env node
// Generates a package's gen/ (TypeScript, @bufbuild/protobuf v2 schemas) from its proto/ with `buf generate` and the
// locally installed protoc-gen-es, following the package's buf.gen.yaml. Runs offline: the modules have no
// dependencies and the only plugin is a local one, so buf never contacts the BSR.
// Usage:
//   npm run gen -w @cloister/aesm            (npm runs it in the package directory: that package)
//   node scripts/gen-proto.mjs packages/aesm packages/node-agent
//   node scripts/gen-proto.mjs               (from the repository root: every package with a buf.gen.yaml)
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const buf = join(root, 'node_modules', '.bin', 'buf');
const plugin = join(root, 'node_modules', '@bufbuild', 'protoc-gen-es', 'bin', 'protoc-gen-es');

for (const [what, file] of [
  ['buf (devDependency @bufbuild/buf)', buf],
  ['protoc-gen-es (devDependency @bufbuild/protoc-gen-es)', plugin],
]) {
  if (!existsSync(file)) {
    console.error(`gen-proto: ${what} not found at ${file}; run npm install first`);
    process.exit(1);
  }
}

const hasTemplate = (dir) => existsSync(join(dir, 'buf.gen.yaml')) && existsSync(join(dir, 'buf.yaml'));
let dirs = process.argv.slice(2).map((d) => resolve(d));
if (dirs.length === 0) {
  const cwd = process.cwd();
  dirs = hasTemplate(cwd)
    ? [cwd]
    : readdirSync(join(root, 'packages'))
        .map((p) => join(root, 'packages', p))
        .filter(hasTemplate);
}
if (dirs.length === 0) {
  console.error('gen-proto: no package with buf.yaml + buf.gen.yaml to generate');
  process.exit(1);
}

for (const pkgDir of dirs) {
  if (!hasTemplate(pkgDir)) {
    console.error(`gen-proto: ${pkgDir} has no buf.yaml + buf.gen.yaml`);
    process.exit(1);
  }
  const r = spawnSync(buf, ['generate', '--template', 'buf.gen.yaml'], {
    cwd: pkgDir,
    stdio: 'inherit',
    // Keep buf's module cache inside node_modules rather than in the user's home directory.
    env: { ...process.env, BUF_CACHE_DIR: process.env.BUF_CACHE_DIR ?? join(root, 'node_modules', '.cache', 'buf') },
  });
  if (r.error) {
    console.error(`gen-proto: could not run buf: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
  console.log(`gen-proto: wrote ${relative(root, join(pkgDir, 'gen'))}/`);
}
