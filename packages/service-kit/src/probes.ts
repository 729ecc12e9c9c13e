/**
 * The probe endpoints every Cloister process serves — `/healthz` (liveness: the process answers), `/readyz`
 * (readiness, or why not, as JSON) and `/metrics` (Prometheus text exposition format 0.0.4) — in one place: the
 * services' Hono apps route to `probeAnswer` (./app.ts), and processes without a web framework (the node agent)
 * serve them with `startProbeServer`, plain node:http behind the same gated listener (./listener.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { listenGated, resolveLimits, PROBE_LIMITS, type Listener, type ListenerLimits } from './listener.js';
import type { GateDropReason } from './connection-gate.js';
import type { Server } from 'node:http';

export interface Readiness {
  readonly ok: boolean;
  readonly reasons: readonly string[];
}

export type ReadinessCheck = () => Readiness | Promise<Readiness>;

export const PROBE_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

export interface ProbeAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** Runs a readiness check; a check that throws is "not ready" with the reason. */
export async function checkReadiness(ready: ReadinessCheck | undefined): Promise<Readiness> {
  if (ready === undefined) return { ok: true, reasons: [] };
  try {
    return await ready();
  } catch (e) {
    return { ok: false, reasons: [`readiness check failed: ${e instanceof Error ? e.message : String(e)}`] };
  }
}

/** The answer to a probe path, or undefined when `path` is not one. */
export async function probeAnswer(
  path: string,
  options: { readonly registry: Registry; readonly ready?: ReadinessCheck },
): Promise<ProbeAnswer | undefined> {
  switch (path) {
    case '/healthz':
      return { status: 200, contentType: TEXT, body: 'ok\n' };
    case '/readyz': {
      const r = await checkReadiness(options.ready);
      return { status: r.ok ? 200 : 503, contentType: JSON_TYPE, body: `${JSON.stringify({ ready: r.ok, reasons: r.reasons })}\n` };
    }
    case '/metrics':
      try {
        return { status: 200, contentType: options.registry.contentType, body: await options.registry.metrics() };
      } catch (e) {
        return { status: 500, contentType: TEXT, body: `metrics collection failed: ${e instanceof Error ? e.message : String(e)}\n` };
      }
    default:
      return undefined;
  }
}

export interface ProbeServerOptions {
  readonly port: number;
  /** Default 0.0.0.0 (kubelet probes and Prometheus reach the pod IP). */
  readonly host?: string;
  readonly registry: Registry;
  readonly ready?: ReadinessCheck;
  /** Defaults: `PROBE_LIMITS`. */
  readonly limits?: ListenerLimits;
  readonly onDrop?: (reason: GateDropReason) => void;
}

export interface ProbeServerHandle {
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

async function handle(req: IncomingMessage, res: ServerResponse, options: ProbeServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  if (!PROBE_PATHS.includes(path)) {
    send(res, 404, TEXT, 'not found\n', req.method === 'HEAD');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, TEXT, 'method not allowed\n', false);
    return;
  }
  const a = (await probeAnswer(path, options))!;
  send(res, a.status, a.contentType, a.body, req.method === 'HEAD');
}

/**
 * `/healthz`, `/readyz` and `/metrics` on plain HTTP (GET and HEAD; other paths 404, other methods 405), with the
 * slow-client rules of ./listener.ts. Rejects with Node's error on a taken port (`EADDRINUSE`) and a RangeError for a
 * bad port or limits.
 */
export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServerHandle> {
  const listener: Listener = await listenGated({
    host: options.host ?? '0.0.0.0',
    port: options.port,
    limits: resolveLimits(options.limits, PROBE_LIMITS),
    handler: (req, res) => {
      handle(req, res, options).catch(() => {
        if (!res.headersSent) send(res, 500, TEXT, 'internal error\n', false);
        else res.destroy();
      });
    },
    ...(options.onDrop !== undefined ? { onDrop: options.onDrop } : {}),
  });
  return { server: listener.server as Server, port: listener.port, close: () => listener.close() };
}
