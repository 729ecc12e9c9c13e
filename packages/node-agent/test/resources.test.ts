import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SgxAvailable, SgxDetection } from '../src/detect/hardware.js';
import { prepareSimulatedSgx } from '../src/detect/simulated.js';
import { AgentError, type AgentErrorCode } from '../src/errors.js';
import {
  EPC_DEVICES_ANNOTATION,
  EPC_MIB_ANNOTATION,
  EPC_RESOURCE_NAME,
  EPC_SOCKET_NAME,
  createEpcResource,
} from '../src/resources/epc.js';
import { manualHealth, watchDeviceNodes, type ManualHealth } from '../src/resources/health.js';
import { buildResources } from '../src/resources/index.js';
import { createSlotResource } from '../src/resources/slots.js';
import { HEALTHY, UNHEALTHY, type DeviceResource } from '../src/types.js';

const MIB = 1024 * 1024;
const ENCLAVE = '/dev/sgx_enclave';
const PROVISION = '/dev/sgx_provision';

function detection(epcMiB: number, extra: Partial<SgxAvailable> = {}): SgxAvailable {
  return {
    sgx: true,
    simulated: false,
    epcBytes: epcMiB * MIB,
    epcSource: 'sysfs',
    perNuma: [{ node: 0, bytes: epcMiB * MIB }],
    flags: { sgx: true, sgxLc: true },
    devices: { enclave: ENCLAVE, provision: PROVISION },
    notes: [],
    ...extra,
  };
}

/** A health factory that hands out manual sources, one per path, so tests can flip them. */
function manualFactory(): { factory: (paths: readonly string[]) => ManualHealth; byPath: Map<string, ManualHealth> } {
  const byPath = new Map<string, ManualHealth>();
  return {
    byPath,
    factory: (paths) => {
      const h = manualHealth(true);
      byPath.set(paths.join(','), h);
      return h;
    },
  };
}

function expectCode(fn: () => unknown, code: AgentErrorCode, message?: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(AgentError.is(e), `expected AgentError ${code}, got ${String(e)}`);
      assert.equal(e.code, code);
      if (message !== undefined) assert.match(e.message, message);
      return true;
    },
  );
}

function ids(r: DeviceResource): string[] {
  return r.devices().map((d) => d.id);
}

function epc(mib: number, legacyAlias = false, health: ManualHealth = manualHealth()): DeviceResource {
  return createEpcResource({ epcMiB: mib, enclaveHostPath: ENCLAVE, legacyAlias, health });
}

