/**
 * bench/attestation-service: attestations per second and p50/p99 latency of POST /simulated/attest/SgxEnclave with
 * 1, 16 and 64 concurrent keep-alive HTTPS clients, for one server process (embedded PGlite) and a cluster of two
 * worker processes (replicas on one PostgreSQL server), with and without the audit log. Beside them, the two limits
 * measured in the same run on one core: warm @cloister/dcap verifications/s and RS256 signatures/s (jose).
 * Target (issue 12): ≥ 1,500 attestations/s with p99 < 25 ms at 16 clients; the ratio to the lower limit is printed.
 * The load generator runs in this (primary) process on the same 2-core machine as the servers.
 */
import cluster, { type Worker } from 'node:cluster';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { QuoteVerifier, serializeCollateralBundle, trustAnchorFromCertificate } from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import { Platform, SGX_FLAGS, SimQuotingEnclave, createSimCollateral, createSimPki, enclaveIdentity } from '@cloister/sgx-sim';
import { generateSigningKey } from '@cloister/attestation-service';
import { startTestPostgres } from '@cloister/storage/testing';
import { KeepAliveClient } from './client.js';
import { SignJWT } from 'jose';
import { createPrivateKey } from 'node:crypto';

const TARGET_RPS = 1500;
const TARGET_P99_MS = 25;
const DURATION_MS = Number(process.env['BENCH_DURATION_MS'] ?? 3000);
const WARMUP_MS = 500;
const LIMIT_MS = 2500;
const QUOTES = 4096;

// ---- evidence: a simulated platform, 4096 distinct quotes (more than dcap's signature memo holds) ----------------
const platform = Platform.create({});
const pki = await createSimPki(platform);
const collateral = await createSimCollateral(platform, pki, {});
const qe = new SimQuotingEnclave(platform, pki);
const identity = enclaveIdentity({ mrEnclave: new Uint8Array(32).fill(0xaa), mrSigner: new Uint8Array(32).fill(0xbb), flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT, isvProdId: 1, isvSvn: 1 });
const runtime: Uint8Array[] = [];
const quotes: Uint8Array[] = [];
for (let i = 0; i < QUOTES; i++) {
  const rd = new TextEncoder().encode(`{"nonce":${i}}`);
  const reportData = new Uint8Array(64);
  reportData.set(createHash('sha256').update(rd).digest());
  runtime.push(rd);
  quotes.push(qe.quoteFor(identity, reportData));
}
const bodies = quotes.map((q, i) =>
  Buffer.from(JSON.stringify({ quote: Buffer.from(q).toString('base64url'), runtimeData: { data: Buffer.from(runtime[i]!).toString('base64url'), dataType: 'Binary' } })),
);

// ---- limits on one core ---------------------------------------------------------------------------------------------
async function perSecond(ms: number, once: (i: number) => Promise<unknown>): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) await once(n++);
  return n / (ms / 1000);
}
const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider(), trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] });
await perSecond(300, (i) => verifier.verify(quotes[i % QUOTES]!, collateral));
const dcapPerS = await perSecond(LIMIT_MS, (i) => verifier.verify(quotes[i % QUOTES]!, collateral));
const signing = await generateSigningKey('https://127.0.0.1:1');
const privateKey = createPrivateKey({ key: Buffer.from(signing.privateKey), format: 'der', type: 'pkcs8' });
const claims = { 'x-ms-sgx-mrenclave': 'aa'.repeat(32), 'x-ms-sgx-mrsigner': 'bb'.repeat(32), 'x-ms-sgx-report-data': '00'.repeat(64), x: 'y'.repeat(1500) };
const rs256PerS = await perSecond(LIMIT_MS, () => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: signing.kid, typ: 'JWT' }).sign(privateKey));
const lower = Math.min(dcapPerS, rs256PerS);
console.log(`limits on one core: dcap verify ${dcapPerS.toFixed(0)}/s, RS256 sign ${rs256PerS.toFixed(0)}/s`);

// ---- servers --------------------------------------------------------------------------------------------------------
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// The serving certificate: a throwaway self-signed RSA certificate (the client does not check it: TLS cost is the same).
const tlsCert = `-----BEGIN CERTIFICATE-----\n${Buffer.from(signing.certificate).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END CERTIFICATE-----\n`;
const tlsKey = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

cluster.setupPrimary({ exec: join(dirname(fileURLToPath(import.meta.url)), 'server.js'), silent: false });

async function startServers(n: number, databaseUrl: string | undefined, audit: boolean): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const env = { BENCH_ATTESTATION_CONFIG: JSON.stringify({ port, cert: tlsCert, key: tlsKey, rootPem: pki.rootCertPem, collateralJson: serializeCollateralBundle(collateral), databaseUrl, audit }) };
  const workers: Worker[] = [];
  // One at a time: the first creates the schema and the signing key, the others find them.
  for (let i = 0; i < n; i++) {
    const w = cluster.fork(env);
    workers.push(w);
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('exit', (code) => reject(new Error(`server worker exited ${code}`)));
    });
  }
  return {
    port,
    stop: async () => {
      await Promise.all(workers.map((w) => new Promise<void>((r) => {
        w.once('exit', () => r());
        w.send({ stop: true });
      })));
    },
  };
}

