export { EnclaveError, type EnclaveErrorCode } from '../errors.js';
export type * from '../types.js';
