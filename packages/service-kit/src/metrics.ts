/**
 * One metrics registry per service (never prom-client's global one), with the HTTP request counter and latency
 * histogram every service has. Route labels are the matched route pattern, so cardinality stays bounded.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** 100 µs … 10 s. */
export const HTTP_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface MetricsRegistryOptions {
  /** Use this registry instead of a new one. */
  readonly registry?: Registry;
  /** Also collect prom-client's default process metrics (CPU, memory, event-loop lag, …). */
  readonly processMetrics?: boolean;
}

/**
 * The registry every Cloister process keeps its metrics in: its own (never prom-client's global one, so two
 * components in one process never clash), with the process metrics on request. Domain metrics (the node agent's
 * device plugin and quote helper, a service's own counters) are registered into it.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = options.registry ?? new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });
  return registry;
}

export interface ServiceMetricsOptions {
  /** Metric name prefix, e.g. `cloister_attestation` → `cloister_attestation_http_requests_total`. */
  readonly prefix: string;
  readonly registry?: Registry;
  /** Also collect prom-client's default process metrics. */
  readonly processMetrics?: boolean;
}

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly prefix: string;
  request(route: string, method: string, status: number, seconds: number): void;
  error(kind: string): void;
}

export function createServiceMetrics(options: ServiceMetricsOptions): ServiceMetrics {
  const registry = createMetricsRegistry({
    ...(options.registry !== undefined ? { registry: options.registry } : {}),
    processMetrics: options.processMetrics === true,
  });
  const registers = [registry];
  const requests = new Counter({
    name: `${options.prefix}_http_requests_total`,
    help: 'HTTP requests answered, by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${options.prefix}_http_request_duration_seconds`,
    help: 'Time to answer one HTTP request, by route pattern and method.',
    labelNames: ['route', 'method'] as const,
    buckets: [...HTTP_BUCKETS],
    registers,
  });
  const errors = new Counter({
    name: `${options.prefix}_errors_total`,
    help: 'Errors seen by the service, by kind (an error code or a subsystem name).',
    labelNames: ['kind'] as const,
    registers,
  });
  return {
    registry,
    prefix: options.prefix,
    request(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      if (Number.isFinite(seconds) && seconds >= 0) duration.observe({ route, method }, seconds);
    },
    error(kind) {
      errors.inc({ kind });
    },
  };
}
