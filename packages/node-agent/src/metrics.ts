/**
 * The device plugin's domain metrics over prom-client, in a registry made as every Cloister process makes one
 * (service-kit's `createMetricsRegistry`: never prom-client's global registry; process metrics on request).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createMetricsRegistry } from '@cloister/service-kit/core';
import { HEALTHY, UNHEALTHY, type AgentMetrics } from './types.js';

/** 50 µs … 1 s: Allocate is a map lookup plus a response, so most calls land in the sub-millisecond buckets. */
export const ALLOCATE_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

export interface AgentMetricsOptions {
  /** Also collect prom-client's default process metrics (CPU, memory, event loop lag, …) into the registry. */
  readonly processMetrics?: boolean;
}

export interface PromAgentMetrics extends AgentMetrics {
  readonly registry: Registry;
}

export function createAgentMetrics(given?: Registry, options: AgentMetricsOptions = {}): PromAgentMetrics {
  const registry = createMetricsRegistry({
    ...(given !== undefined ? { registry: given } : {}),
    processMetrics: options.processMetrics === true,
  });
  const registers = [registry];
  const epcTotal = new Gauge({
    name: 'cloister_sgx_epc_total_mib',
    help: 'EPC advertised by this node, in MiB.',
    registers,
  });
  const devices = new Gauge({
    name: 'cloister_device_plugin_devices',
    help: 'Devices currently advertised to kubelet, by resource and health.',
    labelNames: ['resource', 'health'] as const,
    registers,
  });
  const allocated = new Counter({
    name: 'cloister_device_plugin_allocated_devices_total',
    help: 'Devices handed out in successful Allocate calls, by resource.',
    labelNames: ['resource'] as const,
    registers,
  });
  const registrations = new Counter({
    name: 'cloister_device_plugin_registrations_total',
    help: 'Register calls to kubelet, by resource and result (success or failure).',
    labelNames: ['resource', 'result'] as const,
    registers,
  });
  const allocateDuration = new Histogram({
    name: 'cloister_device_plugin_allocate_duration_seconds',
    help: 'Time to answer one Allocate call, by resource.',
    labelNames: ['resource'] as const,
    buckets: [...ALLOCATE_BUCKETS],
    registers,
  });
  const errors = new Counter({
    name: 'cloister_node_agent_errors_total',
    help: 'Errors seen by the node agent, by kind (an AgentError code or a subsystem name).',
    labelNames: ['kind'] as const,
    registers,
  });
  return {
    registry,
    registration(resource, ok) {
      registrations.inc({ resource, result: ok ? 'success' : 'failure' });
    },
    allocate(resource, count, seconds) {
      if (count > 0) allocated.inc({ resource }, count);
      if (Number.isFinite(seconds) && seconds >= 0) allocateDuration.observe({ resource }, seconds);
    },
    error(kind) {
      errors.inc({ kind });
    },
    setEpcTotalMiB(mib) {
      epcTotal.set(mib);
    },
    setDevices(resource, healthy, unhealthy) {
      devices.set({ resource, health: HEALTHY }, healthy);
      devices.set({ resource, health: UNHEALTHY }, unhealthy);
    },
  };
}