describe('EPC resource (kubernetes.azure.com/sgx_epc_mem_in_MiB)', () => {
  it('advertises one healthy device per MiB with short unique IDs', () => {
    const r = epc(93);
    assert.equal(r.resourceName, EPC_RESOURCE_NAME);
    assert.equal(r.socketName, EPC_SOCKET_NAME);
    assert.equal(r.preferredAllocationAvailable, true);
    const list = ids(r);
    assert.equal(list.length, 93);
    assert.equal(list[0], 'epc-0');
    assert.equal(list[92], 'epc-92');
    assert.equal(new Set(list).size, 93);
    assert.ok(list.every((id) => id.length <= 63));
    assert.ok(r.devices().every((d) => d.health === HEALTHY));
  });

  it('caps the advertised MiB to keep ListAndWatch messages small', () => {
    const built = buildResources(detection(200_000), { resources: ['epc'], health: manualFactory().factory, maxEpcDevices: 1000 });
    assert.equal(built.epcMiB, 1000);
    assert.equal(built.resources[0]?.devices().length, 1000);
    assert.match(built.reasons.join('\n'), /advertising 1000 of 200000 MiB/);
  });

  it('allocates 1 MiB as /dev/sgx_enclave rw with the MiB annotation', () => {
    const a = epc(16).allocate(['epc-5']);
    assert.deepEqual(a.devices, [{ containerPath: '/dev/sgx_enclave', hostPath: ENCLAVE, permissions: 'rw' }]);
    assert.deepEqual(a.mounts, []);
    assert.deepEqual(a.envs, {});
    assert.deepEqual(a.annotations, { [EPC_MIB_ANNOTATION]: '1', [EPC_DEVICES_ANNOTATION]: 'epc-5' });
    assert.equal(EPC_MIB_ANNOTATION, 'cloister.dev/epc-mib');
  });

  it('allocates N MiB with the legacy /dev/sgx/enclave alias and the ID ranges', () => {
    const a = epc(16, true).allocate(['epc-3', 'epc-1', 'epc-2', 'epc-9', 'epc-0']);
    assert.deepEqual(a.devices, [
      { containerPath: '/dev/sgx_enclave', hostPath: ENCLAVE, permissions: 'rw' },
      { containerPath: '/dev/sgx/enclave', hostPath: ENCLAVE, permissions: 'rw' },
    ]);
    assert.equal(a.annotations[EPC_MIB_ANNOTATION], '5');
    assert.equal(a.annotations[EPC_DEVICES_ANNOTATION], 'epc-0..epc-3,epc-9');
  });

  it('rejects unknown, duplicate, empty and unhealthy requests with codes and actionable messages', () => {
    const health = manualHealth();
    const r = epc(4, false, health);
    expectCode(() => r.allocate(['epc-4']), 'UNKNOWN_DEVICE', /"epc-4".*kubernetes\.azure\.com\/sgx_epc_mem_in_MiB|kubernetes\.azure\.com\/sgx_epc_mem_in_MiB.*"epc-4"/);
    expectCode(() => r.allocate(['epc-1', 'epc-1']), 'INVALID_REQUEST', /"epc-1" more than once/);
    expectCode(() => r.allocate([]), 'INVALID_REQUEST', /named no devices/);
    health.set(false, '/dev/sgx_enclave disappeared');
    expectCode(
      () => r.allocate(['epc-0']),
      'UNHEALTHY_DEVICE',
      /device "epc-0" of kubernetes\.azure\.com\/sgx_epc_mem_in_MiB is Unhealthy \(\/dev\/sgx_enclave disappeared\)/,
    );
  });

  describe('preferred allocation', () => {
    const r = epc(16);
    const all = ids(r);
    const without = (...drop: number[]): string[] => all.filter((_, i) => !drop.includes(i));

    it('packs the lowest contiguous window', () => {
      assert.deepEqual(r.preferredAllocation(all, [], 3), ['epc-0', 'epc-1', 'epc-2']);
      // epc-2 is taken: [0,1] is too short, so the window starts at 3.
      assert.deepEqual(r.preferredAllocation(without(2), [], 3), ['epc-3', 'epc-4', 'epc-5']);
      // Available order does not matter.
      assert.deepEqual(r.preferredAllocation([...without(2)].reverse(), [], 2), ['epc-0', 'epc-1']);
    });

    it('honours mustInclude inside the lowest window that covers it', () => {
      assert.deepEqual(r.preferredAllocation(without(2), ['epc-7'], 3), ['epc-5', 'epc-6', 'epc-7']);
      assert.deepEqual(r.preferredAllocation(all, ['epc-1', 'epc-3'], 4), ['epc-0', 'epc-1', 'epc-2', 'epc-3']);
      // mustInclude not listed in available is still included.
      assert.deepEqual(r.preferredAllocation(without(9), ['epc-9'], 2), ['epc-8', 'epc-9']);
    });

    it('falls back to mustInclude plus the lowest free IDs when no window fits', () => {
      assert.deepEqual(r.preferredAllocation(all, ['epc-0', 'epc-10'], 3), ['epc-0', 'epc-1', 'epc-10']);
      assert.deepEqual(r.preferredAllocation(['epc-0', 'epc-2', 'epc-4', 'epc-6'], [], 2), ['epc-0', 'epc-2']);
    });

    it('rejects impossible requests', () => {
      expectCode(() => r.preferredAllocation(['epc-0'], [], 2), 'INVALID_REQUEST', /only 1 are available/);
      expectCode(() => r.preferredAllocation(all, ['epc-0', 'epc-1'], 1), 'INVALID_REQUEST', /exceed the requested 1/);
      expectCode(() => r.preferredAllocation(all, [], 0), 'INVALID_REQUEST');
      expectCode(() => r.preferredAllocation(['epc-99'], [], 1), 'UNKNOWN_DEVICE', /epc-99/);
      expectCode(() => r.preferredAllocation(all, ['nope'], 1), 'UNKNOWN_DEVICE', /nope/);
    });
  });

  it('rejects a nonsensical EPC size', () => {
    expectCode(() => epc(0), 'CONFIG_INVALID');
    expectCode(() => epc(1.5), 'CONFIG_INVALID');
  });
});

