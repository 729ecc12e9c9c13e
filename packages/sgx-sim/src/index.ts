/**
 * @cloister/sgx-sim — a simulated Intel SGX platform whose every artifact is in Intel's real format: MRENCLAVE,
 * SIGSTRUCT, REPORT/TARGETINFO/KEYREQUEST, sealed data, PCK certificates and CRLs, DCAP quotes v3/v4, TCB info and QE
 * identity. Evidence verifies with @cloister/dcap only when the simulation root is trusted explicitly.
 * See docs/simulator.md.
 */
export { SIM_ERROR_CODES, SimError, type SimErrorCode } from './errors.js';
export {
  DEFAULT_XFRM,
  enclaveIdentity,
  type EnclaveIdentity,
  encodeAttributes,
  isDebug,
  SGX_FLAGS,
} from './identity.js';
export { encodeReportBody, REPORT_BODY_SIZE } from './report-body.js';
export { Platform, DEFAULT_PLATFORM_CONFIG, type PlatformConfig, type CreatePlatformOptions } from './platform.js';
export { aesCmac } from './aes-cmac.js';
export {
  generateSigningKey,
  loadSigningKey,
  mrSignerOf,
  parseSigstruct,
  signSigstruct,
  type Sigstruct,
  SIGSTRUCT_SIZE,
  sigstructDate,
  type SigstructFields,
  verifySigstruct,
} from './sigstruct.js';
export {
  type EnclaveImage,
  enclaveLayout,
  type EnclaveLayout,
  type EnclaveManifest,
  type LayoutRegion,
  type LayoutRegionKind,
  MANIFEST_FORMAT,
  MAX_HEAP_MIB,
  measureEnclave,
  type NormalizedManifest,
  normalizeManifest,
  PAGE_SIZE,
  SECINFO_FLAGS,
  SSA_FRAME_SIZE,
} from './measurement.js';
export {
  encodeKeyRequest,
  KEY_NAME,
  KEY_POLICY,
  KEY_POLICY_ALL,
  KEY_POLICY_KSS,
  KEY_REQUEST_SIZE,
  keyNameLabel,
  type KeyNameLabel,
  type KeyRequest,
  type KeyRequestInit,
  parseKeyRequest,
} from './keyrequest.js';
export { DERIVATION_DATA_SIZE, egetkey, reportKey, reportKeyId } from './egetkey.js';
export {
  parseSealedData,
  sealData,
  SEALED_DATA_HEADER_SIZE,
  type SealedData,
  sealedDataSize,
  type SealOptions,
  type SealPolicy,
  TSEAL_DEFAULT_FLAGSMASK,
  TSEAL_DEFAULT_MISCMASK,
  unsealData,
  type Unsealed,
} from './seal.js';
export {
  encodeTargetInfo,
  ereportFor,
  type LoadOptions,
  parseTargetInfo,
  REPORT_SIZE,
  type SignedEnclave,
  signEnclave,
  type SignEnclaveOptions,
  SimEnclave,
  TARGET_INFO_SIZE,
  type TargetInfo,
  verifyReportFor,
} from './enclave.js';
import * as der from './der-writer.js';
export { der };
export { p256FromSeed, type P256Key, signP256Der, signP256Raw } from './keys.js';
export {
  encodePckExtension,
  type PckExtensionFields,
  pckExtensionFieldsOf,
  SGX_EXTENSION_OID,
  type SimSgxType,
} from './pck-extension.js';
export {
  createSimCrl,
  createSimPki,
  hasSavedPki,
  loadOrCreatePki,
  loadPki,
  pemOf,
  PKI_DIR,
  savePki,
  SIM_PCK_CN,
  SIM_PCK_CRL_URL,
  SIM_PKI_KEY_LABELS,
  SIM_PKI_ORGANIZATION,
  SIM_PLATFORM_CA_CN,
  SIM_ROOT_CA_CN,
  SIM_ROOT_CA_CRL_URL,
  SIM_TCB_SIGNING_CN,
  type SimCrlOptions,
  type SimPki,
  simPkiCertificates,
  type SimPkiCertificates,
  type SimPkiKeys,
  type SimPkiOptions,
} from './pki.js';
export {
  attestationKeyOf,
  buildQuote,
  type BuildQuoteOptions,
  certifyAttestationKey,
  type QeCertification,
  qeIdentityOf,
  qeIdOf,
  type QuoteVersion,
  SIM_QE_ATTRIBUTES_HEX,
  SIM_QE_ATTRIBUTES_MASK_HEX,
  SIM_QE_AUTH_DATA,
  SIM_QE_FLAGS,
  SIM_QE_ISV_PROD_ID,
  SIM_QE_MRSIGNER,
} from './quoting.js';
export { SimQuotingEnclave } from './quoting-enclave.js';
export {
  createSimCollateral,
  defaultSimQeTcbLevels,
  defaultSimTcbLevels,
  SIM_QE_TCB_STATUSES,
  SIM_TCB_STATUSES,
  type SimCollateralOptions,
  simQeIdentityBody,
  type SimQeTcbLevel,
  type SimQeTcbStatus,
  simTcbInfoBody,
  type SimTcbLevel,
  type SimTcbStatus,
} from './collateral.js';
