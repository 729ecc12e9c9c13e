/**
 * @cloister/enclave — the enclave SDK for TypeScript: the host/enclave split, packaging and signing, attestation
 * (reports, quotes in or out of process, evidence policies), sealing; sim and Gramine backends.
 * See docs/developers/enclave-sdk.md. Enclave code imports from `@cloister/enclave/runtime`.
 */
export { ENCLAVE_ERROR_CODES, EnclaveError, type EnclaveErrorCode } from './errors.js';
export {
  type ConnectionHandler,
  type ConnectionInfo,
  type EcallHandler,
  type EnclaveContext,
  type EnclaveDefinition,
  type EnclaveLogger,
  type EnclaveSelf,
  type EnclaveServices,
  type HostEcalls,
  type OcallHandler,
  type SealOptions,
  type SealPolicy,
} from './types.js';
export { defineEnclave } from './define.js';
export { createEnclave, type CreateEnclaveOptions, type Enclave } from './create-enclave.js';
export {
  createSimEnclaveProcess,
  type EnclaveHandle,
  type SimEnclaveProcessOptions,
  type HostLogger,
  type EnclaveExit,
  type EnclaveHealth,
  type RestartPolicy,
} from './host/create-sim-enclave.js';
export {
  createGramineEnclaveProcess,
  type GramineEnclaveProcessOptions,
} from './host/create-gramine-enclave.js';
export type { EnclaveTransport, EnclaveProcessCommonOptions, EnclaveListener } from './host/enclave-host.js';
export type { ConnectPolicy } from './host/relay-host.js';
export type { SandboxMode, SimIsolation } from './host/sandbox.js';
export {
  ENV_NAME_PATTERN,
  RESERVED_ENV_NAMES,
  RESERVED_ENV_PREFIXES,
  assertEnvAllowed,
  envNameRefusal,
} from './package/env-policy.js';
export { RESERVED_LOG_KEYS, MAX_LOG_FIELDS } from './host/log-record.js';
export { SimEnclaveServices, quotingMode, type SimServicesOptions, type QuotingMode } from './sim/services.js';
export { buildEnclave, type BuildEnclaveResult } from './package/build.js';
export { initEnclaveProject, type InitEnclaveOptions, type InitEnclaveResult } from './package/init.js';
export {
  BUNDLE_PATH,
  KEY_FILE,
  MANIFEST_FILE,
  SIGSTRUCT_FILE,
  enclavePaths,
  measuredManifestOf,
  readEnclaveProject,
  validateEnclaveJson,
  type EnclavePaths,
  type EnclaveProject,
} from './package/manifest.js';
export {
  loadEnclaveDir,
  measureEnclaveDir,
  signEnclaveDir,
  type LoadedEnclave,
  type SignEnclaveDirOptions,
  type SignEnclaveDirResult,
} from './package/sign.js';
export {
  verifyEvidence,
  type EvidenceCollateralProvider,
  type VerifiedEvidence,
  type VerifyEvidenceOptions,
} from './attestation/verify-evidence.js';
// Policies are @cloister/policy's (the one engine); re-exported so that SDK users need one import.
export {
  PolicyError,
  parsePolicy,
  type EnclaveIdentity,
  type EnclavePolicy,
  type MrenclavePolicy,
  type MrsignerPolicy,
  type Policy,
  type PolicyCommon,
  type PolicyDecision,
} from '@cloister/policy';
export {
  GRAMINE_ENCLAVE_ROOT,
  GRAMINE_MIN_ENCLAVE_MIB,
  GRAMINE_RUNTIME_PATH,
  gramineEnclaveSize,
  gramineManifest,
  type GramineManifestOptions,
} from './gramine/manifest.js';
export {
  GRAMINE_ATTESTATION_ROOT,
  GramineAttestation,
  type AttestationFs,
  type GramineAttestationOptions,
} from './gramine/attestation-fs.js';
