/**
 * The agent's logger is service-kit's (`@cloister/service-kit/core`: pino JSON lines on stdout, what kubelet and
 * containerd collect) with the component fixed to `cloister-node-agent`.
 */
import { createLogger as createComponentLogger, type Logger, type LoggerOptions } from '@cloister/service-kit/core';

export const AGENT_COMPONENT = 'cloister-node-agent';

export type AgentLoggerOptions = Omit<LoggerOptions, 'component'>;

/** Throws ServiceError `CONFIG_INVALID` for an unknown level. */
export function createAgentLogger(options: AgentLoggerOptions = {}): Logger {
  return createComponentLogger({ ...options, component: AGENT_COMPONENT });
}
