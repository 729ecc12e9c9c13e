/**
 * The MAA data-plane routes of one instance (reference §1.1): attestation and discovery are open (as in MAA), policy
 * and certificate management need the admin bearer token. Every path but `/certs` and the OpenID metadata needs
 * `api-version`.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { peerAddress, rateLimit, readJson, readText, requireAdmin, type RateLimitOptions } from '@cloister/service-kit';
import { ATTESTATION_TYPES, type AttestationType } from './claims.js';
import { badRequest } from './errors.js';
import type { AttestationInstance } from './instance.js';
import { checkApiVersion, parseAttestRequest, type RequestLimits } from './request.js';

export interface RouteOptions {
  readonly adminToken: string | undefined;
  /** Largest attest request body (bytes). */
  readonly maxAttestBodyBytes: number;
  /** Largest management request body (bytes). */
  readonly maxAdminBodyBytes: number;
  readonly requestLimits: RequestLimits;
  /** Per-client rate limit of the attest endpoints; false: none. */
  readonly rateLimit: RateLimitOptions | false;
}

function attestationType(raw: string | undefined): AttestationType {
  if (raw !== undefined && (ATTESTATION_TYPES as readonly string[]).includes(raw)) return raw as AttestationType;
  throw badRequest('UNSUPPORTED_ATTESTATION_TYPE', `attestation type ${JSON.stringify((raw ?? '').slice(0, 40))} is not supported; use SgxEnclave or OpenEnclave`);
}

/** MAA answers `application/json; charset=utf-8` (reference §1.1). */
function json(c: Context, body: unknown): Response {
  return c.body(JSON.stringify(body), 200, { 'content-type': 'application/json; charset=utf-8' });
}

const apiVersion: MiddlewareHandler = async (c, next) => {
  checkApiVersion(c.req.query('api-version'));
  await next();
};

export function instanceRoutes(getInstance: () => AttestationInstance, o: RouteOptions): Hono {
  const app = new Hono();
  const admin = requireAdmin(o.adminToken);
  const limited: MiddlewareHandler = o.rateLimit === false ? async (_c, next) => next() : rateLimit(o.rateLimit);

  app.post('/attest/:type', limited, async (c) => {
    const version = checkApiVersion(c.req.query('api-version'));
    const type = attestationType(c.req.param('type'));
    const body = await readJson(c, o.maxAttestBodyBytes);
    const req = parseAttestRequest(type, body, version, o.requestLimits);
    const token = await getInstance().attest(type, req, peerAddress(c));
    return json(c, { token });
  });

  const certs = (c: Context): Response => json(c, getInstance().jwks());
  app.get('/certs', certs);
  app.get('/certs/', certs);
  app.get('/.well-known/openid-configuration', (c) => json(c, getInstance().openIdMetadata()));

  app.get('/policies/:name', admin, apiVersion, async (c) => {
    const token = await getInstance().getPolicy(attestationType(c.req.param('name')));
    return json(c, { token });
  });
  app.put('/policies/:name', admin, apiVersion, async (c) => {
    const type = attestationType(c.req.param('name'));
    const text = await readText(c, o.maxAdminBodyBytes);
    return json(c, { token: await getInstance().setPolicy(type, text, 'admin') });
  });
  app.post('/policies/:name{[A-Za-z]+:reset}', admin, apiVersion, async (c) => {
    const type = attestationType(c.req.param('name').slice(0, -':reset'.length));
    const text = await readText(c, o.maxAdminBodyBytes);
    return json(c, { token: await getInstance().resetPolicy(type, text, 'admin') });
  });

  app.get('/certificates', admin, apiVersion, async (c) => json(c, { token: await getInstance().getCertificates() }));
  app.post('/:op{certificates:(?:add|remove)}', admin, apiVersion, async (c) => {
    const op = c.req.param('op');
    // The body is the JWS as a JSON string literal (reference §1.6).
    const body = await readJson(c, o.maxAdminBodyBytes);
    if (typeof body !== 'string') throw badRequest('INVALID_REQUEST', 'the body must be a JSON string holding a JWS');
    return json(c, { token: await getInstance().modifyCertificates(op === 'certificates:add' ? 'add' : 'remove', body, 'admin') });
  });
  // Cloister's extension (MAA has no such call): rotate this instance's signing key; the old one stays in /certs for
  // the overlap. Answers the new kid.
  app.post('/:op{signing-keys:rotate}', admin, apiVersion, async (c) => json(c, { kid: await getInstance().rotateSigningKey() }));
  return app;
}
