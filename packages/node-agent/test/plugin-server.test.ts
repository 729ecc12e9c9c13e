/**
 * DevicePluginServer through its real unix socket, driven by a kubelet double that registers, dials back and calls the
 * plugin exactly as kubelet does (same generated schemas, grpc-js on both sides).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { existsSync, linkSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import {
  ListAndWatchResponseSchema,
  PreStartContainerRequestSchema,
  type PreStartContainerResponse,
} from '../gen/k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1/api_pb.js';
import { AgentError } from '../src/errors.js';
import {
  DevicePluginClient,
  UNIX_CLIENT_CHANNEL_OPTIONS,
  devicePluginServiceDefinition,
  registrationServiceDefinition,
  unixTarget,
} from '../src/grpc/services.js';
import { DevicePluginServer, probeSocket, toListAndWatchResponse } from '../src/plugin-server.js';
import { backoffDelay, register } from '../src/registrar.js';
import { HEALTHY, UNHEALTHY } from '../src/types.js';
import { FakeResource, RecordingMetrics } from './grpc-fake-resource.js';
import { KubeletDouble } from '../src/testing/kubelet-double.js';

interface Harness {
  readonly dir: string;
  readonly kubelet: KubeletDouble;
  readonly resource: FakeResource;
  readonly metrics: RecordingMetrics;
  readonly server: DevicePluginServer;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cloister-dp-'));
}

/** A served, registered plugin with the double holding its first device list; cleaned up after the test. */
async function registered(t: { after(fn: () => Promise<void>): void }): Promise<Harness> {
  const dir = tempDir();
  const kubelet = await KubeletDouble.start(dir);
  const resource = new FakeResource();
  const metrics = new RecordingMetrics();
  const server = new DevicePluginServer({ pluginDir: dir, resource, metrics });
  t.after(async () => {
    await server.stop();
    await kubelet.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await server.start();
  await register(kubelet.socketPath, {
    resourceName: resource.resourceName,
    endpoint: resource.socketName,
    options: { preStartRequired: false, getPreferredAllocationAvailable: resource.preferredAllocationAvailable },
  });
  await kubelet.waitFor(() => kubelet.listsOf(resource.resourceName).length > 0, 5000, 'first device list');
  return { dir, kubelet, resource, metrics, server };
}

function serviceError(code: grpc.status, ...fragments: string[]): (err: unknown) => boolean {
  return (err) => {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, code, `grpc code ${e.code} (${e.details}), expected ${code}`);
    for (const f of fragments) assert.ok(e.details.includes(f), `"${e.details}" lacks "${f}"`);
    return true;
  };
}

/** A full GC: the global one under --expose-gc, else one obtained by setting the flag at run time. */
function collector(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

function readVarint(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    if (b === undefined) throw new Error('truncated varint');
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, pos];
    shift += 7;
  }
}

/** Top-level fields of a protobuf message as [tag byte value, payload]; only the wire types the API uses. */
function fields(bytes: Uint8Array): { tag: number; field: number; payload: Uint8Array | number }[] {
  const out: { tag: number; field: number; payload: Uint8Array | number }[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, pos);
    const wire = tag & 7;
    if (wire === 0) {
      const [v, next] = readVarint(bytes, afterTag);
      out.push({ tag, field: tag >>> 3, payload: v });
      pos = next;
    } else if (wire === 2) {
      const [len, start] = readVarint(bytes, afterTag);
      out.push({ tag, field: tag >>> 3, payload: bytes.subarray(start, start + len) });
      pos = start + len;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
  }
  return out;
}

/** Asserts a serialized ListAndWatchResponse: only `devices` (0x0a), and inside each Device only ID (0x0a) and health (0x12). */
function assertNoTopology(bytes: Uint8Array, expectedDevices: number): void {
  const top = fields(bytes);
  assert.equal(top.length, expectedDevices);
  for (const f of top) {
    assert.equal(f.tag, 0x0a);
    assert.ok(f.payload instanceof Uint8Array);
    const inner = fields(f.payload);
    assert.deepEqual(
      inner.map((x) => x.tag),
      [0x0a, 0x12],
    );
    assert.ok(!inner.some((x) => x.tag === 0x1a || x.field === 3), 'Device carries field 3 (topology)');
  }
}

