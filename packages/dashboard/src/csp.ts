/**
 * The headers every dashboard answer carries. The Content-Security-Policy (CSP Level 3, W3C) allows only the
 * dashboard's own script and style files: no inline script or style, no eval, no framing, no plugins, no foreign
 * connections. Everything the pages show comes from untrusted attesters, and the front-end builds the DOM with
 * `textContent` only; the CSP is the second wall.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': DASHBOARD_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};
