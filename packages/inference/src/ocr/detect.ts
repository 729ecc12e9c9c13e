/**
 * Text detection with PP-OCRv4's DB (Differentiable Binarization) model: pre-processing as PaddleOCR's
 * DetResizeForTest (longest side ≤ limitSideLen, both sides multiples of 32) and NormalizeImage (ImageNet mean/std),
 * and DB post-processing (PaddleOCR DBPostProcess: threshold the probability map, one box per connected region,
 * box score = mean probability inside, unclip by area × ratio / perimeter, scale back).
 *
 * Simplification: boxes are axis-aligned rectangles (the bounding box of each region), not minimum-area rotated
 * rectangles; horizontal text — documents, screenshots — is what this pipeline targets. The unclip ratio is 2.0
 * (PaddleOCR's default is 1.5 for its polygon offset): with the plain bounding box, 1.5 crops the line so tightly
 * that the recogniser drops the spaces between words.
 */
import { InferenceError } from '../errors.js';
import type { RgbaImage } from './png.js';
import { toChwTensor, type Region } from './image.js';

export const DET_MEAN = [0.485, 0.456, 0.406] as const;
export const DET_STD = [0.229, 0.224, 0.225] as const;

export interface DetOptions {
  readonly limitSideLen: number;
  readonly thresh: number;
  readonly boxThresh: number;
  readonly unclipRatio: number;
  readonly minSize: number;
  readonly maxBoxes: number;
}

export const DEFAULT_DET_OPTIONS: DetOptions = { limitSideLen: 960, thresh: 0.3, boxThresh: 0.6, unclipRatio: 2.0, minSize: 3, maxBoxes: 64 };

export interface DetInput {
  readonly tensor: Float32Array;
  readonly dims: readonly [1, 3, number, number];
}

export function detPreprocess(image: RgbaImage, options: DetOptions = DEFAULT_DET_OPTIONS): DetInput {
  const ratio = Math.max(image.width, image.height) > options.limitSideLen ? options.limitSideLen / Math.max(image.width, image.height) : 1;
  const h = Math.max(32, Math.round((image.height * ratio) / 32) * 32);
  const w = Math.max(32, Math.round((image.width * ratio) / 32) * 32);
  const region: Region = { x: 0, y: 0, width: image.width, height: image.height };
  return { tensor: toChwTensor(image, region, w, h, w, DET_MEAN, DET_STD), dims: [1, 3, h, w] };
}

/**
 * Boxes (in `image` coordinates) from the probability map `prob` of size mapH×mapW, sorted top to bottom, then
 * left to right within a line (as PaddleOCR's sorted_boxes).
 */
export function dbPostprocess(
  prob: Float32Array,
  mapH: number,
  mapW: number,
  image: { width: number; height: number },
  options: DetOptions = DEFAULT_DET_OPTIONS,
): Region[] {
  if (prob.length !== mapH * mapW) throw new InferenceError('RUNTIME_FAILED', 'the detection map has an unexpected size');
  const bitmap = new Uint8Array(prob.length);
  for (let i = 0; i < prob.length; i++) bitmap[i] = prob[i]! > options.thresh ? 1 : 0;
  const boxes: Region[] = [];
  const stack = new Int32Array(prob.length);
  for (let start = 0; start < bitmap.length; start++) {
    if (bitmap[start] !== 1) continue;
    // Flood fill one 8-connected region, marking it 2.
    let sp = 0;
    stack[sp++] = start;
    bitmap[start] = 2;
    let x0 = mapW;
    let y0 = mapH;
    let x1 = -1;
    let y1 = -1;
    let sum = 0;
    let count = 0;
    while (sp > 0) {
      const p = stack[--sp]!;
      const y = Math.floor(p / mapW);
      const x = p - y * mapW;
      sum += prob[p]!;
      count++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= mapH) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= mapW) continue;
          const q = ny * mapW + nx;
          if (bitmap[q] === 1) {
            bitmap[q] = 2;
            stack[sp++] = q;
          }
        }
      }
    }
    const bw = x1 - x0 + 1;
    const bh = y1 - y0 + 1;
    if (Math.min(bw, bh) < options.minSize) continue;
    if (sum / count < options.boxThresh) continue;
    // Unclip (PaddleOCR: offset distance = area × unclip_ratio / perimeter).
    const d = (bw * bh * options.unclipRatio) / (2 * (bw + bh));
    const ux0 = x0 - d;
    const uy0 = y0 - d;
    const ux1 = x1 + 1 + d;
    const uy1 = y1 + 1 + d;
    if (Math.min(ux1 - ux0, uy1 - uy0) < options.minSize + 2) continue;
    const sx = image.width / mapW;
    const sy = image.height / mapH;
    const rx0 = Math.max(0, Math.floor(ux0 * sx));
    const ry0 = Math.max(0, Math.floor(uy0 * sy));
    const rx1 = Math.min(image.width, Math.ceil(ux1 * sx));
    const ry1 = Math.min(image.height, Math.ceil(uy1 * sy));
    if (rx1 - rx0 < 1 || ry1 - ry0 < 1) continue;
    boxes.push({ x: rx0, y: ry0, width: rx1 - rx0, height: ry1 - ry0 });
    if (boxes.length > 4 * options.maxBoxes) break;
  }
  boxes.sort((a, b) => a.y - b.y || a.x - b.x);
  // sorted_boxes: boxes whose tops are within 10 px are one line, ordered left to right.
  for (let i = 0; i < boxes.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      const a = boxes[j]!;
      const b = boxes[j + 1]!;
      if (Math.abs(b.y - a.y) < 10 && b.x < a.x) {
        boxes[j] = b;
        boxes[j + 1] = a;
      } else break;
    }
  }
  return boxes.slice(0, options.maxBoxes);
}
