/**
 * Bounded request bodies. The declared Content-Length is checked before anything is read, and the stream is cut off
 * at the limit whatever the header says (chunked bodies have none), so a body never costs more than `limit` bytes.
 * On @hono/node-server the body is read straight from Node's IncomingMessage (`c.env.incoming`): going through
 * `c.req.raw.body` first builds a WHATWG Request and a web stream around the socket, which cost more per request
 * than a small JSON body's own parsing (measured on the attestation service's hot path).
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { ServiceError } from './errors.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export async function readBody(c: Context, limit: number = DEFAULT_BODY_LIMIT): Promise<Uint8Array> {
  const declared = c.req.header('content-length');
  if (declared !== undefined) {
    const n = Number(declared);
    if (!Number.isSafeInteger(n) || n < 0) throw new ServiceError('BAD_REQUEST', 400, 'invalid Content-Length');
    if (n > limit) throw tooLarge(limit);
  }
  const incoming = incomingOf(c);
  const out = incoming !== undefined ? await readIncomingBounded(incoming, limit) : await readStreamBounded(c.req.raw.body, limit);
  if (out === undefined) throw tooLarge(limit);
  return out;
}

/** Node's request, when the app runs on @hono/node-server and nobody has read from it yet. */
function incomingOf(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined || typeof incoming.on !== 'function' || incoming.readableDidRead || incoming.destroyed) return undefined;
  return incoming;
}

/** Node's request body to its end, or undefined as soon as more than `limit` bytes arrived (nothing more is kept). */
function readIncomingBounded(incoming: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.byteLength;
      if (total > limit) {
        done();
        // Stop buffering; the rest is discarded as it arrives (bounded in time by the request deadline), so the 413
        // can still be answered on this connection.
        incoming.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      const b = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      resolve(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    };
    const onError = (e: Error): void => {
      done();
      reject(e);
    };
    const onClose = (): void => {
      done();
      reject(new ServiceError('BAD_REQUEST', 400, 'the request body ended early'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/**
 * Reads a byte stream (a request body, or a `fetch` response body a service reads from a peer) to its end, or
 * undefined as soon as more than `limit` bytes arrived (the stream is cancelled): never more than `limit` buffered.
 */
export async function readStreamBounded(stream: ReadableStream<Uint8Array> | null | undefined, limit: number): Promise<Uint8Array | undefined> {
  if (stream === null || stream === undefined) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.byteLength;
  }
  return out;
}

function tooLarge(limit: number): ServiceError {
  return new ServiceError('BODY_TOO_LARGE', 413, `request body is larger than ${limit} bytes`, { limit });
}

/** Reads a JSON body within `limit` bytes; anything but valid JSON is a 400 `INVALID_JSON`. */
export async function readJson(c: Context, limit: number = DEFAULT_BODY_LIMIT): Promise<unknown> {
  const bytes = await readBody(c, limit);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ServiceError('INVALID_JSON', 400, 'request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ServiceError('INVALID_JSON', 400, 'request body is not valid JSON');
  }
}

/** Reads a UTF-8 text body within `limit` bytes. */
export async function readText(c: Context, limit: number = DEFAULT_BODY_LIMIT): Promise<string> {
  const bytes = await readBody(c, limit);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ServiceError('BAD_REQUEST', 400, 'request body is not valid UTF-8');
  }
}
