/**
 * `mountDashboard(app, options)`: adds the dashboard to a service's Hono app — the HTML shell, script and style at
 * `<path>/` and read-only JSON under `<path>/api/…`, backed by the data sources the service passes in. Policy editing
 * (`PUT <path>/api/policies/:type`) needs the admin token. Every answer carries the dashboard's strict CSP. No CORS:
 * each service serves its own part of the UI from its own origin, so the browser's same-origin rule is the policy.
 */
import type { Context, Hono } from 'hono';
import { ServiceError, rateLimit, readJson, requireAdmin } from '@cloister/service-kit';
import { apiAccess, pageAccess, type AccessMode } from './access.js';
import { dashboardAssets, dashboardHtml } from './assets.js';
import { DASHBOARD_HEADERS } from './csp.js';
import type { AttestationFilters, AttestationOutcome, AttestationSource, KeyBrokerSource } from './types.js';

export interface DashboardOptions {
  /** The attestation service's data (its views appear when set). */
  readonly attestation?: AttestationSource;
  /** The key broker's data (its views appear when set). */
  readonly keyBroker?: KeyBrokerSource;
  /** The service's admin token: policy editing needs it (absent: editing refused with ADMIN_DISABLED). */
  readonly adminToken?: string;
  /** A viewer token: the read-only API needs it (or the admin token). Absent: loopback clients only. */
  readonly viewerToken?: string;
  /** Mount path (default `/ui`): `/` followed by letters, digits, `-`, `_` and `/`. */
  readonly path?: string;
  /** Shown in the title bar (default `Cloister`). */
  readonly title?: string;
}

/** What the front-end learns first: which views exist and how access works. */
export interface DashboardConfig {
  readonly title: string;
  readonly attestation: boolean;
  readonly keyBroker: boolean;
  readonly editable: boolean;
  readonly access: 'loopback' | 'token';
  readonly policyTypes: readonly string[];
}

export const MAX_LIST = 200;
export const MAX_LEDGER_PAGE = 1000;
/** Policy texts are at most 256 KiB (the service's own bound); the JSON body around one a little more. */
export const MAX_POLICY_BODY = 300 * 1024;
const OUTCOMES: readonly AttestationOutcome[] = ['permitted', 'denied', 'error'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;

function bad(message: string): ServiceError {
  return new ServiceError('INVALID_QUERY', 400, message);
}

function intParam(c: Context, name: string, dflt: number, min: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d{1,9}$/.test(raw)) throw bad(`${name} must be an integer`);
  const n = Number(raw);
  if (n < min || n > max) throw bad(`${name} must be between ${min} and ${max}`);
  return n;
}

function nameParam(c: Context, name: string): string | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return undefined;
  if (!NAME.test(raw)) throw bad(`${name} is not a valid name`);
  return raw;
}

function boolParam(c: Context, name: string): boolean | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'true' && raw !== 'false') throw bad(`${name} must be true or false`);
  return raw === 'true';
}

function typeParam(c: Context, source: AttestationSource): string {
  const type = c.req.param('type') ?? '';
  if (!source.policyTypes().includes(type)) throw new ServiceError('UNKNOWN_ATTESTATION_TYPE', 404, 'no policy for this attestation type');
  return type;
}

async function policyBody(c: Context): Promise<{ text: string; attestationId?: string }> {
  const body = (await readJson(c, MAX_POLICY_BODY)) as Record<string, unknown> | null;
  if (typeof body !== 'object' || body === null || typeof body['text'] !== 'string') throw new ServiceError('INVALID_BODY', 400, 'the body is {"text": "<policy>"}');
  const id = body['attestationId'];
  if (id !== undefined && (typeof id !== 'string' || !ID.test(id))) throw new ServiceError('INVALID_BODY', 400, 'attestationId is not a valid id');
  return id === undefined ? { text: body['text'] } : { text: body['text'], attestationId: id };
}

function noSource(what: string): ServiceError {
  return new ServiceError('NOT_FOUND', 404, `this service has no ${what}`);
}

