/**
 * The whole agent against the kubelet test double, on real unix sockets in temporary directories: a simulated node
 * (EPC from configuration), capacity, Allocate as kubelet calls it, kubelet restarts, device node loss and return,
 * probes; and a hardware-mode node without SGX, which advertises nothing and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeAgent, createLogger } from '../src/index.js';
import { KubeletDouble } from '../src/testing/kubelet-double.js';

const EPC = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
const ENCLAVE = 'sgx.intel.com/enclave';
const PROVISION = 'sgx.intel.com/provision';
const quiet = () => createLogger({ level: 'silent' });

function dirs() {
  const root = mkdtempSync(join(tmpdir(), 'cloister-agent-'));
  return { root, plugins: join(root, 'device-plugins'), state: join(root, 'state') };
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

test('a simulated node: capacity = EPC MiB, Allocate, restart, health, probes', async () => {
  const d = dirs();
  const kubelet = await KubeletDouble.start(d.plugins, { dialTimeoutMs: 2000 });
  const agent = new NodeAgent({
    pluginDir: d.plugins,
    simulate: { epcMiB: 64, stateDir: d.state },
    enclaveLimit: 20,
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    healthIntervalMs: 50,
    logger: quiet(),
  });
  try {
    await agent.start();
    const port = agent.httpPort!;
    await kubelet.waitFor(() => [EPC, ENCLAVE, PROVISION].every((r) => (kubelet.state(r)?.allocatable ?? 0) > 0), 5000, 'registration');
    assert.equal(kubelet.state(EPC)?.capacity, 64);
    assert.equal(kubelet.state(EPC)?.allocatable, 64);
    assert.equal(kubelet.state(ENCLAVE)?.capacity, 20);
    assert.equal(kubelet.state(PROVISION)?.capacity, 110);
    assert.ok(kubelet.state(EPC)!.devices.every((dev) => !dev.hasTopology));
    await kubelet.waitFor(() => agent.readiness().ok, 20_000, 'ready');
    assert.equal((await get(port, '/readyz')).status, 200);

    // A container asking for 10 MiB: kubelet picks IDs (preferred allocation), then Allocate.
    const ids = kubelet.state(EPC)!.devices.map((dev) => dev.id);
    const preferred = (await kubelet.preferred(EPC, [{ available: ids, mustInclude: [], size: 10 }])).containerResponses[0]!
      .deviceIDs;
    assert.equal(preferred.length, 10);
    const resp = await kubelet.allocate(EPC, [preferred]);
    const c = resp.containerResponses[0]!;
    assert.equal(c.annotations['cloister.dev/epc-mib'], '10');
    const paths = [...c.devices.map((s) => s.containerPath), ...c.mounts.map((m) => m.containerPath)];
    assert.ok(paths.includes('/dev/sgx_enclave'), JSON.stringify(paths));

    const metrics = (await get(port, '/metrics')).body;
    assert.match(metrics, /cloister_sgx_epc_total_mib 64/);
    assert.match(metrics, /cloister_device_plugin_allocate_duration_seconds_count\{resource="kubernetes.azure.com\/sgx_epc_mem_in_MiB"\} 1/);

    // kubelet restarts: it wipes the directory; every resource is registered again (bench/device-plugin times it).
    const before = kubelet.registrationsOf(EPC).length;
    await kubelet.restart();
    await kubelet.waitFor(
      () => [EPC, ENCLAVE, PROVISION].every((r) => kubelet.registrationsOf(r).length > before && (kubelet.state(r)?.allocatable ?? 0) > 0),
      20_000,
      're-registration',
    );
    assert.equal(kubelet.state(EPC)?.capacity, 64);

    // The (simulated) enclave device node disappears: EPC and enclave devices go Unhealthy; it returns: Healthy.
    const enclaveFile = join(d.state, 'dev', 'sgx_enclave.simulated');
    rmSync(enclaveFile);
    await kubelet.waitFor(() => kubelet.state(EPC)?.allocatable === 0, 3000, 'unhealthy');
    await assert.rejects(kubelet.allocate(EPC, [[ids[0]!]]), (e: { code?: number; details?: string }) => {
      assert.match(String(e.details), /Unhealthy/);
      return true;
    });
    writeFileSync(enclaveFile, '');
    await kubelet.waitFor(() => kubelet.state(EPC)?.allocatable === 64, 3000, 'healthy again');
  } finally {
    await agent.stop();
    await kubelet.stop();
    rmSync(d.root, { recursive: true, force: true });
  }
});

test('a node without SGX advertises nothing, says why, and stays up', async () => {
  const d = dirs();
  const kubelet = await KubeletDouble.start(d.plugins, { dialTimeoutMs: 2000 });
  const fake = join(d.root, 'fake');
  const agent = new NodeAgent({
    pluginDir: d.plugins,
    sysRoot: join(fake, 'sys'),
    procRoot: join(fake, 'proc'),
    devRoot: join(fake, 'dev'),
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    rescanIntervalMs: 100,
    logger: quiet(),
  });
  try {
    await agent.start();
    const ready = await get(agent.httpPort!, '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /cpuinfo/);
    assert.equal((await get(agent.httpPort!, '/healthz')).status, 200);
    await new Promise((r) => setTimeout(r, 300)); // a few rescans
    assert.equal(kubelet.registrations.length, 0);
  } finally {
    await agent.stop();
    await kubelet.stop();
    rmSync(d.root, { recursive: true, force: true });
  }
});
