/**
 * The host side of relayed byte streams (protocol.ts kind 4; the enclave side is runtime/relay-streams.ts). The
 * host moves bytes between TCP sockets and the enclave; what it moves is ciphertext when the enclave speaks TLS.
 *
 * - Outbound: `{ t: 'sopen', id, sid, host, port }` is checked (odd sid not in use, host ≤ 253 characters, port
 *   1..65535, under `maxStreams`) and asked of the `connect` policy (default: refuse everything); if allowed, the host
 *   connects (with `connectTimeoutMs`) and replies ok, or CONNECT_REFUSED.
 * - Inbound: `accept(socket)` gives an even sid and sends `{ t: 'saccept', sid, info }`.
 * - Bounds: at most `maxStreams` streams; each `sdata` chunk ≤ STREAM_CHUNK_BYTES (the frame limit); at most
 *   STREAM_WINDOW_BYTES of enclave data not yet written out by the socket per stream — an enclave that sends beyond
 *   the window (ignoring acknowledgements) is a protocol violation (`onViolation`: the host ends it). Towards the
 *   enclave, the host pauses the socket once STREAM_WINDOW_BYTES are unacknowledged.
 * - A stream the enclave does not know or already closed is ignored; everything is torn down with the generation.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { EnclaveError } from '../errors.js';
import { STREAM_CHUNK_BYTES, STREAM_WINDOW_BYTES, isId, toWireError } from '../runtime/protocol.js';

/** The host's decision for an outbound connection the enclave asks for. */
export type ConnectPolicy = (target: { readonly host: string; readonly port: number }) => boolean;

export interface RelayHostOptions {
  send(message: Record<string, unknown>): void;
  reply(id: number, outcome: { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } }): void;
  onViolation(error: EnclaveError): void;
  readonly connect?: ConnectPolicy;
  readonly maxStreams: number;
  readonly connectTimeoutMs: number;
}

interface HostStream {
  readonly socket: Socket;
  /** Enclave bytes handed to the socket and not yet flushed by it. */
  pendingOut: number;
  /** Bytes sent to the enclave and not yet acknowledged. */
  inFlight: number;
  open: boolean;
}

export interface RelayHost {
  handle(msg: Record<string, unknown> & { t: string }): void;
  /** Relay an accepted socket into the enclave; false (socket destroyed) over the stream limit. */
  accept(socket: Socket): boolean;
  readonly size: number;
  /** Destroy every socket (the generation ended). */
  closeAll(): void;
}

function isStreamId(v: unknown): v is number {
  return isId(v);
}

