/**
 * The agent's plain-HTTP side: `/metrics` (Prometheus text format), `/healthz` (liveness: the process answers) and
 * `/readyz` (readiness: every resource registered, or why not). GET and HEAD only; unknown paths are 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Readiness {
  readonly ok: boolean;
  readonly reasons: readonly string[];
}

export interface HttpOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly ready: () => Readiness | Promise<Readiness>;
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
  const server = createServer((req, res) => {
    handle(req, res, options).catch(() => {
      if (!res.headersSent) send(res, 500, TEXT, 'internal error\n', false);
      else res.destroy();
    });
  });
  // Probes and scrapes are tiny: refuse slow clients early.
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
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
          })),
      });
    });
  });
}
