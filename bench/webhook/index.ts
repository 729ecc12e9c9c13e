/**
 * bench/webhook — AdmissionReviews per second and latency over HTTPS, the way the API server calls the webhook:
 * `POST /mutate?timeout=10s` with a JSON AdmissionReview v1, TLS verified against the install's generated CA,
 * 16 concurrent clients on keep-alive connections. The webhook runs in its own process. Every answer is checked
 * (uid echoed, a JSONPatch). The pod is Intel's ECDSA sample job opting in to out-of-process quoting (the heaviest
 * mutation: resources, mount, env, volume).
 * Target: p99 < 5 ms (the API server's default timeout is 10 s; the rendered timeoutSeconds is 5).
 * Also printed: the server's own CPU time per review (process.cpuUsage across the measured window), a figure the
 * load of a shared machine does not inflate the way it inflates latency, and the load average.
 * Knobs: WEBHOOK_BENCH_MS (measured window, default 3000), WEBHOOK_BENCH_CLIENTS (default 16),
 * WEBHOOK_BENCH_PROF=DIR (write the server's --cpu-prof there).
 * Last line: `webhook: reviews_per_s=… p50_ms=… p99_ms=… target_p99_ms=5 …`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createCa, issueServing } from '@cloister/webhook';

const CLIENTS = Number(process.env['WEBHOOK_BENCH_CLIENTS'] ?? 16);
const DURATION_MS = Number(process.env['WEBHOOK_BENCH_MS'] ?? 3000);
const WARMUP_MS = 500;
const TARGET_P99_MS = 5;

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'intelsgx-demo-job-', namespace: 'default', annotations: { 'sgx.intel.com/quote-provider': 'aesmd' }, labels: { 'job-name': 'intelsgx-demo-job' } },
  spec: {
    containers: [
      {
        name: 'intelsgx-demo-job',
        image: 'intel/sgx-sdk-demo:devel',
        workingDir: '/opt/intel/sgx-sample-apps/sgx_ecdsa_quote',
        command: ['/opt/intel/sgx-sample-apps/sgx_ecdsa_quote/app'],
        resources: { limits: { 'sgx.intel.com/epc': '512Ki' } },
        terminationMessagePath: '/dev/termination-log',
        imagePullPolicy: 'IfNotPresent',
      },
    ],
    restartPolicy: 'OnFailure',
    serviceAccountName: 'default',
    dnsPolicy: 'ClusterFirst',
    schedulerName: 'default-scheduler',
  },
};

function reviewBody(uid: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:job-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
    },
  });
}

function call(port: number, ca: string, agent: Agent, uid: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/mutate?timeout=10s', method: 'POST', ca, servername: 'localhost', agent, headers: { 'content-type': 'application/json', accept: 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const out = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response?: { uid?: string; patchType?: string } };
          if (res.statusCode !== 200 || out.response?.uid !== uid || out.response.patchType !== 'JSONPatch') reject(new Error(`bad answer ${res.statusCode ?? 0}`));
          else resolve();
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(reviewBody(uid));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'bench-webhook-'));
const now = new Date();
const ca = await createCa(now);
const cert = await issueServing(ca, ['localhost'], now);
writeFileSync(join(dir, 'tls.crt'), cert.certPem);
writeFileSync(join(dir, 'tls.key'), cert.keyPem);
const server = spawn(process.execPath, [...(process.env['WEBHOOK_BENCH_PROF'] ? ['--cpu-prof', '--cpu-prof-dir=' + process.env['WEBHOOK_BENCH_PROF']] : []), join(dirname(fileURLToPath(import.meta.url)), 'server.js'), join(dir, 'tls.crt'), join(dir, 'tls.key')], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  const [first] = (await once(server.stdout!, 'data')) as [Buffer];
  const port = Number(/port=(\d+)/.exec(first.toString())?.[1]);
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  let seq = 0;
  const loop = async (until: number, lat: number[] | undefined): Promise<void> => {
    while (performance.now() < until) {
      const t = performance.now();
      await call(port, ca.certPem, agent, `bench-${seq++}`);
      lat?.push(performance.now() - t);
    }
  };
  const warmEnd = performance.now() + WARMUP_MS;
  await Promise.all(Array.from({ length: CLIENTS }, () => loop(warmEnd, undefined)));
  const cpuLines: number[] = [];
  server.stdout!.on('data', (b: Buffer) => {
    for (const m of b.toString().matchAll(/cpu_us=(\d+)/g)) cpuLines.push(Number(m[1]));
  });
  const cpuNow = async (): Promise<number> => {
    const n = cpuLines.length;
    server.kill('SIGUSR2');
    while (cpuLines.length === n) await new Promise((r) => setTimeout(r, 5));
    return cpuLines[n]!;
  };
  const cpuStart = await cpuNow();
  const lat: number[] = [];
  const start = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, () => loop(start + DURATION_MS, lat)));
  const seconds = (performance.now() - start) / 1000;
  const serverCpuUs = (await cpuNow()) - cpuStart;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? Number.NaN;
  const perSecond = lat.length / seconds;
  const p50 = pct(0.5);
  const p99 = pct(0.99);
  const load = loadavg()[0] ?? 0;
  console.log(`reviews: ${lat.length} in ${seconds.toFixed(2)} s over ${CLIENTS} keep-alive HTTPS connections; machine: ${cpus().length} cores, load average ${load.toFixed(2)}`);
  console.log(`server CPU per review: ${(serverCpuUs / lat.length).toFixed(0)} µs (the client runs on the same machine)`);
  console.log(
    `webhook: reviews_per_s=${perSecond.toFixed(0)} p50_ms=${p50.toFixed(2)} p99_ms=${p99.toFixed(2)} target_p99_ms=${TARGET_P99_MS} ` +
      `p99_vs_target=${(p99 / TARGET_P99_MS).toFixed(2)} clients=${CLIENTS} reviews=${lat.length} server_cpu_us_per_review=${(serverCpuUs / lat.length).toFixed(0)} load1=${load.toFixed(2)}`,
  );
} finally {
  server.kill('SIGTERM');
  await once(server, 'exit').catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
