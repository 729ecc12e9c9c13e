/**
 * Calls to the dashboard's JSON API (same origin). Tokens typed by the operator are kept in memory only (never
 * stored, never shown) and sent as `Authorization: Bearer`.
 */
let viewerToken: string | undefined;
let adminToken: string | undefined;
let apiBase = '/ui/api';

export function setApiBase(base: string): void {
  apiBase = `${base}/api`;
}
export function setViewerToken(t: string | undefined): void {
  viewerToken = t === '' ? undefined : t;
}
export function setAdminToken(t: string | undefined): void {
  adminToken = t === '' ? undefined : t;
}
export function hasAdminToken(): boolean {
  return adminToken !== undefined;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call<T>(method: string, path: string, body?: unknown, admin = false): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = admin ? adminToken : (viewerToken ?? adminToken);
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${apiBase}${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the service did not answer');
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new ApiError(res.status, 'BAD_RESPONSE', `the service answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: unknown; message?: unknown } }).error;
    throw new ApiError(res.status, typeof e?.code === 'string' ? e.code : 'ERROR', typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`);
  }
  return json as T;
}

export function get<T>(path: string): Promise<T> {
  return call<T>('GET', path);
}
export function post<T>(path: string, body: unknown): Promise<T> {
  return call<T>('POST', path, body);
}
export function putAdmin<T>(path: string, body: unknown): Promise<T> {
  return call<T>('PUT', path, body, true);
}
