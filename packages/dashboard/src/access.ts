/**
 * Who may read the dashboard. Two modes:
 * - `loopback` (default): only peers on a loopback address, and only with a loopback `Host` header (so a page on
 *   another site cannot reach it through DNS rebinding);
 * - a viewer token: the JSON API needs `Authorization: Bearer <viewer or admin token>` (compared in constant time);
 *   the HTML shell and its script and style carry no data and are served to anyone.
 * Editing additionally needs the admin token (service-kit `requireAdmin`).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { ServiceError, bearerToken, peerAddress, tokensEqual } from '@cloister/service-kit';

export type AccessMode = { readonly kind: 'loopback' } | { readonly kind: 'token'; readonly viewerToken: string; readonly adminToken?: string };

/** 127.0.0.0/8, ::1 and the IPv4-mapped form of 127.0.0.0/8. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** `localhost`, `*.localhost`, 127.x.y.z or [::1], with an optional port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  if (m === null) return false;
  const name = m[1]!;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name.startsWith('[')) return isLoopbackAddress(name.slice(1, -1));
  return isLoopbackAddress(name);
}

function checkLoopback(c: Context): void {
  if (!isLoopbackAddress(peerAddress(c))) {
    throw new ServiceError('DASHBOARD_LOOPBACK_ONLY', 403, 'the dashboard answers loopback clients only (configure a viewer token to open it to others)');
  }
  if (!isLoopbackHost(c.req.header('host'))) {
    throw new ServiceError('DASHBOARD_LOOPBACK_ONLY', 403, 'the dashboard answers requests for a loopback host name only');
  }
}

/** For the shell and assets: loopback mode checks the peer; token mode lets anyone load the (data-free) page. */
export function pageAccess(mode: AccessMode): MiddlewareHandler {
  return async (c, next) => {
    if (mode.kind === 'loopback') checkLoopback(c);
    await next();
  };
}

/** For the JSON API: loopback mode checks the peer; token mode needs the viewer (or admin) token. */
export function apiAccess(mode: AccessMode): MiddlewareHandler {
  return async (c, next) => {
    if (mode.kind === 'loopback') {
      checkLoopback(c);
    } else {
      const presented = bearerToken(c.req.header('authorization'));
      if (presented === undefined) {
        throw new ServiceError('UNAUTHENTICATED', 401, 'the dashboard API needs Authorization: Bearer <viewer token>');
      }
      const viewerOk = tokensEqual(presented, mode.viewerToken);
      const adminOk = mode.adminToken !== undefined && tokensEqual(presented, mode.adminToken);
      if (!viewerOk && !adminOk) throw new ServiceError('FORBIDDEN', 403, 'the viewer token is not valid');
    }
    await next();
  };
}
