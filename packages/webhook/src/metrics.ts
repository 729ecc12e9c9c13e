/** The webhook's own metrics, registered on the service-kit registry (prefix cloister_webhook). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Decision, Endpoint } from './review.js';

export interface WebhookMetrics {
  review(endpoint: Endpoint, decision: Decision, seconds: number, rule?: string): void;
  nodeEpc(bytes: bigint | undefined): void;
}

/** 50 µs … 1 s: an admission decision is sub-millisecond; the API server gives up at timeoutSeconds. */
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  const registers = [registry];
  const reviews = new Counter({
    name: 'cloister_webhook_reviews_total',
    help: 'AdmissionReviews answered, by endpoint (mutate, validate) and decision (patched, allowed, denied, skipped, error).',
    labelNames: ['endpoint', 'decision'] as const,
    registers,
  });
  const denials = new Counter({
    name: 'cloister_webhook_denials_total',
    help: 'Pods refused, by endpoint and the first rule that refused them.',
    labelNames: ['endpoint', 'rule'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'cloister_webhook_review_duration_seconds',
    help: 'Time from the request arriving to the review being answered, by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: BUCKETS,
    registers,
  });
  const nodeEpc = new Gauge({
    name: 'cloister_webhook_max_node_epc_bytes',
    help: 'Largest EPC any node advertises, as last read from the API (0: unknown).',
    registers,
  });
  return {
    review(endpoint, decision, seconds, rule) {
      reviews.inc({ endpoint, decision });
      if (rule !== undefined) denials.inc({ endpoint, rule });
      duration.observe({ endpoint }, seconds);
    },
    nodeEpc(bytes) {
      nodeEpc.set(bytes === undefined ? 0 : Number(bytes));
    },
  };
}
