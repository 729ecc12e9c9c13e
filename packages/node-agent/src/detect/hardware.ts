/**
 * SGX detection on a real Linux node, from three kernel interfaces (no CPUID: Node.js cannot execute it):
 *  - EPC size: `/sys/devices/system/node/node<N>/x86/sgx_total_bytes`, one decimal byte count per NUMA node
 *    (Documentation/ABI/stable/sysfs-devices-node; added for Linux 5.17, hidden on nodes without SGX);
 *  - CPU features: the `flags` lines of `/proc/cpuinfo` (`sgx`, `sgx_lc`; the kernel clears `sgx_lc` when the
 *    launch-enclave key hash MSRs are not writable, and then refuses to create `/dev/sgx_enclave`);
 *  - device nodes: `/dev/sgx_enclave`, `/dev/sgx_provision` (in-kernel driver, Linux >= 5.11) and the legacy
 *    `/dev/sgx/enclave`, `/dev/sgx/provision` names (out-of-tree DCAP driver or PSW udev symlinks), which must be
 *    character devices (`fs.stat` follows symlinks).
 * When sysfs reports no EPC but the CPU flags and `/dev/sgx_enclave` are present (a kernel between 5.11 and 5.17),
 * the EPC size can come from configuration (`configuredEpcBytes`); otherwise detection says why it cannot decide.
 */
import { open, readdir, stat, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../errors.js';

export interface NumaEpc {
  readonly node: number;
  readonly bytes: number;
}

/** Paths (as seen by this process, which mounts them at the host paths) of the SGX device nodes that exist. */
export interface SgxDeviceNodes {
  readonly enclave: string;
  readonly provision?: string;
  readonly legacyEnclave?: string;
  readonly legacyProvision?: string;
}

export type EpcSource = 'sysfs' | 'configured' | 'simulated';

export interface SgxAvailable {
  readonly sgx: true;
  /** True only for ./simulated.ts: the device paths are regular files, not device nodes. */
  readonly simulated: boolean;
  readonly epcBytes: number;
  readonly epcSource: EpcSource;
  /** Per NUMA node, ascending; one entry per node that reports EPC (a configured size has none). */
  readonly perNuma: readonly NumaEpc[];
  readonly flags: { readonly sgx: boolean; readonly sgxLc: boolean };
  readonly devices: SgxDeviceNodes;
  /** Things an operator may want to know that did not prevent detection (unreadable NUMA nodes, fallbacks). */
  readonly notes: readonly string[];
}

export interface SgxUnavailable {
  readonly sgx: false;
  /** The first blocking reason, in check order (CPU flags, device node, EPC). */
  readonly reason: string;
  /** Every blocking reason found. */
  readonly reasons: readonly string[];
  readonly notes: readonly string[];
}

export type SgxDetection = SgxAvailable | SgxUnavailable;

export interface DetectHardwareOptions {
  readonly sysRoot?: string;
  readonly procRoot?: string;
  readonly devRoot?: string;
  /** EPC size to use when sysfs has no `sgx_total_bytes` but the CPU flags and `/dev/sgx_enclave` are present. */
  readonly configuredEpcBytes?: number;
}

/** A sysfs attribute is a short decimal line; anything longer is not what we expect. */
const SYSFS_MAX_BYTES = 64;
/** The first CPU's `flags` line is within the first few KiB; 1 MiB covers hundreds of CPUs. */
const CPUINFO_MAX_BYTES = 1 << 20;
const NODE_DIR = /^node(\d{1,6})$/;

interface BoundedRead {
  readonly text: string;
  readonly truncated: boolean;
}

async function readBounded(path: string, maxBytes: number): Promise<BoundedRead> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(maxBytes + 1);
    let filled = 0;
    // procfs/sysfs files report size 0, so read until EOF or the bound.
    for (;;) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === buf.length) break;
    }
    const truncated = filled > maxBytes;
    return { text: buf.subarray(0, Math.min(filled, maxBytes)).toString('utf8'), truncated };
  } finally {
    await fh.close();
  }
}

function errorText(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return e instanceof Error ? e.message : String(e);
}

