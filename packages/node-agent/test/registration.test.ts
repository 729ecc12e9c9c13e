/**
 * PluginManager lifecycle against the kubelet double: serve then register, re-register after a kubelet restart that
 * wipes the directory (< 2 s), wait out a kubelet that is not there yet, re-register when kubelet drops ListAndWatch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../src/errors.js';
import { PluginManager } from '../src/plugin-manager.js';
import { DevicePluginServer } from '../src/plugin-server.js';
import { UNHEALTHY } from '../src/types.js';
import { FakeResource, RecordingMetrics } from './grpc-fake-resource.js';
import { CHECKPOINT_FILE, DEPRECATION_FILE, KubeletDouble } from '../src/testing/kubelet-double.js';

interface Setup {
  readonly dir: string;
  readonly epc: FakeResource;
  readonly enclave: FakeResource;
  readonly metrics: RecordingMetrics;
  readonly manager: PluginManager;
  kubelet: KubeletDouble | undefined;
}

function resources(): { epc: FakeResource; enclave: FakeResource } {
  return {
    epc: new FakeResource(),
    enclave: new FakeResource({
      resourceName: 'sgx.intel.com/enclave',
      socketName: 'cloister-sgx.intel.com-enclave.sock',
      count: 4,
      prefix: 'sgx-enclave-',
      preferredAllocationAvailable: false,
    }),
  };
}

async function setup(
  t: { after(fn: () => Promise<void>): void },
  options: { kubeletFirst?: boolean; checkpoint?: boolean } = {},
): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-reg-'));
  if (options.checkpoint) writeFileSync(join(dir, CHECKPOINT_FILE), '{}');
  const { epc, enclave } = resources();
  const metrics = new RecordingMetrics();
  const kubelet = options.kubeletFirst === false ? undefined : await KubeletDouble.start(dir);
  const manager = new PluginManager({ pluginDir: dir, resources: [epc, enclave], metrics, checkIntervalMs: 0 });
  const s: Setup = { dir, epc, enclave, metrics, manager, kubelet };
  t.after(async () => {
    await manager.stop();
    await s.kubelet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await manager.start();
  return s;
}

/** Both resources registered with `kubelet` at least `n` times and their latest streams carrying devices. */
function settled(kubelet: KubeletDouble, s: Setup, n = 1): () => boolean {
  return () =>
    [s.epc, s.enclave].every((r) => {
      const regs = kubelet.registrationsOf(r.resourceName).length;
      const state = kubelet.state(r.resourceName);
      return regs >= n && state?.connected === true && state.capacity === r.devices().length;
    });
}

test('every resource is served, then registered with its options; kubelet sees capacity and allocatable', async (t) => {
  const s = await setup(t);
  const kubelet = s.kubelet!;
  await kubelet.waitFor(settled(kubelet, s), 5000, 'both resources registered');
  const [epcReg] = kubelet.registrationsOf(s.epc.resourceName);
  const [enclaveReg] = kubelet.registrationsOf(s.enclave.resourceName);
  assert.deepEqual(epcReg?.options, { preStartRequired: false, getPreferredAllocationAvailable: true });
  assert.deepEqual(enclaveReg?.options, { preStartRequired: false, getPreferredAllocationAvailable: false });
  assert.equal(epcReg?.endpoint, 'cloister-sgx_epc_mem_in_MiB.sock');
  assert.equal(kubelet.state(s.epc.resourceName)?.allocatable, 8);
  assert.equal(kubelet.state(s.enclave.resourceName)?.capacity, 4);
  assert.ok(s.manager.ready());
  assert.deepEqual(
    s.manager.status().map((x) => [x.resourceName, x.registered, x.registrations, x.starts]),
    [
      [s.epc.resourceName, true, 1, 1],
      [s.enclave.resourceName, true, 1, 1],
    ],
  );
  assert.deepEqual(
    s.metrics.registrations.filter((r) => r.ok).map((r) => r.resource).sort(),
    [s.epc.resourceName, s.enclave.resourceName].sort(),
  );
  const res = await kubelet.allocate(s.enclave.resourceName, [['sgx-enclave-0'], ['sgx-enclave-1']]);
  assert.equal(res.containerResponses.length, 2);

  s.epc.setHealth('epc-6', UNHEALTHY);
  await kubelet.waitFor(() => kubelet.state(s.epc.resourceName)?.allocatable === 7, 2000, 'health flip');
});