test('method paths are the kubelet v1beta1 ones', () => {
  assert.deepEqual(
    Object.values(devicePluginServiceDefinition).map((m) => [m.path, m.responseStream]),
    [
      ['/v1beta1.DevicePlugin/GetDevicePluginOptions', false],
      ['/v1beta1.DevicePlugin/ListAndWatch', true],
      ['/v1beta1.DevicePlugin/GetPreferredAllocation', false],
      ['/v1beta1.DevicePlugin/Allocate', false],
      ['/v1beta1.DevicePlugin/PreStartContainer', false],
    ],
  );
  assert.equal(registrationServiceDefinition.register.path, '/v1beta1.Registration/Register');
});

test('registration: kubelet dials back, sees the options, capacity and allocatable', async (t) => {
  const { kubelet, resource } = await registered(t);
  const [reg] = kubelet.registrationsOf(resource.resourceName);
  assert.ok(reg);
  assert.equal(reg.version, 'v1beta1');
  assert.equal(reg.endpoint, resource.socketName);
  assert.deepEqual(reg.options, { preStartRequired: false, getPreferredAllocationAvailable: true });
  assert.deepEqual(reg.pluginOptions, { preStartRequired: false, getPreferredAllocationAvailable: true });
  const state = kubelet.state(resource.resourceName);
  assert.equal(state?.capacity, 8);
  assert.equal(state?.allocatable, 8);
  assert.equal(state?.connected, true);
  assert.ok(state?.devices.every((d) => !d.hasTopology && d.health === HEALTHY));
});

test('Allocate returns the resource specs, one response per container', async (t) => {
  const { kubelet, resource, metrics } = await registered(t);
  const res = await kubelet.allocate(resource.resourceName, [['epc-0', 'epc-1'], ['epc-2']]);
  assert.equal(res.containerResponses.length, 2);
  const [first, second] = res.containerResponses;
  assert.deepEqual(
    first?.devices.map((d) => [d.containerPath, d.hostPath, d.permissions]),
    [['/dev/sgx_enclave', '/dev/sgx_enclave', 'rw']],
  );
  assert.deepEqual(
    first?.mounts.map((m) => [m.containerPath, m.hostPath, m.readOnly]),
    [['/var/run/aesmd', '/var/run/aesmd', true]],
  );
  assert.deepEqual(first?.envs, { SGX_AESM_ADDR: '1', CLOISTER_EPC_MIB: '2' });
  assert.deepEqual(first?.annotations, { 'cloister.dev/epc-devices': 'epc-0,epc-1' });
  assert.deepEqual(second?.envs, { SGX_AESM_ADDR: '1', CLOISTER_EPC_MIB: '1' });
  assert.deepEqual(first?.cdiDevices, []);
  assert.deepEqual(resource.allocations, [['epc-0', 'epc-1'], ['epc-2']]);
  assert.equal(metrics.allocations.length, 1);
  assert.equal(metrics.allocations[0]?.devices, 3);
  assert.ok((metrics.allocations[0]?.seconds ?? -1) >= 0);
});

test('Allocate of unknown or unhealthy devices fails the whole request with a readable status', async (t) => {
  const { kubelet, resource, metrics } = await registered(t);
  await assert.rejects(
    kubelet.allocate(resource.resourceName, [['epc-0'], ['epc-99']]),
    serviceError(grpc.status.NOT_FOUND, 'cloister:', '"epc-99"', resource.resourceName, 'not advertised'),
  );
  resource.setHealth('epc-5', UNHEALTHY);
  await assert.rejects(
    kubelet.allocate(resource.resourceName, [['epc-4', 'epc-5']]),
    serviceError(
      grpc.status.FAILED_PRECONDITION,
      `cloister: device "epc-5" of ${resource.resourceName} is Unhealthy: /dev/sgx_enclave is missing on this node`,
    ),
  );
  assert.deepEqual(metrics.allocations, []);
  assert.deepEqual(metrics.errors, ['allocate_unknown_device', 'allocate_unhealthy_device']);
});

test('Allocate with no container requests is INVALID_ARGUMENT; an empty container is too', async (t) => {
  const { kubelet, resource } = await registered(t);
  await assert.rejects(
    kubelet.allocate(resource.resourceName, []),
    serviceError(grpc.status.INVALID_ARGUMENT, 'no container requests', resource.resourceName),
  );
  await assert.rejects(kubelet.allocate(resource.resourceName, [[]]), serviceError(grpc.status.INVALID_ARGUMENT));
  assert.deepEqual(resource.allocations, []);
});