export function mountDashboard(app: Hono, options: DashboardOptions): void {
  const base = options.path ?? '/ui';
  if (!/^\/[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(base)) throw new ServiceError('CONFIG_INVALID', 400, 'the dashboard path must look like /ui');
  const title = options.title ?? 'Cloister';
  const mode: AccessMode =
    options.viewerToken === undefined
      ? { kind: 'loopback' }
      : options.adminToken === undefined
        ? { kind: 'token', viewerToken: options.viewerToken }
        : { kind: 'token', viewerToken: options.viewerToken, adminToken: options.adminToken };
  const att = options.attestation;
  const kb = options.keyBroker;
  const api = `${base}/api`;
  // Parsing and draft replay run the service's parser and its whole verification: bounded per client.
  const costly = rateLimit({ perSecond: 5, burst: 20 });

  // Headers first, so that refusals (403, 404) carry them too.
  app.use(`${base}/*`, async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(DASHBOARD_HEADERS)) c.res.headers.set(k, v);
  });
  app.use(base, async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(DASHBOARD_HEADERS)) c.res.headers.set(k, v);
  });
  app.use(base, pageAccess(mode));
  app.use(`${base}/*`, async (c, next) => {
    const path = c.req.path;
    const isApi = path === api || path.startsWith(`${api}/`);
    return (isApi ? apiAccess(mode) : pageAccess(mode))(c, next);
  });

  app.get(base, (c) => c.redirect(`${base}/`, 302));
  app.get(`${base}/`, (c) => c.html(dashboardHtml(base, title)));
  app.get(`${base}/dashboard.js`, async (c) => {
    const a = await dashboardAssets();
    return c.body(a.js, 200, { 'content-type': 'text/javascript; charset=utf-8' });
  });
  app.get(`${base}/dashboard.css`, async (c) => {
    const a = await dashboardAssets();
    return c.body(a.css, 200, { 'content-type': 'text/css; charset=utf-8' });
  });

  app.get(`${api}/config`, (c) => {
    const config: DashboardConfig = {
      title,
      attestation: att !== undefined,
      keyBroker: kb !== undefined,
      editable: att?.setPolicy !== undefined && options.adminToken !== undefined,
      access: mode.kind,
      policyTypes: att?.policyTypes() ?? [],
    };
    return c.json(config);
  });

  // ---- attestation service
  app.get(`${api}/attestations`, async (c) => {
    if (att === undefined) throw noSource('attestations');
    const outcome = c.req.query('outcome');
    if (outcome !== undefined && outcome !== '' && !OUTCOMES.includes(outcome as AttestationOutcome)) throw bad('outcome must be permitted, denied or error');
    const before = c.req.query('before');
    if (before !== undefined && before !== '' && !ID.test(before)) throw bad('before is not a valid id');
    const filters: { -readonly [K in keyof AttestationFilters]: AttestationFilters[K] } = {};
    const type = nameParam(c, 'type');
    if (type !== undefined) filters.type = type;
    if (outcome !== undefined && outcome !== '') filters.outcome = outcome as AttestationOutcome;
    const tcb = nameParam(c, 'tcbStatus');
    if (tcb !== undefined) filters.tcbStatus = tcb;
    const sim = boolParam(c, 'simulated');
    if (sim !== undefined) filters.simulated = sim;
    const limit = intParam(c, 'limit', 50, 1, MAX_LIST);
    const rows = await att.list(before === undefined || before === '' ? { limit, filters } : { limit, filters, before });
    return c.json({ attestations: rows });
  });
  app.get(`${api}/attestations/counts`, async (c) => {
    if (att === undefined) throw noSource('attestations');
    const hours = intParam(c, 'hours', 24, 1, 24 * 31);
    const bucketSeconds = intParam(c, 'bucket', hours <= 24 ? 3600 : 86400, 60, 86400);
    if ((hours * 3600) / bucketSeconds > 1000) throw bad('at most 1000 buckets');
    const until = new Date(Math.ceil(Date.now() / (bucketSeconds * 1000)) * bucketSeconds * 1000);
    const since = new Date(until.getTime() - hours * 3600 * 1000);
    const buckets = await att.counts({ since, until, bucketSeconds });
    return c.json({ since: since.toISOString(), until: until.toISOString(), bucketSeconds, buckets });
  });
  app.get(`${api}/attestations/:id`, async (c) => {
    if (att === undefined) throw noSource('attestations');
    const id = c.req.param('id');
    if (!ID.test(id)) throw bad('not a valid attestation id');
    const detail = await att.get(id);
    if (detail === undefined) throw new ServiceError('NOT_FOUND', 404, 'no such attestation');
    return c.json(detail);
  });
  app.get(`${api}/policies`, async (c) => {
    if (att === undefined) throw noSource('policies');
    const out = [];
    for (const type of att.policyTypes()) {
      const p = await att.policy(type);
      if (p !== undefined) out.push(p);
    }
    return c.json({ policies: out });
  });
  app.get(`${api}/policies/:type`, async (c) => {
    if (att === undefined) throw noSource('policies');
    const p = await att.policy(typeParam(c, att));
    if (p === undefined) throw new ServiceError('NOT_FOUND', 404, 'no policy for this attestation type');
    return c.json(p);
  });
  app.post(`${api}/policies/:type/parse`, costly, async (c) => {
    if (att === undefined) throw noSource('policies');
    const type = typeParam(c, att);
    const { text } = await policyBody(c);
    return c.json(await att.parsePolicy(type, text));
  });
  app.post(`${api}/policies/:type/test`, costly, async (c) => {
    if (att === undefined) throw noSource('policies');
    const type = typeParam(c, att);
    const { text, attestationId } = await policyBody(c);
    if (attestationId === undefined) throw new ServiceError('INVALID_BODY', 400, 'the body is {"text", "attestationId"}');
    return c.json(await att.testPolicy(type, text, attestationId));
  });
  app.put(`${api}/policies/:type`, requireAdmin(options.adminToken), async (c) => {
    if (att === undefined) throw noSource('policies');
    if (att.setPolicy === undefined) throw new ServiceError('ADMIN_DISABLED', 403, 'this service does not offer policy editing here');
    const type = typeParam(c, att);
    const { text } = await policyBody(c);
    return c.json(await att.setPolicy(type, text));
  });
  app.get(`${api}/signing-keys`, async (c) => {
    if (att === undefined) throw noSource('signing keys');
    return c.json({ keys: await att.signingKeys(), signers: await att.policySigners() });
  });

  // ---- key broker
  app.get(`${api}/broker/keys`, async (c) => {
    if (kb === undefined) throw noSource('key broker');
    return c.json({ keys: await kb.keys() });
  });
  app.get(`${api}/broker/releases`, async (c) => {
    if (kb === undefined) throw noSource('key broker');
    const key = nameParam(c, 'key');
    const granted = boolParam(c, 'granted');
    const limit = intParam(c, 'limit', 100, 1, MAX_LIST);
    const q: { limit: number; key?: string; granted?: boolean } = { limit };
    if (key !== undefined) q.key = key;
    if (granted !== undefined) q.granted = granted;
    return c.json({ releases: await kb.releases(q) });
  });
  app.get(`${api}/broker/governance`, async (c) => {
    if (kb === undefined) throw noSource('key broker');
    return c.json(await kb.governance());
  });
  app.get(`${api}/broker/ledger`, async (c) => {
    if (kb === undefined) throw noSource('key broker');
    const from = intParam(c, 'from', 0, 0, 1_000_000_000);
    const limit = intParam(c, 'limit', MAX_LEDGER_PAGE, 1, MAX_LEDGER_PAGE);
    return c.json(await kb.ledger(from, limit));
  });
  // Unknown API paths: JSON 404 with the dashboard headers (the service's notFound handler answers).
}
