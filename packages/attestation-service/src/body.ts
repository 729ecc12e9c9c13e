/**
 * The attest request body, read straight from Node's IncomingMessage when the service runs on @hono/node-server
 * (`c.env.incoming`): Hono's `c.req.raw.body` would first build a WHATWG Request and a web stream around the socket,
 * which cost more than the attestation's own JSON work. The same bounds and errors as service-kit's `readJson`:
 * Content-Length checked before anything is read (BODY_TOO_LARGE 413, BAD_REQUEST for a malformed header), the
 * stream cut off at the limit whatever the header says (chunked bodies), INVALID_JSON for bad UTF-8 or JSON.
 * Anywhere else (Hono's `app.request` in tests, another adapter) it is service-kit's `readJson`.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { ServiceError, readJson } from '@cloister/service-kit';

function tooLarge(limit: number): ServiceError {
  return new ServiceError('BODY_TOO_LARGE', 413, `request body is larger than ${limit} bytes`, { limit });
}

function incomingOf(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  // Only a stream nobody has read from yet (otherwise the bytes already read are gone).
  if (incoming === undefined || typeof incoming.on !== 'function' || incoming.readableDidRead || incoming.destroyed) return undefined;
  return incoming;
}

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Buffer> {
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
        // As service-kit does (cancelling the web stream destroys the request): never buffer past the limit.
        incoming.destroy();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
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

export async function readJsonBody(c: Context, limit: number): Promise<unknown> {
  const incoming = incomingOf(c);
  if (incoming === undefined) return readJson(c, limit);
  const declared = incoming.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    if (!Number.isSafeInteger(n) || n < 0) throw new ServiceError('BAD_REQUEST', 400, 'invalid Content-Length');
    if (n > limit) throw tooLarge(limit);
  }
  const bytes = await readIncoming(incoming, limit);
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
