/**
 * The quote helper under a slow-client attack (issue: 256 connections trickling one byte every 2 s used to make every
 * legitimate call fail): the attack runs on the real unix socket beside legitimate AesmClient callers, with the
 * server's default limits, and the legitimate calls must all succeed. Then each defence on its own: the frame
 * deadline, the pending budget, eviction at maxConnections.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Platform, SimQuotingEnclave, createSimPki, enclaveIdentity, ereportFor } from '@cloister/sgx-sim';
import { AesmClient } from '@cloister/aesm';
import type { QuoteHelperMetrics, QuoteHelperRejection } from '../src/aesm/quote-helper-metrics.js';
import { QuoteHelperServer, type QuoteHelperServerOptions } from '../src/aesm/quote-helper-server.js';

class Rejections implements QuoteHelperMetrics {
  readonly counts = new Map<QuoteHelperRejection, number>();
  answered = 0;
  request(): void {
    this.answered++;
  }
  rejected(reason: QuoteHelperRejection): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }
  setOpenConnections(): void {}
  of(reason: QuoteHelperRejection): number {
    return this.counts.get(reason) ?? 0;
  }
}

/**
 * `count` connections that each announce a 100-byte frame and then send one byte every `intervalMs`; a connection
 * the server closes is opened again at once, so `count` stay open for as long as the attack runs.
 */
function slowClients(path: string, count: number, intervalMs: number): { stop(): void; readonly opened: () => number } {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<Socket>();
  const open = (): void => {
    if (stopped) return;
    const s = connect(path);
    opened++;
    sockets.add(s);
    let timer: NodeJS.Timeout | undefined;
    s.on('error', () => {});
    s.on('connect', () => {
      const bytes = [100, 0, 0, 0];
      timer = setInterval(() => {
        if (!s.destroyed) s.write(Uint8Array.of(bytes.shift() ?? 0x2a));
      }, intervalMs);
    });
    s.on('close', () => {
      clearInterval(timer);
      sockets.delete(s);
      setImmediate(open);
    });
  };
  for (let i = 0; i < count; i++) open();
  return {
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'aesm-slow-'));
let qe: SimQuotingEnclave;
let platform: Platform;
let seq = 0;
const app = enclaveIdentity({ mrEnclave: new Uint8Array(32).fill(1), mrSigner: new Uint8Array(32).fill(2) });

before(async () => {
  platform = Platform.create();
  qe = new SimQuotingEnclave(platform, await createSimPki(platform));
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function serve(options: Partial<QuoteHelperServerOptions> = {}): Promise<{ server: QuoteHelperServer; metrics: Rejections; path: string }> {
  const path = join(dir, `qh-${seq++}.sock`);
  const metrics = new Rejections();
  const server = new QuoteHelperServer({ socketPath: path, quotingEnclave: qe, metrics, ...options });
  await server.start();
  return { server, metrics, path };
}

async function until(what: string, cond: () => boolean, limitMs = 10_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 10) {
    if (waited > limitMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('256 slow connections beside legitimate clients: every legitimate GetQuoteEx succeeds (default limits)', async () => {
  const { server, metrics, path } = await serve();
  const attack = slowClients(path, 256, 200);
  try {
    await until('256 attacking connections', () => server.openConnections >= 256);
    const client = new AesmClient({ socketPath: path, timeoutMs: 15_000 });
    const { targetInfo } = await client.getTargetInfo();
    const report = ereportFor(platform, app, targetInfo, new Uint8Array(64).fill(7));
    const bufSize = await client.getQuoteSize();
    let ok = 0;
    const failures: string[] = [];
    // Four callers keep going until the attack has been cut by both deadlines at least once, and 80 calls are done.
    const attackCut = (): boolean => metrics.of('overflow_timeout') > 0 && metrics.of('timeout') > 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (ok + failures.length < 80 || !attackCut()) {
          try {
            const { quote } = await client.getQuote(report, { bufSize });
            assert.equal(quote.length, server.quoteSize);
            ok++;
          } catch (e) {
            failures.push((e as { code?: string }).code ?? String(e));
          }
        }
      }),
    );
    assert.deepEqual(failures, [], 'no legitimate call failed');
    assert.ok(ok >= 80);
    const waiting = server.waitingConnections;
    assert.ok(waiting.peakPending <= 64, `pending lane peaked at ${waiting.peakPending}, budget 64`);
    assert.ok(attack.opened() > 256, 'the server closed attacking connections and they came back');
    assert.equal(metrics.of('max_connections'), 0);
  } finally {
    attack.stop();
    await server.stop();
  }
});

test('frame deadline: a client that keeps trickling bytes is still closed at requestTimeoutMs', async () => {
  const { server, metrics, path } = await serve({ requestTimeoutMs: 300, idleTimeoutMs: 300 });
  try {
    const s = connect(path);
    s.on('error', () => {});
    await once(s, 'connect');
    s.write(Uint8Array.of(100, 0, 0, 0));
    const trickle = setInterval(() => s.write(Uint8Array.of(1)), 20);
    await new Promise<void>((r) => s.once('close', () => r())); // not events.once: it rejects on the EPIPE a racing write gets
    clearInterval(trickle);
    assert.equal(metrics.of('timeout'), 1);
    assert.equal(metrics.answered, 0);
  } finally {
    await server.stop();
  }
});

test('pending budget: silent connections beyond it get only overflowTimeoutMs; a complete request still gets through', async () => {
  const { server, metrics, path } = await serve({
    requestTimeoutMs: 60_000,
    maxPendingConnections: 4,
    overflowTimeoutMs: 100,
  });
  const silent: Socket[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const s = connect(path);
      s.on('error', () => {});
      silent.push(s);
    }
    await until('6 overflow connections cut', () => metrics.of('overflow_timeout') === 6);
    assert.equal(server.openConnections, 4, 'the 4 pending ones stay (their deadline is 60 s)');
    assert.deepEqual(server.waitingConnections, { pending: 4, overflow: 0, peakPending: 4 });
    const client = new AesmClient({ socketPath: path });
    assert.equal(await client.getSupportedAttKeyIdNum(), 1, 'answered from the overflow lane');
  } finally {
    for (const s of silent) s.destroy();
    await server.stop();
  }
});

