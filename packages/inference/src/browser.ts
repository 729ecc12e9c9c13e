/**
 * The browser entry of @cloister/inference (`@cloister/inference/browser`): the verifying HPKE client and what it
 * needs, nothing that imports Node built-ins (a test bundles it for Chromium with esbuild).
 */
export { connectBrowserClient, type BrowserClientOptions, type BrowserInferenceClient, type VerifiedEnclave } from './client/browser.js';
export { ocrRequest, ocrResult, type RecognizedText } from './client/common.js';
export { InferenceError, INFERENCE_ERROR_CODES, type InferenceErrorCode } from './errors.js';
export { sealRequest, hpkeInfo, HPKE_SUITE_IDS } from './hpke.js';
export { parseRuntimeData, type InferenceRuntimeData } from './runtime-data.js';
export { toBase64, fromBase64 } from './bytes.js';
