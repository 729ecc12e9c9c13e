/** AesmdProbe and socketOwnedByAnotherServer against the fake AESM service. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { linkSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import {
  Response_GetSupportedAttKeyIDNumResponseSchema,
} from '@cloister/aesm/messages';
import { AesmdProbe, socketOwnedByAnotherServer } from '../src/aesm/probe.js';
import { createAgentLogger as createLogger } from '../src/logger.js';
import { FakeAesmServer, response, type FakeHandler } from '@cloister/aesm/testing';

const answerNum =
  (num: number, errorCode = 0): FakeHandler =>
  () =>
    response({ getSupportedAttKeyIDNumRes: create(Response_GetSupportedAttKeyIDNumResponseSchema, { errorCode, attKeyIdNum: num }) });

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return undefined;
  const { values } = await m.get();
  const found = values.find(
    (v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want) &&
      (Object.keys(labels).length > 0 || !('le' in v.labels)),
  );
  return found?.value;
}

async function histogramCount(registry: Registry, name: string): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return undefined;
  const { values } = await m.get();
  return values.find((v) => (v as { metricName?: string }).metricName === `${name}_count`)?.value;
}

function captureLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('AesmdProbe', () => {
  it('up → ready, cloister_aesmd_up 1, one duration sample, no errors', async () => {
    const server = await FakeAesmServer.start(answerNum(1));
    try {
      const registry = new Registry();
      const { logger, lines } = captureLogger();
      const probe = new AesmdProbe({ socketPath: server.socketPath, registry, logger });
      assert.equal(probe.ready(), false);
      assert.equal(probe.status().state, 'unknown');
      assert.equal(await metric(registry, 'cloister_aesmd_up'), 0);

      const status = await probe.probeOnce();
      assert.equal(status.state, 'up');
      assert.equal(probe.ready(), true);
      assert.equal(status.attKeyIdNum, 1);
      assert.equal(status.consecutiveFailures, 0);
      assert.ok(status.lastSuccessAt !== undefined);
      assert.equal(await metric(registry, 'cloister_aesmd_up'), 1);
      assert.equal(await histogramCount(registry, 'cloister_aesmd_probe_duration_seconds'), 1);
      const errors = await registry.getSingleMetric('cloister_aesmd_probe_errors_total')?.get();
      assert.deepEqual(errors?.values, []);
      assert.ok(server.requests[0]?.request.getSupportedAttKeyIDNumReq !== undefined, 'probes with GetSupportedAttKeyIDNum');
      assert.ok(lines().some((l) => l['event'] === 'aesmd_up'));
    } finally {
      await server.stop();
    }
  });

  it('server gone → not ready, error counted, a log line that says what to do', async () => {
    const server = await FakeAesmServer.start(answerNum(1));
    const registry = new Registry();
    const { logger, lines } = captureLogger();
    const probe = new AesmdProbe({ socketPath: server.socketPath, registry, logger });
    try {
      await probe.probeOnce();
      assert.equal(probe.ready(), true);
      await server.stop({ keepDir: true }); // the listener unlinks its socket: /var/run/aesmd is empty again
      const status = await probe.probeOnce();
      assert.equal(status.ready, false);
      assert.equal(status.state, 'missing');
      assert.equal(status.consecutiveFailures, 1);
      assert.equal(status.lastError?.code, 'AESM_UNAVAILABLE');
      assert.equal(await metric(registry, 'cloister_aesmd_up'), 0);
      assert.equal(await metric(registry, 'cloister_aesmd_probe_errors_total', { code: 'AESM_UNAVAILABLE' }), 1);
      assert.equal(await histogramCount(registry, 'cloister_aesmd_probe_duration_seconds'), 2);
      const warn = lines().find((l) => l['event'] === 'aesmd_down');
      assert.equal(warn?.['level'], 'warn');
      assert.match(String(warn?.['msg']), /start aesmd or the quote helper; mount \/var\/run\/aesmd/);

      // The same failure again: counted, logged quietly.
      await probe.probeOnce();
      assert.equal(probe.status().consecutiveFailures, 2);
      assert.equal(await metric(registry, 'cloister_aesmd_probe_errors_total', { code: 'AESM_UNAVAILABLE' }), 2);
      assert.equal(lines().filter((l) => l['event'] === 'aesmd_down' && l['level'] === 'warn').length, 1);
    } finally {
      rmSync(server.dir, { recursive: true, force: true });
    }
  });

  it('an aesm_error_t answer is counted under its name; zero key ids is not ready', async () => {
    const server = await FakeAesmServer.start(answerNum(0, 30));
    try {
      const registry = new Registry();
      const probe = new AesmdProbe({ socketPath: server.socketPath, registry });
      const failed = await probe.probeOnce();
      assert.equal(failed.state, 'error');
      assert.equal(failed.lastError?.code, 'AESM_SERVICE_UNAVAILABLE');
      assert.equal(await metric(registry, 'cloister_aesmd_probe_errors_total', { code: 'AESM_SERVICE_UNAVAILABLE' }), 1);

      server.handler = answerNum(0);
      const none = await probe.probeOnce();
      assert.equal(none.ready, false);
      assert.equal(none.lastError?.code, 'NO_ATT_KEY_IDS');

      server.handler = answerNum(1);
      const up = await probe.probeOnce();
      assert.equal(up.ready, true);
      assert.equal(up.lastError, undefined);
      assert.equal(await metric(registry, 'cloister_aesmd_up'), 1);
    } finally {
      await server.stop();
    }
  });

  it('a hung service → timeout state', async () => {
    const server = await FakeAesmServer.start(() => 'hang');
    try {
      const registry = new Registry();
      const probe = new AesmdProbe({ socketPath: server.socketPath, registry, timeoutMs: 100 });
      const status = await probe.probeOnce();
      assert.equal(status.state, 'timeout');
      assert.equal(await metric(registry, 'cloister_aesmd_probe_errors_total', { code: 'AESM_TIMEOUT' }), 1);
    } finally {
      await server.stop();
    }
  });

  it('start() probes at once and every interval; stop() ends it; concurrent probes are joined', async () => {
    const server = await FakeAesmServer.start(answerNum(1));
    try {
      const probe = new AesmdProbe({ socketPath: server.socketPath, intervalMs: 40 });
      const a = probe.probeOnce();
      const b = probe.probeOnce();
      assert.equal(a, b);
      await a;
      probe.start();
      probe.start();
      await new Promise((r) => setTimeout(r, 150));
      await probe.stop();
      const seen = server.requests.length;
      assert.ok(seen >= 3, `expected at least 3 probes, saw ${seen}`);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(server.requests.length, seen, 'no probes after stop()');
    } finally {
      await server.stop();
    }
  });

  it('uses an injected client', async () => {
    let calls = 0;
    const probe = new AesmdProbe({
      socketPath: '/nonexistent/aesm.socket',
      client: { getSupportedAttKeyIdNum: () => Promise.resolve(++calls) },
    });
    assert.equal((await probe.probeOnce()).attKeyIdNum, 1);
    assert.equal(probe.ready(), true);
  });
});

describe('socketOwnedByAnotherServer', () => {
  it('true for a live listener, false for no socket and for a stale one', async () => {
    const server = await FakeAesmServer.start(answerNum(1));
    const dir = mkdtempSync(join(tmpdir(), 'cloister-aesm-owned-'));
    try {
      assert.equal(await socketOwnedByAnotherServer(server.socketPath), true);
      assert.equal(await socketOwnedByAnotherServer(join(dir, 'aesm.socket')), false);
      const live = join(dir, 'live.sock');
      const stale = join(dir, 'stale.sock');
      const other = createServer();
      await new Promise<void>((resolve) => other.listen(live, resolve));
      linkSync(live, stale);
      await new Promise<void>((resolve) => other.close(() => resolve()));
      assert.equal(await socketOwnedByAnotherServer(stale), false);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
