/**
 * The framed message channel of both backends, over a byte stream pair: the sim backend's socketpair on the enclave
 * process's fd 3 (one duplex stream), and Gramine's stdin (host → enclave) / stdout (enclave → host), since under
 * Gramine only fds 0–2 reach the enclave.
 *
 * Frame: `u32 little-endian length ‖ u8 kind ‖ payload`, payload = `v8.serialize(message)` (the structured clone
 * algorithm), `length` counting the payload only. The kind (protocol.ts: control, call, log, stream) selects the
 * size limit: 1 ≤ length ≤ `maxFrameBytes(kind)`, checked from the 5-byte header BEFORE any payload byte is
 * buffered, so a peer can never make the reader hold more than one frame of the largest allowed size.
 *
 * Reading never throws: an unknown kind, a length of 0 or over the kind's limit, a payload that does not
 * deserialize, or (strict mode, the default) a message that is not `{ t: string, … }` of the frame's kind closes
 * the channel with an EnclaveError ENCLAVE_PROTOCOL (reported once to the `onClose` listeners; a stream error is
 * reported as it is); bytes after that are ignored. Writing: `send` serializes (throwing EnclaveError
 * INVALID_ARGUMENT for values that cannot be cloned, PAYLOAD_TOO_LARGE over the limit) and returns false when the
 * channel is closed; write errors close the channel.
 */
import { deserialize, serialize } from 'node:v8';
import { EnclaveError } from '../errors.js';
import { FRAME_CONTROL, isMessage, kindOf } from './protocol.js';

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
const HEADER_BYTES = 5;

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
  /**
   * Largest frame payload accepted or sent: one number for every kind, or a limit per kind (0 = kind not
   * accepted). Default {@link DEFAULT_MAX_FRAME_BYTES} for every kind.
   */
  readonly maxFrameBytes?: number | ((kind: number) => number);
  /** Require every received message to be `{ t, … }` of its frame's kind (default true). */
  readonly strict?: boolean;
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

function protocolError(message: string): EnclaveError {
  return new EnclaveError('ENCLAVE_PROTOCOL', message);
}

/** The kind a message is framed with: its type's kind (protocol.ts), control for anything else. */
export function frameKindOf(message: unknown): number {
  return (isMessage(message) ? kindOf(message.t) : undefined) ?? FRAME_CONTROL;
}

/**
 * Serialize and frame one message (kind: `kind`, default {@link frameKindOf}); EnclaveError INVALID_ARGUMENT /
 * PAYLOAD_TOO_LARGE.
 */
export function encodeFrame(
  message: unknown,
  maxFrameBytes: number | ((kind: number) => number) = DEFAULT_MAX_FRAME_BYTES,
  kind = frameKindOf(message),
): Buffer {
  const limit = typeof maxFrameBytes === 'number' ? maxFrameBytes : maxFrameBytes(kind);
  let payload: Buffer;
  try {
    payload = serialize(message);
  } catch (err) {
    throw new EnclaveError('INVALID_ARGUMENT', `a message cannot be serialized: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`);
  }
  if (payload.byteLength > limit) {
    throw new EnclaveError('PAYLOAD_TOO_LARGE', `a message is ${payload.byteLength} bytes serialized, over the frame limit of ${limit}`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
  frame.writeUInt32LE(payload.byteLength, 0);
  frame[4] = kind;
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

export function createStdioChannel(readable: ChannelReadable, writable: ChannelWritable, options: StdioChannelOptions = {}): StdioChannel {
  const option = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (typeof option === 'number' && (!Number.isSafeInteger(option) || option < 1 || option > 0xffffffff)) {
    throw new EnclaveError('INVALID_ARGUMENT', 'maxFrameBytes must be an integer in 1..2^32-1');
  }
  const limitOf = (kind: number): number => {
    if (typeof option === 'number') return kind >= 1 && kind <= 4 ? option : 0;
    const n = option(kind);
    return Number.isSafeInteger(n) && n > 0 ? Math.min(n, 0xffffffff) : 0;
  };
  const strict = options.strict ?? true;
  const messageListeners: Array<(message: unknown) => void> = [];
  const closeListeners: Array<(error: Error | undefined) => void> = [];
  let closed = false;

  // Receive buffer: queued chunks plus their total length; a frame is assembled only once it is complete.
  let chunks: Buffer[] = [];
  let buffered = 0;
  let expected = -1; // payload length of the frame being read, -1 while reading its header
  let kind = 0; // kind of the frame being read

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
      close(protocolError('the channel received text: it carries binary frames only'));
      return;
    }
    if (chunk.length === 0) return;
    chunks.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (closed) return;
      if (expected < 0) {
        if (buffered < HEADER_BYTES) return;
        const header = take(HEADER_BYTES);
        const length = header.readUInt32LE(0);
        kind = header[4] as number;
        const limit = limitOf(kind);
        if (limit === 0) {
          close(protocolError(`a frame of unknown kind ${kind}`));
          return;
        }
        if (length === 0 || length > limit) {
          close(protocolError(`invalid frame length ${length} for kind ${kind} (1..${limit})`));
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
        close(protocolError(`a frame does not deserialize: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`));
        return;
      }
      if (strict && !(isMessage(message) && kindOf(message.t) === kind)) {
        close(protocolError(`a frame of kind ${kind} does not carry a message of that kind`));
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
  readable.on('end', () => close(buffered > 0 || expected >= 0 ? protocolError('the stream ended inside a frame') : undefined));
  readable.on('close', () => close(buffered > 0 || expected >= 0 ? protocolError('the stream closed inside a frame') : undefined));
  readable.on('error', (err) => close(err));
  writable.on('error', (err) => close(err));

  return {
    send(message: unknown): boolean {
      if (closed) return false;
      const k = frameKindOf(message);
      const frame = encodeFrame(message, limitOf(k) || 1, k);
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
