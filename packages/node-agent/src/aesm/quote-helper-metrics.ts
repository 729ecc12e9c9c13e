/**
 * What the quote helper server reports: requests by type and aesm_error_t result with their latency, and connections
 * it dropped without an answer. A no-op default and a prom-client implementation (metrics in the given registry).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AesmErrorName } from '@cloister/aesm';

/** The sub-request a response answered; `unsupported` = UnsupportedRequestResponse. */
export type QuoteHelperRequestType =
  | 'initQuoteEx'
  | 'getQuoteSizeEx'
  | 'getQuoteEx'
  | 'selectAttKeyID'
  | 'getSupportedAttKeyIDNum'
  | 'getSupportedAttKeyIDs'
  | 'unsupported';

/** Why a connection was closed without a response. */
export type QuoteHelperRejection =
  /** Length prefix above maxRequestBytes. */
  | 'too_large'
  /** No complete request within requestTimeoutMs. */
  | 'timeout'
  /** Nothing sent within the idle timeout. */
  | 'idle'
  /** Bytes after the request frame. */
  | 'trailing_bytes'
  /** Connection ended before a complete frame. */
  | 'truncated'
  /** The frame is not an aesm.message.Request. */
  | 'malformed'
  /** Refused at maxConnections (nothing beyond the pending budget to close instead). */
  | 'max_connections'
  /** Beyond the pending budget and no complete frame within overflowTimeoutMs. */
  | 'overflow_timeout'
  /** Accepted beyond maxConnections and no complete frame within the probation window (50 ms). */
  | 'probation_timeout'
  /** Socket error while reading or writing. */
  | 'socket_error';

export interface QuoteHelperMetrics {
  /** One answered request: its type, the errorCode sent (by name), seconds from accept to response written. */
  request(type: QuoteHelperRequestType, result: AesmErrorName | `UNKNOWN_${number}`, seconds: number): void;
  /** One connection closed without a response. */
  rejected(reason: QuoteHelperRejection): void;
  /** Connections currently open. */
  setOpenConnections(count: number): void;
}

export const NOOP_QUOTE_HELPER_METRICS: QuoteHelperMetrics = Object.freeze({
  request() {},
  rejected() {},
  setOpenConnections() {},
});

/** 100 µs … 5 s: a simulated quote is one ECDSA signature (~0.1–1 ms); a queue behind 200 clients takes longer. */
export const QUOTE_HELPER_LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** {@link QuoteHelperMetrics} over prom-client, registered in `registry`. */
export function createQuoteHelperMetrics(registry: Registry): QuoteHelperMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'cloister_quote_helper_requests_total',
    help: 'AESM requests answered by the quote helper, by request type and aesm_error_t result.',
    labelNames: ['type', 'result'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'cloister_quote_helper_request_duration_seconds',
    help: 'Time from accepting an AESM connection to writing its response, by request type.',
    labelNames: ['type'] as const,
    buckets: [...QUOTE_HELPER_LATENCY_BUCKETS],
    registers,
  });
  const rejected = new Counter({
    name: 'cloister_quote_helper_rejected_connections_total',
    help: 'AESM connections closed without a response, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const open = new Gauge({
    name: 'cloister_quote_helper_open_connections',
    help: 'AESM connections currently open.',
    registers,
  });
  return {
    request(type, result, seconds) {
      requests.inc({ type, result });
      duration.observe({ type }, seconds);
    },
    rejected(reason) {
      rejected.inc({ reason });
    },
    setOpenConnections(count) {
      open.set(count);
    },
  };
}
