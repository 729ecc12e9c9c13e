/**
 * The agent's plain-HTTP side: `/metrics` (Prometheus text format), `/healthz` (liveness: the process answers) and
 * `/readyz` (readiness: every resource registered, or why not). GET and HEAD only; unknown paths are 404.
 *
 * Slow clients (docs/security.md): request headers are capped at 8 KiB (431 above); a connection must deliver its
 * request headers within 3 s of connecting or of its previous response (keep-alive); connections waiting for headers
 * have a small budget of their own, beyond which they get 250 ms, and beyond 128 connections 50 ms
 * (./net/connection-gate.ts) — so trickling clients cannot take what kubelet probes and Prometheus scrapes need.
 * Node's own headersTimeout/requestTimeout stay as a second line, checked every second instead of Node's default 30 s.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { ConnectionGate } from './net/connection-gate.js';

/** Limits on the HTTP listener's connections; every field has a default. */
export interface HttpLimits {
  /** Largest request head (request line + headers), bytes. Default 8192. */
  readonly maxHeaderBytes?: number;
  /** Deadline for a connection's request headers, from accept or from its previous response, ms. Default 3000. */
  readonly headersTimeoutMs?: number;
  /** Connections waiting for request headers that get the full deadline. Default 16. */
  readonly maxPendingConnections?: number;
  /** Deadline of a waiting connection beyond maxPendingConnections, ms. Default 250. */
  readonly overflowTimeoutMs?: number;
  /** Open connections before new ones get only a 50 ms probation (nothing admitted is closed for them). Default 128. */
  readonly maxConnections?: number;
}

export interface Readiness {
  readonly ok: boolean;
  readonly reasons: readonly string[];
}

export interface HttpOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly ready: () => Readiness | Promise<Readiness>;
  readonly limits?: HttpLimits;
}

export interface HttpHandle {
  readonly server: Server;
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(head ? undefined : body);
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

async function handle(req: IncomingMessage, res: ServerResponse, options: HttpOptions): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
  if (!known) {
    send(res, 404, TEXT, 'not found\n', req.method === 'HEAD');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, TEXT, 'method not allowed\n', false);
    return;
  }
  const head = req.method === 'HEAD';
  if (path === '/healthz') {
    send(res, 200, TEXT, 'ok\n', head);
  } else if (path === '/metrics') {
    try {
      send(res, 200, options.registry.contentType, await options.registry.metrics(), head);
    } catch (e) {
      send(res, 500, TEXT, `metrics collection failed: ${e instanceof Error ? e.message : String(e)}\n`, head);
    }
  } else {
    let r: Readiness;
    try {
      r = await options.ready();
    } catch (e) {
      r = { ok: false, reasons: [`readiness check failed: ${e instanceof Error ? e.message : String(e)}`] };
    }
    send(res, r.ok ? 200 : 503, JSON_TYPE, `${JSON.stringify({ ready: r.ok, reasons: r.reasons })}\n`, head);
  }
}

export function startHttp(options: HttpOptions): Promise<HttpHandle> {
  const host = options.host ?? '0.0.0.0';
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    return Promise.reject(new RangeError(`metrics port must be 0-65535, got ${options.port}`));
  }
  const limits = options.limits ?? {};
  const headersTimeoutMs = limits.headersTimeoutMs ?? 3_000;
  let gate: ConnectionGate;
  try {
    gate = new ConnectionGate({
      maxPending: limits.maxPendingConnections ?? 16,
      maxConnections: limits.maxConnections ?? 128,
      overflowTimeoutMs: limits.overflowTimeoutMs ?? 250,
      pendingTimeoutMs: headersTimeoutMs,
    });
  } catch (e) {
    return Promise.reject(e);
  }
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes ?? 8192,
      // Node checks headersTimeout/requestTimeout on this interval (default 30 s).
      connectionsCheckingInterval: 1_000,
      headersTimeout: headersTimeoutMs,
      requestTimeout: 10_000,
    },
    (req, res) => {
      handle(req, res, options).catch(() => {
        if (!res.headersSent) send(res, 500, TEXT, 'internal error\n', false);
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = headersTimeoutMs;
  server.maxRequestsPerSocket = 100;
  server.on('connection', (socket: Socket) => {
    gate.accept(socket);
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Headers are in: the connection leaves the waiting budget until its response is sent.
    gate.complete(req.socket);
    res.once('finish', () => gate.waitAgain(req.socket));
  });
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(options.port, host, () => {
      server.off('error', onError);
      const port = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        server,
        port,
        // Idempotent; drops idle keep-alive connections so the process can exit promptly.
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