function isNotFound(e: unknown): boolean {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export interface SysfsEpc {
  readonly perNuma: readonly NumaEpc[];
  readonly notes: readonly string[];
}

/** The per-node EPC that sysfs reports, ascending by node (nodes without the attribute are skipped silently). */
export async function readSysfsEpc(sysRoot: string): Promise<SysfsEpc> {
  const base = join(sysRoot, 'devices', 'system', 'node');
  const notes: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(base);
  } catch (e) {
    if (!isNotFound(e)) notes.push(`cannot list ${base}: ${errorText(e)}`);
    return { perNuma: [], notes };
  }
  const nodes = entries
    .map((name) => NODE_DIR.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const perNuma: NumaEpc[] = [];
  for (const node of nodes) {
    const file = join(base, `node${node}`, 'x86', 'sgx_total_bytes');
    let read: BoundedRead;
    try {
      read = await readBounded(file, SYSFS_MAX_BYTES);
    } catch (e) {
      // A NUMA node without EPC has no x86/ group at all: that is normal, not worth a note.
      if (!isNotFound(e)) notes.push(`ignored NUMA node ${node}: cannot read ${file}: ${errorText(e)}`);
      continue;
    }
    const value = read.text.trim();
    if (read.truncated || !/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
      notes.push(`ignored NUMA node ${node}: ${file} does not hold a decimal byte count`);
      continue;
    }
    const bytes = Number(value);
    if (bytes > 0) perNuma.push({ node, bytes });
  }
  return { perNuma, notes };
}

export interface CpuFlags {
  readonly sgx: boolean;
  readonly sgxLc: boolean;
}

/**
 * Reads the `flags` lines of cpuinfo. A flag counts only when every complete `flags` line read has it (all CPUs of a
 * node report the same SGX bits; a mismatch means a broken or partially hidden configuration).
 * Returns a reason string instead when there is nothing to decide from.
 */
export async function readCpuFlags(procRoot: string): Promise<CpuFlags | string> {
  const file = join(procRoot, 'cpuinfo');
  let read: BoundedRead;
  try {
    read = await readBounded(file, CPUINFO_MAX_BYTES);
  } catch (e) {
    return `cannot read ${file}: ${errorText(e)} (SGX detection needs Linux /proc)`;
  }
  const lines = read.text.split('\n');
  // When the bound cut the file, the last line may be a partial `flags` line: drop it.
  if (read.truncated) lines.pop();
  let seen = 0;
  let sgx = true;
  let sgxLc = true;
  for (const line of lines) {
    const m = /^flags\s*:(.*)$/.exec(line);
    if (m === null) continue;
    const set = new Set((m[1] ?? '').trim().split(/\s+/));
    seen++;
    sgx &&= set.has('sgx');
    sgxLc &&= set.has('sgx_lc');
  }
  if (seen === 0) return `no "flags" line in ${file} (not an x86 CPU?)`;
  return { sgx, sgxLc };
}

export type DeviceNodeState = 'char' | 'missing' | 'not-char';

/** Follows symlinks (PSW udev rules make `/dev/sgx/enclave` a symlink to `../sgx_enclave`). */
export async function deviceNodeState(path: string): Promise<DeviceNodeState> {
  try {
    return (await stat(path)).isCharacterDevice() ? 'char' : 'not-char';
  } catch {
    return 'missing';
  }
}

export async function detectHardware(options: DetectHardwareOptions = {}): Promise<SgxDetection> {
  const sysRoot = options.sysRoot ?? '/sys';
  const procRoot = options.procRoot ?? '/proc';
  const devRoot = options.devRoot ?? '/dev';
  const configured = options.configuredEpcBytes;
  if (configured !== undefined && !(Number.isSafeInteger(configured) && configured > 0)) {
    throw new AgentError(
      'CONFIG_INVALID',
      `configured EPC size must be a positive whole number of bytes, got ${configured}`,
    );
  }
  const reasons: string[] = [];
  const notes: string[] = [];

  const flags = await readCpuFlags(procRoot);
  if (typeof flags === 'string') {
    reasons.push(flags);
  } else if (!flags.sgx) {
    reasons.push(
      `CPU does not report SGX (no "sgx" flag in ${join(procRoot, 'cpuinfo')}): the CPU lacks SGX, ` +
        'SGX is disabled in the BIOS, or the hypervisor does not expose it',
    );
  } else if (!flags.sgxLc) {
    reasons.push(
      `CPU lacks Flexible Launch Control (no "sgx_lc" flag in ${join(procRoot, 'cpuinfo')}): ` +
        'the in-kernel SGX driver does not create /dev/sgx_enclave without it',
    );
  }

  const paths = {
    enclave: join(devRoot, 'sgx_enclave'),
    provision: join(devRoot, 'sgx_provision'),
    legacyEnclave: join(devRoot, 'sgx', 'enclave'),
    legacyProvision: join(devRoot, 'sgx', 'provision'),
  };
  const [enclave, provision, legacyEnclave, legacyProvision] = await Promise.all([
    deviceNodeState(paths.enclave),
    deviceNodeState(paths.provision),
    deviceNodeState(paths.legacyEnclave),
    deviceNodeState(paths.legacyProvision),
  ]);
  if (enclave === 'missing') {
    const legacy =
      legacyEnclave === 'char'
        ? ` (only the legacy ${paths.legacyEnclave} of an out-of-tree DCAP driver exists; ` +
          'Cloister needs the in-kernel driver)'
        : '';
    reasons.push(`${paths.enclave} missing: load the in-kernel SGX driver (Linux >= 5.11, CONFIG_X86_SGX=y)${legacy}`);
  } else if (enclave === 'not-char') {
    reasons.push(`${paths.enclave} exists but is not a character device (a placeholder file or a wrong mount?)`);
  }
  if (provision === 'missing') {
    notes.push(`${paths.provision} missing: the provision resource is not offered (in-process DCAP quoting needs it)`);
  } else if (provision === 'not-char') {
    notes.push(`${paths.provision} is not a character device: the provision resource is not offered`);
  }
  if (enclave === 'char') {
    try {
      if ((await lstat(paths.enclave)).isSymbolicLink()) {
        notes.push(`${paths.enclave} is a symlink; DeviceSpec host paths should name the device node itself`);
      }
    } catch {
      // Raced with a removal: the health watcher reports it.
    }
  }

  const sysfs = await readSysfsEpc(sysRoot);
  notes.push(...sysfs.notes);
  let epcBytes = sysfs.perNuma.reduce((sum, n) => sum + n.bytes, 0);
  let epcSource: EpcSource = 'sysfs';
  if (epcBytes === 0) {
    const glob = `${join(sysRoot, 'devices', 'system', 'node')}/node*/x86/sgx_total_bytes`;
    const otherwiseCapable = reasons.length === 0;
    if (otherwiseCapable && configured !== undefined) {
      epcBytes = configured;
      epcSource = 'configured';
      notes.push(
        `no EPC reported in ${glob} (kernel older than 5.17?); using the configured EPC size of ${configured} bytes ` +
          '(CPUID leaf 0x12 is not readable from Node.js)',
      );
    } else if (otherwiseCapable) {
      reasons.push(
        `no EPC reported in ${glob}, although the CPU flags and ${paths.enclave} look SGX-capable ` +
          '(kernel older than 5.17 lacks sgx_total_bytes): configure the EPC size explicitly ' +
          '(CPUID leaf 0x12 is not readable from Node.js)',
      );
    } else {
      reasons.push(`no EPC reported in ${glob} (kernel older than 5.17, or SGX disabled in the BIOS)`);
    }
  }

  const first = reasons[0];
  if (first !== undefined) return { sgx: false, reason: first, reasons, notes };
  const cpu = flags as CpuFlags;
  return {
    sgx: true,
    simulated: false,
    epcBytes,
    epcSource,
    perNuma: sysfs.perNuma,
    flags: { sgx: cpu.sgx, sgxLc: cpu.sgxLc },
    devices: {
      enclave: paths.enclave,
      ...(provision === 'char' ? { provision: paths.provision } : {}),
      ...(legacyEnclave === 'char' ? { legacyEnclave: paths.legacyEnclave } : {}),
      ...(legacyProvision === 'char' ? { legacyProvision: paths.legacyProvision } : {}),
    },
    notes,
  };
}