describe('slot resources (sgx.intel.com/enclave, sgx.intel.com/provision)', () => {
  it('default to 110 Intel-style slots without preferred allocation', () => {
    const r = createSlotResource({ kind: 'enclave', hostPath: ENCLAVE, health: manualHealth() });
    assert.equal(r.resourceName, 'sgx.intel.com/enclave');
    assert.equal(r.socketName, 'cloister-sgx.intel.com-enclave.sock');
    assert.equal(r.preferredAllocationAvailable, false);
    const list = ids(r);
    assert.equal(list.length, 110);
    assert.equal(list[0], 'sgx-enclave-0');
    assert.equal(list[109], 'sgx-enclave-109');
  });

  it('honour the configured limit and map the node once however many slots are taken', () => {
    const r = createSlotResource({ kind: 'provision', hostPath: PROVISION, limit: 3, health: manualHealth() });
    assert.equal(r.resourceName, 'sgx.intel.com/provision');
    assert.equal(r.socketName, 'cloister-sgx.intel.com-provision.sock');
    assert.deepEqual(ids(r), ['sgx-provision-0', 'sgx-provision-1', 'sgx-provision-2']);
    const a = r.allocate(['sgx-provision-2', 'sgx-provision-0']);
    assert.deepEqual(a.devices, [{ containerPath: '/dev/sgx_provision', hostPath: PROVISION, permissions: 'rw' }]);
    assert.deepEqual(a.annotations, {});
    expectCode(() => r.allocate(['sgx-provision-3']), 'UNKNOWN_DEVICE', /sgx\.intel\.com\/provision/);
    assert.deepEqual(r.preferredAllocation(ids(r), ['sgx-provision-2'], 2), ['sgx-provision-0', 'sgx-provision-2']);
  });

  it('add the legacy alias when asked', () => {
    const r = createSlotResource({ kind: 'enclave', hostPath: ENCLAVE, limit: 1, legacyAlias: true, health: manualHealth() });
    assert.deepEqual(r.allocate(['sgx-enclave-0']).devices, [
      { containerPath: '/dev/sgx_enclave', hostPath: ENCLAVE, permissions: 'rw' },
      { containerPath: '/dev/sgx/enclave', hostPath: ENCLAVE, permissions: 'rw' },
    ]);
  });

  it('reject bad limits', () => {
    for (const limit of [0, -1, 2.5, 10_001]) {
      expectCode(() => createSlotResource({ kind: 'enclave', hostPath: ENCLAVE, limit, health: manualHealth() }), 'CONFIG_INVALID');
    }
  });
});

