/**
 * The broker's HTTP API (Hono on service-kit): the Key Vault data-plane subset Secure Key Release needs, governance,
 * the ledger, recovery, the audit log.
 *
 * Key Vault compatibility (REST API 7.x / 2025-07-01, @azure/keyvault-keys 4.x):
 * - `api-version` is required; query keys are percent-decoded (the SDK sends `api%2Dversion`).
 * - Challenge-based auth: a request without Authorization is answered 401 with
 *   `WWW-Authenticate: Bearer authorization="…", resource="https://vault.azure.net"`, which the SDK's
 *   keyVaultAuthenticationPolicy parses before it asks its credential for a token and retries.
 * - Management (create, import, get) needs the admin token as the bearer. `release` accepts any bearer: it is
 *   authorised by the attestation token in its body, so an enclave needs no credential before it attests.
 * - Errors are Key Vault's `{"error":{"code","message"}}`.
 */
import type { Context, Hono } from 'hono';
import type { Logger } from 'pino';
import { bearerToken, createServiceApp, readJson, tokensEqual, type ServiceMetrics } from '@cloister/service-kit';
import type { KeyBroker } from './broker.js';
import { KeyBrokerError } from './errors.js';
import { exportLine } from './ledger.js';

/** api-version values of Key Vault's data plane (7.0 … 7.6, and the date versions of the 4.x SDKs). */
export const API_VERSION = /^(7\.[0-9](-preview(\.[0-9]+)?)?|20[2-9][0-9]-[01][0-9]-[0-3][0-9](-preview)?)$/;
export const CHALLENGE = 'Bearer authorization="https://login.microsoftonline.com/cloister", resource="https://vault.azure.net"';
const MAX_BODY = 64 * 1024;

export interface BrokerAppOptions {
  readonly broker: KeyBroker;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly adminToken?: string;
  /** The scheme of the vault URL in key ids (https for connections relayed from the enclave's attested TLS). */
  readonly scheme?: 'http' | 'https';
}

function query(c: Context): URLSearchParams {
  // URLSearchParams percent-decodes keys and values (RFC 3986 §2.1): api%2Dversion is api-version.
  return new URL(c.req.url).searchParams;
}

function apiVersion(c: Context): string {
  const v = query(c).get('api-version');
  if (v === null) throw new KeyBrokerError('BadParameter', 'The api-version query parameter is required');
  if (!API_VERSION.test(v)) throw new KeyBrokerError('BadParameter', `The api-version ${v.slice(0, 40)} is not supported`);
  return v;
}

function challengeIfAnonymous(c: Context): void {
  if (c.req.header('authorization') === undefined) {
    c.header('www-authenticate', CHALLENGE);
    throw new KeyBrokerError('Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.');
  }
}

function vaultOf(c: Context, scheme: string | undefined): string {
  const u = new URL(c.req.url);
  return `${scheme ?? u.protocol.replace(':', '')}://${u.host}`;
}

async function body(c: Context): Promise<Record<string, unknown>> {
  const b = await readJson(c, MAX_BODY);
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new KeyBrokerError('BadParameter', 'the body must be a JSON object');
  return b as Record<string, unknown>;
}

