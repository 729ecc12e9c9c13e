/**
 * Key broker: releases per second and p99 latency with 16 concurrent clients over HTTP (token verification, policy,
 * storage read, in-enclave unwrap + rewrap + JWS signature, audit write), and in the same run the in-enclave rewrap
 * alone (unwrap under the KEK, RSA-OAEP + AES-KWP to the target; one ecall) at the same concurrency; the ratio says
 * how much of a release the rewrap is.
 *
 *   npm run bench -- key-broker        (about a minute: enclave build, two 15 s phases)
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SignJWT, exportJWK } from 'jose';
import { createLogger } from '@cloister/service-kit';
import { Platform, createSimPki, generateSigningKey, savePki } from '@cloister/sgx-sim';
import { openReleasedKey, prepareBrokerEnclave, startKeyBroker } from '@cloister/key-broker';

const CONCURRENCY = 16;
const PHASE_MS = Number(process.env['KB_BENCH_MS'] ?? 15_000);
const WARMUP_MS = 2_000;

interface Phase {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly n: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** `CONCURRENCY` loops of `once` for `ms` after a warm-up; per-operation latencies. */
async function phase(once: () => Promise<void>, ms: number): Promise<Phase> {
  const warmEnd = performance.now() + WARMUP_MS;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < warmEnd) await once();
  }));
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + ms;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await once();
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return { perSecond: (latencies.length * 1000) / elapsed, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), n: latencies.length };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cloister-bench-kb-'));
  const authorityKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(authorityKey.publicKey)), kid: 'bench' };
  const jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const authority = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
  let handle: Awaited<ReturnType<typeof startKeyBroker>> | undefined;
  try {
    const platformDir = join(root, 'platform');
    const platform = Platform.create();
    platform.save(platformDir);
    savePki(await createSimPki(platform), platformDir);
    writeFileSync(join(root, 'signer.pem'), generateSigningKey(), { mode: 0o600 });
    const prepared = await prepareBrokerEnclave({ dir: join(root, 'enclave'), keyPath: join(root, 'signer.pem') });
    handle = await startKeyBroker({
      port: 0,
      storage: { memory: true },
      authorities: [authority],
      adminToken: 'bench-admin-token-0123456789',
      enclaveDir: prepared.dir,
      platform: platformDir,
      logger: createLogger({ component: 'bench', level: 'silent' }),
    });
    const policy = { version: '1.0.0', anyOf: [{ authority, allOf: [{ claim: 'x-ms-sgx-is-debuggable', equals: false }] }] };
    const aes = randomBytes(32);
    await handle.broker.importKey(handle.url, 'bench', {
      key: { kty: 'oct-HSM', k: aes.toString('base64url') },
      attributes: { exportable: true },
      release_policy: { data: Buffer.from(JSON.stringify(policy)).toString('base64url') },
    });
    const target = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const targetJwk = { ...(await exportJWK(target.publicKey)), kid: 'enclave', key_ops: ['encrypt'] };
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ 'x-ms-sgx-is-debuggable': false, 'x-ms-sgx-mrsigner': 'bb'.repeat(32), 'x-ms-runtime': { keys: [targetJwk] } })
      .setProtectedHeader({ alg: 'RS256', kid: 'bench', typ: 'JWT' })
      .setIssuer(authority)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 3600)
      .sign(authorityKey.privateKey);
    const url = `${handle.url}/keys/bench/release?api%2Dversion=7.4`;
    const body = JSON.stringify({ target: token, enc: 'RSA_AES_KEY_WRAP_256' });
    const headers = { 'content-type': 'application/json', authorization: 'Bearer any' };
    // One release checked end to end before measuring.
    const first = (await (await fetch(url, { method: 'POST', headers, body })).json()) as { value: string };
    if (!Buffer.from((await openReleasedKey(first.value, target.privateKey)).material).equals(aes)) throw new Error('the released key differs');

    const releases = await phase(async () => {
      const r = await fetch(url, { method: 'POST', headers, body });
      if (r.status !== 200) throw new Error(`release answered ${r.status}`);
      await r.arrayBuffer();
    }, PHASE_MS);

    const row = (await handle.storage.query<{ wrapped: Uint8Array; version: string }>('SELECT wrapped, version FROM kb_keys WHERE name = $1', ['bench'])).rows[0]!;
    const aad = `cloister-kb/v1/bench/${row.version}`;
    const rewrapArgs = { wrapped: row.wrapped, aad, target: targetJwk as JsonWebKey, enc: 'RSA_AES_KEY_WRAP_256' as const };
    const rewrap = await phase(async () => {
      await handle!.enclave.ecalls.rewrap(rewrapArgs);
    }, PHASE_MS);

    const f = (x: number, d = 1): string => x.toFixed(d);
    console.log(`releases (HTTP, ${CONCURRENCY} clients)   ${f(releases.perSecond)}/s  p50 ${f(releases.p50, 2)} ms  p99 ${f(releases.p99, 2)} ms  (${releases.n})`);
    console.log(`rewrap in the enclave (${CONCURRENCY} in flight) ${f(rewrap.perSecond)}/s  p50 ${f(rewrap.p50, 2)} ms  p99 ${f(rewrap.p99, 2)} ms  (${rewrap.n})`);
    console.log(
      `key-broker: releases_per_s=${f(releases.perSecond)} release_p99_ms=${f(releases.p99, 2)} release_p50_ms=${f(releases.p50, 2)} ` +
        `rewrap_per_s=${f(rewrap.perSecond)} rewrap_p50_ms=${f(rewrap.p50, 2)} rewrap_p99_ms=${f(rewrap.p99, 2)} concurrency=${CONCURRENCY} ` +
        `release_vs_rewrap=${f(releases.perSecond / rewrap.perSecond, 3)}`,
    );
  } finally {
    await handle?.close();
    jwks.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
