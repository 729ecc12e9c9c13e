import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, symlink, rm, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectHardware, type SgxDetection, type SgxAvailable, type SgxUnavailable } from '../src/detect/hardware.js';
import { prepareSimulatedSgx } from '../src/detect/simulated.js';
import { AgentError, type AgentErrorCode } from '../src/errors.js';

const MIB = 1024 * 1024;
const FLAGS_FULL = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sgx bmi1 avx2 smep bmi2 erms sgx_lc fsrm md_clear';
const FLAGS_NO_LC = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sgx bmi1 avx2 smep bmi2 erms fsrm';
const FLAGS_NO_SGX = 'fpu vme de pse tsc msr pae mce cx8 apic sep mtrr bmi1 avx2 smep bmi2 erms fsrm';

function cpuinfo(flags: string, cpus = 2): string {
  let s = '';
  for (let i = 0; i < cpus; i++) {
    s += `processor\t: ${i}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\nflags\t\t: ${flags}\nbugs\t\t: spectre_v1\n\n`;
  }
  return s;
}

interface FakeNode {
  /** EPC bytes per NUMA node (undefined: the node exists without an x86/ group). */
  epc?: readonly (number | string | undefined)[];
  flags?: string | null;
  /** sgx_enclave etc.: 'char' = symlink to /dev/null, 'file' = regular file, absent = missing. */
  dev?: Partial<Record<'sgx_enclave' | 'sgx_provision' | 'sgx/enclave' | 'sgx/provision', 'char' | 'file'>>;
}

let root: string;
let counter = 0;

async function fakeNode(spec: FakeNode): Promise<{ sysRoot: string; procRoot: string; devRoot: string }> {
  const dir = join(root, `n${counter++}`);
  const sysRoot = join(dir, 'sys');
  const procRoot = join(dir, 'proc');
  const devRoot = join(dir, 'dev');
  await mkdir(join(sysRoot, 'devices', 'system', 'node'), { recursive: true });
  await mkdir(procRoot, { recursive: true });
  await mkdir(join(devRoot, 'sgx'), { recursive: true });
  for (const [i, bytes] of (spec.epc ?? []).entries()) {
    const nodeDir = join(sysRoot, 'devices', 'system', 'node', `node${i}`);
    await mkdir(nodeDir, { recursive: true });
    await writeFile(join(nodeDir, 'meminfo'), 'Node 0 MemTotal: 1 kB\n');
    if (bytes === undefined) continue;
    await mkdir(join(nodeDir, 'x86'));
    await writeFile(join(nodeDir, 'x86', 'sgx_total_bytes'), `${bytes}\n`);
  }
  if (spec.flags !== null) await writeFile(join(procRoot, 'cpuinfo'), cpuinfo(spec.flags ?? FLAGS_FULL));
  for (const [name, kind] of Object.entries(spec.dev ?? {})) {
    const p = join(devRoot, name);
    if (kind === 'char') await symlink('/dev/null', p);
    else await writeFile(p, 'not a device\n');
  }
  return { sysRoot, procRoot, devRoot };
}

const allDevices = { sgx_enclave: 'char', sgx_provision: 'char' } as const;

function available(d: SgxDetection): SgxAvailable {
  assert.equal(d.sgx, true, d.sgx ? '' : `expected SGX, got: ${d.reasons.join(' | ')}`);
  return d as SgxAvailable;
}
function unavailable(d: SgxDetection): SgxUnavailable {
  assert.equal(d.sgx, false, 'expected no SGX');
  return d as SgxUnavailable;
}

