/** Image operations of the OCR pipeline: bilinear resize of an RGBA region into a normalized CHW tensor. */
import type { RgbaImage } from './png.js';

export interface Region {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Resize `region` of `image` to `outW`×`outH` (bilinear, pixel centres aligned as OpenCV's INTER_LINEAR) into a
 * float32 CHW tensor of width `tensorW` (≥ outW; the rest stays `pad`), channels in BGR order as PaddleOCR reads
 * images with OpenCV, each value `(v / 255 - mean[c]) / std[c]`. Transparent pixels are composed onto white.
 */
export function toChwTensor(
  image: RgbaImage,
  region: Region,
  outW: number,
  outH: number,
  tensorW: number,
  mean: readonly [number, number, number],
  std: readonly [number, number, number],
  pad = 0,
): Float32Array {
  const plane = outH * tensorW;
  const out = new Float32Array(3 * plane).fill(pad);
  const sx = region.width / outW;
  const sy = region.height / outH;
  const { data, width } = image;
  const maxX = region.x + region.width - 1;
  const maxY = region.y + region.height - 1;
  const px = (x: number, y: number, c: number): number => {
    const i = (y * width + x) * 4;
    const a = data[i + 3]! / 255;
    return data[i + c]! * a + 255 * (1 - a);
  };
  for (let oy = 0; oy < outH; oy++) {
    let fy = (oy + 0.5) * sy - 0.5 + region.y;
    if (fy < region.y) fy = region.y;
    const y0 = Math.min(Math.floor(fy), maxY);
    const y1 = Math.min(y0 + 1, maxY);
    const wy = fy - y0;
    for (let ox = 0; ox < outW; ox++) {
      let fx = (ox + 0.5) * sx - 0.5 + region.x;
      if (fx < region.x) fx = region.x;
      const x0 = Math.min(Math.floor(fx), maxX);
      const x1 = Math.min(x0 + 1, maxX);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const rgb = 2 - c; // BGR
        const v =
          (px(x0, y0, rgb) * (1 - wx) + px(x1, y0, rgb) * wx) * (1 - wy) + (px(x0, y1, rgb) * (1 - wx) + px(x1, y1, rgb) * wx) * wy;
        out[c * plane + oy * tensorW + ox] = (v / 255 - mean[c]!) / std[c]!;
      }
    }
  }
  return out;
}
