/**
 * The `timeout` query parameter the API server appends to webhook calls (`POST /mutate?timeout=10s`): a Go
 * time.Duration string (time.ParseDuration: decimal numbers with units ns, us, µs, ms, s, m, h, e.g. "1m0s", "2.5s").
 */
const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds, or undefined when the text is not a Go duration (callers fall back to their default). */
export function parseGoDuration(text: string | undefined): number | undefined {
  if (text === undefined || text.length === 0 || text.length > 32) return undefined;
  if (text === '0') return 0;
  PART.lastIndex = 0;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (m === null) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? Number.NaN);
    pos = PART.lastIndex;
  }
  return Number.isFinite(total) ? total : undefined;
}
