/**
 * The webhook's HTTPS server: service-kit's startService (node:https, certificate reloaded when the Secret's files
 * change, head/request deadlines, connection caps) with the admission routes in front of the service-kit app:
 *   POST /mutate?timeout=10s    POST /validate?timeout=10s     (admit.ts)
 *   /healthz, /readyz, /metrics                                 (service-kit app; also on a plain-HTTP port)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServiceApp, createServiceMetrics, startService, type Logger, type ServiceHandle, type TlsFiles, type TlsInline } from '@cloister/service-kit';
import { admissionEndpoint, admit, DEFAULT_BODY_LIMIT, MAX_TIMEOUT_MS } from './admit.js';
import { checkConfig, type AdmissionConfig } from './config.js';
import { createWebhookMetrics } from './metrics.js';
import type { NodeCapacity } from './node-capacity.js';

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

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

export async function startWebhook(options: WebhookServerOptions): Promise<WebhookHandle> {
  const config = checkConfig(options.config);
  const metrics = createServiceMetrics({ prefix: 'cloister_webhook', processMetrics: true });
  const webhookMetrics = createWebhookMetrics(metrics.registry);
  const main = await startService({
    app: createServiceApp({ logger: options.logger, metrics }),
    host: options.host ?? '127.0.0.1',
    port: options.port,
    tls: options.tls,
    logger: options.logger,
    // The API server keeps connections alive between reviews.
    limits: { keepAliveTimeoutMs: 30_000, requestTimeoutMs: MAX_TIMEOUT_MS + 5_000 },
  });
  // Admission routes first; the service-kit listener answers everything else.
  const appListeners = main.server.listeners('request') as Listener[];
  main.server.removeAllListeners('request');
  const admitOptions = {
    config,
    logger: options.logger,
    metrics: webhookMetrics,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    request: (route: string, method: string, status: number, seconds: number) => metrics.request(route, method, status, seconds),
  };
  main.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const endpoint = admissionEndpoint(req.method, req.url);
    if (endpoint !== undefined) admit(endpoint, req, res, admitOptions);
    else for (const l of appListeners) l(req, res);
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
  options.logger.info(
    { url: main.url, metrics: side?.url, translate: config.translate, advertised: config.advertised, enclaveResource: config.enclaveResource, nodeCapacity: capacity !== undefined },
    'webhook serving',
  );
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

export { DEFAULT_BODY_LIMIT };
export { DEFAULT_TIMEOUT_MS } from './admit.js';
