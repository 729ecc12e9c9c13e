/**
 * The Hono application every service starts from: probes (`/healthz`, `/readyz`), `/metrics`, request metrics,
 * typed JSON errors (`{"error":{"code","message",…details}}` by default, the shape MAA and Key Vault both use), a
 * JSON 404, and security headers. Services add their routes to the returned app.
 */
import { Hono, type Context } from 'hono';
import type { Logger } from 'pino';
import { ServiceError } from './errors.js';
import type { ServiceMetrics } from './metrics.js';
import { PROBE_PATHS, probeAnswer, type Readiness } from './probes.js';

export type { Readiness };

export interface ServiceAppOptions {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** Readiness for `/readyz` (default: ready). */
  readonly ready?: () => Readiness | Promise<Readiness>;
  /** The JSON body of an error response (default `{error:{code,message,...details}}`). */
  readonly errorBody?: (e: ServiceError) => unknown;
  /** Extra response headers on every answer (e.g. a Content-Security-Policy for pages). */
  readonly headers?: Readonly<Record<string, string>>;
}

export function defaultErrorBody(e: ServiceError): unknown {
  return { error: { code: e.code, message: e.message, ...(e.details ?? {}) } };
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
};

/** Answers a ServiceError as JSON with its status. */
export function errorResponse(c: Context, e: ServiceError, body: (e: ServiceError) => unknown = defaultErrorBody): Response {
  return c.json(body(e) as object, e.status as 400);
}

export function createServiceApp(options: ServiceAppOptions): Hono {
  const app = new Hono();
  const errorBody = options.errorBody ?? defaultErrorBody;
  const extraHeaders = { ...SECURITY_HEADERS, ...(options.headers ?? {}) };

  app.use('*', async (c, next) => {
    const start = process.hrtime.bigint();
    await next();
    for (const [k, v] of Object.entries(extraHeaders)) if (!c.res.headers.has(k)) c.res.headers.set(k, v);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    // The matched route pattern keeps label cardinality bounded ("/*" when nothing matched).
    options.metrics.request(c.req.routePath || '/*', c.req.method, c.res.status, seconds);
  });

  app.onError((err, c) => {
    if (err instanceof ServiceError) {
      if (err.status >= 500) options.logger.error({ code: err.code, path: c.req.path }, err.message);
      else options.logger.debug({ code: err.code, path: c.req.path }, err.message);
      options.metrics.error(err.code);
      return errorResponse(c, err, errorBody);
    }
    // Not ours: log it (the stack goes to the log, never to the caller) and answer a generic 500.
    options.metrics.error('INTERNAL');
    options.logger.error({ err, path: c.req.path }, 'unhandled error');
    return errorResponse(c, new ServiceError('INTERNAL', 500, 'internal error'), errorBody);
  });

  app.notFound((c) => errorResponse(c, new ServiceError('NOT_FOUND', 404, `no route for ${c.req.method} ${c.req.path}`), errorBody));

  // The probes every process serves, answered by the same code as the node agent's probe server (./probes.ts).
  const probes = { registry: options.metrics.registry, ...(options.ready !== undefined ? { ready: options.ready } : {}) };
  for (const path of PROBE_PATHS) {
    app.get(path, async (c) => {
      const a = (await probeAnswer(path, probes))!;
      return c.body(a.body, a.status as 200, { 'content-type': a.contentType });
    });
  }
  return app;
}
