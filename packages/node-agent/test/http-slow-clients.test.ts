/**
 * The metrics/health listener under slow clients: 200 connections trickling request headers (reconnecting when closed)
 * beside probes and scrapes that must all be answered; oversized headers are refused with 431.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { startProbeServer as startHttp } from '@cloister/service-kit/core';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function slowloris(port: number, count: number, intervalMs: number): { stop(): void; readonly opened: () => number } {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<Socket>();
  const open = (): void => {
    if (stopped) return;
    const s = connect({ host: '127.0.0.1', port });
    opened++;
    sockets.add(s);
    let timer: NodeJS.Timeout | undefined;
    s.on('error', () => {});
    s.on('connect', () => {
      s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
      timer = setInterval(() => s.write('X'), intervalMs);
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

test('200 header-trickling connections: every probe and scrape beside them is answered', async () => {
  const registry = new Registry();
  const http = await startHttp({ port: 0, host: '127.0.0.1', registry, ready: () => ({ ok: true, reasons: [] }) });
  const attack = slowloris(http.port, 200, 100);
  try {
    while (attack.opened() < 200) await new Promise((r) => setTimeout(r, 10));
    const statuses: number[] = [];
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        // Until the attack has been cut and renewed at least once over, and 40 requests are done.
        const done = (): number => statuses.length + failures.length;
        while ((done() < 40 || attack.opened() < 400) && done() < 3000) {
          try {
            statuses.push(await get(http.port, statuses.length % 2 === 0 ? '/healthz' : '/readyz'));
          } catch (e) {
            failures.push((e as NodeJS.ErrnoException).code ?? String(e));
          }
        }
      }),
    );
    assert.deepEqual(failures, []);
    assert.ok(attack.opened() >= 400, 'the listener closed trickling connections (and they came back)');
    assert.ok(statuses.every((s) => s === 200), `statuses ${[...new Set(statuses)].join(',')}`);
  } finally {
    attack.stop();
    await http.close();
  }
});

test('request headers above 8 KiB → 431; the listener keeps answering', async () => {
  const http = await startHttp({ port: 0, host: '127.0.0.1', registry: new Registry(), ready: () => ({ ok: true, reasons: [] }) });
  try {
    assert.equal(await get(http.port, '/healthz', { 'x-big': 'a'.repeat(9000) }), 431);
    assert.equal(await get(http.port, '/healthz'), 200);
  } finally {
    await http.close();
  }
});

test('limits are validated', async () => {
  await assert.rejects(
    startHttp({ port: 0, host: '127.0.0.1', registry: new Registry(), ready: () => ({ ok: true, reasons: [] }), limits: { maxConnections: 4, maxPendingConnections: 4 } }),
    RangeError,
  );
});
