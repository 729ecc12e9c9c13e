/**
 * A framed message channel over a byte stream pair, for the Gramine backend: under Gramine only fds 0–2 reach the
 * enclave, so Node's fork IPC is not available and the host ⇄ enclave protocol (protocol.ts) is carried over the
 * enclave's stdin (host → enclave) and stdout (enclave → host) instead; stderr stays free for logs.
 *
 * Frame: `u32 little-endian length ‖ payload`, payload = `v8.serialize(message)` (the structured clone algorithm,
 * as the sim backend's `serialization: 'advanced'` IPC uses), 1 ≤ length ≤ `maxFrameBytes` (default 64 MiB).
 *
 * Reading never throws: a frame whose length is 0 or over the cap, a payload that does not deserialize, or a stream
 * error closes the channel with an error (reported once to the `onClose` listeners); bytes after that are ignored.
 * The reader holds at most one frame in memory (the cap bounds it). Writing: `send` serializes (throwing EnclaveError
 * INVALID_ARGUMENT for values that cannot be cloned, PAYLOAD_TOO_LARGE over the cap) and returns false when the
 * channel is closed; write errors close the channel.
 */
import { deserialize, serialize } from 'node:v8';
import { EnclaveError } from '../errors.js';

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
const HEADER_BYTES = 4;

/** The readable side: a Node stream (process.stdin, a child's stdout). */
export interface ChannelReadable {
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeAllListeners?(event?: string): unknown;
  destroy?(): unknown;
}

/** The writable side: a Node stream (a child's stdin) or an adapter over one. */
export interface ChannelWritable {
  write(chunk: Uint8Array, callback?: (err?: Error | null) => void): boolean;
  on(event: 'error', listener: (err: Error) => void): unknown;
  end?(): unknown;
}

export interface StdioChannelOptions {
  /** Largest frame payload accepted or sent; default {@link DEFAULT_MAX_FRAME_BYTES}. */
  readonly maxFrameBytes?: number;
}

export interface StdioChannel {
  /** Frame and write `message`; false if the channel is closed. Throws EnclaveError if it cannot be serialized. */
  send(message: unknown): boolean;
  /** Every well-formed frame's message, in order. A listener that throws does not affect the channel. */
  onMessage(listener: (message: unknown) => void): void;
  /** Once, when the channel closes: `error` is set for a protocol or stream error, undefined for a clean end. */
  onClose(listener: (error: Error | undefined) => void): void;
  /** Stop reading and end the writable side. Idempotent. */
  close(error?: Error): void;
  readonly closed: boolean;
}

/** Serialize and frame one message; EnclaveError INVALID_ARGUMENT / PAYLOAD_TOO_LARGE. */
export function encodeFrame(message: unknown, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  let payload: Buffer;
  try {
    payload = serialize(message);
  } catch (err) {
    throw new EnclaveError('INVALID_ARGUMENT', `a message cannot be serialized: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`);
  }
  if (payload.byteLength > maxFrameBytes) {
    throw new EnclaveError('PAYLOAD_TOO_LARGE', `a message is ${payload.byteLength} bytes serialized, over the frame limit of ${maxFrameBytes}`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
  frame.writeUInt32LE(payload.byteLength, 0);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

export function createStdioChannel(readable: ChannelReadable, writable: ChannelWritable, options: StdioChannelOptions = {}): StdioChannel {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > 0xffffffff) {
    throw new EnclaveError('INVALID_ARGUMENT', 'maxFrameBytes must be an integer in 1..2^32-1');
  }
  const messageListeners: Array<(message: unknown) => void> = [];
  const closeListeners: Array<(error: Error | undefined) => void> = [];
  let closed = false;

  // Receive buffer: queued chunks plus their total length; a frame is assembled only once it is complete.
  let chunks: Buffer[] = [];
  let buffered = 0;
  let expected = -1; // payload length of the frame being read, -1 while reading its header

  function take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const head = chunks[0] as Buffer;
      const need = n - at;
      if (head.length <= need) {
        head.copy(out, at);
        at += head.length;
        chunks.shift();
      } else {
        head.copy(out, at, 0, need);
        chunks[0] = head.subarray(need);
        at += need;
      }
    }
    buffered -= n;
    return out;
  }

  function deliver(message: unknown): void {
    for (const l of messageListeners) {
      try {
        l(message);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  function onData(chunk: Buffer | string): void {
    if (closed) return;
    if (typeof chunk === 'string') {
      close(new Error('the channel received text: it carries binary frames only'));
      return;
    }
    if (chunk.length === 0) return;
    chunks.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (closed) return;
      if (expected < 0) {
        if (buffered < HEADER_BYTES) return;
        const length = take(HEADER_BYTES).readUInt32LE(0);
        if (length === 0 || length > maxFrameBytes) {
          close(new Error(`invalid frame length ${length} (1..${maxFrameBytes})`));
          return;
        }
        expected = length;
      }
      if (buffered < expected) return;
      const payload = take(expected);
      expected = -1;
      let message: unknown;
      try {
        message = deserialize(payload);
      } catch (err) {
        close(new Error(`a frame does not deserialize: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`));
        return;
      }
      deliver(message);
    }
  }

  function close(error?: Error): void {
    if (closed) return;
    closed = true;
    chunks = [];
    buffered = 0;
    try {
      readable.removeAllListeners?.('data');
      readable.destroy?.();
    } catch {
      // already gone
    }
    try {
      writable.end?.();
    } catch {
      // already gone
    }
    for (const l of closeListeners) {
      try {
        l(error);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  readable.on('data', (chunk) => {
    try {
      onData(chunk);
    } catch (err) {
      close(err instanceof Error ? err : new Error(String(err)));
    }
  });
  readable.on('end', () => close(buffered > 0 || expected >= 0 ? new Error('the stream ended inside a frame') : undefined));
  readable.on('close', () => close(buffered > 0 || expected >= 0 ? new Error('the stream closed inside a frame') : undefined));
  readable.on('error', (err) => close(err));
  writable.on('error', (err) => close(err));

  return {
    send(message: unknown): boolean {
      if (closed) return false;
      const frame = encodeFrame(message, maxFrameBytes);
      try {
        writable.write(frame, (err) => {
          if (err) close(err);
        });
      } catch (err) {
        close(err instanceof Error ? err : new Error(String(err)));
        return false;
      }
      return true;
    },
    onMessage(listener) {
      messageListeners.push(listener);
    },
    onClose(listener) {
      closeListeners.push(listener);
    },
    close,
    get closed() {
      return closed;
    },
  };
}
