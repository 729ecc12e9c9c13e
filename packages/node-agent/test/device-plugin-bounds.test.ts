/**
 * Client-provided strings the device plugin echoes are bounded: a 3.9 MB device ID sent through the real plugin socket
 * comes back in a short gRPC status and a short log line (first 64 characters + its size), and the server's gRPC
 * limits are the ones documented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log.js';
import { DEVICE_PLUGIN_GRPC_OPTIONS, DevicePluginServer, MAX_STATUS_DETAILS, toGrpcError } from '../src/plugin-server.js';
import { register } from '../src/registrar.js';
import { createEpcResource } from '../src/resources/epc.js';
import { manualHealth } from '../src/resources/health.js';
import { AgentError } from '../src/errors.js';
import { KubeletDouble } from '../src/testing/kubelet-double.js';
import { CLIP_CHARS, clip, quoteClipped } from '../src/util/clip.js';

test('clip: short strings unchanged; long ones cut to 64 characters plus their UTF-8 size', () => {
  assert.equal(clip('epc-1'), 'epc-1');
  assert.equal(clip('x'.repeat(CLIP_CHARS)), 'x'.repeat(CLIP_CHARS));
  const long = 'a'.repeat(1000);
  assert.equal(clip(long), `${'a'.repeat(64)}…(1000 bytes)`);
  // A surrogate pair straddling the cut is not split; the size counts UTF-8 bytes.
  const emoji = `${'b'.repeat(63)}😀${'c'.repeat(10)}`;
  assert.equal(clip(emoji), `${'b'.repeat(63)}…(${63 + 4 + 10} bytes)`);
  assert.equal(quoteClipped('a\nb'), '"a\\nb"');
});

test('toGrpcError bounds the status details whatever the message holds', () => {
  const status = toGrpcError(new AgentError('INVALID_REQUEST', 'y'.repeat(100_000)), 'r', 'Allocate');
  assert.ok((status.details ?? '').length <= MAX_STATUS_DETAILS + 30);
  assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
});

test('a 3.9 MB device ID through the plugin socket: short status, short log line, plugin keeps serving', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-dp-bounds-'));
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
  const kubelet = await KubeletDouble.start(dir);
  const resource = createEpcResource({ epcMiB: 16, enclaveHostPath: '/dev/sgx_enclave', health: manualHealth() });
  const server = new DevicePluginServer({ pluginDir: dir, resource, logger });
  t.after(async () => {
    await server.stop();
    await kubelet.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await server.start();
  await register(kubelet.socketPath, {
    resourceName: resource.resourceName,
    endpoint: resource.socketName,
    options: { preStartRequired: false, getPreferredAllocationAvailable: true },
  });
  await kubelet.waitFor(() => kubelet.listsOf(resource.resourceName).length > 0, 5000, 'first device list');

  const hugeId = `epc-${'9'.repeat(3_900_000)}`;
  const megaId = hugeId.slice(0, 1_000_000);
  for (const containers of [[[hugeId]], [['epc-1', 'epc-1']], [[megaId, megaId]]]) {
    lines.length = 0;
    await assert.rejects(kubelet.allocate(resource.resourceName, containers), (err: unknown) => {
      const e = err as grpc.ServiceError;
      assert.ok([grpc.status.NOT_FOUND, grpc.status.INVALID_ARGUMENT].includes(e.code), `code ${e.code}`);
      assert.ok(e.details.length < 400, `details of ${e.details.length} characters`);
      return true;
    });
    const failed = lines.find((l) => l.includes('allocate_failed'));
    assert.ok(failed !== undefined, 'the failure is logged');
    assert.ok(failed.length < 1000, `log line of ${failed.length} bytes`);
  }
  lines.length = 0;
  const [preferredError] = await Promise.allSettled([kubelet.preferred(resource.resourceName, [{ available: [hugeId], mustInclude: [], size: 1 }])]);
  assert.equal(preferredError?.status, 'rejected');
  const details = ((preferredError as PromiseRejectedResult).reason as grpc.ServiceError).details;
  assert.ok(details.includes(`"epc-${'9'.repeat(60)}…(3900004 bytes)"`), details.slice(0, 200));
  assert.ok(lines.every((l) => l.length < 1000));
  // Above max_receive_message_length (4 MiB) the request is refused before the plugin sees it.
  await assert.rejects(kubelet.allocate(resource.resourceName, [[`epc-${'9'.repeat(5_000_000)}`]]), (err: unknown) => {
    assert.equal((err as grpc.ServiceError).code, grpc.status.RESOURCE_EXHAUSTED);
    return true;
  });
  // The plugin still answers a valid request.
  const ok = await kubelet.allocate(resource.resourceName, [['epc-0', 'epc-1']]);
  assert.equal(ok.containerResponses.length, 1);
});

test('the gRPC server limits: message size, streams per connection, keepalive, idle connections; no connection age', () => {
  assert.equal(DEVICE_PLUGIN_GRPC_OPTIONS['grpc.max_receive_message_length'], 4 * 1024 * 1024);
  assert.equal(DEVICE_PLUGIN_GRPC_OPTIONS['grpc.max_concurrent_streams'], 16);
  assert.ok((DEVICE_PLUGIN_GRPC_OPTIONS['grpc.keepalive_time_ms'] ?? 0) > 0);
  assert.ok((DEVICE_PLUGIN_GRPC_OPTIONS['grpc.max_connection_idle_ms'] ?? 0) > 0);
  assert.equal(DEVICE_PLUGIN_GRPC_OPTIONS['grpc.max_connection_age_ms'], undefined);
});