async function expectCode(p: Promise<unknown>, code: AgentErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => AgentError.is(e) && e.code === code, `expected ${code}`);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'cloister-detect-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('detectHardware', () => {
  it('sums EPC over two NUMA nodes and keeps the per-node split', async () => {
    const roots = await fakeNode({ epc: [64 * MIB, 32 * MIB], dev: allDevices });
    const d = available(await detectHardware(roots));
    assert.equal(d.simulated, false);
    assert.equal(d.epcSource, 'sysfs');
    assert.equal(d.epcBytes, 96 * MIB);
    assert.deepEqual(d.perNuma, [
      { node: 0, bytes: 64 * MIB },
      { node: 1, bytes: 32 * MIB },
    ]);
    assert.deepEqual(d.flags, { sgx: true, sgxLc: true });
    assert.deepEqual(d.devices, {
      enclave: join(roots.devRoot, 'sgx_enclave'),
      provision: join(roots.devRoot, 'sgx_provision'),
    });
  });

  it('orders NUMA nodes numerically and skips nodes without an x86 group silently', async () => {
    const epc: (number | undefined)[] = new Array<number | undefined>(11).fill(undefined);
    epc[2] = 8 * MIB;
    epc[10] = 4 * MIB;
    const d = available(await detectHardware(await fakeNode({ epc, dev: allDevices })));
    assert.deepEqual(d.perNuma, [
      { node: 2, bytes: 8 * MIB },
      { node: 10, bytes: 4 * MIB },
    ]);
    assert.deepEqual(d.notes.filter((n) => n.includes('NUMA')), []);
  });

  it('ignores an unreadable or malformed node with a note and keeps the others', async () => {
    const roots = await fakeNode({ epc: [16 * MIB, 'garbage', `${'9'.repeat(80)}`], dev: allDevices });
    // Node 3: sgx_total_bytes is a directory, so reading it fails (EISDIR).
    await mkdir(join(roots.sysRoot, 'devices', 'system', 'node', 'node3', 'x86', 'sgx_total_bytes'), { recursive: true });
    const d = available(await detectHardware(roots));
    assert.equal(d.epcBytes, 16 * MIB);
    assert.deepEqual(d.perNuma, [{ node: 0, bytes: 16 * MIB }]);
    const notes = d.notes.join('\n');
    assert.match(notes, /ignored NUMA node 1: .*does not hold a decimal byte count/);
    assert.match(notes, /ignored NUMA node 2: /);
    assert.match(notes, /ignored NUMA node 3: cannot read .*sgx_total_bytes: EISDIR/);
  });

  it('records the legacy /dev/sgx/* nodes when they are character devices', async () => {
    const roots = await fakeNode({
      epc: [MIB * 128],
      dev: { ...allDevices, 'sgx/enclave': 'char', 'sgx/provision': 'file' },
    });
    const d = available(await detectHardware(roots));
    assert.equal(d.devices.legacyEnclave, join(roots.devRoot, 'sgx', 'enclave'));
    assert.equal(d.devices.legacyProvision, undefined);
    assert.match(d.notes.join('\n'), /sgx_enclave is a symlink/);
  });

  it('offers no provision node when /dev/sgx_provision is missing, with a note', async () => {
    const d = available(await detectHardware(await fakeNode({ epc: [MIB], dev: { sgx_enclave: 'char' } })));
    assert.equal(d.devices.provision, undefined);
    assert.match(d.notes.join('\n'), /sgx_provision missing: the provision resource is not offered/);
  });

  it('says why when sysfs reports no EPC', async () => {
    const d = unavailable(await detectHardware(await fakeNode({ epc: [undefined, undefined], dev: allDevices })));
    assert.match(d.reason, /^no EPC reported in .*\/devices\/system\/node\/node\*\/x86\/sgx_total_bytes/);
    assert.match(d.reason, /kernel older than 5\.17/);
    assert.match(d.reason, /configure the EPC size/);
    assert.match(d.reason, /CPUID/);
  });

  it('falls back to a configured EPC size when flags and devices are present', async () => {
    const roots = await fakeNode({ epc: [], dev: allDevices });
    const d = available(await detectHardware({ ...roots, configuredEpcBytes: 93 * MIB }));
    assert.equal(d.epcSource, 'configured');
    assert.equal(d.epcBytes, 93 * MIB);
    assert.deepEqual(d.perNuma, []);
    assert.match(d.notes.join('\n'), /using the configured EPC size/);
  });

  it('does not use the configured size when the CPU or devices say no', async () => {
    const roots = await fakeNode({ epc: [], flags: FLAGS_NO_LC, dev: allDevices });
    const d = unavailable(await detectHardware({ ...roots, configuredEpcBytes: 93 * MIB }));
    assert.match(d.reason, /Flexible Launch Control/);
    assert.equal(d.reasons.length, 2);
    assert.match(d.reasons[1] ?? '', /no EPC reported .*SGX disabled in the BIOS/);
  });

  it('rejects a nonsensical configured EPC size', async () => {
    const roots = await fakeNode({ epc: [MIB], dev: allDevices });
    await expectCode(detectHardware({ ...roots, configuredEpcBytes: -1 }), 'CONFIG_INVALID');
    await expectCode(detectHardware({ ...roots, configuredEpcBytes: 1.5 }), 'CONFIG_INVALID');
  });

  it('reports a missing /proc/cpuinfo and missing files everywhere', async () => {
    const roots = await fakeNode({ flags: null });
    const d = unavailable(await detectHardware(roots));
    assert.match(d.reason, /^cannot read .*cpuinfo: ENOENT/);
    const all = d.reasons.join('\n');
    assert.match(all, /sgx_enclave missing: load the in-kernel SGX driver \(Linux >= 5\.11/);
    assert.match(all, /no EPC reported in/);
  });

  it('needs the sgx flag', async () => {
    const d = unavailable(await detectHardware(await fakeNode({ epc: [MIB], flags: FLAGS_NO_SGX, dev: allDevices })));
    assert.match(d.reason, /CPU does not report SGX \(no "sgx" flag/);
    assert.equal(d.reasons.length, 1);
  });

  it('needs Flexible Launch Control (sgx_lc)', async () => {
    const d = unavailable(await detectHardware(await fakeNode({ epc: [MIB], flags: FLAGS_NO_LC, dev: allDevices })));
    assert.match(d.reason, /^CPU lacks Flexible Launch Control \(no "sgx_lc" flag/);
  });

  it('does not take "sgx_lc" or "sgx2"-like tokens for "sgx"', async () => {
    const d = unavailable(
      await detectHardware(await fakeNode({ epc: [MIB], flags: `${FLAGS_NO_SGX} sgx_lc sgxx`, dev: allDevices })),
    );
    assert.match(d.reason, /no "sgx" flag/);
  });

  it('rejects a regular file in place of /dev/sgx_enclave', async () => {
    const d = unavailable(await detectHardware(await fakeNode({ epc: [MIB], dev: { sgx_enclave: 'file', sgx_provision: 'char' } })));
    assert.match(d.reason, /sgx_enclave exists but is not a character device/);
  });

  it('explains a missing /dev/sgx_enclave, naming a legacy node when one exists', async () => {
    const plain = unavailable(await detectHardware(await fakeNode({ epc: [MIB], dev: { sgx_provision: 'char' } })));
    assert.match(plain.reason, /sgx_enclave missing: load the in-kernel SGX driver \(Linux >= 5\.11/);
    const legacy = unavailable(await detectHardware(await fakeNode({ epc: [MIB], dev: { 'sgx/enclave': 'char' } })));
    assert.match(legacy.reason, /only the legacy .*sgx\/enclave of an out-of-tree DCAP driver exists/);
  });

  it('reads a cpuinfo larger than its bound without misreading the cut line', async () => {
    const roots = await fakeNode({ epc: [MIB], dev: allDevices });
    await writeFile(join(roots.procRoot, 'cpuinfo'), cpuinfo(FLAGS_FULL, 12_000));
    const d = available(await detectHardware(roots));
    assert.deepEqual(d.flags, { sgx: true, sgxLc: true });
  });
});

describe('prepareSimulatedSgx', () => {
  it('creates regular *.simulated files and a hardware-shaped result', async () => {
    const stateDir = join(root, 'sim-state');
    const d = await prepareSimulatedSgx({ stateDir, epcMiB: 64 });
    assert.equal(d.sgx, true);
    assert.equal(d.simulated, true);
    assert.equal(d.epcSource, 'simulated');
    assert.equal(d.epcBytes, 64 * MIB);
    assert.deepEqual(d.perNuma, [{ node: 0, bytes: 64 * MIB }]);
    assert.deepEqual(d.devices, {
      enclave: join(stateDir, 'dev', 'sgx_enclave.simulated'),
      provision: join(stateDir, 'dev', 'sgx_provision.simulated'),
    });
    for (const p of [d.devices.enclave, d.devices.provision ?? '']) {
      const st = await stat(p);
      assert.equal(st.isFile(), true);
      assert.equal(st.isCharacterDevice(), false);
      assert.match(await readFile(p, 'utf8'), /not a character device/);
    }
    // Idempotent: a second start reuses the files.
    const again = await prepareSimulatedSgx({ stateDir, epcMiB: 64 });
    assert.deepEqual(again.devices, d.devices);
  });

  it('takes device paths from configuration and can leave provision out', async () => {
    const enclave = join(root, 'custom', 'enclave.simulated');
    const d = await prepareSimulatedSgx({ stateDir: join(root, 'unused'), epcMiB: 1, devices: { enclave }, provision: false });
    assert.deepEqual(d.devices, { enclave });
    assert.equal((await stat(enclave)).isFile(), true);
  });

  it('refuses real device nodes, directories and bad sizes', async () => {
    await expectCode(prepareSimulatedSgx({ stateDir: root, epcMiB: 8, devices: { enclave: '/dev/null' } }), 'CONFIG_INVALID');
    await expectCode(prepareSimulatedSgx({ stateDir: root, epcMiB: 8, devices: { enclave: root } }), 'CONFIG_INVALID');
    await expectCode(prepareSimulatedSgx({ stateDir: root, epcMiB: 0 }), 'CONFIG_INVALID');
    await expectCode(prepareSimulatedSgx({ stateDir: root, epcMiB: 2.5 }), 'CONFIG_INVALID');
  });
});
