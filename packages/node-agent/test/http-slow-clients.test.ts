/**
 * The metrics/health listener under slow clients: 200 connections trickling request headers (reconnecting when closed)
 * beside probes and scrapes that must all be answered; oversized headers are refused with 431.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { startProbeServer as startHttp } from '@cloister/service-kit/core';
import { httpGet, slowloris } from '@cloister/testkit';



test('200 header-trickling connections: every probe and scrape beside them is answered', async () => {
  const registry = new Registry();
  const http = await startHttp({ port: 0, host: '127.0.0.1', registry, ready: () => ({ ok: true, reasons: [] }) });
  const attack = slowloris(http.port, 200, 100, 'GET /metrics HTTP/1.1\r\nHost: x\r\n');
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
            statuses.push(await httpGet(http.port, statuses.length % 2 === 0 ? '/healthz' : '/readyz'));
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
    assert.equal(await httpGet(http.port, '/healthz', { 'x-big': 'a'.repeat(9000) }), 431);
    assert.equal(await httpGet(http.port, '/healthz'), 200);
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
