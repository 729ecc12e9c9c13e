/**
 * The webhook's HTTPS server (service-kit: Hono on node:https, certificate reloaded when the Secret's files change,
 * head/request deadlines, connection caps) with two routes the API server calls:
 *   POST /mutate?timeout=10s    POST /validate?timeout=10s
 * and /healthz, /readyz, /metrics (also on a separate plain-HTTP port for kubelet probes and Prometheus).
 * Every request gets HTTP 200 with an AdmissionReview: bad input is answered with a Failure status, never a 4xx/5xx
 * or a crash (the API server would log an opaque error and apply failurePolicy).
 */
import {
  ServiceError,
  createServiceApp,
  createServiceMetrics,
  readBody,
  startService,
  type Logger,
  type ServiceHandle,
  type TlsFiles,
  type TlsInline,
} from '@cloister/service-kit';
import { checkConfig, type AdmissionConfig } from './config.js';
import { parseGoDuration } from './duration.js';
import { createWebhookMetrics } from './metrics.js';
import type { NodeCapacity } from './node-capacity.js';
import { errorReview, handleReview, type AdmissionReviewOut, type Endpoint } from './review.js';

/**
 * etcd refuses objects over 1.5 MiB (--max-request-bytes), and a review may carry the object and oldObject plus
 * the request envelope: 2 x 1.5 MiB + margin. Anything larger cannot be a real pod review.
 */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;
/** The API server's default webhook timeout, used when the request names none. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** timeoutSeconds may be at most 30 (admissionregistration validation). */
const MAX_TIMEOUT_MS = 30_000;

export interface WebhookServerOptions {
  readonly config: AdmissionConfig;
  readonly logger: Logger;
  readonly host?: string;
  readonly port: number;
  readonly tls: TlsFiles | TlsInline;
  /** Plain-HTTP port for /healthz, /readyz, /metrics (undefined: none). */
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  readonly bodyLimit?: number;
  /** Node EPC reader: polled while the server runs, its value exported as cloister_webhook_max_node_epc_bytes. */
  readonly capacity?: NodeCapacity;
}

export interface WebhookHandle {
  readonly url: string;
  readonly port: number;
  readonly metricsUrl?: string;
  close(): Promise<void>;
}

class DeadlineExceeded extends Error {}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceeded()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The admission routes on a service-kit app (exported for tests that drive the app without a socket). */
type App = ReturnType<typeof createServiceApp>;

export function addAdmissionRoutes(app: App, options: Pick<WebhookServerOptions, 'config' | 'logger' | 'bodyLimit'>, onReview: ReturnType<typeof createWebhookMetrics>): void {
  const config = checkConfig(options.config);
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = options.logger;
  for (const endpoint of ['mutate', 'validate'] as const satisfies readonly Endpoint[]) {
    app.post(`/${endpoint}`, async (c) => {
      const start = process.hrtime.bigint();
      const timeoutMs = Math.min(parseGoDuration(c.req.query('timeout')) ?? DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
      let review: AdmissionReviewOut;
      let decision: Parameters<typeof onReview.review>[1] = 'error';
      let rule: string | undefined;
      try {
        // The body must arrive within the API server's own deadline; after it nobody reads our answer.
        const bytes = await withDeadline(readBody(c, limit), Math.max(timeoutMs, 1));
        let body: unknown;
        try {
          body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
        } catch {
          body = undefined;
        }
        if (body === undefined) {
          review = errorReview('', 400, 'the request body is not a JSON AdmissionReview');
        } else {
          const outcome = handleReview(body, endpoint, config);
          review = outcome.review;
          decision = outcome.decision;
          rule = outcome.rule;
          const fields = {
            endpoint,
            uid: outcome.uid,
            namespace: outcome.namespace,
            name: outcome.name,
            decision,
            rule,
            ops: outcome.patch.length,
          };
          if (decision === 'patched' || decision === 'denied') log.info(fields, 'admission decision');
          else if (decision === 'error') log.warn({ ...fields, message: review.response.status?.message }, 'unreadable admission review');
          else log.debug(fields, 'admission decision');
        }
      } catch (e) {
        if (e instanceof ServiceError && e.code === 'BODY_TOO_LARGE') {
          review = errorReview('', 413, `the AdmissionReview is larger than ${limit} bytes`);
        } else if (e instanceof DeadlineExceeded) {
          review = errorReview('', 408, `the AdmissionReview did not arrive within ${timeoutMs} ms`);
        } else if (e instanceof ServiceError) {
          review = errorReview('', 400, e.message);
        } else {
          log.error({ err: e, endpoint }, 'admission handler failed');
          review = errorReview('', 500, 'internal error');
        }
        log.warn({ endpoint, status: review.response.status?.code }, review.response.status?.message ?? 'bad request');
      }
      onReview.review(endpoint, decision, Number(process.hrtime.bigint() - start) / 1e9, rule);
      return c.json(review, 200);
    });
  }
}

export async function startWebhook(options: WebhookServerOptions): Promise<WebhookHandle> {
  const metrics = createServiceMetrics({ prefix: 'cloister_webhook', processMetrics: true });
  const webhookMetrics = createWebhookMetrics(metrics.registry);
  const app = createServiceApp({ logger: options.logger, metrics });
  addAdmissionRoutes(app, options, webhookMetrics);
  const main = await startService({
    app,
    host: options.host ?? '127.0.0.1',
    port: options.port,
    tls: options.tls,
    logger: options.logger,
    // The API server keeps connections alive between reviews.
    limits: { keepAliveTimeoutMs: 30_000, requestTimeoutMs: MAX_TIMEOUT_MS + 5_000 },
  });
  let side: ServiceHandle | undefined;
  if (options.metricsPort !== undefined) {
    try {
      side = await startService({
        app: createServiceApp({ logger: options.logger, metrics }),
        host: options.metricsHost ?? options.host ?? '127.0.0.1',
        port: options.metricsPort,
        logger: options.logger,
      });
    } catch (e) {
      await main.close();
      throw e;
    }
  }
  const capacity = options.capacity;
  if (capacity !== undefined) {
    capacity.onUpdate = (bytes) => webhookMetrics.nodeEpc(bytes);
    capacity.start();
  }
  options.logger.info({ url: main.url, metrics: side?.url, config: { ...options.config, maxNodeEpcBytes: undefined } }, 'webhook serving');
  return {
    url: main.url,
    port: main.port,
    ...(side !== undefined ? { metricsUrl: side.url } : {}),
    close: async () => {
      capacity?.stop();
      await Promise.all([main.close(), side?.close()]);
    },
  };
}

export { createWebhookMetrics };
