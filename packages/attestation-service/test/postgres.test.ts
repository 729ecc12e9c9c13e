/**
 * Two replicas on one real PostgreSQL server (Debian's postgresql, started by @cloister/storage/testing): shared
 * signing keys and policies, key rotation seen by both, and a database outage — 503 while it is away, recovery when it
 * returns, and no audit record lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPostgres } from '@cloister/storage/testing';
import { startAttestationService, unsignedPolicyJws, type AttestationServiceHandle } from '../src/index.js';
import { simFixture } from './fixtures.js';

const ADMIN = 'admin-token-0123456789abcdef';
const V = 'api-version=2020-10-01';

async function attest(svc: AttestationServiceHandle, quote: Uint8Array): Promise<{ status: number; json: any }> {
  const r = await fetch(`${svc.url}/simulated/attest/SgxEnclave?${V}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ quote: Buffer.from(quote).toString('base64url') }),
  });
  return { status: r.status, json: await r.json() };
}

async function until(what: string, f: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const kidOf = (token: string): string => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;

test('two replicas on one PostgreSQL: same keys and policies, rotation, outage with 503 and recovery, no audit record lost', async () => {
  const pg = await startTestPostgres();
  const sim = await simFixture();
  const replicas: AttestationServiceHandle[] = [];
  try {
    const options = {
      storage: { databaseUrl: pg.url },
      issuer: 'https://attest.cloister.test',
      keyEncryptionKey: 'shared-key-encryption-secret-0123',
      adminToken: ADMIN,
      allowSimulated: true,
      trustRoots: [sim.rootPem],
      collateral: [sim.collateralJson],
      policyCacheMs: 0,
      keyRefreshMs: 100,
      audit: { retryMs: 100 },
      logLevel: 'silent',
    } as const;
    replicas.push(...(await Promise.all([startAttestationService(options), startAttestationService(options)])));
    const [a, b] = replicas as [AttestationServiceHandle, AttestationServiceHandle];

    const jwks = async (s: AttestationServiceHandle) => ((await (await fetch(`${s.url}/simulated/certs`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    assert.deepEqual(await jwks(a), await jwks(b), 'both replicas serve the one signing key');
    const t1 = await attest(b, sim.quote());
    assert.equal(t1.status, 200);
    assert.equal(kidOf(t1.json.token), (await jwks(a))[0]);

    // A policy set on replica A is used by replica B.
    const deny = unsignedPolicyJws('version=1.0; authorizationrules { [type=="x-ms-sgx-svn", value>=99] => permit(); };');
    const put = await fetch(`${a.url}/simulated/policies/SgxEnclave?${V}`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' }, body: deny });
    assert.equal(put.status, 200);
    const denied = await attest(b, sim.quote());
    assert.equal(denied.status, 400);
    assert.equal(denied.json.error.code, 'POLICY_DENIED');
    const reset = await fetch(`${b.url}/simulated/policies/SgxEnclave:reset?${V}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' }, body: 'eyJhbGciOiJub25lIn0..' });
    assert.equal(reset.status, 200);
    assert.equal((await attest(a, sim.quote())).status, 200);

    // Rotation on A: B publishes both keys and signs with the new one.
    const oldKid = (await jwks(b))[0]!;
    const newKid = await a.rotateSigningKey('simulated');
    await until('replica B to see the new key', async () => (await jwks(b)).includes(newKid) && kidOf((await attest(b, sim.quote())).json.token) === newKid);
    assert.ok((await jwks(b)).includes(oldKid), 'the old key stays published for the overlap');

    // Outage.
    await b.audit.flush();
    const count = async (): Promise<number> => Number((await a.storage.query<{ n: string }>("SELECT count(*)::text AS n FROM attestation_audit WHERE kind = 'attestation'")).rows[0]!.n);
    const before = await count();
    await pg.stop();
    const during: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await attest(b, sim.quote());
      during.push(r.status);
      assert.equal(r.json.error.code, 'STORAGE_UNAVAILABLE');
    }
    assert.deepEqual(during, [503, 503, 503]);
    assert.equal((await fetch(`${b.url}/readyz`)).status, 503);
    assert.equal((await fetch(`${b.url}/healthz`)).status, 200, 'alive while the database is away');
    assert.ok(b.audit.backlog >= 3, 'the refused attempts wait in the audit queue');
    await pg.start();
    await until('replica B to be ready again', async () => (await fetch(`${b.url}/readyz`)).status === 200);
    await until('attestation to work again', async () => (await attest(b, sim.quote())).status === 200);
    await until('the audit backlog to drain', async () => b.audit.backlog === 0);
    const after = await count();
    assert.ok(after >= before + 3 + 1, `audit records: ${before} before, ${after} after`);
    const outage = await a.storage.query<{ code: string }>("SELECT code FROM attestation_audit WHERE kind = 'attestation' AND code = 'STORAGE_UNAVAILABLE'");
    assert.ok(outage.rows.length >= 3, 'the outage attempts are recorded');
  } finally {
    await Promise.all(replicas.map((r) => r.close().catch(() => undefined)));
    await pg.destroy();
  }
});
