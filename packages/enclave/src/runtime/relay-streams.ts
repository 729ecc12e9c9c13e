/**
 * The enclave side of relayed byte streams (protocol.ts kind 4): the enclave's network, moved by the host.
 *
 * `connect(host, port)` asks the host to open a TCP connection (`{ t: 'sopen' }`, answered by a 'reply'); an
 * accepted connection arrives as `{ t: 'saccept', sid, info }` and is handed to the definition's `onConnection`.
 * Either way the enclave gets a `Duplex` whose bytes travel as `{ t: 'sdata' }` chunks of at most
 * STREAM_CHUNK_BYTES; `send` is a half-close (FIN), `sclose` a teardown (with an error if any). Flow control: each
 * side has at most STREAM_WINDOW_BYTES unacknowledged (`{ t: 'sack', n }`) in flight per direction; a writer waits
 * for acknowledgements, a reader acknowledges what its consumer has taken. The host moves ciphertext only if the
 * enclave speaks TLS over the stream (`tls.connect({ socket })`, `new tls.TLSSocket(stream, { isServer: true })`).
 */
import { Duplex } from 'node:stream';
import { EnclaveError } from '../errors.js';
import { STREAM_CHUNK_BYTES, STREAM_WINDOW_BYTES, fromWireError, isWireError, toWireError } from './protocol.js';

/** What the host tells about an accepted connection. */
export interface RelayConnectionInfo {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localPort?: number;
}

export interface RelayStreamsOptions {
  send(message: Record<string, unknown>): void;
  /** A request answered by the host's 'reply' (for 'sopen'). */
  request(message: Record<string, unknown>): Promise<unknown>;
  /** Called for each accepted connection; without it, accepted connections are closed at once. */
  onConnection?(stream: Duplex, info: RelayConnectionInfo): void;
}

export interface RelayStreams {
  connect(host: string, port: number): Promise<Duplex>;
  /** Handle a kind-4 message from the host; false if it is not one. */
  handle(msg: Record<string, unknown> & { t: string }): boolean;
  setConnectionHandler(handler: ((stream: Duplex, info: RelayConnectionInfo) => void) | undefined): void;
}

/** Most streams one enclave keeps open at once (the host enforces its own limit too). */
export const MAX_ENCLAVE_STREAMS = 256;

class RelayStream extends Duplex {
  readonly sid: number;
  readonly #send: (message: Record<string, unknown>) => void;
  #unacked = 0; // bytes we sent that the host has not acknowledged
  #toAck = 0; // bytes we received and delivered but not yet acknowledged
  #waiting: (() => void) | undefined;
  #remoteClosed = false;

  constructor(sid: number, send: (message: Record<string, unknown>) => void, onGone: () => void) {
    super({ allowHalfOpen: true });
    this.sid = sid;
    this.#send = send;
    this.once('close', onGone);
  }

  /** Bytes from the host. */
  deliver(data: Uint8Array): void {
    if (this.destroyed) return;
    if (this.push(data)) this.#ack(data.byteLength);
    else this.#toAck += data.byteLength;
  }

  #ack(n: number): void {
    if (n > 0 && !this.#remoteClosed) this.#send({ t: 'sack', sid: this.sid, n });
  }

  acked(n: number): void {
    this.#unacked = Math.max(0, this.#unacked - n);
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.();
  }

  remoteEnd(): void {
    if (!this.destroyed) this.push(null);
  }

  remoteClose(error?: Error): void {
    this.#remoteClosed = true;
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.();
    if (error !== undefined) this.destroy(error);
    else {
      this.push(null);
      this.destroy();
    }
  }

