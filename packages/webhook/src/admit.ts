/**
 * The two routes the API server calls, POST /mutate and POST /validate, served straight off Node's http request
 * events. They are the webhook's hot path: going through the Hono app (Request/Response objects, web streams,
 * a response written in pieces over TLS) cost about 1 ms per review where this costs about 0.15 ms (bench/webhook).
 * Everything else (/healthz, /readyz, /metrics, 404s) stays on the service-kit app.
 *
 * Receiving-side bounds: Content-Length checked before reading, the stream cut at the limit whatever the header
 * says, and the body must arrive within the caller's own `?timeout=` (Go duration; default 10 s, at most 30 s).
 * Every answer is HTTP 200 with an AdmissionReview; a review that cannot be processed gets a Failure status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@cloister/service-kit';
import type { AdmissionConfig } from './config.js';
import { parseGoDuration } from './duration.js';
import type { WebhookMetrics } from './metrics.js';
import { errorReview, handleReview, type AdmissionReviewOut, type Decision, type Endpoint } from './review.js';

/**
 * etcd refuses objects over 1.5 MiB (--max-request-bytes), and a review may carry the object and oldObject plus the
 * request envelope: 2 x 1.5 MiB + margin. Anything larger cannot be a real pod review.
 */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;
/** The API server's default webhook timeout, used when the request names none. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** timeoutSeconds may be at most 30 (admissionregistration validation). */
export const MAX_TIMEOUT_MS = 30_000;

export interface AdmitOptions {
  readonly config: AdmissionConfig;
  readonly logger: Logger;
  readonly metrics: WebhookMetrics;
  readonly bodyLimit: number;
  /** Also counted in the service-kit HTTP metrics. */
  readonly request?: (route: string, method: string, status: number, seconds: number) => void;
}

const HEADERS = { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' } as const;

/** The endpoint for a request line, or undefined when it is not an admission route. */
export function admissionEndpoint(method: string | undefined, url: string | undefined): Endpoint | undefined {
  if (method !== 'POST' || url === undefined) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path === '/mutate' ? 'mutate' : path === '/validate' ? 'validate' : undefined;
}

function timeoutOf(url: string): number {
  const q = url.indexOf('?');
  const timeout = q < 0 ? undefined : (new URLSearchParams(url.slice(q + 1)).get('timeout') ?? undefined);
  return Math.max(1, Math.min(parseGoDuration(timeout) ?? DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS));
}

export function admit(endpoint: Endpoint, req: IncomingMessage, res: ServerResponse, o: AdmitOptions): void {
  const start = process.hrtime.bigint();
  const timeoutMs = timeoutOf(req.url ?? '');
  let done = false;
  const chunks: Buffer[] = [];
  let size = 0;

  const answer = (review: AdmissionReviewOut, decision: Decision, rule: string | undefined, close: boolean): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    const body = JSON.stringify(review);
    res.writeHead(200, { ...HEADERS, 'content-length': Buffer.byteLength(body), ...(close ? { connection: 'close' } : {}) });
    res.end(body);
    // A body left unread (too large, too slow) would otherwise be parsed as the next request on this connection.
    if (close) res.once('finish', () => req.destroy());
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    o.metrics.review(endpoint, decision, seconds, rule);
    o.request?.(`/${endpoint}`, 'POST', 200, seconds);
  };
  /** `close`: the body was not read to its end, so the connection cannot carry another request. */
  const fail = (code: number, message: string, close = true): void => {
    o.logger.warn({ endpoint, status: code }, message);
    answer(errorReview('', code, message), 'error', undefined, close);
  };

  // The body must arrive within the API server's own deadline: after it nobody reads the answer.
  const timer = setTimeout(() => fail(408, `the AdmissionReview did not arrive within ${timeoutMs} ms`), timeoutMs);
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= o.bodyLimit)) {
    fail(Number.isSafeInteger(Number(declared)) ? 413 : 400, Number.isSafeInteger(Number(declared)) ? `the AdmissionReview is larger than ${o.bodyLimit} bytes` : 'invalid Content-Length');
    return;
  }
  req.on('data', (chunk: Buffer) => {
    if (done) return;
    size += chunk.length;
    if (size > o.bodyLimit) {
      fail(413, `the AdmissionReview is larger than ${o.bodyLimit} bytes`);
      return;
    }
    chunks.push(chunk);
  });
  const abandon = (): void => {
    done = true;
    clearTimeout(timer);
  };
  req.on('error', abandon);
  // The caller went away before sending the whole body: nobody to answer.
  req.on('close', () => {
    if (!req.complete && !done) abandon();
  });
  req.on('end', () => {
    if (done) return;
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, size)));
    } catch {
      fail(400, 'the request body is not a JSON AdmissionReview', false);
      return;
    }
    let outcome: ReturnType<typeof handleReview>;
    try {
      outcome = handleReview(body, endpoint, o.config);
    } catch (e) {
      // A bug, not bad input: logged with its stack, answered without it.
      o.logger.error({ err: e, endpoint }, 'admission handler failed');
      answer(errorReview('', 500, 'internal error'), 'error', undefined, false);
      return;
    }
    const fields = { endpoint, uid: outcome.uid, namespace: outcome.namespace, name: outcome.name, decision: outcome.decision, rule: outcome.rule, ops: outcome.patch.length };
    if (outcome.decision === 'patched' || outcome.decision === 'denied') o.logger.info(fields, 'admission decision');
    else if (outcome.decision === 'error') o.logger.warn({ ...fields, message: outcome.review.response.status?.message }, 'unreadable admission review');
    else o.logger.debug(fields, 'admission decision');
    answer(outcome.review, outcome.decision, outcome.rule, false);
  });
}