// No wall-clock upper bounds here (bench/device-plugin reports the re-registration time): each test checks that the
// events happen, in order, with generous waits.
test('kubelet restart (directory wiped, kubelet.sock recreated) → both resources re-registered', async (t) => {
  const s = await setup(t, { checkpoint: true });
  const kubelet = s.kubelet!;
  await kubelet.waitFor(settled(kubelet, s), 5000, 'first registration');
  const before = kubelet.registrations.length;
  s.epc.setHealth('epc-2', UNHEALTHY);

  const started = Date.now();
  await kubelet.restart();
  await kubelet.waitFor(
    () => settled(kubelet, s)() && kubelet.registrations.length >= before + 2,
    20_000,
    're-registration of both resources',
  );
  t.diagnostic(`re-registered ${kubelet.registrations.length - before} plugins ${Date.now() - started} ms after the kubelet restart`);
  assert.deepEqual(
    [...new Set(kubelet.registrations.slice(before).map((r) => r.resourceName))].sort(),
    [s.enclave.resourceName, s.epc.resourceName].sort(),
    'each resource registered again after the restart',
  );
  assert.equal(kubelet.state(s.epc.resourceName)?.capacity, 8);
  assert.equal(kubelet.state(s.epc.resourceName)?.allocatable, 7);
  const res = await kubelet.allocate(s.epc.resourceName, [['epc-0']]);
  assert.equal(res.containerResponses.length, 1);

  // The wipe kept the checkpoint and the directory now holds kubelet's DEPRECATION file, both ignored.
  const entries = readdirSync(s.dir).sort();
  assert.ok(entries.includes(CHECKPOINT_FILE));
  assert.ok(entries.includes(DEPRECATION_FILE));
  for (const r of [s.epc, s.enclave]) assert.ok(entries.includes(r.socketName), `${r.socketName} recreated`);

  // Things settle: no restart storm after the event burst.
  const registrations = kubelet.registrations.length;
  const starts = s.manager.status().map((x) => x.starts);
  writeFileSync(join(s.dir, DEPRECATION_FILE), '');
  writeFileSync(join(s.dir, 'some-other-plugin.txt'), 'x');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(kubelet.registrations.length, registrations);
  assert.deepEqual(
    s.manager.status().map((x) => x.starts),
    starts,
  );
  assert.ok(s.manager.ready());
});

test('slow kubelet restart (down 600 ms, 150 ms from wipe to listen) → registered again once it listens', async (t) => {
  const s = await setup(t);
  const kubelet = s.kubelet!;
  await kubelet.waitFor(settled(kubelet, s), 5000, 'first registration');
  const before = kubelet.registrations.length;
  await kubelet.restart({ downMs: 600, cleanupToListenMs: 150 });
  const listening = Date.now();
  await kubelet.waitFor(
    () => settled(kubelet, s)() && kubelet.registrations.length >= before + 2,
    20_000,
    're-registration after a slow restart',
  );
  t.diagnostic(`re-registered ${Date.now() - listening} ms after the restarted kubelet started listening`);
  // While kubelet was down the plugins tried (ListAndWatch ended) and failed without crashing.
  assert.ok(s.metrics.registrations.some((r) => !r.ok));
  assert.ok(s.manager.ready());
});

test('our socket removed by someone else → that plugin restarts and registers again', async (t) => {
  const s = await setup(t);
  const kubelet = s.kubelet!;
  await kubelet.waitFor(settled(kubelet, s), 5000, 'first registration');
  const socket = join(s.dir, s.epc.socketName);
  const started = Date.now();
  rmSync(socket);
  await kubelet.waitFor(
    () => kubelet.registrationsOf(s.epc.resourceName).length === 2 && kubelet.state(s.epc.resourceName)?.capacity === 8,
    20_000,
    're-registration after socket removal',
  );
  t.diagnostic(`re-registered ${Date.now() - started} ms after the socket was removed`);
  assert.ok(existsSync(socket));
  assert.equal(s.manager.status()[0]?.starts, 2);
  assert.equal(s.manager.status()[1]?.starts, 1, 'the other plugin is left alone');
});

