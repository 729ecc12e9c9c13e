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
import { createAgentLogger as createLogger } from '../src/logger.js';
import { DEVICE_PLUGIN_GRPC_OPTIONS, DevicePluginServer, MAX_STATUS_DETAILS, toGrpcError } from '../src/plugin-server.js';
import { register } from '../src/registrar.js';
import { createEpcResource } from '../src/resources/epc.js';
import { manualHealth } from '../src/resources/health.js';
import { AgentError } from '../src/errors.js';
import { KubeletDouble } from '../src/testing/kubelet-double.js';
import { DevicePluginClient, UNIX_CLIENT_CHANNEL_OPTIONS, unixTarget } from '../src/grpc/services.js';
import { AllocateRequestSchema, ContainerAllocateRequestSchema } from '../gen/k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1/api_pb.js';
import { create } from '@bufbuild/protobuf';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { FakeResource, RecordingMetrics } from './grpc-fake-resource.js';
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

/** Connections that send the HTTP/2 preface one byte every `intervalMs`, reopened as soon as they are closed. */
function slowPrefaces(path: string, count: number, intervalMs: number): { stop(): void; readonly opened: () => number } {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<Socket>();
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  const open = (): void => {
    if (stopped) return;
    const s = connect(path);
    opened++;
    sockets.add(s);
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    s.on('error', () => {});
    s.on('connect', () => {
      timer = setInterval(() => {
        if (!s.destroyed && sent < preface.length - 1) s.write(preface.subarray(sent, ++sent));
      }, intervalMs);
    });
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
      setImmediate(open);
    });
  };
  for (let i = 0; i < count; i++) open();
  return {
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
  };
}

test('plugin socket: 40 connections trickling the HTTP/2 preface beside new kubelet connections, all Allocate calls succeed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-dp-slow-'));
  const resource = new FakeResource();
  const metrics = new RecordingMetrics();
  const server = new DevicePluginServer({ pluginDir: dir, resource, metrics });
  await server.start();
  const attack = slowPrefaces(server.socketPath, 40, 100);
  t.after(async () => {
    attack.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  while (server.connections.open < 40) await new Promise((r) => setTimeout(r, 10));
  let ok = 0;
  const failures: string[] = [];
  // Each round dials a new connection, as kubelet does after a restart; until the attack has been cut and renewed.
  for (let round = 0; (round < 10 || attack.opened() < 80) && round < 500; round++) {
    const client = new DevicePluginClient(unixTarget(server.socketPath), grpc.credentials.createInsecure(), UNIX_CLIENT_CHANNEL_OPTIONS);
    try {
      const request = create(AllocateRequestSchema, {
        containerRequests: [create(ContainerAllocateRequestSchema, { devicesIds: ['epc-0'] })],
      });
      await new Promise<void>((resolve, reject) =>
        client.allocate(request, { deadline: Date.now() + 5000 }, (err) => (err ? reject(err) : resolve())),
      );
      ok++;
    } catch (e) {
      failures.push(String((e as grpc.ServiceError).code));
    } finally {
      client.close();
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(ok >= 10);
  assert.ok(attack.opened() >= 80, 'trickling connections were closed (and came back)');
  assert.ok(server.connections.pending <= 8);
  assert.ok(metrics.errors.some((e) => e === 'connection_overflow_timeout'));
});

test('plugin socket: a connection that does not open with the HTTP/2 preface is closed before grpc-js sees it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-dp-preface-'));
  const metrics = new RecordingMetrics();
  const server = new DevicePluginServer({ pluginDir: dir, resource: new FakeResource(), metrics });
  await server.start();
  t.after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const s = connect(server.socketPath);
  s.on('error', () => {});
  await once(s, 'connect');
  s.write('GET / HTTP/1.1\r\n\r\n');
  await new Promise<void>((r) => s.once('close', () => r())); // not events.once: it rejects on the EPIPE a racing write gets
  assert.deepEqual(metrics.errors, ['connection_not_http2']);
});
