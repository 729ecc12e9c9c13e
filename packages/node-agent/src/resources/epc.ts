/**
 * `kubernetes.azure.com/sgx_epc_mem_in_MiB`: the AKS generation-1 EPC resource, an integer count of MiB. Served
 * device-plugin-natively as one device per MiB (`epc-0`, `epc-1`, …), so kubelet does the accounting and no node
 * status PATCH (API access) is needed. Allocation hands the container `/dev/sgx_enclave`; the MiB are a scheduling
 * claim, not an enforced limit (the kernel has no EPC cgroup in mainline), recorded in an annotation for runtimes.
 */
import { AgentError } from '../errors.js';
import type { ContainerAllocation, DeviceResource, DeviceSpecData } from '../types.js';
import { DeviceSet, checkPreferred, deliver, lowestWithMust, type Delivery } from './device-set.js';
import type { HealthSource } from './health.js';

export const EPC_RESOURCE_NAME = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
export const EPC_SOCKET_NAME = 'cloister-sgx_epc_mem_in_MiB.sock';
export const EPC_MIB_ANNOTATION = 'cloister.dev/epc-mib';
export const EPC_DEVICES_ANNOTATION = 'cloister.dev/epc-devices';
export const ENCLAVE_CONTAINER_PATH = '/dev/sgx_enclave';
export const LEGACY_ENCLAVE_CONTAINER_PATH = '/dev/sgx/enclave';
/**
 * Default cap on advertised MiB: every ListAndWatch message carries the full list, and kubelet's gRPC client keeps the
 * default 4 MiB receive limit; 65,536 devices encode to about 1.5 MB.
 */
export const DEFAULT_MAX_EPC_DEVICES = 65_536;

export interface EpcResourceOptions {
  /** EPC to advertise, whole MiB (>= 1); capped at `maxDevices`. */
  readonly epcMiB: number;
  /** Host path of the enclave device node (a `.simulated` file in simulation mode). */
  readonly enclaveHostPath: string;
  /** Also expose the node at the legacy `/dev/sgx/enclave` container path (old PSW / SDK builds open it first). */
  readonly legacyAlias?: boolean;
  readonly health: HealthSource;
  readonly maxDevices?: number;
  /** `device` (default, always on hardware) or `mount` (simulation on a real container runtime). */
  readonly delivery?: Delivery;
}

export interface EpcResource extends DeviceResource {
  /** MiB actually advertised (after the cap). */
  readonly advertisedMiB: number;
}

export function epcDeviceId(n: number): string {
  return `epc-${n}`;
}

/** "epc-0..epc-3,epc-7" for sorted indexes. */
function describeRanges(indexes: readonly number[]): string {
  const parts: string[] = [];
  let start: number | undefined;
  let prev: number | undefined;
  const flush = (): void => {
    if (start === undefined || prev === undefined) return;
    parts.push(start === prev ? epcDeviceId(start) : `${epcDeviceId(start)}..${epcDeviceId(prev)}`);
  };
  for (const i of indexes) {
    if (prev !== undefined && i === prev + 1) {
      prev = i;
      continue;
    }
    flush();
    start = i;
    prev = i;
  }
  flush();
  return parts.join(',');
}

/**
 * Lowest window of `size` consecutive free indexes that covers every must-include index; undefined when none exists.
 * `free` and `must` are sorted ascending and `must` ⊆ `free`.
 */
export function contiguousWindow(free: readonly number[], must: readonly number[], size: number): number | undefined {
  const lo = must[0];
  const hi = must[must.length - 1];
  let runStart = 0;
  for (let k = 0; k < free.length; k++) {
    const cur = free[k] as number;
    const next = free[k + 1];
    if (next === cur + 1) continue;
    // free[runStart..k] is one run of consecutive indexes.
    const first = free[runStart] as number;
    const last = cur;
    runStart = k + 1;
    if (last - first + 1 < size) continue;
    if (lo === undefined || hi === undefined) return first;
    if (lo < first || hi > last) continue;
    const s = Math.max(first, hi - size + 1);
    if (s <= lo && s + size - 1 <= last) return s;
  }
  return undefined;
}

export function createEpcResource(options: EpcResourceOptions): EpcResource {
  const max = options.maxDevices ?? DEFAULT_MAX_EPC_DEVICES;
  if (!Number.isSafeInteger(options.epcMiB) || options.epcMiB < 1) {
    throw new AgentError('CONFIG_INVALID', `EPC size must be a whole number of MiB >= 1, got ${options.epcMiB}`);
  }
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new AgentError('CONFIG_INVALID', `maximum EPC devices must be a whole number >= 1, got ${max}`);
  }
  const advertisedMiB = Math.min(options.epcMiB, max);
  const set = new DeviceSet(EPC_RESOURCE_NAME, advertisedMiB, epcDeviceId, options.health);
  const specs: DeviceSpecData[] = [
    { containerPath: ENCLAVE_CONTAINER_PATH, hostPath: options.enclaveHostPath, permissions: 'rw' },
  ];
  if (options.legacyAlias === true) {
    specs.push({ containerPath: LEGACY_ENCLAVE_CONTAINER_PATH, hostPath: options.enclaveHostPath, permissions: 'rw' });
  }
  const { devices, mounts } = deliver(specs, options.delivery ?? 'device');

  return {
    resourceName: EPC_RESOURCE_NAME,
    socketName: EPC_SOCKET_NAME,
    preferredAllocationAvailable: true,
    advertisedMiB,
    devices: () => set.devices(),
    onChange: (listener) => set.onChange(listener),
    allocate(deviceIds): ContainerAllocation {
      const indexes = set.checkAllocate(deviceIds).sort((a, b) => a - b);
      return {
        devices,
        mounts,
        envs: {},
        annotations: {
          [EPC_MIB_ANNOTATION]: String(indexes.length),
          [EPC_DEVICES_ANNOTATION]: describeRanges(indexes),
        },
      };
    },
    preferredAllocation(available, mustInclude, size) {
      const { free, must } = checkPreferred(set, available, mustInclude, size);
      const start = contiguousWindow(free, must, size);
      const chosen =
        start === undefined ? lowestWithMust(free, must, size) : Array.from({ length: size }, (_, k) => start + k);
      return chosen.map((i) => set.idAt(i));
    },
  };
}
