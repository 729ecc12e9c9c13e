/**
 * The one HTTP(S) listener under every Cloister server — the services' Hono apps (./server.ts) and the node agent's
 * probe server (./probe-server.ts) — with the slow-client admission rules of ./connection-gate.ts on every
 * connection (docs/security.md):
 *   - a connection must deliver a complete request head within `headersTimeoutMs` of connecting (TLS handshake
 *     included) or of its previous response (keep-alive);
 *   - at most `maxPendingConnections` connections wait with that full deadline; waiting connections beyond them get
 *     `overflowTimeoutMs`, and connections beyond `maxConnections` only `probationTimeoutMs` — so connections that
 *     trickle bytes cannot occupy the capacity complete requests need, and nothing admitted is closed to make room;
 *   - request heads are capped at `maxHeaderSize` (431 above); a malformed or too slow request gets one 400/408 and
 *     the connection is closed. Node's own headersTimeout/requestTimeout stay as a second line, checked at least every
 *     second instead of Node's default 30 s.
 * This module loads no web framework: the node agent uses it without Hono (its idle RSS is measured).
 */
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { ConnectionGate, type GateDropReason } from './connection-gate.js';

/** Receiving-side limits of a listener; every field has a default (see `SERVICE_LIMITS`, `PROBE_LIMITS`). */
export interface ListenerLimits {
  /** Time for a client to deliver a request head, from accept (TLS handshake included) or its previous response, ms. */
  readonly headersTimeoutMs?: number;
  /** Time for the whole request, body included, ms. */
  readonly requestTimeoutMs?: number;
  /**
   * Idle keep-alive, ms. An idle connection is a waiting one: it has keepAliveTimeoutMs + headersTimeoutMs for its
   * next request head while it holds a pending slot, overflowTimeoutMs when the pending slots are taken.
   */
  readonly keepAliveTimeoutMs?: number;
  /** Largest request head (request line + headers), bytes. */
  readonly maxHeaderSize?: number;
  /** Waiting connections (no complete request head yet) that get the full headersTimeoutMs. */
  readonly maxPendingConnections?: number;
  /** Deadline of a waiting connection beyond maxPendingConnections, ms. */
  readonly overflowTimeoutMs?: number;
  /** Open connections before new ones only get probationTimeoutMs (must be above maxPendingConnections). */
  readonly maxConnections?: number;
  /** Deadline of a connection accepted beyond maxConnections, ms (default min(50, overflowTimeoutMs)). */
  readonly probationTimeoutMs?: number;
  /** Requests one keep-alive connection may carry (0 = unlimited). */
  readonly maxRequestsPerSocket?: number;
}

export type ResolvedLimits = Required<Omit<ListenerLimits, 'probationTimeoutMs'>> & { readonly probationTimeoutMs?: number };

/** Defaults of `startService` (services reached over the network, TLS handshakes included). */
export const SERVICE_LIMITS: ResolvedLimits = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderSize: 16 * 1024,
  maxPendingConnections: 64,
  overflowTimeoutMs: 1_000,
  maxConnections: 1024,
  maxRequestsPerSocket: 10_000,
};

/** Defaults of `startProbeServer` (kubelet probes and Prometheus scrapes: small, quick requests). */
export const PROBE_LIMITS: ResolvedLimits = {
  headersTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 3_000,
  maxHeaderSize: 8192,
  maxPendingConnections: 16,
  overflowTimeoutMs: 250,
  maxConnections: 128,
  maxRequestsPerSocket: 100,
};

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly handler: RequestListener;
  readonly limits: ResolvedLimits;
  /** TLS server options (cert, key, ca, …); absent: plain HTTP. */
  readonly tls?: HttpsOptions;
  /** Told about every connection the gate closes (metrics, debug logs). */
  readonly onDrop?: (reason: GateDropReason) => void;
}

