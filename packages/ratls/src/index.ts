/**
 * @cloister/ratls — attested TLS certificates: the interoperable RA-TLS format (TCG DICE tagged evidence) and the
 * Gramine, Intel SGX SDK, Open Enclave and EGo variants; inspection, verification against a policy, creation.
 */
export * from './errors.js';
export * from './cbor.js';
export * from './formats.js';
export { loadCertificate, selfSignatureValid, checkCertificate } from './certificate.js';
export * from './inspect.js';
export * from './verify.js';
export * from './create.js';
export * from './tls.js';
