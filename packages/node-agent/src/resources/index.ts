/**
 * From a detection result to the resources this node advertises. Resources that cannot be offered are skipped with a
 * reason (a node without SGX yields none), so the agent can log why and keep serving health and metrics.
 */
import { AgentError } from '../errors.js';
import type { SgxDetection } from '../detect/hardware.js';
import type { DeviceResource } from '../types.js';
import { DEFAULT_MAX_EPC_DEVICES, createEpcResource } from './epc.js';
import { watchDeviceNodes, type HealthSource, type HealthSourceFactory } from './health.js';
import { createSlotResource } from './slots.js';
import type { Delivery } from './device-set.js';

export type ResourceKind = 'epc' | 'enclave' | 'provision';
export const RESOURCE_KINDS: readonly ResourceKind[] = ['epc', 'enclave', 'provision'];

const MIB = 1024 * 1024;

export interface BuildResourcesOptions {
  /** Which resources to offer (default all three). */
  readonly resources?: readonly ResourceKind[];
  readonly enclaveLimit?: number;
  readonly provisionLimit?: number;
  /** Add `/dev/sgx/enclave` / `/dev/sgx/provision` container paths next to the new names. */
  readonly legacyAliases?: boolean;
  readonly maxEpcDevices?: number;
  /** Health per device-node set; default: watch the nodes with `watchDeviceNodes` (poll `healthIntervalMs`). */
  readonly health?: HealthSourceFactory;
  readonly healthIntervalMs?: number;
  /**
   * Simulation only: hand the `*.simulated` files out as DeviceSpecs (`device`, default, fine for the kubelet double)
   * or as bind mounts (`mount`, needed on containerd/CRI-O, which reject DeviceSpecs that are not device nodes).
   * Hardware always uses DeviceSpecs.
   */
  readonly simulatedDelivery?: Delivery;
}

export interface BuiltResources {
  readonly resources: readonly DeviceResource[];
  /** One line per resource not offered (or the node's no-SGX reason). */
  readonly reasons: readonly string[];
  /** Advertised EPC in MiB (0 when the EPC resource is not offered). */
  readonly epcMiB: number;
  /** Stops the health sources created here. */
  stop(): void;
}

function checkKinds(kinds: readonly ResourceKind[]): void {
  const seen = new Set<string>();
  for (const k of kinds) {
    if (!RESOURCE_KINDS.includes(k)) {
      throw new AgentError(
        'CONFIG_INVALID',
        `unknown resource ${JSON.stringify(k)}; expected some of ${RESOURCE_KINDS.join(', ')}`,
      );
    }
    if (seen.has(k)) throw new AgentError('CONFIG_INVALID', `resource ${k} listed twice`);
    seen.add(k);
  }
}

export function buildResources(detection: SgxDetection, options: BuildResourcesOptions = {}): BuiltResources {
  const kinds = options.resources ?? RESOURCE_KINDS;
  checkKinds(kinds);
  if (!detection.sgx) {
    return { resources: [], reasons: [`no SGX on this node: ${detection.reason}`], epcMiB: 0, stop: () => {} };
  }
  const requireCharDevice = !detection.simulated;
  const factory: HealthSourceFactory =
    options.health ??
    ((paths, o) =>
      watchDeviceNodes({
        paths,
        requireCharDevice: o.requireCharDevice,
        ...(options.healthIntervalMs === undefined ? {} : { intervalMs: options.healthIntervalMs }),
      }));
  // One health source per device node, shared by the resources that hand it out.
  const sources = new Map<string, HealthSource>();
  const healthFor = (path: string): HealthSource => {
    let s = sources.get(path);
    if (s === undefined) {
      s = factory([path], { requireCharDevice });
      sources.set(path, s);
    }
    return s;
  };
  const stop = (): void => {
    for (const s of sources.values()) s.stop();
  };

  const resources: DeviceResource[] = [];
  const reasons: string[] = [];
  let epcMiB = 0;
  const legacyAlias = options.legacyAliases ?? false;
  const delivery: Delivery = detection.simulated ? (options.simulatedDelivery ?? 'device') : 'device';
  const { enclave, provision } = detection.devices;
  try {
    for (const kind of kinds) {
      if (kind === 'epc') {
        const mib = Math.floor(detection.epcBytes / MIB);
        if (mib < 1) {
          reasons.push(`epc: ${detection.epcBytes} bytes of EPC is less than 1 MiB`);
          continue;
        }
        const epc = createEpcResource({
          epcMiB: mib,
          enclaveHostPath: enclave,
          legacyAlias,
          health: healthFor(enclave),
          maxDevices: options.maxEpcDevices ?? DEFAULT_MAX_EPC_DEVICES,
          delivery,
        });
        if (epc.advertisedMiB < mib) {
          reasons.push(
            `epc: advertising ${epc.advertisedMiB} of ${mib} MiB (device-count cap; raise maxEpcDevices to change)`,
          );
        }
        epcMiB = epc.advertisedMiB;
        resources.push(epc);
      } else if (kind === 'enclave') {
        resources.push(
          createSlotResource({
            kind,
            hostPath: enclave,
            limit: options.enclaveLimit,
            legacyAlias,
            health: healthFor(enclave),
            delivery,
          }),
        );
      } else if (provision === undefined) {
        reasons.push('provision: no sgx_provision device node on this node');
      } else {
        resources.push(
          createSlotResource({
            kind,
            hostPath: provision,
            limit: options.provisionLimit,
            legacyAlias,
            health: healthFor(provision),
            delivery,
          }),
        );
      }
    }
  } catch (e) {
    stop();
    throw e;
  }
  return { resources, reasons, epcMiB, stop };
}