  override _read(): void {
    const n = this.#toAck;
    this.#toAck = 0;
    this.#ack(n);
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    void this.#writeAll(bytes).then(() => callback(), (err: Error) => callback(err));
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.byteLength; ) {
      if (this.#remoteClosed) throw new EnclaveError('STREAM_LIMIT', 'the relayed stream is closed');
      const room = STREAM_WINDOW_BYTES - this.#unacked;
      if (room <= 0) {
        await new Promise<void>((r) => {
          this.#waiting = r;
        });
        continue;
      }
      const n = Math.min(room, STREAM_CHUNK_BYTES, bytes.byteLength - at);
      // A copy: the chunk crosses by structured clone, and the caller may reuse its buffer.
      const data = new Uint8Array(bytes.subarray(at, at + n));
      this.#unacked += n;
      this.#send({ t: 'sdata', sid: this.sid, data });
      at += n;
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#remoteClosed) this.#send({ t: 'send', sid: this.sid });
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#remoteClosed) {
      this.#remoteClosed = true;
      try {
        this.#send(error === null ? { t: 'sclose', sid: this.sid } : { t: 'sclose', sid: this.sid, error: toWireError(error) });
      } catch {
        // the channel is gone
      }
    }
    callback(error);
  }
}

function isSid(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

export function createRelayStreams(options: RelayStreamsOptions): RelayStreams {
  const streams = new Map<number, RelayStream>();
  let nextSid = 1; // odd: opened by the enclave
  let onConnection = options.onConnection;

  function open(sid: number): RelayStream {
    const s = new RelayStream(sid, options.send, () => streams.delete(sid));
    streams.set(sid, s);
    return s;
  }

  return {
    async connect(host: string, port: number): Promise<Duplex> {
      if (typeof host !== 'string' || host.length === 0 || host.length > 253) throw new EnclaveError('INVALID_ARGUMENT', 'host must be a name or address');
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new EnclaveError('INVALID_ARGUMENT', 'port must be 1..65535');
      if (streams.size >= MAX_ENCLAVE_STREAMS) throw new EnclaveError('STREAM_LIMIT', `at most ${MAX_ENCLAVE_STREAMS} relayed streams`);
      const sid = nextSid;
      nextSid += 2;
      const stream = open(sid);
      try {
        await options.request({ t: 'sopen', sid, host, port });
      } catch (err) {
        streams.delete(sid);
        stream.remoteClose();
        throw err;
      }
      return stream;
    },
    handle(msg): boolean {
      const sid = msg.sid;
      switch (msg.t) {
        case 'saccept': {
          if (!isSid(sid) || sid % 2 !== 0 || streams.has(sid)) return true;
          if (onConnection === undefined || streams.size >= MAX_ENCLAVE_STREAMS) {
            options.send({ t: 'sclose', sid, error: { code: 'STREAM_LIMIT', message: 'the enclave does not accept connections' } });
            return true;
          }
          const raw = (typeof msg.info === 'object' && msg.info !== null ? msg.info : {}) as Record<string, unknown>;
          const info: RelayConnectionInfo = {
            ...(typeof raw.remoteAddress === 'string' ? { remoteAddress: raw.remoteAddress.slice(0, 64) } : {}),
            ...(typeof raw.remotePort === 'number' ? { remotePort: raw.remotePort } : {}),
            ...(typeof raw.localPort === 'number' ? { localPort: raw.localPort } : {}),
          };
          const stream = open(sid);
          try {
            onConnection(stream, Object.freeze(info));
          } catch (err) {
            stream.destroy(err instanceof Error ? err : new Error(String(err)));
          }
          return true;
        }
        case 'sdata': {
          const s = isSid(sid) ? streams.get(sid) : undefined;
          if (s !== undefined && msg.data instanceof Uint8Array) s.deliver(msg.data);
          return true;
        }
        case 'sack': {
          const s = isSid(sid) ? streams.get(sid) : undefined;
          if (s !== undefined && typeof msg.n === 'number' && Number.isSafeInteger(msg.n) && msg.n > 0) s.acked(msg.n);
          return true;
        }
        case 'send': {
          const s = isSid(sid) ? streams.get(sid) : undefined;
          s?.remoteEnd();
          return true;
        }
        case 'sclose': {
          const s = isSid(sid) ? streams.get(sid) : undefined;
          if (s === undefined) return true;
          streams.delete(sid as number);
          s.remoteClose(isWireError(msg.error) ? fromWireError(msg.error) : undefined);
          return true;
        }
        default:
          return false;
      }
    },
    setConnectionHandler(handler) {
      onConnection = handler;
    },
  };
}
