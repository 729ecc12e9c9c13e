/**
 * @cloister/service-kit: the HTTP, logging, metrics and probe plumbing shared by Cloister's services (attestation
 * service, key broker, webhook, node agent). The component name is a parameter everywhere.
 */
export { ServiceError, isServiceError } from './errors.js';
export { createLogger, LOG_LEVELS, REDACTED_PATHS, type LoggerOptions, type LogLevel, type Logger } from './log.js';
export { createServiceMetrics, HTTP_BUCKETS, type ServiceMetrics, type ServiceMetricsOptions } from './metrics.js';
export {
  createServiceApp,
  defaultErrorBody,
  errorResponse,
  type Readiness,
  type ServiceAppOptions,
} from './app.js';
export { readBody, readJson, readText, DEFAULT_BODY_LIMIT } from './body.js';
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
