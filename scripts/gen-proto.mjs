#!/usr/bin/env node
// Generates packages/node-agent/gen/ (TypeScript, @bufbuild/protobuf v2 schemas) from packages/node-agent/proto/
// with `buf generate` and the locally installed protoc-gen-es (packages/node-agent/buf.gen.yaml). Runs offline: the
// module has no dependencies and the only plugin is a local one, so buf never contacts the BSR.
// Usage: node scripts/gen-proto.mjs   (or: npm run gen -w @cloister/node-agent)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const pkgDir = join(root, 'packages', 'node-agent');
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
console.log('gen-proto: wrote packages/node-agent/gen/');