export function createRelayHost(options: RelayHostOptions): RelayHost {
  const streams = new Map<number, HostStream>();
  let nextSid = 2; // even: accepted by the host
  let closed = false;

  function toEnclave(message: Record<string, unknown>): void {
    if (!closed) options.send(message);
  }

  function wire(sid: number, socket: Socket): HostStream {
    const s: HostStream = { socket, pendingOut: 0, inFlight: 0, open: true };
    streams.set(sid, s);
    socket.on('data', (chunk: Buffer) => {
      for (let at = 0; at < chunk.byteLength; at += STREAM_CHUNK_BYTES) {
        const data = new Uint8Array(chunk.buffer, chunk.byteOffset + at, Math.min(STREAM_CHUNK_BYTES, chunk.byteLength - at));
        s.inFlight += data.byteLength;
        toEnclave({ t: 'sdata', sid, data });
      }
      if (s.inFlight >= STREAM_WINDOW_BYTES) socket.pause();
    });
    socket.on('end', () => {
      if (s.open) toEnclave({ t: 'send', sid });
    });
    socket.on('error', () => undefined); // reported through 'close'
    socket.on('close', (hadError: boolean) => {
      if (!s.open) return;
      s.open = false;
      streams.delete(sid);
      toEnclave(hadError ? { t: 'sclose', sid, error: { code: 'CONNECT_REFUSED', message: 'the relayed connection failed' } } : { t: 'sclose', sid });
    });
    return s;
  }

  function violation(message: string): void {
    options.onViolation(new EnclaveError('ENCLAVE_PROTOCOL', message));
  }

  function open(id: number, sid: unknown, host: unknown, port: unknown): void {
    const refuse = (message: string, code = 'CONNECT_REFUSED'): void => options.reply(id, { ok: false, error: { code, message } });
    if (!isStreamId(sid) || sid % 2 !== 1 || streams.has(sid)) return refuse('invalid stream id', 'INVALID_ARGUMENT');
    if (typeof host !== 'string' || host.length === 0 || host.length > 253 || !/^[A-Za-z0-9._:[\]-]+$/.test(host)) {
      return refuse('invalid host', 'INVALID_ARGUMENT');
    }
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return refuse('invalid port', 'INVALID_ARGUMENT');
    if (streams.size >= options.maxStreams) return refuse(`at most ${options.maxStreams} relayed streams`, 'STREAM_LIMIT');
    let allowed = false;
    try {
      allowed = options.connect?.({ host, port }) === true;
    } catch {
      allowed = false;
    }
    if (!allowed) return refuse(`the host does not relay connections to ${host}:${port}`);
    const socket = netConnect({ host, port, allowHalfOpen: true, timeout: options.connectTimeoutMs });
    // Reserve the id now (so the limit counts pending connects); 'data' cannot arrive before 'connect'.
    const s = wire(sid, socket);
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      s.open = false;
      streams.delete(sid);
      socket.destroy();
      refuse(`cannot connect to ${host}:${port}: ${toWireError(err).message}`);
    };
    socket.once('timeout', () => fail(new Error('connect timeout')));
    socket.once('error', fail);
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      socket.setTimeout(0);
      socket.removeListener('error', fail);
      options.reply(id, { ok: true, value: null });
    });
  }

  return {
    handle(msg) {
      if (closed) return;
      const sid = msg.sid;
      switch (msg.t) {
        case 'sopen':
          if (isId(msg.id)) open(msg.id, sid, msg.host, msg.port);
          return;
        case 'sdata': {
          const s = isStreamId(sid) ? streams.get(sid) : undefined;
          const data = msg.data;
          if (!(data instanceof Uint8Array) || data.byteLength > STREAM_CHUNK_BYTES) return violation('a relayed data chunk is malformed');
          if (s === undefined || !s.open) return;
          s.pendingOut += data.byteLength;
          if (s.pendingOut > STREAM_WINDOW_BYTES) return violation(`the enclave sent more than ${STREAM_WINDOW_BYTES} unacknowledged bytes on a stream`);
          const n = data.byteLength;
          s.socket.write(data, () => {
            s.pendingOut -= n;
            if (s.open) toEnclave({ t: 'sack', sid, n });
          });
          return;
        }
        case 'sack': {
          const s = isStreamId(sid) ? streams.get(sid) : undefined;
          const n = msg.n;
          if (s === undefined || typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) return;
          s.inFlight = Math.max(0, s.inFlight - n);
          if (s.inFlight < STREAM_WINDOW_BYTES && s.socket.isPaused()) s.socket.resume();
          return;
        }
        case 'send': {
          const s = isStreamId(sid) ? streams.get(sid) : undefined;
          if (s?.open) s.socket.end();
          return;
        }
        case 'sclose': {
          const s = isStreamId(sid) ? streams.get(sid) : undefined;
          if (s === undefined) return;
          s.open = false;
          streams.delete(sid as number);
          if (msg.error !== undefined) s.socket.destroy();
          else s.socket.end(() => s.socket.destroy());
          return;
        }
        default:
          return;
      }
    },
    accept(socket) {
      if (closed || streams.size >= options.maxStreams) {
        socket.destroy();
        return false;
      }
      const sid = nextSid;
      nextSid += 2;
      socket.setNoDelay?.(true);
      wire(sid, socket);
      toEnclave({
        t: 'saccept',
        sid,
        info: {
          ...(socket.remoteAddress !== undefined ? { remoteAddress: socket.remoteAddress } : {}),
          ...(socket.remotePort !== undefined ? { remotePort: socket.remotePort } : {}),
          ...(socket.localPort !== undefined ? { localPort: socket.localPort } : {}),
        },
      });
      return true;
    },
    get size() {
      return streams.size;
    },
    closeAll() {
      closed = true;
      for (const s of streams.values()) {
        s.open = false;
        s.socket.destroy();
      }
      streams.clear();
    },
  };
}
