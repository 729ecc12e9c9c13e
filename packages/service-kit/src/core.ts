/**
 * `@cloister/service-kit/core`: the plumbing without a web framework — logger, metrics registry, probes and their
 * plain node:http server, the gated listener and the connection gate. The node agent imports this entry only (no
 * Hono is loaded: bench/device-plugin measures its idle RSS); services import the main entry, which re-exports it.
 */
export { ServiceError, isServiceError } from './errors.js';
export { createLogger, LOG_LEVELS, REDACTED_PATHS, type LoggerOptions, type LogLevel, type Logger } from './log.js';
export {
  createMetricsRegistry,
  createServiceMetrics,
  HTTP_BUCKETS,
  type MetricsRegistryOptions,
  type ServiceMetrics,
  type ServiceMetricsOptions,
} from './metrics.js';
export {
  checkReadiness,
  probeAnswer,
  startProbeServer,
  PROBE_PATHS,
  type ProbeAnswer,
  type ProbeServerHandle,
  type ProbeServerOptions,
  type Readiness,
  type ReadinessCheck,
} from './probes.js';
export {
  listenGated,
  resolveLimits,
  PROBE_LIMITS,
  SERVICE_LIMITS,
  type Listener,
  type ListenerLimits,
  type ListenOptions,
  type ResolvedLimits,
} from './listener.js';
export {
  ConnectionGate,
  type ConnectionGateLimits,
  type ConnectionGateOptions,
  type GateDropReason,
} from './connection-gate.js';
