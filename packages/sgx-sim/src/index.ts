/**
 * @cloister/sgx-sim — a simulated Intel SGX platform whose every artifact is in Intel's real format: MRENCLAVE,
 * SIGSTRUCT, REPORT/TARGETINFO/KEYREQUEST, sealed data, PCK certificates and CRLs, DCAP quotes v3/v4, TCB info and QE
 * identity. Evidence verifies with @cloister/dcap only when the simulation root is trusted explicitly.
 * See docs/simulator.md.
 */
export * from './errors.js';
export * from './identity.js';
export { encodeReportBody, REPORT_BODY_SIZE } from './report-body.js';
export { Platform, DEFAULT_PLATFORM_CONFIG, type PlatformConfig, type CreatePlatformOptions } from './platform.js';
export * from './aes-cmac.js';
export * from './sigstruct.js';
export * from './measurement.js';
export * from './keyrequest.js';
export * from './egetkey.js';
export * from './seal.js';
export * from './enclave.js';
export * as der from './der-writer.js';
export * from './keys.js';
export * from './pck-extension.js';
export * from './pki.js';
export * from './quoting.js';
export * from './quoting-enclave.js';
export * from './collateral.js';