test('a health flip pushes the full list: capacity stays, allocatable drops and comes back', async (t) => {
  const { kubelet, resource } = await registered(t);
  const before = kubelet.listsOf(resource.resourceName).length;
  resource.setHealth('epc-3', UNHEALTHY);
  await kubelet.waitFor(() => kubelet.state(resource.resourceName)?.allocatable === 7, 2000, 'allocatable 7');
  const lists = kubelet.listsOf(resource.resourceName);
  assert.equal(lists.length, before + 1);
  const last = lists.at(-1);
  assert.equal(last?.capacity, 8);
  assert.deepEqual(
    last?.devices.filter((d) => d.health === UNHEALTHY).map((d) => d.id),
    ['epc-3'],
  );
  resource.setHealth('epc-3', HEALTHY);
  await kubelet.waitFor(() => kubelet.state(resource.resourceName)?.allocatable === 8, 2000, 'allocatable 8');
});

test('GetPreferredAllocation and PreStartContainer', async (t) => {
  const { kubelet, resource, server } = await registered(t);
  const pref = await kubelet.preferred(resource.resourceName, [
    { available: ['epc-7', 'epc-2', 'epc-5', 'epc-1'], mustInclude: ['epc-5'], size: 3 },
    { available: ['epc-0', 'epc-6'], mustInclude: [], size: 1 },
  ]);
  assert.deepEqual(
    pref.containerResponses.map((r) => r.deviceIDs),
    [['epc-5', 'epc-1', 'epc-2'], ['epc-0']],
  );
  const client = new DevicePluginClient(unixTarget(server.socketPath), grpc.credentials.createInsecure(), UNIX_CLIENT_CHANNEL_OPTIONS);
  t.after(() => client.close());
  const res = await new Promise<PreStartContainerResponse | undefined>((resolve, reject) =>
    client.preStartContainer(create(PreStartContainerRequestSchema, { devicesIds: ['epc-0'] }), (err, value) =>
      err ? reject(err) : resolve(value),
    ),
  );
  assert.ok(res);
});

test('ListAndWatch on the wire: no Device carries topology (field 3)', async (t) => {
  const devices = new FakeResource().devices();
  assertNoTopology(toBinary(ListAndWatchResponseSchema, toListAndWatchResponse(devices)), 8);
  const { kubelet, resource } = await registered(t);
  resource.setHealth('epc-1', UNHEALTHY);
  await kubelet.waitFor(() => kubelet.listsOf(resource.resourceName).length >= 2, 2000, 'second list');
  for (const list of kubelet.listsOf(resource.resourceName)) {
    assertNoTopology(list.raw, 8);
    assert.ok(list.devices.every((d) => !d.hasTopology));
  }
});

test('register failures are REGISTRATION_FAILED with kubelet\'s reason', async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const options = { preStartRequired: false, getPreferredAllocationAvailable: false };
  // No kubelet at all.
  await assert.rejects(register(join(dir, 'kubelet.sock'), { resourceName: 'sgx.intel.com/enclave', endpoint: 'x.sock', options }), (err) => {
    assert.ok(AgentError.is(err));
    assert.equal(err.code, 'REGISTRATION_FAILED');
    assert.match(err.message, /kubelet is not reachable/);
    return true;
  });
  const kubelet = await KubeletDouble.start(dir, { dialTimeoutMs: 300 });
  t.after(() => kubelet.stop());
  // kubelet refuses names outside an extended-resource namespace.
  await assert.rejects(register(kubelet.socketPath, { resourceName: 'kubernetes.io/sgx', endpoint: 'x.sock', options }), (err) => {
    assert.ok(AgentError.is(err));
    assert.equal(err.code, 'REGISTRATION_FAILED');
    assert.match(err.message, /"kubernetes\.io\/sgx" is not a valid extended resource name/);
    return true;
  });
  // Nothing serves the endpoint: kubelet's dial-back fails, so Register fails.
  await assert.rejects(register(kubelet.socketPath, { resourceName: 'sgx.intel.com/enclave', endpoint: 'nobody.sock', options }), (err) => {
    assert.ok(AgentError.is(err));
    assert.match(err.message, /failed to dial device plugin/);
    return true;
  });
  assert.equal(kubelet.registrations.length, 0);
});

