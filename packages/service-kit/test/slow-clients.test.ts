/**
 * Slow-client admission on every service listener (startService) and on the plain probe server (startProbeServer):
 * a flood of connections trickling request heads (reconnecting as soon as they are cut) beside clients sending
 * complete requests, which must all be answered; plus the gate's own accounting (nothing admitted is evicted, the
 * pending lane never exceeds its budget). Real loopback sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket, connect } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import {
  ConnectionGate,
  createLogger,
  createServiceApp,
  createServiceMetrics,
  startProbeServer,
  startService,
  ServiceError,
} from '../src/index.js';
import { httpGet, slowloris } from '@cloister/testkit';



/**
 * Runs 4 legitimate clients until 40 requests are done and the attack was cut and renewed once over (no time limit
 * here: the test's own timeout bounds it).
 */
async function legitimateBeside(port: number, attack: ReturnType<typeof slowloris>, flood: number): Promise<{ statuses: number[]; failures: string[] }> {
  const statuses: number[] = [];
  const failures: string[] = [];
  const done = (): number => statuses.length + failures.length;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (done() < 40 || attack.opened() < 2 * flood) {
        try {
          statuses.push(await httpGet(port, done() % 2 === 0 ? '/healthz' : '/readyz'));
        } catch (e) {
          failures.push((e as NodeJS.ErrnoException).code ?? String(e));
        }
      }
    }),
  );
  return { statuses, failures };
}

function silentLogger() {
  return createLogger({ component: 'slow-test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
}

test('service listener: 200 header-trickling connections do not starve complete requests', { timeout: 60_000 }, async () => {
  const logger = silentLogger();
  const app = createServiceApp({ logger, metrics: createServiceMetrics({ prefix: 'slow_test' }) });
  // A short head deadline keeps the test quick; the admission rules are the defaults' (64 pending, overflow 1 s).
  const svc = await startService({ app, port: 0, logger, limits: { headersTimeoutMs: 1_000 } });
  const attack = slowloris(svc.port, 200, 100);
  try {
    while (attack.opened() < 200) await new Promise((r) => setTimeout(r, 10));
    const { statuses, failures } = await legitimateBeside(svc.port, attack, 200);
    assert.deepEqual(failures, []);
    assert.ok(statuses.length >= 40);
    assert.ok(statuses.every((s) => s === 200), `statuses ${[...new Set(statuses)].join(',')}`);
  } finally {
    attack.stop();
    await svc.close();
  }
});

test('probe server: the same flood does not starve probes and scrapes', { timeout: 60_000 }, async () => {
  const probes = await startProbeServer({ port: 0, host: '127.0.0.1', registry: new Registry(), ready: () => ({ ok: true, reasons: [] }) });
  const attack = slowloris(probes.port, 200, 100);
  try {
    while (attack.opened() < 200) await new Promise((r) => setTimeout(r, 10));
    const { statuses, failures } = await legitimateBeside(probes.port, attack, 200);
    assert.deepEqual(failures, []);
    assert.ok(statuses.every((s) => s === 200), `statuses ${[...new Set(statuses)].join(',')}`);
  } finally {
    attack.stop();
    await probes.close();
  }
});

test('HTTPS: a client that never finishes its TLS handshake is cut by the head deadline', { timeout: 30_000 }, async () => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'svckit-slowtls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=slow', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'ignore' });
    const logger = silentLogger();
    const app = createServiceApp({ logger, metrics: createServiceMetrics({ prefix: 'slow_tls' }) });
    const svc = await startService({
      app,
      port: 0,
      logger,
      tls: { cert: readFileSync(join(dir, 'c')), key: readFileSync(join(dir, 'k')) },
      limits: { headersTimeoutMs: 300 },
    });
    try {
      const slow = connect(svc.port, '127.0.0.1');
      slow.on('error', () => undefined);
      await new Promise<void>((r) => slow.once('connect', () => r()));
      slow.write(Uint8Array.of(0x16, 0x03, 0x01)); // the first bytes of a TLS record header, then nothing
      await new Promise<void>((r) => slow.once('close', () => r())); // ended by the server, not by the test
    } finally {
      await svc.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the gate never closes admitted work to make room and keeps the pending lane within its budget', async () => {
  const gate = new ConnectionGate({ maxPending: 2, maxConnections: 4, overflowTimeoutMs: 10_000, pendingTimeoutMs: 10_000 });
  // Sockets that were never connected: the gate's bookkeeping and destroy() are observable without any network.
  const make = (): Socket => new Socket();
  try {
    const a = make();
    const b = make();
    const c = make();
    const d = make();
    for (const s of [a, b, c, d]) assert.equal(gate.accept(s), true);
    assert.equal(gate.pending, 2);
    assert.equal(gate.overflow, 2);
    gate.complete(a); // a is being answered: the oldest overflow connection moves up
    assert.equal(gate.pending, 2);
    assert.equal(gate.overflow, 1);
    const e = make();
    assert.equal(gate.accept(e), true, 'beyond maxConnections: accepted on probation');
    assert.equal(gate.probation, 1);
    assert.equal(gate.open, 5);
    assert.ok(!a.destroyed && !b.destroyed && !c.destroyed && !d.destroyed, 'nothing admitted was closed');
    assert.ok(gate.peakPending <= 2);
  } finally {
    gate.closeAll();
  }
  assert.throws(() => new ConnectionGate({ maxPending: 4, maxConnections: 4, overflowTimeoutMs: 10 }), RangeError);
});

test('limits are validated: a typed CONFIG_INVALID from startService, a RangeError from the probe server', async () => {
  const logger = silentLogger();
  const app = createServiceApp({ logger, metrics: createServiceMetrics({ prefix: 'bad_limits' }) });
  await assert.rejects(
    startService({ app, port: 0, logger, limits: { maxConnections: 4, maxPendingConnections: 4 } }),
    (e: unknown) => e instanceof ServiceError && e.code === 'CONFIG_INVALID',
  );
  await assert.rejects(
    startProbeServer({ port: 0, host: '127.0.0.1', registry: new Registry(), limits: { headersTimeoutMs: 0 } }),
    RangeError,
  );
});