test('a pending slot that frees goes to the oldest connection beyond the budget', async () => {
  const { server, path } = await serve({ requestTimeoutMs: 60_000, maxPendingConnections: 1, overflowTimeoutMs: 60_000 });
  const a = connect(path);
  const b = connect(path);
  for (const s of [a, b]) s.on('error', () => {});
  try {
    await until('both accepted', () => server.openConnections === 2);
    assert.deepEqual(server.waitingConnections, { pending: 1, overflow: 1, peakPending: 1 });
    a.destroy();
    await until('the first to close', () => server.openConnections === 1);
    assert.deepEqual(server.waitingConnections, { pending: 1, overflow: 0, peakPending: 1 });
  } finally {
    a.destroy();
    b.destroy();
    await server.stop();
  }
});

test('beyond maxConnections: a new connection is on probation — a complete request is served, nothing admitted is closed', async () => {
  const { server, metrics, path } = await serve({
    requestTimeoutMs: 60_000,
    maxPendingConnections: 2,
    overflowTimeoutMs: 60_000,
    maxConnections: 6,
  });
  const silent: Socket[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      const s = connect(path);
      s.on('error', () => {});
      silent.push(s);
    }
    await until('6 connections accepted', () => server.openConnections === 6);
    const client = new AesmClient({ socketPath: path });
    assert.equal(await client.getSupportedAttKeyIdNum(), 1, 'served from probation');
    // A silent connection beyond the cap is closed after its probation; the six admitted ones stay.
    const extra = connect(path);
    extra.on('error', () => {});
    await new Promise<void>((r) => extra.once('close', () => r())); // not events.once: it rejects on the EPIPE a racing write gets
    assert.equal(metrics.of('probation_timeout'), 1);
    assert.equal(metrics.of('max_connections'), 0);
    assert.equal(server.openConnections, 6);
    assert.ok(silent.every((s) => !s.destroyed), 'the admitted connections were not touched');
  } finally {
    for (const s of silent) s.destroy();
    await server.stop();
  }
});

test('limits are validated', async () => {
  for (const bad of [{ maxConnections: 1 }, { maxPendingConnections: 0 }, { maxConnections: 8, maxPendingConnections: 8 }, { overflowTimeoutMs: 0 }]) {
    assert.throws(
      () => new QuoteHelperServer({ socketPath: join(dir, 'x.sock'), quotingEnclave: qe, ...bad }),
      (e: unknown) => (e as { code?: string }).code === 'CONFIG_INVALID',
      JSON.stringify(bad),
    );
  }
});
