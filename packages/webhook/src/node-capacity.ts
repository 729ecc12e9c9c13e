/**
 * The largest EPC any node advertises, read from the API server with the pod's service account
 * (GET /api/v1/nodes, paginated with `limit`/`continue`; ClusterRole get/list nodes). Polled, not watched: capacity
 * changes when nodes join, and a minute of staleness only delays a refusal the scheduler would make anyway.
 * Until a read succeeds (or when no node advertises EPC) the check is skipped rather than refusing pods.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { Logger } from '@cloister/service-kit';
import { WebhookError } from './errors.js';
import { isObject, objectAt, stringAt, type JsonObject } from './json.js';
import { AKS_EPC, INTEL_EPC, MIB } from './names.js';
import { parseQuantity } from './quantity.js';

export interface NodeCapacityOptions {
  /** https://host:port of the API server (in a pod: from KUBERNETES_SERVICE_HOST/PORT). */
  readonly apiServer: string;
  readonly token: () => string;
  readonly caPem: string;
  readonly logger: Logger;
  readonly intervalMs?: number;
  /** Bound on one page of the node list (bytes). */
  readonly maxResponseBytes?: number;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Options for a pod's in-cluster configuration (the token is re-read at every poll: it is rotated). */
export function inClusterCapacityOptions(logger: Logger): NodeCapacityOptions {
  const host = process.env['KUBERNETES_SERVICE_HOST'];
  const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (host === undefined) throw new WebhookError('INVALID_CONFIG', '--node-capacity needs an in-cluster service account: KUBERNETES_SERVICE_HOST is unset');
  const shown = host.includes(':') ? `[${host}]` : host;
  let caPem: string;
  try {
    caPem = readFileSync(`${SA_DIR}/ca.crt`, 'utf8');
  } catch {
    throw new WebhookError('INVALID_CONFIG', `--node-capacity needs the service account's ${SA_DIR}/ca.crt (automountServiceAccountToken)`);
  }
  return { apiServer: `https://${shown}:${port}`, token: () => readFileSync(`${SA_DIR}/token`, 'utf8').trim(), caPem, logger };
}

/** EPC bytes a Node's status.allocatable offers (the larger of the two names). */
export function nodeEpcBytes(node: unknown): bigint {
  const alloc = objectAt(objectAt(isObject(node) ? node : undefined, 'status'), 'allocatable');
  let best = 0n;
  for (const [name, factor] of [[AKS_EPC, MIB], [INTEL_EPC, 1n]] as const) {
    const v = alloc?.[name];
    if (v === undefined) continue;
    try {
      const q = parseQuantity(v);
      const bytes = (q.num * factor) / q.den;
      if (bytes > best) best = bytes;
    } catch {
      // A node with an unreadable quantity offers nothing we can count on.
    }
  }
  return best;
}

export class NodeCapacity {
  readonly #o: NodeCapacityOptions;
  #max: bigint | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Called after every successful read (the webhook's gauge). */
  onUpdate: ((bytes: bigint | undefined) => void) | undefined;

  constructor(options: NodeCapacityOptions) {
    this.#o = options;
  }

  /** Largest allocatable EPC seen at the last successful read, or undefined. */
  readonly max = (): bigint | undefined => this.#max;

  start(): void {
    const tick = (): void => {
      this.refresh().finally(() => {
        if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#o.intervalMs ?? 60_000).unref();
      });
    };
    this.#timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async refresh(): Promise<void> {
    try {
      let best = 0n;
      let cont: string | undefined;
      let pages = 0;
      do {
        const page = await this.#get(`/api/v1/nodes?limit=500${cont !== undefined ? `&continue=${encodeURIComponent(cont)}` : ''}`);
        const items = Array.isArray(page['items']) ? page['items'] : [];
        for (const n of items) {
          const b = nodeEpcBytes(n);
          if (b > best) best = b;
        }
        cont = stringAt(objectAt(page, 'metadata'), 'continue') || undefined;
      } while (cont !== undefined && ++pages < 100);
      this.#max = best > 0n ? best : undefined;
      this.onUpdate?.(this.#max);
    } catch (e) {
      this.#o.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'reading node EPC capacity failed; keeping the last value');
    }
  }

  #get(path: string): Promise<JsonObject> {
    const limit = this.#o.maxResponseBytes ?? 32 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.#o.apiServer),
        { method: 'GET', ca: this.#o.caPem, headers: { authorization: `Bearer ${this.#o.token()}`, accept: 'application/json' }, timeout: 10_000 },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`GET nodes: HTTP ${res.statusCode ?? 0}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (ch: Buffer) => {
            size += ch.length;
            if (size > limit) {
              req.destroy(new Error(`GET nodes: response larger than ${limit} bytes`));
              return;
            }
            chunks.push(ch);
          });
          res.on('end', () => {
            try {
              const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
              if (!isObject(body)) throw new Error('GET nodes: not a JSON object');
              resolve(body);
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('GET nodes: timed out')));
      req.on('error', reject);
      req.end();
    });
  }
}
