/**
 * HTTP GET for collateral providers: a time limit covering the whole exchange, a response size limit, and every
 * failure mapped to `COLLATERAL_UNAVAILABLE` with Intel's `Error-Code` / `Error-Message` headers quoted
 * (dcap-attestation.md §3.1). Uses the global `fetch` unless one is injected.
 */
import { DcapError } from '../errors.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpGetOptions {
  readonly fetch: FetchLike;
  readonly timeoutMs: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Largest body accepted; default 16 MiB. */
  readonly maxBytes?: number;
}

export interface HttpGetResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const MAX_QUOTED = 200;

/** `text` with `url` and any `scheme://user:pass@` credentials replaced by their redacted form. */
function redact(text: string, url: string): string {
  return text.split(url).join(describeUrl(url)).replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}

/** The URL without credentials, for messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return '<invalid URL>';
  }
}

function quoted(value: string | null): string | undefined {
  if (value === null || value === '') return undefined;
  return JSON.stringify(value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value);
}

/** `HTTP 404 Not Found (Error-Code: "…", Error-Message: "…", Request-ID: "…")`. */
function describeHttpFailure(res: Response): string {
  const details = [
    ['Error-Code', quoted(res.headers.get('Error-Code'))],
    ['Error-Message', quoted(res.headers.get('Error-Message'))],
    ['Request-ID', quoted(res.headers.get('Request-ID'))],
  ]
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}`);
  const head = `HTTP ${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}`;
  return details.length === 0 ? head : `${head} (${details.join(', ')})`;
}

/** GET `url`; resolves only for a 2xx response whose body was read completely within the time limit. */
export async function httpGet(url: string, options: HttpGetOptions): Promise<HttpGetResult> {
  const where = `GET ${describeUrl(url)}`;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    const fetchFn = options.fetch; // called unbound: browser-style fetch implementations reject a foreign `this`
    const res = await fetchFn(url, {
      method: 'GET',
      headers: { ...options.headers },
      signal: controller.signal,
      redirect: 'follow',
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new DcapError('COLLATERAL_UNAVAILABLE', `${where}: ${describeHttpFailure(res)}`);
    }
    const declared = Number(res.headers.get('Content-Length') ?? '0');
    if (declared > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new DcapError('COLLATERAL_UNAVAILABLE', `${where}: response of ${declared} bytes exceeds ${maxBytes}`);
    }
    const body = new Uint8Array(await res.arrayBuffer());
    if (body.length > maxBytes) {
      throw new DcapError('COLLATERAL_UNAVAILABLE', `${where}: response of ${body.length} bytes exceeds ${maxBytes}`);
    }
    return { status: res.status, headers: res.headers, body };
  } catch (e) {
    if (DcapError.is(e)) throw e;
    if (controller.signal.aborted) {
      throw new DcapError('COLLATERAL_UNAVAILABLE', `${where}: no complete response within ${options.timeoutMs} ms`, {
        cause: e,
      });
    }
    const cause = e instanceof Error ? (e as { cause?: unknown }).cause : undefined;
    const reason = e instanceof Error ? e.message : String(e);
    const raw = cause instanceof Error && cause.message !== '' ? `${reason} (${cause.message})` : reason;
    const detail = redact(raw, url);
    // The underlying error is attached only when it carries no credentials.
    throw new DcapError('COLLATERAL_UNAVAILABLE', `${where}: ${detail}`, detail === raw ? { cause: e } : undefined);
  } finally {
    clearTimeout(timer);
  }
}
