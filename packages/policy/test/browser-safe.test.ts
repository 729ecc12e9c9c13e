/** The package is browser-safe: esbuild bundles it (with @cloister/dcap) for the browser platform, no Node built-ins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

test('@cloister/policy bundles for the browser without Node built-ins', async () => {
  const entry = fileURLToPath(new URL('../src/index.js', import.meta.url));
  const out = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true });
  const inputs = Object.keys(out.metafile.inputs);
  assert.ok(inputs.some((i) => i.includes('dcap')), 'dcap is bundled');
  assert.ok(!inputs.some((i) => i.startsWith('node:') || /(^|\/)node_modules\/@types\/node/.test(i)), inputs.join('\n'));
  assert.equal(out.errors.length, 0);
});