test('a live socket is SOCKET_IN_USE; a stale socket or leftover file is replaced', async (t) => {
  const dir = tempDir();
  const resource = new FakeResource();
  const first = new DevicePluginServer({ pluginDir: dir, resource });
  t.after(async () => {
    await first.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await first.start();
  const second = new DevicePluginServer({ pluginDir: dir, resource });
  await assert.rejects(second.start(), (err) => {
    assert.ok(AgentError.is(err));
    assert.equal(err.code, 'SOCKET_IN_USE');
    assert.ok(err.message.includes(first.socketPath));
    return true;
  });
  assert.ok(first.socketIntact(), 'the losing server must not disturb the live socket');
  await first.stop();
  assert.equal(existsSync(first.socketPath), false, 'stop() removes the socket');

  // A socket inode nobody listens on (what a crashed agent leaves behind).
  const listener = createServer().listen(join(dir, 'tmp.sock'));
  await once(listener, 'listening');
  linkSync(join(dir, 'tmp.sock'), first.socketPath);
  listener.close();
  assert.equal(await probeSocket(first.socketPath), 'stale');
  const third = new DevicePluginServer({ pluginDir: dir, resource });
  await third.start();
  assert.ok(third.socketIntact());
  assert.equal(await probeSocket(third.socketPath), 'live');
  assert.equal((lstatSync(third.socketPath).mode & 0o777).toString(8), '660');
  await third.stop();

  // A plain file in the way.
  writeFileSync(first.socketPath, 'junk');
  const fourth = new DevicePluginServer({ pluginDir: dir, resource });
  await fourth.start();
  assert.ok(lstatSync(fourth.socketPath).isSocket());
  await fourth.stop();
  assert.equal(existsSync(fourth.socketPath), false);
  assert.equal(resource.listeners, 0, 'stopped servers unsubscribe from the resource');
});

test('stop() ends ListAndWatch and removes the socket', async (t) => {
  const { kubelet, resource, server } = await registered(t);
  assert.equal(server.activeStreams, 1);
  assert.ok(resource.listeners >= 1);
  await server.stop();
  assert.equal(existsSync(server.socketPath), false);
  await kubelet.waitFor(() => kubelet.state(resource.resourceName)?.connected === false, 2000, 'stream end');
  assert.equal(kubelet.state(resource.resourceName)?.allocatable, 0);
  assert.equal(resource.listeners, 0);
});

test('1,000 Allocate calls over the socket: no handle growth, bounded RSS', async (t) => {
  const { kubelet, resource } = await registered(t);
  const activeHandles = (): number =>
    (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
  const gc = collector();
  // Warm up first: JIT, grpc-js and the allocator take their one-time memory in the first few hundred calls.
  for (let i = 0; i < 300; i++) await kubelet.allocate(resource.resourceName, [[`epc-${i % 8}`]]);
  resource.allocations.length = 0;
  await new Promise((r) => setImmediate(r));
  gc?.();
  const handles0 = activeHandles();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const started = Date.now();
  for (let i = 0; i < 1000; i++) {
    const res = await kubelet.allocate(resource.resourceName, [[`epc-${i % 8}`], [`epc-${(i + 1) % 8}`]]);
    assert.equal(res.containerResponses.length, 2);
  }
  const elapsed = Date.now() - started;
  resource.allocations.length = 0;
  await new Promise((r) => setImmediate(r));
  gc?.();
  const handles1 = activeHandles();
  const growthMiB = (process.memoryUsage().rss - rss0) / 2 ** 20;
  const heapGrowthMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  t.diagnostic(
    `1000 Allocate in ${elapsed} ms; handles ${handles0} -> ${handles1}; ` +
      `RSS ${growthMiB >= 0 ? '+' : ''}${growthMiB.toFixed(1)} MiB, heap ${heapGrowthMiB.toFixed(1)} MiB (gc ${gc ? 'on' : 'off'})`,
  );
  assert.ok(handles1 <= handles0, `open handles grew from ${handles0} to ${handles1}`);
  // RSS moves with allocator and young-generation sizing, hence the generous bound; the heap after a full GC is the
  // sharp check (it stays within a few hundred KiB across rounds).
  assert.ok(growthMiB < 64, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
  if (gc) assert.ok(heapGrowthMiB < 4, `heap grew by ${heapGrowthMiB.toFixed(1)} MiB after GC`);
});

test('backoff: 250 ms doubling to 30 s, jitter only shortens', () => {
  const none = { random: () => 0 };
  assert.deepEqual(
    [0, 1, 2, 3, 7, 8, 20, 1000].map((a) => backoffDelay(a, none)),
    // 250·2^7 = 32 000 is capped at 30 000.
    [250, 500, 1000, 2000, 30_000, 30_000, 30_000, 30_000],
  );
  const full = { random: () => 0.999999 };
  assert.equal(backoffDelay(0, full), 200);
  assert.equal(backoffDelay(30, full), 24_000);
});
