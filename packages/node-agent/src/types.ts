/**
 * The seams between the gRPC device-plugin server (protocol, registration, lifecycle) and what it serves
 * (detection, resources, health, metrics). Plain data only: the server maps these to the v1beta1 messages.
 */

/** kubelet device-plugin API constants (kubernetes/kubelet pkg/apis/deviceplugin/v1beta1/constants.go). */
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';
export type Health = typeof HEALTHY | typeof UNHEALTHY;

export interface PluginDevice {
  /** At most 63 characters. */
  readonly id: string;
  readonly health: Health;
}

export interface DeviceSpecData {
  readonly containerPath: string;
  readonly hostPath: string;
  /** cgroup device permissions: any of r, w, m. */
  readonly permissions: string;
}

export interface MountData {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly readOnly: boolean;
}

/** One ContainerAllocateResponse. */
export interface ContainerAllocation {
  readonly devices: readonly DeviceSpecData[];
  readonly mounts: readonly MountData[];
  readonly envs: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** One advertised extended resource (one plugin socket, one Register call). */
export interface DeviceResource {
  /** e.g. `kubernetes.azure.com/sgx_epc_mem_in_MiB`, `sgx.intel.com/enclave`. */
  readonly resourceName: string;
  /** Socket file name inside the plugin directory, e.g. `cloister-sgx_epc_mem_in_MiB.sock`. */
  readonly socketName: string;
  /** Advertise GetPreferredAllocation (DevicePluginOptions.get_preferred_allocation_available). */
  readonly preferredAllocationAvailable: boolean;
  /** The full current device list (every ListAndWatch message sends all of it). */
  devices(): readonly PluginDevice[];
  /**
   * The allocation for one container. Throws AgentError UNKNOWN_DEVICE / UNHEALTHY_DEVICE / INVALID_REQUEST with a
   * message a person can act on; nothing is allocated then.
   */
  allocate(deviceIds: readonly string[]): ContainerAllocation;
  /** Which `size` devices to prefer among `available`, always including `mustInclude`. */
  preferredAllocation(available: readonly string[], mustInclude: readonly string[], size: number): readonly string[];
  /** Called on every change of the device list or health; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** What the protocol layer reports; implemented over prom-client in ./metrics.ts. */
export interface AgentMetrics {
  registration(resource: string, ok: boolean): void;
  allocate(resource: string, devices: number, seconds: number): void;
  error(kind: string): void;
  setEpcTotalMiB(mib: number): void;
  setDevices(resource: string, healthy: number, unhealthy: number): void;
}
