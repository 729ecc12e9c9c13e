/**
 * Text recognition with PP-OCRv4's SVTR-LCNet CTC model: pre-processing as PaddleOCR's RecResizeImg (height 48,
 * width 48 × max(320/48, w/h), aspect kept, right-padded; values (v/255 − 0.5)/0.5) and CTC greedy decoding
 * (PaddleOCR CTCLabelDecode: arg-max per time step, repeats collapsed, blank = class 0, characters from
 * ppocr_keys_v1.txt, a space appended as the last class).
 */
import { InferenceError } from '../errors.js';
import { toChwTensor, type Region } from './image.js';
import type { RgbaImage } from './png.js';

export const REC_HEIGHT = 48;
export const REC_MIN_WIDTH = 320;
/** Widest line tensor (longer lines are squeezed): bounds the recognizer's work per line. */
export const REC_MAX_WIDTH = 1600;
const REC_MEAN = [0.5, 0.5, 0.5] as const;
const REC_STD = [0.5, 0.5, 0.5] as const;

/** The character table: class 0 is the CTC blank, then the dictionary's lines, then ' '. */
export function loadCharacters(keysText: string): string[] {
  const lines = keysText.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return ['', ...lines, ' '];
}

export function recPreprocess(image: RgbaImage, region: Region): { tensor: Float32Array; dims: readonly [1, 3, number, number] } {
  const ratio = region.width / region.height;
  const tensorW = Math.min(REC_MAX_WIDTH, Math.max(REC_MIN_WIDTH, Math.ceil(REC_HEIGHT * ratio)));
  const outW = Math.max(1, Math.min(tensorW, Math.ceil(REC_HEIGHT * ratio)));
  return { tensor: toChwTensor(image, region, outW, REC_HEIGHT, tensorW, REC_MEAN, REC_STD, 0), dims: [1, 3, REC_HEIGHT, tensorW] };
}

export interface Recognized {
  readonly text: string;
  /** Mean probability of the characters kept (0 when none). */
  readonly confidence: number;
}

/** CTC greedy decoding of probabilities [1, T, C]. */
export function ctcGreedyDecode(probs: Float32Array, dims: readonly number[], characters: readonly string[]): Recognized {
  const steps = dims[1];
  const classes = dims[2];
  if (dims.length !== 3 || steps === undefined || classes === undefined || probs.length !== steps * classes) {
    throw new InferenceError('RUNTIME_FAILED', 'the recognition output has an unexpected shape');
  }
  if (classes !== characters.length) {
    throw new InferenceError('RUNTIME_FAILED', `the model has ${classes} classes, the dictionary ${characters.length}`);
  }
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestP = -Infinity;
    const base = t * classes;
    for (let c = 0; c < classes; c++) {
      const p = probs[base + c]!;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += characters[best]!;
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}
