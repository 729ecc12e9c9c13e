/**
 * The enclave SDK reaches AESM through this package only: `import '@cloister/enclave'` loads neither the node agent
 * nor its server stack (grpc-js, pino, prom-client). Checked in a fresh Node process with a module-resolution hook
 * that records every module the import graph resolves (ESM and the CommonJS entry points it reaches), plus
 * `require.cache` afterwards. A positive control proves the detector sees grpc-js when the node agent is imported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modulesLoadedBy } from '@cloister/testkit';

const SERVER_STACK = ['/node_modules/@grpc/grpc-js/', '/node_modules/pino/', '/node_modules/prom-client/', '/packages/node-agent/'];

test("import '@cloister/enclave' loads @cloister/aesm but not the node agent, grpc-js, pino or prom-client", () => {
  const urls = modulesLoadedBy('@cloister/enclave');
  assert.ok(urls.some((u) => u.includes('/packages/enclave/dist/src/index.js')), 'the enclave entry was resolved');
  assert.ok(urls.some((u) => u.includes('/packages/aesm/dist/src/')), 'the AESM client comes from @cloister/aesm');
  for (const part of SERVER_STACK) {
    assert.deepEqual(urls.filter((u) => u.includes(part)), [], `nothing under ${part}`);
  }
});

test('the detector sees grpc-js when the node agent is imported (control)', () => {
  const urls = modulesLoadedBy('@cloister/node-agent');
  assert.ok(urls.some((u) => u.includes('/node_modules/@grpc/grpc-js/')));
  assert.ok(urls.some((u) => u.includes('/packages/aesm/dist/src/')));
});
