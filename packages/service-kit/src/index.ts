/**
 * @cloister/service-kit: the HTTP, logging, metrics and probe plumbing shared by Cloister's services (attestation
 * service, key broker, webhook, dashboard) and the node agent. The component name is a parameter everywhere.
 * `@cloister/service-kit/core` is the same without Hono (for the node agent).
 */
export {
  ServiceError,
  isServiceError,
  createLogger,
  LOG_LEVELS,
  REDACTED_PATHS,
  type LoggerOptions,
  type LogLevel,
  type Logger,
  createMetricsRegistry,
  createServiceMetrics,
  HTTP_BUCKETS,
  type MetricsRegistryOptions,
  type ServiceMetrics,
  type ServiceMetricsOptions,
  checkReadiness,
  probeAnswer,
  startProbeServer,
  PROBE_PATHS,
  type ProbeAnswer,
  type ProbeServerHandle,
  type ProbeServerOptions,
  type Readiness,
  type ReadinessCheck,
  listenGated,
  resolveLimits,
  PROBE_LIMITS,
  SERVICE_LIMITS,
  type Listener,
  type ListenerLimits,
  type ListenOptions,
  type ResolvedLimits,
  ConnectionGate,
  type ConnectionGateLimits,
  type ConnectionGateOptions,
  type GateDropReason,
} from './core.js';
export { createServiceApp, defaultErrorBody, errorResponse, type ServiceAppOptions } from './app.js';
export { readBody, readJson, readText, readStreamBounded, DEFAULT_BODY_LIMIT } from './body.js';
export { rateLimit, peerAddress, type RateLimitOptions } from './rate-limit.js';
export { requireAdmin, readSecretFile, tokensEqual, bearerToken } from './auth.js';
export {
  startService,
  type StartServiceOptions,
  type ServiceHandle,
  type ServerLimits,
  type TlsFiles,
  type TlsInline,
} from './server.js';
