/**
 * The OCR pipeline, as it runs inside the enclave (and, for the benchmark's baseline, outside): PNG decode with
 * limits → DB text detection → one crop per box → CTC recognition → text assembly (one line per box, top to
 * bottom; lines under `dropScore` are left out, as PaddleOCR's drop_score).
 */
import { InferenceError } from '../errors.js';
import { DEFAULT_LIMITS, type InferenceLimits } from '../limits.js';
import { createSession, runFloat, type Ort, type OrtSession } from '../ort.js';
import { DEFAULT_DET_OPTIONS, dbPostprocess, detPreprocess } from './detect.js';
import type { Region } from './image.js';
import { decodePng } from './png.js';
import { ctcGreedyDecode, loadCharacters, recPreprocess, REC_HEIGHT, type Recognized } from './recognize.js';

export interface OcrLine {
  readonly text: string;
  readonly confidence: number;
  /** [x, y, width, height] in image pixels. */
  readonly box: readonly [number, number, number, number];
}

export interface OcrResult {
  readonly text: string;
  readonly lines: readonly OcrLine[];
  readonly width: number;
  readonly height: number;
}

/** The model files of an OCR model archive. */
export const OCR_MODEL_FILES = { det: 'det.onnx', rec: 'rec.onnx', keys: 'keys.txt' } as const;

export class OcrEngine {
  readonly #ort: Ort;
  readonly #det: OrtSession | undefined;
  readonly #rec: OrtSession;
  readonly #characters: readonly string[];
  readonly dropScore: number;

  private constructor(ort: Ort, det: OrtSession | undefined, rec: OrtSession, characters: readonly string[]) {
    this.#ort = ort;
    this.#det = det;
    this.#rec = rec;
    this.#characters = characters;
    this.dropScore = 0.5;
  }

  /** Sessions over the model bytes (`det` may be absent: then only line recognition is available). */
  static async create(ort: Ort, files: { det?: Uint8Array; rec: Uint8Array; keys: string }): Promise<OcrEngine> {
    const characters = loadCharacters(files.keys);
    const rec = await createSession(ort, files.rec);
    const det = files.det === undefined ? undefined : await createSession(ort, files.det);
    return new OcrEngine(ort, det, rec, characters);
  }

  /** Recognise one preprocessed line tensor [1, 3, 48, W] (the recognition model alone). */
  async recognizeTensor(tensor: Float32Array, dims: readonly number[]): Promise<Recognized> {
    if (dims.length !== 4 || dims[0] !== 1 || dims[1] !== 3 || dims[2] !== REC_HEIGHT || !Number.isSafeInteger(dims[3]) || dims[3]! < 8) {
      throw new InferenceError('INVALID_REQUEST', `the line tensor must be [1, 3, ${REC_HEIGHT}, W ≥ 8]`, { field: 'shape' });
    }
    if (tensor.length !== 3 * REC_HEIGHT * dims[3]!) throw new InferenceError('INVALID_REQUEST', 'the tensor data does not match its shape', { field: 'data' });
    const out = await runFloat(this.#ort, this.#rec, tensor, dims);
    return ctcGreedyDecode(out.data, out.dims, this.#characters);
  }

  /** The whole pipeline over PNG bytes. */
  async recognizePng(png: Uint8Array, limits: InferenceLimits = { ...DEFAULT_LIMITS }): Promise<OcrResult> {
    if (this.#det === undefined) throw new InferenceError('MODEL_NOT_READY', 'no detection model');
    const image = decodePng(png, limits);
    const det = detPreprocess(image, { ...DEFAULT_DET_OPTIONS, maxBoxes: limits.maxBoxes });
    const map = await runFloat(this.#ort, this.#det, det.tensor, det.dims);
    const [, , mapH, mapW] = map.dims;
    if (mapH === undefined || mapW === undefined) throw new InferenceError('RUNTIME_FAILED', 'the detection output has an unexpected shape');
    const boxes: Region[] = dbPostprocess(map.data, mapH, mapW, image, { ...DEFAULT_DET_OPTIONS, maxBoxes: limits.maxBoxes });
    const lines: OcrLine[] = [];
    for (const box of boxes) {
      const input = recPreprocess(image, box);
      const out = await runFloat(this.#ort, this.#rec, input.tensor, input.dims);
      const r = ctcGreedyDecode(out.data, out.dims, this.#characters);
      if (r.confidence < this.dropScore || r.text.trim() === '') continue;
      lines.push({ text: r.text.trim(), confidence: r.confidence, box: [box.x, box.y, box.width, box.height] });
    }
    return { text: lines.map((l) => l.text).join('\n'), lines, width: image.width, height: image.height };
  }
}
