/**
 * In-memory DeviceResource and AgentMetrics for the gRPC tests: N devices `<prefix><i>`, health flips on demand,
 * allocations that return fixed SGX DeviceSpecs and fail the way the real resources do (AgentError codes, messages that
 * name the device and the reason).
 */
import { AgentError } from '../src/errors.js';
import {
  HEALTHY,
  UNHEALTHY,
  type AgentMetrics,
  type ContainerAllocation,
  type DeviceResource,
  type Health,
  type PluginDevice,
} from '../src/types.js';

export interface FakeResourceOptions {
  readonly resourceName?: string;
  readonly socketName?: string;
  readonly count?: number;
  readonly prefix?: string;
  readonly preferredAllocationAvailable?: boolean;
}

export class FakeResource implements DeviceResource {
  readonly resourceName: string;
  readonly socketName: string;
  readonly preferredAllocationAvailable: boolean;
  readonly allocations: string[][] = [];
  readonly #health = new Map<string, Health>();
  readonly #listeners = new Set<() => void>();

  constructor(options: FakeResourceOptions = {}) {
    this.resourceName = options.resourceName ?? 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
    this.socketName = options.socketName ?? 'cloister-sgx_epc_mem_in_MiB.sock';
    this.preferredAllocationAvailable = options.preferredAllocationAvailable ?? true;
    const prefix = options.prefix ?? 'epc-';
    for (let i = 0; i < (options.count ?? 8); i++) this.#health.set(`${prefix}${i}`, HEALTHY);
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  devices(): readonly PluginDevice[] {
    return [...this.#health].map(([id, health]) => ({ id, health }));
  }

  setHealth(id: string, health: Health): void {
    if (!this.#health.has(id)) throw new Error(`no device ${id}`);
    this.#health.set(id, health);
    for (const l of [...this.#listeners]) l();
  }

  allocate(deviceIds: readonly string[]): ContainerAllocation {
    if (deviceIds.length === 0) {
      throw new AgentError('INVALID_REQUEST', `a container asked for no device of ${this.resourceName}`);
    }
    for (const id of deviceIds) {
      const health = this.#health.get(id);
      if (health === undefined) {
        throw new AgentError('UNKNOWN_DEVICE', `device "${id}" of ${this.resourceName} is not advertised on this node`);
      }
      if (health === UNHEALTHY) {
        throw new AgentError(
          'UNHEALTHY_DEVICE',
          `device "${id}" of ${this.resourceName} is Unhealthy: /dev/sgx_enclave is missing on this node`,
        );
      }
    }
    this.allocations.push([...deviceIds]);
    return {
      devices: [{ containerPath: '/dev/sgx_enclave', hostPath: '/dev/sgx_enclave', permissions: 'rw' }],
      mounts: [{ containerPath: '/var/run/aesmd', hostPath: '/var/run/aesmd', readOnly: true }],
      envs: { SGX_AESM_ADDR: '1', CLOISTER_EPC_MIB: String(deviceIds.length) },
      annotations: { 'cloister.dev/epc-devices': deviceIds.join(',') },
    };
  }

  preferredAllocation(available: readonly string[], mustInclude: readonly string[], size: number): readonly string[] {
    const rest = available.filter((id) => !mustInclude.includes(id)).sort();
    return [...mustInclude, ...rest].slice(0, size);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}

export class RecordingMetrics implements AgentMetrics {
  readonly registrations: { resource: string; ok: boolean }[] = [];
  readonly allocations: { resource: string; devices: number; seconds: number }[] = [];
  readonly errors: string[] = [];
  readonly deviceCounts: { resource: string; healthy: number; unhealthy: number }[] = [];

  registration(resource: string, ok: boolean): void {
    this.registrations.push({ resource, ok });
  }
  allocate(resource: string, devices: number, seconds: number): void {
    this.allocations.push({ resource, devices, seconds });
  }
  error(kind: string): void {
    this.errors.push(kind);
  }
  setEpcTotalMiB(): void {}
  setDevices(resource: string, healthy: number, unhealthy: number): void {
    this.deviceCounts.push({ resource, healthy, unhealthy });
  }
}
