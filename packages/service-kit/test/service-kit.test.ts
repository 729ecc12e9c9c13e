/** The shared service plumbing over real loopback sockets: probes, errors, bounded bodies, rate limit, admin auth, slow clients, TLS reload. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import {
  createLogger,
  createServiceApp,
  createServiceMetrics,
  rateLimit,
  readJson,
  requireAdmin,
  startService,
  ServiceError,
  type ServiceHandle,
} from '../src/index.js';

function quietLogger(lines: string[] = []) {
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return createLogger({ component: 'test-service', level: 'debug', destination });
}

async function withService(
  setup: (app: ReturnType<typeof createServiceApp>) => void,
  run: (svc: ServiceHandle) => Promise<void>,
  extra: { limits?: Parameters<typeof startService>[0]['limits']; lines?: string[] } = {},
): Promise<void> {
  const logger = quietLogger(extra.lines);
  const metrics = createServiceMetrics({ prefix: 'cloister_test' });
  const app = createServiceApp({ logger, metrics, ready: () => ({ ok: false, reasons: ['warming up'] }) });
  setup(app);
  const svc = await startService({ app, port: 0, logger, ...(extra.limits ? { limits: extra.limits } : {}) });
  try {
    await run(svc);
  } finally {
    await svc.close();
  }
}

test('probes, metrics, JSON 404 and typed errors', async () => {
  await withService(
    (app) => {
      app.get('/boom', () => {
        throw new ServiceError('POLICY_MISMATCH', 400, 'wrong enclave', { rule: 'mrenclave' });
      });
      app.get('/crash', () => {
        throw new Error('secret internals');
      });
    },
    async (svc) => {
      assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);
      const ready = await fetch(`${svc.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { ready: false, reasons: ['warming up'] });
      const nf = await fetch(`${svc.url}/nope`);
      assert.equal(nf.status, 404);
      assert.equal(((await nf.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
      const boom = await fetch(`${svc.url}/boom`);
      assert.equal(boom.status, 400);
      assert.deepEqual(await boom.json(), { error: { code: 'POLICY_MISMATCH', message: 'wrong enclave', rule: 'mrenclave' } });
      assert.equal(boom.headers.get('x-content-type-options'), 'nosniff');
      const crash = await fetch(`${svc.url}/crash`);
      assert.equal(crash.status, 500);
      const body = await crash.text();
      assert.ok(!body.includes('secret internals'), 'internal messages never reach the caller');
      const m = await (await fetch(`${svc.url}/metrics`)).text();
      assert.match(m, /cloister_test_http_requests_total\{route="\/boom",method="GET",status="400"\} 1/);
      assert.match(m, /cloister_test_errors_total\{kind="POLICY_MISMATCH"\} 1/);
    },
  );
});

test('bodies are bounded by the declared length and by what actually arrives', async () => {
  await withService(
    (app) => {
      app.post('/echo', async (c) => c.json({ got: await readJson(c, 64) }));
    },
    async (svc) => {
      const ok = await fetch(`${svc.url}/echo`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
      assert.deepEqual(await ok.json(), { got: { a: 1 } });
      const big = await fetch(`${svc.url}/echo`, { method: 'POST', body: 'x'.repeat(65) });
      assert.equal(big.status, 413);
      assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'BODY_TOO_LARGE');
      // Chunked: no Content-Length, the stream is cut at the limit.
      const stream = new ReadableStream<Uint8Array>({
        start(ctl) {
          for (let i = 0; i < 10; i++) ctl.enqueue(new TextEncoder().encode('y'.repeat(20)));
          ctl.close();
        },
      });
      const chunked = await fetch(`${svc.url}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
      assert.equal(chunked.status, 413);
      const bad = await fetch(`${svc.url}/echo`, { method: 'POST', body: '{"a":' });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'INVALID_JSON');
      assert.equal((await fetch(`${svc.url}/healthz`)).status, 200, 'still answering');
    },
  );
});

test('rate limit answers 429 with Retry-After per client', async () => {
  let t = 0;
  await withService(
    (app) => {
      app.use('/attest', rateLimit({ perSecond: 1, burst: 2, now: () => t }));
      app.post('/attest', (c) => c.text('ok'));
    },
    async (svc) => {
      assert.equal((await fetch(`${svc.url}/attest`, { method: 'POST' })).status, 200);
      assert.equal((await fetch(`${svc.url}/attest`, { method: 'POST' })).status, 200);
      const limited = await fetch(`${svc.url}/attest`, { method: 'POST' });
      assert.equal(limited.status, 429);
      assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
      assert.equal(limited.headers.get('retry-after'), '1');
      t += 1000;
      assert.equal((await fetch(`${svc.url}/attest`, { method: 'POST' })).status, 200, 'refilled after a second');
    },
  );
});

test('admin token: missing, wrong, right; no token configured refuses everything; never logged', async () => {
  const lines: string[] = [];
  const token = 'admin-token-0123456789abcdef';
  await withService(
    (app) => {
      app.use('/policies/*', requireAdmin(token));
      app.put('/policies/x', (c) => c.text('set'));
      app.use('/off/*', requireAdmin(undefined));
      app.put('/off/x', (c) => c.text('set'));
    },
    async (svc) => {
      const none = await fetch(`${svc.url}/policies/x`, { method: 'PUT' });
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      const wrong = await fetch(`${svc.url}/policies/x`, { method: 'PUT', headers: { authorization: 'Bearer not-the-token' } });
      assert.equal(wrong.status, 403);
      assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
      const right = await fetch(`${svc.url}/policies/x`, { method: 'PUT', headers: { authorization: `Bearer ${token}` } });
      assert.equal(right.status, 200);
      const off = await fetch(`${svc.url}/off/x`, { method: 'PUT', headers: { authorization: `Bearer ${token}` } });
      assert.equal(off.status, 403);
      assert.equal(((await off.json()) as { error: { code: string } }).error.code, 'ADMIN_DISABLED');
    },
    { lines },
  );
  assert.ok(!lines.join('').includes(token), 'the token never reaches the log');
});

test('a client that never finishes its request head is cut off; others are served meanwhile', async () => {
  await withService(
    () => undefined,
    async (svc) => {
      const slow = connect(svc.port, '127.0.0.1');
      await new Promise<void>((r) => slow.once('connect', () => r()));
      slow.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      const closed = new Promise<void>((r) => slow.once('close', () => r()));
      slow.on('error', () => undefined);
      assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);
      // Ended by the server's head deadline (300 ms), not by the test; a bounded wait so a regression fails, not hangs.
      let timer: NodeJS.Timeout | undefined;
      const cut = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 20_000))),
      ]);
      clearTimeout(timer);
      slow.destroy();
      assert.equal(cut, true, 'the slow connection was cut off by the server');
    },
    { limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 } },
  );
});

test('EADDRINUSE is a typed error', async () => {
  await withService(
    () => undefined,
    async (svc) => {
      const logger = quietLogger();
      const app = createServiceApp({ logger, metrics: createServiceMetrics({ prefix: 'x' }) });
      await assert.rejects(startService({ app, port: svc.port }), (e: unknown) => (e as ServiceError).code === 'ADDRESS_IN_USE');
    },
  );
});

function makeCert(dir: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${cn}.crt`);
  const key = join(dir, `${cn}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

function peerCn(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca, servername: 'localhost', checkServerIdentity: () => undefined, agent: false }, (res) => {
      const cn = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN;
      res.resume();
      res.on('end', () => resolve(String(cn)));
    });
    req.on('error', reject);
    req.end();
  });
}

test('HTTPS from files, reloaded when the certificate files change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'svckit-tls-'));
  try {
    const first = makeCert(dir, 'first');
    const second = makeCert(dir, 'second');
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, readFileSync(first.cert));
    writeFileSync(keyFile, readFileSync(first.key));
    const logger = quietLogger();
    const app = createServiceApp({ logger, metrics: createServiceMetrics({ prefix: 'tls' }) });
    const svc = await startService({ app, port: 0, tls: { certFile, keyFile }, logger });
    try {
      assert.ok(svc.url.startsWith('https://'));
      assert.equal(await peerCn(svc.port, readFileSync(first.cert, 'utf8')), 'first');
      writeFileSync(keyFile, readFileSync(second.key));
      writeFileSync(certFile, readFileSync(second.cert));
      let cn = '';
      for (let i = 0; i < 50 && cn !== 'second'; i++) {
        await new Promise((r) => setTimeout(r, 200));
        cn = await peerCn(svc.port, readFileSync(second.cert, 'utf8')).catch(() => '');
      }
      assert.equal(cn, 'second');
    } finally {
      await svc.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
