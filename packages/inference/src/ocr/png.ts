/**
 * PNG decoding with limits (pngjs). The IHDR (PNG spec §11.2.2: width, height as 4-byte big-endian after the
 * 8-byte signature and the chunk's length and type) is read and checked against the pixel limits BEFORE anything is
 * inflated, so an image bomb (a tiny file declaring a huge canvas) is refused without allocating for it; pngjs then
 * inflates a non-interlaced image with its output bounded by the declared size (interlaced images are refused).
 */
import { PNG } from 'pngjs';
import { InferenceError } from '../errors.js';
import type { InferenceLimits } from '../limits.js';

/** 8-bit RGBA pixels, row-major. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from the IHDR chunk; INVALID_IMAGE if the bytes do not start like a PNG. */
export function pngDimensions(bytes: Uint8Array): { width: number; height: number } {
  if (bytes.length < 33 || SIGNATURE.some((b, i) => bytes[i] !== b)) throw new InferenceError('INVALID_IMAGE', 'not a PNG image');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!);
  if (dv.getUint32(8) !== 13 || type !== 'IHDR') throw new InferenceError('INVALID_IMAGE', 'the PNG does not start with IHDR');
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

export function decodePng(bytes: Uint8Array, limits: Pick<InferenceLimits, 'maxImageBytes' | 'maxPixels' | 'maxImageSide'>): RgbaImage {
  if (bytes.length > limits.maxImageBytes) {
    throw new InferenceError('TOO_LARGE', `the image is over ${limits.maxImageBytes} bytes`, { limit: 'maxImageBytes' });
  }
  const { width, height } = pngDimensions(bytes);
  if (width === 0 || height === 0) throw new InferenceError('INVALID_IMAGE', 'the PNG has no pixels');
  if (width > limits.maxImageSide || height > limits.maxImageSide) {
    throw new InferenceError('TOO_LARGE', `the image is over ${limits.maxImageSide} pixels on a side`, { limit: 'maxImageSide' });
  }
  if (width * height > limits.maxPixels) {
    throw new InferenceError('TOO_LARGE', `the image is over ${limits.maxPixels} pixels`, { limit: 'maxPixels' });
  }
  // IHDR byte 12 of its data (file offset 28) is the interlace method. pngjs inflates an Adam7 image without an
  // output bound (zlib.inflateSync), so a zip bomb could pass the pixel check: interlaced PNGs are refused.
  if (bytes[28] !== 0) throw new InferenceError('INVALID_IMAGE', 'interlaced PNGs are not accepted');
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch {
    throw new InferenceError('INVALID_IMAGE', 'the PNG does not decode');
  }
  if (png.width !== width || png.height !== height || png.data.length !== width * height * 4) {
    throw new InferenceError('INVALID_IMAGE', 'the PNG decodes to an unexpected size');
  }
  return { width, height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
}
