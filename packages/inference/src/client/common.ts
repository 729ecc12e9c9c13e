/** What both clients share (browser-safe): OCR request/response shapes over the Open Inference Protocol. */
import { toBase64 } from '../bytes.js';
import { InferenceError } from '../errors.js';
import type { InferenceRequest, InferenceResponse } from '../oip.js';

export interface RecognizedText {
  readonly text: string;
  readonly lines: readonly { readonly text: string; readonly confidence: number; readonly box: readonly number[] }[];
}

/** The OIP request for the OCR model: one PNG as a base64 BYTES tensor. */
export function ocrRequest(png: Uint8Array, id?: string): InferenceRequest {
  return {
    ...(id !== undefined ? { id } : {}),
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], parameters: { content_type: 'base64' }, data: [toBase64(png)] }],
  };
}

/** Lines and text out of an OCR model's response. */
export function ocrResult(response: InferenceResponse): RecognizedText {
  const out = (name: string): readonly (number | string)[] => {
    const o = response.outputs?.find((x) => x.name === name);
    if (o === undefined || !Array.isArray(o.data)) throw new InferenceError('SERVER_ERROR', `the response has no output ${name}`);
    return o.data;
  };
  const text = out('text');
  const confidence = out('confidence');
  const boxes = out('boxes');
  const lines = text.map((t, i) => ({
    text: String(t),
    confidence: Number(confidence[i]),
    box: boxes.slice(4 * i, 4 * i + 4).map(Number),
  }));
  return { text: lines.map((l) => l.text).join('\n'), lines };
}

/** The InferenceError for a non-200 answer `{ error, code }`. */
export function serverError(status: number, body: unknown): InferenceError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; code?: unknown };
  const code = typeof b.code === 'string' ? b.code.slice(0, 64) : undefined;
  const message = typeof b.error === 'string' ? b.error.slice(0, 300) : `HTTP ${status}`;
  return new InferenceError('SERVER_ERROR', `the server answered ${status}: ${message}`, { status, ...(code !== undefined ? { remoteCode: code } : {}) });
}