test('kubelet down at start: retries with backoff, registers once kubelet comes up', async (t) => {
  const s = await setup(t, { kubeletFirst: false });
  // Served already, not registered.
  for (const r of [s.epc, s.enclave]) assert.ok(existsSync(join(s.dir, r.socketName)));
  const failed = (): number => s.metrics.registrations.filter((r) => !r.ok && r.resource === s.epc.resourceName).length;
  const waitStart = Date.now();
  while (failed() < 3) {
    assert.ok(Date.now() - waitStart < 20_000, `only ${failed()} attempts`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // Retries at 0, then after >= 200 and >= 400 ms more (250·2^n minus at most 20 % jitter): not a hot loop. A lower
  // bound only — a slow machine can only make the attempts later.
  assert.ok(Date.now() - waitStart >= 600, `three attempts within ${Date.now() - waitStart} ms`);
  assert.equal(s.manager.ready(), false);
  assert.match(s.manager.status()[0]?.lastError ?? '', /REGISTRATION_FAILED|not reachable/);

  const started = Date.now();
  s.kubelet = await KubeletDouble.start(s.dir);
  const kubelet = s.kubelet;
  await kubelet.waitFor(settled(kubelet, s), 20_000, 'registration after kubelet came up');
  t.diagnostic(`registered ${Date.now() - started} ms after kubelet came up`);
  assert.ok(s.manager.ready());
});

test('kubelet ends ListAndWatch → the plugin registers again', async (t) => {
  const s = await setup(t);
  const kubelet = s.kubelet!;
  await kubelet.waitFor(settled(kubelet, s), 5000, 'first registration');
  kubelet.cancelListAndWatch(s.epc.resourceName);
  await kubelet.waitFor(
    () =>
      kubelet.registrationsOf(s.epc.resourceName).length === 2 &&
      kubelet.state(s.epc.resourceName)?.connected === true &&
      kubelet.state(s.epc.resourceName)?.capacity === 8,
    2000,
    're-registration after the stream ended',
  );
  assert.equal(kubelet.state(s.epc.resourceName)?.allocatable, 8);
  // Only that plugin; and no loop.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(kubelet.registrationsOf(s.epc.resourceName).length, 2);
  assert.equal(kubelet.registrationsOf(s.enclave.resourceName).length, 1);
});

test('a socket served by someone else makes start() fail with SOCKET_IN_USE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-reg-'));
  const { epc, enclave } = resources();
  const other = new DevicePluginServer({ pluginDir: dir, resource: enclave });
  t.after(async () => {
    await other.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await other.start();
  const manager = new PluginManager({ pluginDir: dir, resources: [epc, enclave], checkIntervalMs: 0 });
  await assert.rejects(manager.start(), (err) => {
    assert.ok(AgentError.is(err));
    assert.equal(err.code, 'SOCKET_IN_USE');
    return true;
  });
  assert.ok(other.socketIntact());
  assert.equal(existsSync(join(dir, epc.socketName)), false, 'the failed start cleaned up what it had started');
});

test('stop() removes the sockets and stops registering', async (t) => {
  const s = await setup(t);
  const kubelet = s.kubelet!;
  await kubelet.waitFor(settled(kubelet, s), 5000, 'first registration');
  await s.manager.stop();
  for (const r of [s.epc, s.enclave]) assert.equal(existsSync(join(s.dir, r.socketName)), false);
  await kubelet.waitFor(() => kubelet.state(s.epc.resourceName)?.connected === false, 2000, 'streams ended');
  const registrations = kubelet.registrations.length;
  await kubelet.restart();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(kubelet.registrations.length, registrations);
  assert.equal(s.epc.listeners, 0);
});

test('configuration errors: duplicate resources or socket names', () => {
  const { epc } = resources();
  assert.throws(() => new PluginManager({ pluginDir: '/nonexistent', resources: [epc, epc] }), /configured twice/);
  const clash = new FakeResource({ resourceName: 'sgx.intel.com/provision', socketName: epc.socketName });
  assert.throws(() => new PluginManager({ pluginDir: '/nonexistent', resources: [epc, clash] }), /is taken/);
  const kubeletName = new FakeResource({ resourceName: 'sgx.intel.com/provision', socketName: 'kubelet.sock' });
  assert.throws(() => new PluginManager({ pluginDir: '/nonexistent', resources: [kubeletName] }), /is taken/);
});