describe('buildResources', () => {
  it('builds all three by default, sharing one health source per device node', () => {
    const { factory, byPath } = manualFactory();
    const built = buildResources(detection(64), { health: factory, enclaveLimit: 5, provisionLimit: 2, legacyAliases: true });
    assert.deepEqual(
      built.resources.map((r) => r.resourceName),
      [EPC_RESOURCE_NAME, 'sgx.intel.com/enclave', 'sgx.intel.com/provision'],
    );
    assert.deepEqual(built.reasons, []);
    assert.equal(built.epcMiB, 64);
    assert.deepEqual([...byPath.keys()].sort(), [ENCLAVE, PROVISION]);
    assert.equal(built.resources[1]?.devices().length, 5);
    assert.equal(built.resources[2]?.devices().length, 2);
    assert.equal(built.resources[0]?.allocate(['epc-0']).devices.length, 2);
  });

  it('builds a subset and skips provision when the node lacks it', () => {
    const d = detection(8, { devices: { enclave: ENCLAVE } });
    const built = buildResources(d, { resources: ['provision', 'epc'], health: manualFactory().factory });
    assert.deepEqual(built.resources.map((r) => r.resourceName), [EPC_RESOURCE_NAME]);
    assert.match(built.reasons.join('\n'), /provision: no sgx_provision device node/);
  });

  it('returns no resources and the reason on a node without SGX', () => {
    const d: SgxDetection = { sgx: false, reason: 'CPU lacks Flexible Launch Control (sgx_lc)', reasons: [], notes: [] };
    const built = buildResources(d);
    assert.deepEqual(built.resources, []);
    assert.deepEqual(built.reasons, ['no SGX on this node: CPU lacks Flexible Launch Control (sgx_lc)']);
    built.stop();
  });

  it('skips EPC below 1 MiB and rejects unknown or repeated resource names', () => {
    const tiny = { ...detection(1), epcBytes: 4096 };
    const built = buildResources(tiny, { resources: ['epc'], health: manualFactory().factory });
    assert.deepEqual(built.resources, []);
    assert.match(built.reasons[0] ?? '', /less than 1 MiB/);
    expectCode(() => buildResources(detection(1), { resources: ['gpu' as 'epc'] }), 'CONFIG_INVALID', /unknown resource "gpu"/);
    expectCode(() => buildResources(detection(1), { resources: ['epc', 'epc'] }), 'CONFIG_INVALID');
  });

  it('flips every device of the resources using a node, firing onChange', () => {
    const { factory, byPath } = manualFactory();
    const built = buildResources(detection(4), { health: factory, enclaveLimit: 2 });
    const [epcRes, enclaveRes, provisionRes] = built.resources;
    assert.ok(epcRes && enclaveRes && provisionRes);
    let epcChanges = 0;
    let enclaveChanges = 0;
    let provisionChanges = 0;
    epcRes.onChange(() => epcChanges++);
    const unsubscribe = enclaveRes.onChange(() => enclaveChanges++);
    provisionRes.onChange(() => provisionChanges++);

    byPath.get(ENCLAVE)?.set(false, `${ENCLAVE} disappeared`);
    assert.equal(epcChanges, 1);
    assert.equal(enclaveChanges, 1);
    assert.equal(provisionChanges, 0);
    assert.ok(epcRes.devices().every((d) => d.health === UNHEALTHY));
    assert.ok(enclaveRes.devices().every((d) => d.health === UNHEALTHY));
    assert.ok(provisionRes.devices().every((d) => d.health === HEALTHY));
    expectCode(() => enclaveRes.allocate(['sgx-enclave-1']), 'UNHEALTHY_DEVICE', /"sgx-enclave-1" of sgx\.intel\.com\/enclave is Unhealthy/);

    // Setting the same state again is not a change.
    byPath.get(ENCLAVE)?.set(false);
    assert.equal(epcChanges, 1);

    unsubscribe();
    byPath.get(ENCLAVE)?.set(true);
    assert.equal(epcChanges, 2);
    assert.equal(enclaveChanges, 1);
    assert.ok(epcRes.devices().every((d) => d.health === HEALTHY));
    assert.equal(epcRes.allocate(['epc-3']).annotations[EPC_MIB_ANNOTATION], '1');
  });
});

