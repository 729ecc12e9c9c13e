/**
 * `@cloister/node-agent/agent`: what the `cloister node-agent` process needs, without the quote-helper, AESM-server and
 * simulator modules the main entry also exports — they are loaded only when the quote helper is enabled, so a
 * device-plugin-only agent keeps its memory small (bench/device-plugin measures its RSS).
 */
export { AgentError, type AgentErrorCode } from './errors.js';
export { NodeAgent, type NodeAgentOptions } from './agent.js';
export { RESOURCE_KINDS, type ResourceKind } from './resources/index.js';
export { AGENT_COMPONENT, createAgentLogger, createAgentLogger as createLogger, type AgentLoggerOptions } from './logger.js';
