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
