/** What the inference bench imports (one place, so that the bench reads top-down). */
export {
  OcrEngine,
  connectNodeClient,
  decodePng,
  encryptModel,
  httpKeyRelease,
  loadOrt,
  ortWasmPath,
  ppocrModelPaths,
  prepareInferenceEnclave,
  readPpocrModelFiles,
  recPreprocess,
  startInferenceServer,
} from '@cloister/inference';
export { serializeCollateralBundle as serializeCollateral } from '@cloister/dcap';
export { startAttestationService } from '@cloister/attestation-service';
export { prepareBrokerEnclave, startKeyBroker } from '@cloister/key-broker';
export { createLogger } from '@cloister/service-kit';
