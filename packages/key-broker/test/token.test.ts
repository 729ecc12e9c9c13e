/**
 * Token verification against loopback authorities: MAA-shaped JWKS (x5c only, or n/e), the authority chosen by
 * iss and never by jku, exp/nbf, alg, size; the JWKS re-fetched on an unknown kid but not more often than allowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { KeyBrokerError, TokenVerifier } from '../src/index.js';

test('x5c-only JWKS (as MAA serves it), iss/exp/nbf/alg checks, jku ignored, kid rotation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-token-'));
  const key1 = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'k1.pem'), key1.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  execFileSync('openssl', ['req', '-x509', '-key', 'k1.pem', '-out', 'c1.pem', '-subj', '/CN=authority', '-days', '2'], { cwd: dir, stdio: 'pipe' });
  const x5c = readFileSync(join(dir, 'c1.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, '');
  let keys: unknown[] = [{ kty: 'RSA', kid: 'one', x5c: [x5c] }];
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches++;
    res.writeHead(req.url === '/certs' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const mint = (o: { kid?: string; key?: typeof key1.privateKey; exp?: number; nbf?: number; iss?: string; alg?: string } = {}): Promise<string> => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ 'x-ms-sgx-svn': 1 })
        .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'one', jku: 'https://attacker.invalid/certs' })
        .setIssuer(o.iss ?? url)
        .setNotBefore(o.nbf ?? now - 10)
        .setExpirationTime(o.exp ?? now + 600)
        .sign(o.key ?? key1.privateKey);
    };
    const v = new TokenVerifier({ authorities: [`${url}/`], refetchIntervalMs: 60_000 });
    const ok = await v.verify(await mint());
    assert.equal(ok.authority, url);
    assert.equal(ok.claims['x-ms-sgx-svn'], 1);
    assert.equal(fetches, 1);
    const refused = async (token: string | unknown, code: string): Promise<void> => {
      await assert.rejects(v.verify(token), (e: unknown) => KeyBrokerError.is(e) && e.code === code);
    };
    await refused(await mint({ exp: Math.floor(Date.now() / 1000) - 3600 }), 'TokenExpired');
    await refused(await mint({ nbf: Math.floor(Date.now() / 1000) + 3600 }), 'TokenNotYetValid');
    await refused(await mint({ iss: 'https://sharedeus.eus.attest.azure.net' }), 'AuthorityNotConfigured');
    await refused(await mint({ key: key2.privateKey }), 'TokenSignatureInvalid');
    await refused(await mint({ alg: 'PS256' }), 'TokenInvalid');
    await refused('not.a.jwt', 'TokenInvalid');
    await refused(42, 'TokenInvalid');
    await refused('a'.repeat(70_000), 'TokenInvalid');
    // An unknown kid re-fetches at most once per interval: the rotated key is not seen yet.
    keys = [...keys, { ...(key2.publicKey.export({ format: 'jwk' }) as object), kid: 'two' }];
    const before = fetches;
    await refused(await mint({ kid: 'two', key: key2.privateKey }), 'TokenSignatureInvalid');
    assert.equal(fetches, before);
    // With a short interval it is.
    const fresh = new TokenVerifier({ authorities: [url], refetchIntervalMs: 0 });
    await fresh.verify(await mint());
    assert.equal((await fresh.verify(await mint({ kid: 'two', key: key2.privateKey }))).authority, url);
    // An authority that does not answer is AuthorityUnavailable (a 503), not a refusal of the token.
    const down = new TokenVerifier({ authorities: ['http://127.0.0.1:1'], fetchTimeoutMs: 2_000 });
    await assert.rejects(down.verify(await mint({ iss: 'http://127.0.0.1:1' })), (e: unknown) => KeyBrokerError.is(e, 'AuthorityUnavailable') && e.status === 503);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