interface Run {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

const ATTEST_PATH = '/simulated/attest/SgxEnclave?api-version=2020-10-01';

async function load(port: number, clients: number): Promise<Run> {
  const requests = bodies.map((b) => KeepAliveClient.post('127.0.0.1', port, ATTEST_PATH, b));
  const conns = Array.from({ length: clients }, () => new KeepAliveClient('127.0.0.1', port));
  let next = 0;
  let errors = 0;
  const loop = async (conn: KeepAliveClient, until: number, lat: number[] | undefined): Promise<void> => {
    while (performance.now() < until) {
      const a = await conn.send(requests[next++ % QUOTES]!);
      if (a.status !== 200) errors++;
      lat?.push(a.ms);
    }
  };
  await Promise.all(conns.map((c) => loop(c, performance.now() + WARMUP_MS, undefined)));
  errors = 0;
  const lat: number[] = [];
  const start = performance.now();
  await Promise.all(conns.map((c) => loop(c, start + DURATION_MS, lat)));
  const seconds = (performance.now() - start) / 1000;
  for (const c of conns) c.close();
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? Number.NaN;
  return { rps: lat.length / seconds, p50: pct(0.5), p99: pct(0.99), errors };
}

const results: Record<string, Run> = {};
async function scenario(name: string, servers: number, databaseUrl: string | undefined, audit: boolean, clientCounts: readonly number[]): Promise<void> {
  const s = await startServers(servers, databaseUrl, audit);
  try {
    for (const c of clientCounts) {
      const r = await load(s.port, c);
      results[`${name}_c${c}`] = r;
      console.log(`${name.padEnd(18)} clients=${String(c).padStart(2)}  ${r.rps.toFixed(0).padStart(5)}/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  errors ${r.errors}`);
    }
  } finally {
    await s.stop();
  }
}

const pg = await startTestPostgres();
try {
  await scenario('single', 1, undefined, true, [1, 16, 64]);
  await scenario('single_noaudit', 1, undefined, false, [16]);
  await scenario('cluster2_pg', 2, pg.url, true, [1, 16, 64]);
  await scenario('cluster2_pg_noaudit', 2, pg.url, false, [16]);
} finally {
  await pg.destroy();
}

const at16 = ['single_c16', 'cluster2_pg_c16'].map((k) => [k, results[k]!] as const);
const best = at16.reduce((a, b) => (b[1].rps > a[1].rps ? b : a));
const met = best[1].rps >= TARGET_RPS && best[1].p99 < TARGET_P99_MS;
const errors = Object.values(results).reduce((n, r) => n + r.errors, 0);
const f = (k: string, field: keyof Run, d = 0): string => (results[k]?.[field] ?? Number.NaN).toFixed(d);
console.log(`machine: ${cpus().length} cores, load average ${(loadavg()[0] ?? 0).toFixed(2)}; the load generator shares them`);
console.log(
  `attestation-service: single_c1_rps=${f('single_c1', 'rps')} single_c16_rps=${f('single_c16', 'rps')} single_c16_p99_ms=${f('single_c16', 'p99', 2)} ` +
    `single_c64_rps=${f('single_c64', 'rps')} single_c64_p99_ms=${f('single_c64', 'p99', 2)} single_noaudit_c16_rps=${f('single_noaudit_c16', 'rps')} ` +
    `cluster2_c1_rps=${f('cluster2_pg_c1', 'rps')} cluster2_c16_rps=${f('cluster2_pg_c16', 'rps')} cluster2_c16_p99_ms=${f('cluster2_pg_c16', 'p99', 2)} ` +
    `cluster2_c64_rps=${f('cluster2_pg_c64', 'rps')} cluster2_c64_p99_ms=${f('cluster2_pg_c64', 'p99', 2)} cluster2_noaudit_c16_rps=${f('cluster2_pg_noaudit_c16', 'rps')} ` +
    `dcap_verify_per_s=${dcapPerS.toFixed(0)} rs256_sign_per_s=${rs256PerS.toFixed(0)} lower_limit_per_s=${lower.toFixed(0)} ` +
    `best_c16=${best[0]} best_c16_rps=${best[1].rps.toFixed(0)} best_c16_p99_ms=${best[1].p99.toFixed(2)} ratio_to_lower_limit=${(best[1].rps / lower).toFixed(2)} ` +
    `target_rps=${TARGET_RPS} target_p99_ms=${TARGET_P99_MS} rps_vs_target=${(best[1].rps / TARGET_RPS).toFixed(2)} target_met=${met} errors=${errors}`,
);
process.exit(0);
