/**
 * The AESM socket framing: a `uint32_t size` in host byte order (little-endian on x86-64, the only SGX host) followed
 * by exactly `size` bytes of protobuf; one frame each way per connection.
 *
 * Source: intel/linux-sgx psw/ae/aesm_service/source/core/ipc/IAEMessage.h (BSD-3-Clause), read through
 * shared/reference/kubernetes-node.md §4.1:
 *
 * ```c
 * struct AEMessage {
 *     uint32_t size;
 *     char*    data;
 * };
 * ```
 *
 * `SocketTransporter::sendMessage` writes `size` then `data`; `receiveMessage` reads 4 bytes, allocates `size` and
 * reads that many. aesmd trusts the announced size; this reader checks it against `maxBytes` before it buffers
 * anything of the payload, and holds only the bytes actually received (the frame is assembled once complete).
 */
import type { Socket } from 'node:net';

export const FRAME_HEADER_SIZE = 4;
/** Default cap on a request frame: the largest DCAP request (GetQuoteEx with a REPORT, key ID, qe_report_info) is < 2 KiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024;

export const FRAME_ERROR_CODES = [
  /** The announced size is above maxBytes (nothing of the payload was buffered). */
  'TOO_LARGE',
  /** No complete frame within timeoutMs. */
  'TIMEOUT',
  /** No byte at all within firstByteTimeoutMs. */
  'IDLE',
  /** More bytes arrived than the frame announced. */
  'TRAILING_BYTES',
  /** The peer ended or closed the connection before a complete frame. */
  'TRUNCATED',
  /** The socket reported an error. */
  'SOCKET_ERROR',
] as const;

export type FrameErrorCode = (typeof FRAME_ERROR_CODES)[number];

export class FrameError extends Error {
  readonly code: FrameErrorCode;
  /** Bytes received on the connection when it failed. */
  readonly received: number;

  constructor(code: FrameErrorCode, message: string, received: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.received = received;
    this.name = 'FrameError';
  }
}

export interface ReadFrameOptions {
  /** Largest acceptable payload in bytes (the length prefix is checked against it before buffering). */
  readonly maxBytes: number;
  /** Deadline for the whole frame, from the call. */
  readonly timeoutMs: number;
  /** Shorter deadline for the first byte (a client that connects and sends nothing). Default: timeoutMs. */
  readonly firstByteTimeoutMs?: number;
}

/**
 * Reads one frame from `socket` and resolves with its payload (a fresh buffer of exactly the announced size).
 * Rejects with a {@link FrameError}; the socket is left to the caller (destroy it). After the frame the socket is
 * paused and no longer read: anything the peer sends later is not looked at (the connection carries one transaction).
 * Bytes beyond the frame that arrive together with it are TRAILING_BYTES.
 */
export function readFrame(socket: Socket, options: ReadFrameOptions): Promise<Uint8Array> {
  const { maxBytes, timeoutMs } = options;
  if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > 0xffff_ffff) {
    throw new RangeError('maxBytes must be an integer 0..2^32-1');
  }
  const firstByteTimeoutMs = Math.min(options.firstByteTimeoutMs ?? timeoutMs, timeoutMs);
  return new Promise<Uint8Array>((resolve, reject) => {
    const header = new Uint8Array(FRAME_HEADER_SIZE);
    let headerFilled = 0;
    /** The announced payload size, once the 4 header bytes are in. */
    let size: number | undefined;
    // Payload bytes are kept as received (no buffer of the announced size up front): memory follows what the peer
    // actually sent, never what it announced.
    const chunks: Buffer[] = [];
    let payloadFilled = 0;
    let received = 0;
    let settled = false;

    const cleanup = (): void => {
      settled = true;
      clearTimeout(deadline);
      clearTimeout(idle);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
    };
    const fail = (code: FrameErrorCode, message: string, cause?: unknown): void => {
      if (settled) return;
      cleanup();
      reject(new FrameError(code, message, received, cause === undefined ? undefined : { cause }));
    };
    const done = (bytes: Uint8Array): void => {
      if (settled) return;
      cleanup();
      resolve(bytes);
    };

    const onData = (chunk: Buffer): void => {
      if (settled) return;
      received += chunk.length;
      clearTimeout(idle);
      let at = 0;
      if (size === undefined) {
        const take = Math.min(FRAME_HEADER_SIZE - headerFilled, chunk.length);
        header.set(chunk.subarray(0, take), headerFilled);
        headerFilled += take;
        at = take;
        if (headerFilled < FRAME_HEADER_SIZE) return;
        size = new DataView(header.buffer).getUint32(0, true);
        if (size > maxBytes) {
          fail('TOO_LARGE', `frame of ${size} bytes announced, at most ${maxBytes} accepted`);
          return;
        }
      }
      const want = size - payloadFilled;
      const have = chunk.length - at;
      if (have > want) {
        fail('TRAILING_BYTES', `${have - want} bytes after a frame of ${size} bytes`);
        return;
      }
      if (have > 0) chunks.push(chunk.subarray(at));
      payloadFilled += have;
      if (payloadFilled === size) {
        const payload = new Uint8Array(size);
        let offset = 0;
        for (const c of chunks) {
          payload.set(c, offset);
          offset += c.length;
        }
        done(payload);
      }
    };
    const onEnd = (): void => {
      fail('TRUNCATED', `connection ended after ${received} bytes, before a complete frame`);
    };
    const onError = (err: Error): void => {
      fail('SOCKET_ERROR', `socket error: ${err.message}`, err);
    };

    // Deadlines apply one event-loop turn late (setImmediate): bytes already received when a deadline passes are
    // read first, so a busy process never drops a peer that did send in time.
    const deadline = setTimeout(
      () => setImmediate(() => fail('TIMEOUT', `no complete frame within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const idle = setTimeout(() => {
      setImmediate(() => {
        if (received === 0) fail('IDLE', `no data within ${firstByteTimeoutMs} ms`);
      });
    }, firstByteTimeoutMs);

    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    socket.resume();
    if (socket.destroyed) onEnd();
  });
}

/** The framed bytes: LE u32 length ‖ payload. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffff_ffff) throw new RangeError('a frame payload is at most 2^32-1 bytes');
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/** Writes one frame (one write call); resolves once the bytes are handed to the kernel. */
export function writeFrame(socket: Socket, payload: Uint8Array): Promise<void> {
  const frame = encodeFrame(payload);
  return new Promise<void>((resolve, reject) => {
    socket.write(frame, (err) => (err ? reject(err) : resolve()));
  });
}
