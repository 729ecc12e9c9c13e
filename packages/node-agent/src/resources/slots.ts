/**
 * Intel-compatible shared-slot resources: `sgx.intel.com/enclave` and `sgx.intel.com/provision`. Each device is one
 * "slot" on the same node (`/dev/sgx_enclave` resp. `/dev/sgx_provision`); the count only bounds how many containers
 * may hold the node at once (Intel's default is 110, the kubelet's default pod limit). Same resource names and IDs as
 * Intel's plugin so existing pod specs and the Intel admission webhook work unchanged; never run both plugins on one
 * node.
 */
import { AgentError } from '../errors.js';
import type { ContainerAllocation, DeviceResource, DeviceSpecData } from '../types.js';
import { DeviceSet, checkPreferred, deliver, lowestWithMust, type Delivery } from './device-set.js';
import type { HealthSource } from './health.js';

export type SlotKind = 'enclave' | 'provision';

export const DEFAULT_SLOT_LIMIT = 110;
/** Upper bound on a configured limit: far above any node's pod count, low enough to keep ListAndWatch small. */
export const MAX_SLOT_LIMIT = 10_000;

interface SlotKindInfo {
  readonly resourceName: string;
  readonly socketName: string;
  readonly idPrefix: string;
  readonly containerPath: string;
  readonly legacyContainerPath: string;
}

export const SLOT_KINDS: Readonly<Record<SlotKind, SlotKindInfo>> = {
  enclave: {
    resourceName: 'sgx.intel.com/enclave',
    socketName: 'cloister-sgx.intel.com-enclave.sock',
    idPrefix: 'sgx-enclave-',
    containerPath: '/dev/sgx_enclave',
    legacyContainerPath: '/dev/sgx/enclave',
  },
  provision: {
    resourceName: 'sgx.intel.com/provision',
    socketName: 'cloister-sgx.intel.com-provision.sock',
    idPrefix: 'sgx-provision-',
    containerPath: '/dev/sgx_provision',
    legacyContainerPath: '/dev/sgx/provision',
  },
};

export interface SlotResourceOptions {
  readonly kind: SlotKind;
  /** Host path of the device node (a `.simulated` file in simulation mode). */
  readonly hostPath: string;
  /** Number of slots (default 110, at most 10,000). */
  readonly limit?: number;
  /** Also expose the node at the legacy `/dev/sgx/<kind>` container path. */
  readonly legacyAlias?: boolean;
  readonly health: HealthSource;
  /** `device` (default, always on hardware) or `mount` (simulation on a real container runtime). */
  readonly delivery?: Delivery;
}

export function createSlotResource(options: SlotResourceOptions): DeviceResource {
  const info = SLOT_KINDS[options.kind];
  const limit = options.limit ?? DEFAULT_SLOT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SLOT_LIMIT) {
    throw new AgentError(
      'CONFIG_INVALID',
      `${options.kind} limit must be a whole number from 1 to ${MAX_SLOT_LIMIT}, got ${limit}`,
    );
  }
  const set = new DeviceSet(info.resourceName, limit, (i) => `${info.idPrefix}${i}`, options.health);
  const specs: DeviceSpecData[] = [
    { containerPath: info.containerPath, hostPath: options.hostPath, permissions: 'rw' },
  ];
  if (options.legacyAlias === true) {
    specs.push({ containerPath: info.legacyContainerPath, hostPath: options.hostPath, permissions: 'rw' });
  }
  // Every slot maps the same node: holding several slots still yields one set of DeviceSpecs.
  const allocation: ContainerAllocation = Object.freeze({
    ...deliver(specs, options.delivery ?? 'device'),
    envs: Object.freeze({}),
    annotations: Object.freeze({}),
  });
  return {
    resourceName: info.resourceName,
    socketName: info.socketName,
    preferredAllocationAvailable: false,
    devices: () => set.devices(),
    onChange: (listener) => set.onChange(listener),
    allocate(deviceIds) {
      set.checkAllocate(deviceIds);
      return allocation;
    },
    // Not advertised (slots are interchangeable); answered anyway for a kubelet that asks.
    preferredAllocation(available, mustInclude, size) {
      const { free, must } = checkPreferred(set, available, mustInclude, size);
      return lowestWithMust(free, must, size).map((i) => set.idAt(i));
    },
  };
}
