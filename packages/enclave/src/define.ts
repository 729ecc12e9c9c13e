/**
 * `defineEnclave`: the enclave side's one entry point. It validates the definition and freezes it; the runtime
 * (src/runtime/enclave-main.ts) re-validates whatever a bundle exports with `assertEnclaveDefinition`.
 */
import { EnclaveError } from './errors.js';
import type { ConnectionHandler, EcallHandler, EnclaveDefinition } from './types.js';

/** Longest ecall / ocall name accepted on either side of the boundary. */
export const MAX_CALL_NAME_LENGTH = 128;
/** Most ecalls one enclave may declare. */
export const MAX_ECALLS = 1024;

const NAME = /^[A-Za-z_$][A-Za-z0-9_$.:-]*$/;

/** True if `name` is acceptable as an ecall / ocall name. */
export function isValidCallName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_CALL_NAME_LENGTH && NAME.test(name);
}

/**
 * Check that `value` is `{ ecalls: { [name]: function } }` (own enumerable string keys only, plain object, at most
 * MAX_ECALLS valid names). Throws EnclaveError('INVALID_MANIFEST') otherwise.
 */
export function assertEnclaveDefinition(
  value: unknown,
): asserts value is EnclaveDefinition<Record<string, EcallHandler<never, unknown>>> {
  if (typeof value !== 'object' || value === null) {
    throw new EnclaveError('INVALID_MANIFEST', 'an enclave definition must be an object { ecalls }');
  }
  const ecalls: unknown = (value as { ecalls?: unknown }).ecalls;
  if (typeof ecalls !== 'object' || ecalls === null || Array.isArray(ecalls)) {
    throw new EnclaveError('INVALID_MANIFEST', 'an enclave definition needs an `ecalls` object');
  }
  if (Object.getOwnPropertySymbols(ecalls).length > 0) {
    throw new EnclaveError('INVALID_MANIFEST', 'ecall names must be strings');
  }
  const onConnection: unknown = (value as { onConnection?: unknown }).onConnection;
  if (onConnection !== undefined && typeof onConnection !== 'function') {
    throw new EnclaveError('INVALID_MANIFEST', 'onConnection must be a function');
  }
  const names = Object.keys(ecalls);
  if (names.length > MAX_ECALLS) {
    throw new EnclaveError('INVALID_MANIFEST', `too many ecalls (${names.length} > ${MAX_ECALLS})`);
  }
  for (const name of names) {
    if (!isValidCallName(name)) {
      throw new EnclaveError('INVALID_MANIFEST', `invalid ecall name ${JSON.stringify(String(name).slice(0, 64))}`);
    }
    if (typeof (ecalls as Record<string, unknown>)[name] !== 'function') {
      throw new EnclaveError('INVALID_MANIFEST', `ecall ${name} is not a function`);
    }
  }
}

/**
 * Declare an enclave: `export default defineEnclave({ ecalls: { name: async (args, ctx) => result } })`.
 * Every ecall must be a function; the result (and its `ecalls`) is frozen.
 */
export function defineEnclave<E extends Record<string, EcallHandler<never, unknown>>>(def: {
  readonly ecalls: E;
  readonly onConnection?: ConnectionHandler;
}): EnclaveDefinition<E> {
  assertEnclaveDefinition(def);
  const ecalls = Object.freeze({ ...def.ecalls }) as E;
  return def.onConnection === undefined ? Object.freeze({ ecalls }) : Object.freeze({ ecalls, onConnection: def.onConnection });
}
