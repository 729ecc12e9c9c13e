/** What enclave code imports (and the build inlines): the definition helper, the errors, the types. */
export { defineEnclave } from '../define.js';
export { EnclaveError, type EnclaveErrorCode } from '../errors.js';
export type {
  ConnectionHandler,
  ConnectionInfo,
  EcallHandler,
  EnclaveContext,
  EnclaveDefinition,
  EnclaveLogger,
  EnclaveSelf,
  EnclaveServices,
  HostEcalls,
  OcallHandler,
  SealOptions,
  SealPolicy,
} from '../types.js';
