/**
 * The HTTP/2 client connection preface (RFC 9113 §3.4): every HTTP/2 client — kubelet's grpc-go included — opens a
 * connection with these 24 octets, followed by a SETTINGS frame. The device-plugin listener reads them before handing
 * the connection to grpc-js, so that a connection counts as "waiting" (and is bounded by @cloister/service-kit's connection gate) until
 * it has proved to be an HTTP/2 client, and something that is not one is closed before any HTTP/2 state exists.
 */
import type { Socket } from 'node:net';

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4). */
export const HTTP2_CLIENT_PREFACE: Uint8Array = new TextEncoder().encode('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export class PrefaceError extends Error {
  readonly code: 'NOT_HTTP2' | 'CLOSED';
  constructor(code: 'NOT_HTTP2' | 'CLOSED', message: string) {
    super(message);
    this.code = code;
    this.name = 'PrefaceError';
  }
}

/**
 * Reads from `socket` until the 24-byte preface is in and resolves with every byte read (the preface and whatever
 * followed it in the same reads); the socket is then paused with no listener of ours left, ready for
 * `socket.unshift(bytes)` and a hand-over. Rejects as soon as a byte differs from the preface, or if the peer closes
 * first. No deadline of its own: the caller's admission gate holds it.
 */
export function readHttp2Preface(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let matched = 0;
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onClose);
      socket.off('close', onClose);
      socket.pause();
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      for (let i = 0; i < chunk.length && matched < HTTP2_CLIENT_PREFACE.length; i++, matched++) {
        if (chunk[i] !== HTTP2_CLIENT_PREFACE[matched]) {
          cleanup();
          reject(new PrefaceError('NOT_HTTP2', 'the connection did not open with the HTTP/2 client preface'));
          return;
        }
      }
      if (matched === HTTP2_CLIENT_PREFACE.length) {
        cleanup();
        resolve(Buffer.concat(chunks));
      }
    };
    const onClose = (): void => {
      cleanup();
      reject(new PrefaceError('CLOSED', 'the connection closed before the HTTP/2 client preface'));
    };
    socket.on('data', onData);
    socket.once('end', onClose);
    socket.once('close', onClose);
    socket.resume();
    if (socket.destroyed) onClose();
  });
}
