/** @cloister/inference: confidential ONNX inference (docs/developers/confidential-inference.md). */
export { INFERENCE_ERROR_CODES, InferenceError, HTTP_STATUS, type InferenceErrorCode, type InferenceErrorDetails } from './errors.js';
export { DEFAULT_LIMITS, type InferenceLimits } from './limits.js';
export {
  MAX_MODEL_BLOB_BYTES,
  MODEL_BLOB_HEADER_BYTES,
  MODEL_BLOB_MAGIC,
  decryptModel,
  encryptModel,
  modelHash,
  packModelFiles,
  parseModelBlobHeader,
  unpackModelFiles,
  type EncryptedModel,
  type ModelFile,
} from './model-blob.js';
export {
  MAX_RUNTIME_DATA_BYTES,
  canonicalJson,
  encodeRuntimeData,
  parseRuntimeData,
  reportDataFor,
  type InferenceRuntimeData,
  type RsaPublicJwk,
} from './runtime-data.js';
export { ORT_WASM_FILE, createSession, loadOrt, runFloat, type Ort, type OrtSession } from './ort.js';
export { OcrEngine, OCR_MODEL_FILES, type OcrLine, type OcrResult } from './ocr/pipeline.js';
export { decodePng, pngDimensions, type RgbaImage } from './ocr/png.js';
export { ctcGreedyDecode, loadCharacters, recPreprocess, REC_HEIGHT } from './ocr/recognize.js';
export { dbPostprocess, detPreprocess } from './ocr/detect.js';
export { ortWasmPath, ppocrModelPaths, readPpocrModelFiles } from './ocr/node-files.js';
export { HPKE_ENC_BYTES, HPKE_SUITE_IDS, ReplayWindow, generateHpkeKeyPair, hpkeInfo, hpkeSuite, openRequest, sealRequest, type HpkeKeyPair, type OpenedRequest, type SealedRequest } from './hpke.js';
export {
  encodeBinaryRequest,
  errorBody,
  parseInferenceRequest,
  type Datatype,
  type InferenceRequest,
  type InferenceResponse,
  type ModelMetadata,
  type RequestInput,
  type ResponseOutput,
  type TensorMetadata,
} from './oip.js';
export {
  MAX_RELEASE_VALUE_CHARS,
  generateKeyEncryptionKey,
  keyHsmOf,
  unwrapReleasedKey,
  wrapKeyForJwk,
  type KeyEncryptionKey,
  type KeyWrapAlgorithm,
} from './key-release.js';
export { ENCLAVE_WASM_PATH, INFERENCE_ENCLAVE_MODULE, prepareInferenceEnclave, type PrepareEnclaveOptions, type PreparedEnclave } from './host/prepare.js';
export { httpKeyRelease, type EnclaveEvidence, type HttpKeyReleaseOptions, type KeyReleaser } from './host/key-release.js';
export { localKeyRelease, type LocalKeyReleaseOptions } from './host/local-key-release.js';
export { startInferenceServer, type InferenceServer, type InferenceServerOptions } from './host/server.js';
export {
  deployConfidentialOcr,
  modelReleasePolicy,
  registerModelKey,
  type ConfidentialOcrDeployment,
  type ConfidentialOcrOptions,
  type ModelReleasePolicy,
  type RegisterModelKeyOptions,
} from './host/confidential-ocr.js';
export { connectNodeClient, type NodeClientOptions, type NodeInferenceClient } from './client/node.js';
export { connectBrowserClient, type BrowserClientOptions, type BrowserInferenceClient, type VerifiedEnclave } from './client/browser.js';
export { ocrRequest, ocrResult, type RecognizedText } from './client/common.js';
