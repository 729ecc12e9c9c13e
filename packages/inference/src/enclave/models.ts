/**
 * The models an inference enclave serves, as Open Inference Protocol v2 models:
 *
 * - `<name>` (default `ppocr`): the whole OCR pipeline. Input `image`, BYTES, shape [1], one PNG (base64 with
 *   `parameters.content_type: "base64"`). Outputs `text` BYTES [n] (one element per line), `confidence` FP32 [n],
 *   `boxes` INT32 [n, 4] (x, y, width, height).
 * - `<name>-rec`: the recognition model alone. Input `x`, FP32, [1, 3, 48, W] (a preprocessed line). Outputs
 *   `text` BYTES [1], `confidence` FP32 [1].
 */
import { fromBase64 } from '../bytes.js';
import { InferenceError } from '../errors.js';
import type { InferenceLimits } from '../limits.js';
import type { InferenceRequest, InferenceResponse, ModelMetadata } from '../oip.js';
import type { OcrEngine } from '../ocr/pipeline.js';
import { REC_HEIGHT } from '../ocr/recognize.js';

export function modelMetadata(name: string): ModelMetadata | undefined {
  if (name.endsWith('-rec')) {
    return {
      name,
      versions: ['1'],
      platform: 'onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, REC_HEIGHT, -1] }],
      outputs: [
        { name: 'text', datatype: 'BYTES', shape: [1] },
        { name: 'confidence', datatype: 'FP32', shape: [1] },
      ],
    };
  }
  return {
    name,
    versions: ['1'],
    platform: 'onnx',
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }],
    outputs: [
      { name: 'text', datatype: 'BYTES', shape: [-1] },
      { name: 'confidence', datatype: 'FP32', shape: [-1] },
      { name: 'boxes', datatype: 'INT32', shape: [-1, 4] },
    ],
  };
}

/** The names served for a configured model name. */
export function servedModels(name: string): string[] {
  return [name, `${name}-rec`];
}

export async function infer(engine: OcrEngine, modelName: string, request: InferenceRequest, limits: InferenceLimits): Promise<InferenceResponse> {
  const id = request.id === undefined ? {} : { id: request.id };
  if (modelName.endsWith('-rec')) {
    const x = request.inputs.find((i) => i.name === 'x');
    if (x === undefined || x.datatype !== 'FP32') throw new InferenceError('INVALID_REQUEST', 'input `x` (FP32) is required', { field: 'inputs' });
    let tensor: Float32Array;
    if (x.data instanceof Float32Array) tensor = x.data;
    else {
      if (!x.data.every((v) => typeof v === 'number')) throw new InferenceError('INVALID_REQUEST', 'FP32 data must be numbers', { field: 'inputs[x].data' });
      tensor = Float32Array.from(x.data as number[]);
    }
    const r = await engine.recognizeTensor(tensor, x.shape);
    return {
      model_name: modelName,
      model_version: '1',
      ...id,
      outputs: [
        { name: 'text', datatype: 'BYTES', shape: [1], data: [r.text] },
        { name: 'confidence', datatype: 'FP32', shape: [1], data: [r.confidence] },
      ],
    };
  }
  const image = request.inputs.find((i) => i.name === 'image');
  if (image === undefined || image.datatype !== 'BYTES' || image.data.length !== 1 || typeof image.data[0] !== 'string') {
    throw new InferenceError('INVALID_REQUEST', 'input `image` (BYTES, shape [1]) is required', { field: 'inputs' });
  }
  if (image.parameters?.content_type !== 'base64') {
    throw new InferenceError('INVALID_REQUEST', 'the image must be base64 (parameters.content_type "base64")', { field: 'inputs[image].parameters' });
  }
  const png = fromBase64(image.data[0], limits.maxImageBytes);
  if (png === undefined) throw new InferenceError('TOO_LARGE', `the image is not base64 or over ${limits.maxImageBytes} bytes`, { limit: 'maxImageBytes' });
  const result = await engine.recognizePng(png, limits);
  const n = result.lines.length;
  return {
    model_name: modelName,
    model_version: '1',
    ...id,
    outputs: [
      { name: 'text', datatype: 'BYTES', shape: [n], data: result.lines.map((l) => l.text) },
      { name: 'confidence', datatype: 'FP32', shape: [n], data: result.lines.map((l) => l.confidence) },
      { name: 'boxes', datatype: 'INT32', shape: [n, 4], data: result.lines.flatMap((l) => [...l.box]) },
    ],
  };
}
