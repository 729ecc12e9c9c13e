/**
 * A small client for the broker's API (the CLI and benchmarks use it): JSON over http(s) with an optional CA, a
 * deadline and a response-size cap; an error answer becomes a ServiceError with the broker's code and status.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { ServiceError } from '@cloister/service-kit';

export interface BrokerRequestOptions {
  readonly method?: string;
  readonly body?: unknown;
  /** `Authorization: Bearer …` (admin token; any value for release). */
  readonly bearer?: string;
  /** PEM CA certificates to trust for https (the broker's serving CA). */
  readonly ca?: string;
  readonly agent?: Agent;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

export interface BrokerResponse {
  readonly status: number;
  readonly text: string;
  readonly headers: IncomingMessage['headers'];
}

export function brokerRequest(url: string, o: BrokerRequestOptions = {}): Promise<BrokerResponse> {
  const u = new URL(url);
  const body = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(body.length);
  }
  if (o.bearer !== undefined) headers['authorization'] = `Bearer ${o.bearer}`;
  const maxBytes = o.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const options = { method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, timeout: o.timeoutMs ?? 30_000 };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (d: Buffer) => {
        total += d.length;
        if (total > maxBytes) {
          res.destroy();
          reject(new ServiceError('RESPONSE_TOO_LARGE', 502, `the broker's answer is larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    };
    const req =
      u.protocol === 'https:'
        ? httpsRequest(u, { ...options, ...(o.agent !== undefined ? { agent: o.agent } : o.ca !== undefined ? { ca: o.ca } : {}) }, onResponse)
        : httpRequest(u, options, onResponse);
    req.on('timeout', () => req.destroy(new ServiceError('TIMEOUT', 504, `no answer from ${u.host} within ${options.timeout} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** brokerRequest, then the JSON body of a 2xx answer; otherwise the broker's `{error:{code,message}}` as a ServiceError. */
export async function brokerJson<T = unknown>(url: string, o: BrokerRequestOptions = {}): Promise<T> {
  const r = await brokerRequest(url, o);
  let parsed: unknown;
  try {
    parsed = r.text.length === 0 ? undefined : JSON.parse(r.text);
  } catch {
    parsed = undefined;
  }
  if (r.status >= 200 && r.status < 300) return parsed as T;
  const err = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  throw new ServiceError(
    typeof err?.code === 'string' ? err.code : `HTTP_${r.status}`,
    r.status,
    typeof err?.message === 'string' ? err.message : `the broker answered HTTP ${r.status}`,
  );
}
