/**
 * A per-client token bucket (`perSecond` refill, `burst` capacity), keyed by the peer address by default. The table
 * of clients is bounded (`maxClients`, least recently seen evicted first), so address churn cannot grow memory.
 * Over the limit: 429 `RATE_LIMITED` with `Retry-After`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { ServiceError } from './errors.js';

export interface RateLimitOptions {
  readonly perSecond: number;
  readonly burst: number;
  readonly maxClients?: number;
  /** The client key (default: the TCP peer address). */
  readonly key?: (c: Context) => string;
  /** Clock in ms (tests). */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function peerAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  if (!(options.perSecond > 0) || !(options.burst >= 1)) {
    throw new ServiceError('CONFIG_INVALID', 400, 'rate limit needs perSecond > 0 and burst >= 1');
  }
  const maxClients = options.maxClients ?? 10_000;
  const now = options.now ?? Date.now;
  const key = options.key ?? peerAddress;
  const buckets = new Map<string, Bucket>();
  return async (c, next) => {
    const k = key(c);
    const t = now();
    let b = buckets.get(k);
    if (b === undefined) {
      if (buckets.size >= maxClients) {
        const oldest = buckets.keys().next();
        if (oldest.done !== true) buckets.delete(oldest.value);
      }
      b = { tokens: options.burst, at: t };
    } else {
      buckets.delete(k); // re-insert below: Map order is the LRU order
      b.tokens = Math.min(options.burst, b.tokens + ((t - b.at) / 1000) * options.perSecond);
      b.at = t;
    }
    buckets.set(k, b);
    if (b.tokens < 1) {
      const wait = Math.ceil((1 - b.tokens) / options.perSecond);
      c.header('retry-after', String(Math.max(1, wait)));
      throw new ServiceError('RATE_LIMITED', 429, `too many requests from this client; retry after ${Math.max(1, wait)} s`);
    }
    b.tokens -= 1;
    await next();
  };
}