describe('watchDeviceNodes', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  /** The watcher's timer and fs.watch handles are unref'd (they never hold the agent open): keep the loop alive here. */
  const keepAlive = async <T>(fn: () => Promise<T>): Promise<T> => {
    const timer = setInterval(() => {}, 1000);
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  };
  const tempDir = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'cloister-health-'));
    dirs.push(d);
    return d;
  };

  it('turns unhealthy when the node disappears and healthy when it is back', async () => {
    const dir = await tempDir();
    const node = join(dir, 'sgx_enclave');
    await symlink('/dev/null', node);
    const w = watchDeviceNodes({ paths: [node], requireCharDevice: true, intervalMs: 60_000, watchParents: false });
    try {
      assert.equal(w.healthy(), true);
      assert.equal(w.reason(), undefined);
      const seen: boolean[] = [];
      w.onChange((h) => seen.push(h));
      await unlink(node);
      assert.equal(await w.check(), false);
      assert.match(w.reason() ?? '', /sgx_enclave disappeared/);
      await symlink('/dev/null', node);
      assert.equal(await w.check(), true);
      assert.equal(await w.check(), true);
      assert.deepEqual(seen, [false, true]);
    } finally {
      w.stop();
    }
  });

  it('on hardware a regular file is unhealthy; in simulation it is healthy', async () => {
    const dir = await tempDir();
    const file = join(dir, 'sgx_enclave.simulated');
    await writeFile(file, 'simulated\n');
    const hw = watchDeviceNodes({ paths: [file], requireCharDevice: true, watchParents: false });
    const sim = watchDeviceNodes({ paths: [file], requireCharDevice: false, watchParents: false });
    try {
      assert.equal(hw.healthy(), false);
      assert.match(hw.reason() ?? '', /no longer a character device/);
      assert.equal(sim.healthy(), true);
    } finally {
      hw.stop();
      sim.stop();
    }
  });

  it('notices a removal by polling and by watching the directory, and stops cleanly', async () => {
    const dir = await tempDir();
    const file = join(dir, 'sgx_enclave.simulated');
    await writeFile(file, 'simulated\n');
    for (const mode of [{ intervalMs: 20, watchParents: false }, { intervalMs: 60_000, watchParents: true }]) {
      const w = watchDeviceNodes({ paths: [file], requireCharDevice: false, ...mode });
      try {
        const flipped = new Promise<boolean>((resolve) => w.onChange(resolve));
        await unlink(file);
        assert.equal(await keepAlive(() => flipped), false, `mode ${JSON.stringify(mode)}`);
        assert.equal(w.healthy(), false);
      } finally {
        w.stop();
        await writeFile(file, 'simulated\n');
      }
    }
  });

  it('hands simulated files out as bind mounts when asked, never on hardware', async () => {
    const stateDir = await tempDir();
    const sim = await prepareSimulatedSgx({ stateDir, epcMiB: 2 });
    const mounted = buildResources(sim, { simulatedDelivery: 'mount', legacyAliases: true, health: manualFactory().factory });
    const a = mounted.resources[0]?.allocate(['epc-0']);
    assert.deepEqual(a?.devices, []);
    assert.deepEqual(a?.mounts, [
      { containerPath: '/dev/sgx_enclave', hostPath: sim.devices.enclave, readOnly: false },
      { containerPath: '/dev/sgx/enclave', hostPath: sim.devices.enclave, readOnly: false },
    ]);
    assert.deepEqual(mounted.resources[2]?.allocate(['sgx-provision-0']).mounts, [
      { containerPath: '/dev/sgx_provision', hostPath: sim.devices.provision, readOnly: false },
      { containerPath: '/dev/sgx/provision', hostPath: sim.devices.provision, readOnly: false },
    ]);
    const hw = buildResources(detection(2), { simulatedDelivery: 'mount', health: manualFactory().factory });
    assert.equal(hw.resources[0]?.allocate(['epc-0']).devices.length, 1);
    assert.deepEqual(hw.resources[0]?.allocate(['epc-0']).mounts, []);
  });

  it('drives buildResources end to end in simulation mode', async () => {
    const stateDir = await tempDir();
    const sim = await prepareSimulatedSgx({ stateDir, epcMiB: 4 });
    const built = buildResources(sim, { healthIntervalMs: 20, enclaveLimit: 1, provisionLimit: 1 });
    try {
      const [epcRes] = built.resources;
      assert.ok(epcRes);
      assert.ok(epcRes.devices().every((d) => d.health === HEALTHY));
      assert.equal(epcRes.allocate(['epc-0']).devices[0]?.hostPath, sim.devices.enclave);
      const changed = new Promise<void>((resolve) => epcRes.onChange(resolve));
      await unlink(sim.devices.enclave);
      await keepAlive(() => changed);
      assert.ok(epcRes.devices().every((d) => d.health === UNHEALTHY));
    } finally {
      built.stop();
    }
  });
});
