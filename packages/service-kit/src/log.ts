/**
 * One logger for every Cloister service: pino JSON lines on stdout, a `component` field on every line, ISO
 * timestamps, the level as a word. Authorization headers, cookies and fields named like secrets are redacted.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { ServiceError } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** The `component` field on every line, e.g. `cloister-attestation-service`. */
  readonly component: string;
  readonly level?: string;
  /** Where to write (default stdout); tests pass a stream. */
  readonly destination?: DestinationStream;
}

/** Paths pino replaces with `[redacted]` wherever they occur in a log record. */
export const REDACTED_PATHS: readonly string[] = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  'adminToken',
  'password',
  'privateKey',
  'key.d',
];

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ServiceError(
      'CONFIG_INVALID',
      400,
      `unknown log level ${JSON.stringify(level)}; expected one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  const settings = {
    level,
    base: { component: options.component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

export type { Logger };
