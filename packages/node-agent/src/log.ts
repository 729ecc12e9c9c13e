/** The agent's logger: JSON lines on stdout (what kubelet/containerd collect), one `component` field on every line. */
import { pino, type DestinationStream, type Logger } from 'pino';
import { AgentError } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level?: string;
  /** Where to write (default stdout); tests pass a stream. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new AgentError(
      'CONFIG_INVALID',
      `unknown log level ${JSON.stringify(level)}; expected one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  const settings = {
    level,
    base: { component: 'cloister-node-agent' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