export interface Listener {
  readonly server: Server | HttpsServer;
  readonly port: number;
  readonly gate: ConnectionGate;
  /** Idempotent: stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Validates and fills limits; throws RangeError (a programming or configuration mistake) on nonsense. */
export function resolveLimits(given: ListenerLimits | undefined, defaults: ResolvedLimits): ResolvedLimits {
  const l = { ...defaults, ...Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => v !== undefined)) } as ResolvedLimits;
  for (const [name, min] of [
    ['headersTimeoutMs', 1],
    ['requestTimeoutMs', 1],
    ['keepAliveTimeoutMs', 1],
    ['maxHeaderSize', 256],
    ['maxRequestsPerSocket', 0],
  ] as const) {
    const v = l[name];
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return l;
}

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}

/** Starts listening; rejects with Node's own error (`EADDRINUSE`, `EACCES`, …) or a RangeError for bad limits. */
export function listenGated(options: ListenOptions): Promise<Listener> {
  const l = options.limits;
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    return Promise.reject(new RangeError(`port must be 0-65535, got ${options.port}`));
  }
  const tls = options.tls !== undefined;
  // For TLS the gate holds the TCP socket from accept (a handshake that never ends is a waiting connection), while
  // requests arrive on the TLS socket over it: both have the same peer address and port.
  const rawByPeer = new Map<string, Socket>();
  const tlsByRaw = new WeakMap<Socket, Socket>();
  let gate: ConnectionGate;
  try {
    gate = new ConnectionGate({
      maxPending: l.maxPendingConnections,
      maxConnections: l.maxConnections,
      overflowTimeoutMs: l.overflowTimeoutMs,
      ...(l.probationTimeoutMs !== undefined ? { probationTimeoutMs: l.probationTimeoutMs } : {}),
      pendingTimeoutMs: l.headersTimeoutMs,
      onDrop: (socket, reason) => {
        tlsByRaw.get(socket)?.destroy();
        options.onDrop?.(reason);
      },
    });
  } catch (e) {
    return Promise.reject(e);
  }
  const gated = (socket: Socket): Socket => (tls ? (rawByPeer.get(peerKey(socket)) ?? socket) : socket);

  const common = {
    maxHeaderSize: l.maxHeaderSize,
    // Node checks headersTimeout/requestTimeout on this interval (default 30 s).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(l.headersTimeoutMs / 2))),
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: Math.max(l.requestTimeoutMs, l.headersTimeoutMs),
  };
  const server: Server | HttpsServer = tls
    ? createHttpsServer({ ...options.tls, ...common, handshakeTimeout: l.headersTimeoutMs }, options.handler)
    : createHttpServer(common, options.handler);
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = l.maxRequestsPerSocket;

  server.on('connection', (socket: Socket) => {
    if (!gate.accept(socket) || !tls) return;
    const key = peerKey(socket);
    rawByPeer.set(key, socket);
    socket.once('close', () => {
      if (rawByPeer.get(key) === socket) rawByPeer.delete(key);
    });
  });
  if (tls) {
    server.on('secureConnection', (t: Socket) => {
      const raw = rawByPeer.get(peerKey(t));
      if (raw !== undefined) tlsByRaw.set(raw, t);
    });
    // A TLS handshake that fails must not hold a connection slot.
    server.on('tlsClientError', (_e: Error, socket: Socket) => socket.destroy());
  }
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // The head is in: the connection leaves the waiting budget until its response is sent.
    const socket = gated(req.socket);
    gate.complete(socket);
    res.once('finish', () => gate.waitAgain(socket, l.keepAliveTimeoutMs + l.headersTimeoutMs));
  });
  // A malformed or too slow request: answer once (408 for a missed deadline, 431 for a big head, 400 otherwise).
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => {
    const status =
      e.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : e.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, () => socket.destroy());
    else socket.destroy();
  });

  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen({ port: options.port, host: options.host, backlog: 4096 }, () => {
      server.off('error', onError);
      const port = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        server,
        port,
        gate,
        close: () =>
          (closing ??= new Promise<void>((done, fail) => {
            server.close((e) => (e === undefined ? done() : fail(e)));
            server.closeAllConnections();
            gate.closeAll();
          })),
      });
    });
  });
}
