/** @cloister/inference: confidential ONNX inference. */
export {};
