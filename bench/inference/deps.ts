/** What the inference bench imports (one place, so that the bench reads top-down). */
export {
  OcrEngine,
  connectNodeClient,
  decodePng,
  encryptModel,
  loadOrt,
  localKeyRelease,
  ortWasmPath,
  ppocrModelPaths,
  prepareInferenceEnclave,
  readPpocrModelFiles,
  recPreprocess,
  startInferenceServer,
} from '@cloister/inference';
export { serializeCollateralBundle as serializeCollateral } from '@cloister/dcap';
