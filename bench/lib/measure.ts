/** Time-bounded measurement loops shared by the benchmarks (one operation in flight at a time). */
import { performance } from 'node:perf_hooks';

export interface Measurement {
  readonly iterations: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly meanMs: number;
}

export interface Budget {
  readonly warmupMs: number;
  readonly measureMs: number;
}

/** Run `once` sequentially: a warm-up, then as many times as fit in `measureMs`. */
export async function timeAsync(once: () => Promise<void>, budget: Budget): Promise<Measurement> {
  const warmEnd = performance.now() + budget.warmupMs;
  do await once();
  while (performance.now() < warmEnd);
  let n = 0;
  const start = performance.now();
  const end = start + budget.measureMs;
  let t = start;
  do {
    await once();
    n++;
    t = performance.now();
  } while (t < end);
  const ms = t - start;
  return { iterations: n, ms, perSecond: (n * 1000) / ms, meanMs: ms / n };
}

/** The same for a synchronous body, reading the clock every `batch` calls. */
export function timeSync(once: () => void, budget: Budget, batch = 64): Measurement {
  const warmEnd = performance.now() + budget.warmupMs;
  do for (let i = 0; i < batch; i++) once();
  while (performance.now() < warmEnd);
  let n = 0;
  const start = performance.now();
  const end = start + budget.measureMs;
  let t = start;
  do {
    for (let i = 0; i < batch; i++) once();
    n += batch;
    t = performance.now();
  } while (t < end);
  const ms = t - start;
  return { iterations: n, ms, perSecond: (n * 1000) / ms, meanMs: ms / n };
}
