/**
 * What the EPC and slot resources share: a fixed list of device IDs whose health follows one HealthSource, change
 * listeners, and the checks every Allocate / GetPreferredAllocation request goes through.
 */
import { AgentError } from '../errors.js';
import { quoteClipped } from '../util/clip.js';
import { HEALTHY, UNHEALTHY, type DeviceSpecData, type MountData, type PluginDevice } from '../types.js';
import type { HealthSource } from './health.js';

/** kubelet's limit on a device ID (v1beta1 `Device.ID`). */
export const MAX_DEVICE_ID_LENGTH = 63;

export class DeviceSet {
  readonly resourceName: string;
  readonly #index = new Map<string, number>();
  readonly #ids: readonly string[];
  readonly #health: HealthSource;
  readonly #listeners = new Set<() => void>();
  #cache: { healthy: boolean; list: readonly PluginDevice[] } | undefined;

  /** `idOf(i)` names device i (0-based); IDs must be unique and at most 63 characters. */
  constructor(resourceName: string, count: number, idOf: (i: number) => string, health: HealthSource) {
    this.resourceName = resourceName;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = idOf(i);
      if (id.length > MAX_DEVICE_ID_LENGTH) {
        throw new RangeError(`device ID ${id} is longer than ${MAX_DEVICE_ID_LENGTH} characters`);
      }
      this.#index.set(id, i);
      ids.push(id);
    }
    this.#ids = ids;
    this.#health = health;
    health.onChange(() => {
      this.#cache = undefined;
      for (const l of [...this.#listeners]) {
        try {
          l();
        } catch {
          // A failing subscriber must not keep the others from hearing about the change.
        }
      }
    });
  }

  get size(): number {
    return this.#ids.length;
  }

  /** The full list, rebuilt only when health changes (EPC resources can hold tens of thousands of devices). */
  devices(): readonly PluginDevice[] {
    const healthy = this.#health.healthy();
    if (this.#cache?.healthy !== healthy) {
      const health = healthy ? HEALTHY : UNHEALTHY;
      this.#cache = { healthy, list: Object.freeze(this.#ids.map((id) => Object.freeze({ id, health }))) };
    }
    return this.#cache.list;
  }

  onChange(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.#listeners.add(wrapped);
    return () => {
      this.#listeners.delete(wrapped);
    };
  }

  indexOf(id: string): number | undefined {
    return this.#index.get(id);
  }

  /** Validates an Allocate request; returns the device indexes in request order. */
  checkAllocate(ids: readonly string[]): number[] {
    if (ids.length === 0) {
      throw new AgentError('INVALID_REQUEST', `Allocate for ${this.resourceName} named no devices`);
    }
    const indexes = this.checkKnown(ids, 'Allocate');
    if (!this.#health.healthy()) {
      const why = this.#health.reason() ?? 'its device node is unavailable';
      throw new AgentError(
        'UNHEALTHY_DEVICE',
        `device ${quoteClipped(ids[0] ?? '')} of ${this.resourceName} is Unhealthy (${why}); ` +
          'kubelet should not have offered it, retry once it is Healthy',
      );
    }
    return indexes;
  }

  /** Unknown IDs → UNKNOWN_DEVICE, repeated IDs → INVALID_REQUEST. */
  checkKnown(ids: readonly string[], what: string): number[] {
    const seen = new Set<string>();
    const indexes: number[] = [];
    for (const id of ids) {
      if (seen.has(id)) {
        throw new AgentError('INVALID_REQUEST', `${what} for ${this.resourceName} names device ${quoteClipped(id)} more than once`);
      }
      seen.add(id);
      const i = this.#index.get(id);
      if (i === undefined) {
        throw new AgentError(
          'UNKNOWN_DEVICE',
          `${what} for ${this.resourceName} names device ${quoteClipped(id)}, which this plugin never advertised ` +
            '(stale kubelet checkpoint after an EPC or limit change?)',
        );
      }
      indexes.push(i);
    }
    return indexes;
  }

  idAt(i: number): string {
    const id = this.#ids[i];
    if (id === undefined) throw new RangeError(`no device at index ${i}`);
    return id;
  }
}

/**
 * Shared validation of a GetPreferredAllocation request; returns the indexes of available ∪ mustInclude and of
 * mustInclude, each sorted ascending and de-duplicated.
 */
export function checkPreferred(
  set: DeviceSet,
  available: readonly string[],
  mustInclude: readonly string[],
  size: number,
): { free: number[]; must: number[] } {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new AgentError('INVALID_REQUEST', `GetPreferredAllocation for ${set.resourceName} asks for ${size} devices`);
  }
  const must = set.checkKnown(mustInclude, 'GetPreferredAllocation must_include');
  const freeSet = new Set<number>(must);
  for (const id of available) {
    const i = set.indexOf(id);
    if (i === undefined) {
      throw new AgentError(
        'UNKNOWN_DEVICE',
        `GetPreferredAllocation for ${set.resourceName} offers device ${quoteClipped(id)}, ` +
          'which this plugin never advertised',
      );
    }
    freeSet.add(i);
  }
  if (must.length > size) {
    throw new AgentError(
      'INVALID_REQUEST',
      `GetPreferredAllocation for ${set.resourceName}: ${must.length} must-include devices ` +
        `exceed the requested ${size}`,
    );
  }
  if (freeSet.size < size) {
    throw new AgentError(
      'INVALID_REQUEST',
      `GetPreferredAllocation for ${set.resourceName} asks for ${size} devices but only ${freeSet.size} are available`,
    );
  }
  return { free: [...freeSet].sort((a, b) => a - b), must: [...must].sort((a, b) => a - b) };
}

/** mustInclude plus the lowest other free indexes, ascending. */
export function lowestWithMust(free: readonly number[], must: readonly number[], size: number): number[] {
  const chosen = new Set(must);
  for (const i of free) {
    if (chosen.size >= size) break;
    chosen.add(i);
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * How a node reaches the container. `device`: a DeviceSpec (cgroup device rule + device node), required on hardware.
 * `mount`: a bind mount, for simulation on a real container runtime, which refuses DeviceSpecs whose host path is
 * not a device node (containerd: "not a device node").
 */
export type Delivery = 'device' | 'mount';

export function deliver(
  specs: readonly DeviceSpecData[],
  delivery: Delivery,
): { devices: readonly DeviceSpecData[]; mounts: readonly MountData[] } {
  if (delivery === 'device') {
    return { devices: Object.freeze(specs.map((s) => Object.freeze({ ...s }))), mounts: Object.freeze([]) };
  }
  const mounts = specs.map((s) =>
    Object.freeze({ containerPath: s.containerPath, hostPath: s.hostPath, readOnly: false }),
  );
  return { devices: Object.freeze([]), mounts: Object.freeze(mounts) };
}