export function createBrokerApp(o: BrokerAppOptions): Hono {
  const { broker } = o;
  const app = createServiceApp({
    logger: o.logger,
    metrics: o.metrics,
    ready: () => (broker.state === 'ready' ? { ok: true, reasons: [] } : { ok: false, reasons: ['awaiting recovery of the key-encryption key'] }),
  });

  const admin = (c: Context): void => {
    challengeIfAnonymous(c);
    if (o.adminToken === undefined) throw new KeyBrokerError('Forbidden', 'management is disabled: start the broker with --admin-token-file');
    const t = bearerToken(c.req.header('authorization'));
    if (t === undefined || !tokensEqual(t, o.adminToken)) throw new KeyBrokerError('Forbidden', 'the bearer token is not the admin token');
  };

  // Key Vault data plane ------------------------------------------------------------------------------------------
  app.post('/keys/:name/create', async (c) => {
    apiVersion(c);
    admin(c);
    return c.json(await broker.createKey(vaultOf(c, o.scheme), c.req.param('name'), await body(c)));
  });
  app.put('/keys/:name', async (c) => {
    apiVersion(c);
    admin(c);
    return c.json(await broker.importKey(vaultOf(c, o.scheme), c.req.param('name'), await body(c)));
  });
  const release = async (c: Context, version: string | undefined): Promise<Response> => {
    const v = apiVersion(c);
    challengeIfAnonymous(c);
    return c.json(await broker.release(vaultOf(c, o.scheme), c.req.param('name') ?? '', version, (await body(c)) as never, v));
  };
  app.post('/keys/:name/release', (c) => release(c, undefined));
  app.post('/keys/:name/:version/release', (c) => release(c, c.req.param('version')));
  const latest = async (c: Context): Promise<Response> => {
    apiVersion(c);
    admin(c);
    return c.json(await broker.getKey(vaultOf(c, o.scheme), c.req.param('name') ?? ''));
  };
  // The SDK expands `/keys/{name}/{version}` with an empty version to `/keys/{name}/`.
  app.get('/keys/:name', latest);
  app.get('/keys/:name/', latest);
  app.get('/keys/:name/:version', async (c) => {
    apiVersion(c);
    admin(c);
    return c.json(await broker.getKey(vaultOf(c, o.scheme), c.req.param('name'), c.req.param('version')));
  });

  // The broker itself -------------------------------------------------------------------------------------------
  // The certificate and the quote are made once per signing key (a quote costs the enclave and the quoting enclave).
  let identity: { kid: string; certificatePem: string; quote: Uint8Array } | undefined;
  app.get('/broker/identity', async (c) => {
    const kid = broker.signingJwk.kid;
    if (identity?.kid !== kid) {
      const { certificatePem } = await broker.enclave.ecalls.certificate(undefined);
      identity = { kid, certificatePem, quote: await broker.enclave.ecalls.attestSigningKey(undefined) };
    }
    const cert = { certificatePem: identity.certificatePem };
    const quote = identity.quote;
    return c.json({
      state: broker.state,
      signingKey: broker.signingJwk,
      certificatePem: cert.certificatePem,
      // REPORTDATA[0..32] = SHA-256(ASCII signingKey.kid): pins the ledger/release signing key to the enclave.
      signingKeyQuote: Buffer.from(quote).toString('base64'),
      self: broker.enclave.self,
    });
  });
  app.get('/audit', async (c) => {
    admin(c);
    const limit = Number(query(c).get('limit') ?? '100');
    return c.json({ value: await broker.auditLog(Number.isFinite(limit) ? limit : 100) });
  });

  // Governance --------------------------------------------------------------------------------------------------
  app.get('/governance/members', async (c) => c.json(await broker.members()));
  app.post('/governance/proposals', async (c) => {
    const b = await body(c);
    return c.json(await broker.propose(b['proposal']), 201);
  });
  app.get('/governance/proposals/:id', async (c) => c.json(await broker.proposal(c.req.param('id'))));
  app.post('/governance/proposals/:id/ballots', async (c) => {
    const b = await body(c);
    return c.json(await broker.vote(c.req.param('id'), b['ballot']));
  });
  app.get('/governance/ledger', async (c) => {
    const from = Number(query(c).get('from') ?? '0');
    const lines = await broker.ledger(Number.isInteger(from) && from >= 0 ? from : 0);
    return c.body(lines.map((l) => `${exportLine(l)}\n`).join(''), 200, { 'content-type': 'application/x-ndjson' });
  });
  app.get('/governance/ledger/:seq', async (c) => {
    const seq = Number(c.req.param('seq'));
    if (!Number.isInteger(seq) || seq < 0) throw new KeyBrokerError('BadParameter', 'seq is a non-negative integer');
    return c.json(await broker.receipt(seq));
  });

  // Recovery ----------------------------------------------------------------------------------------------------
  app.get('/recovery/shares/:member', async (c) => c.json(await broker.recoveryShare(c.req.param('member'))));
  // Starting a recovery (a fresh recovery key replaces the previous one) and submitting shares are the operator's;
  // members fetch the current recovery key and its quote.
  app.post('/recovery/key', async (c) => {
    admin(c);
    const k = await broker.recoveryKey();
    return c.json({ jwk: k.jwk, quote: Buffer.from(k.quote).toString('base64') });
  });
  app.get('/recovery/key', (c) => {
    const k = broker.currentRecoveryKey();
    return c.json({ jwk: k.jwk, quote: Buffer.from(k.quote).toString('base64') });
  });
  app.post('/recovery', async (c) => {
    admin(c);
    const b = await body(c);
    if (!Array.isArray(b['shares']) || b['shares'].some((s) => typeof s !== 'string') || b['shares'].length > 255) {
      throw new KeyBrokerError('BadParameter', 'shares must be an array of JWE strings');
    }
    await broker.recover(b['shares'] as string[]);
    return c.json({ state: broker.state });
  });

  return app;
}
