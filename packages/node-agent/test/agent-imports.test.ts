/**
 * The agent process uses service-kit's plumbing without its web framework: `import '@cloister/node-agent/agent'`
 * (what `cloister node-agent` loads) resolves `@cloister/service-kit/core` but neither Hono nor @hono/node-server —
 * they would add about 15 MB to the idle RSS bench/device-plugin measures. Checked in a fresh Node process with a
 * module-resolution hook that records every module the import graph resolves; a control proves the detector sees Hono
 * when service-kit's main entry is imported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modulesLoadedBy } from '@cloister/testkit';

const FRAMEWORK = ['/node_modules/hono/', '/node_modules/@hono/'];

test("import '@cloister/node-agent/agent' loads service-kit's core, not Hono", () => {
  const urls = modulesLoadedBy('@cloister/node-agent/agent');
  assert.ok(urls.some((u) => u.includes('/packages/service-kit/dist/src/core.js')), 'service-kit/core was resolved');
  assert.ok(urls.some((u) => u.includes('/packages/service-kit/dist/src/probes.js')), 'the probe server comes from service-kit');
  for (const part of FRAMEWORK) assert.deepEqual(urls.filter((u) => u.includes(part)), [], `nothing under ${part}`);
});

test("the detector sees Hono when service-kit's main entry is imported (control)", () => {
  const urls = modulesLoadedBy('@cloister/service-kit');
  assert.ok(urls.some((u) => u.includes('/node_modules/hono/')));
});
