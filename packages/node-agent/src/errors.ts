/** Typed errors of the node agent, with stable codes; messages are written for a person reading `kubectl describe pod`. */
export const AGENT_ERROR_CODES = [
  /** Allocate / GetPreferredAllocation named a device ID this plugin never advertised. */
  'UNKNOWN_DEVICE',
  /** Allocate named a device that is currently Unhealthy (e.g. its device node disappeared). */
  'UNHEALTHY_DEVICE',
  /** A request that is malformed (no containers, duplicate IDs, sizes out of range). */
  'INVALID_REQUEST',
  /** The node has no usable SGX (no EPC, no flags, no device nodes); the reason is in the message. */
  'NO_SGX',
  /** Register with kubelet failed (kubelet down, refused the request, could not dial back). */
  'REGISTRATION_FAILED',
  /** Our plugin socket path is held by a live server (another agent instance). */
  'SOCKET_IN_USE',
  /** Bad agent configuration (flags, resource list, paths). */
  'CONFIG_INVALID',
] as const;

export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

const BRAND = Symbol.for('@cloister/node-agent/AgentError');

export class AgentError extends Error {
  readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'AgentError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  static is(value: unknown): value is AgentError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
