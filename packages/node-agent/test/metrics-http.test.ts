import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { ServiceError, startProbeServer as startHttp, type Readiness } from '@cloister/service-kit/core';
import { createAgentLogger as createLogger } from '../src/logger.js';
import { createAgentMetrics } from '../src/metrics.js';

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
}

function call(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const EPC = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';

describe('metrics', () => {
  it('exposes every agent metric in the given registry only', async () => {
    const registry = new Registry();
    const m = createAgentMetrics(registry);
    assert.equal(m.registry, registry);
    m.setEpcTotalMiB(93);
    m.setDevices(EPC, 90, 3);
    m.allocate(EPC, 4, 0.0003);
    m.allocate(EPC, 2, 0.002);
    m.registration(EPC, true);
    m.registration(EPC, false);
    m.registration(EPC, false);
    m.error('REGISTRATION_FAILED');
    const text = await registry.metrics();
    assert.match(text, /^cloister_sgx_epc_total_mib 93$/m);
    assert.match(text, /^cloister_device_plugin_devices\{resource="kubernetes\.azure\.com\/sgx_epc_mem_in_MiB",health="Healthy"\} 90$/m);
    assert.match(text, /^cloister_device_plugin_devices\{resource="[^"]+",health="Unhealthy"\} 3$/m);
    assert.match(text, /^cloister_device_plugin_allocated_devices_total\{resource="[^"]+"\} 6$/m);
    assert.match(text, /^cloister_device_plugin_registrations_total\{resource="[^"]+",result="success"\} 1$/m);
    assert.match(text, /^cloister_device_plugin_registrations_total\{resource="[^"]+",result="failure"\} 2$/m);
    assert.match(text, /^cloister_device_plugin_allocate_duration_seconds_bucket\{le="0\.00005",resource="[^"]+"\} 0$/m);
    assert.match(text, /^cloister_device_plugin_allocate_duration_seconds_bucket\{le="0\.0005",resource="[^"]+"\} 1$/m);
    assert.match(text, /^cloister_device_plugin_allocate_duration_seconds_bucket\{le="1",resource="[^"]+"\} 2$/m);
    assert.match(text, /^cloister_device_plugin_allocate_duration_seconds_count\{resource="[^"]+"\} 2$/m);
    assert.match(text, /^cloister_node_agent_errors_total\{kind="REGISTRATION_FAILED"\} 1$/m);
    assert.doesNotMatch(text, /process_cpu/);
    // A second agent in the same process gets its own registry without name clashes.
    createAgentMetrics();
  });

  it('adds process metrics on request', async () => {
    const registry = new Registry();
    createAgentMetrics(registry, { processMetrics: true });
    assert.match(await registry.metrics(), /process_cpu_user_seconds_total/);
  });
});

describe('http endpoints', () => {
  it('serves /metrics, /healthz, /readyz and 404 for the rest', async () => {
    const registry = new Registry();
    const m = createAgentMetrics(registry);
    m.setEpcTotalMiB(64);
    m.allocate(EPC, 1, 0.0001);
    let readiness: Readiness = { ok: false, reasons: [`${EPC}: not registered with kubelet yet`] };
    const http = await startHttp({ port: 0, host: '127.0.0.1', registry, ready: () => readiness });
    try {
      assert.ok(http.port > 0);
      const metrics = await call(http.port, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.type ?? '', /^text\/plain; version=0\.0\.4/);
      for (const name of [
        'cloister_sgx_epc_total_mib',
        'cloister_device_plugin_devices',
        'cloister_device_plugin_allocated_devices_total',
        'cloister_device_plugin_registrations_total',
        'cloister_device_plugin_allocate_duration_seconds',
        'cloister_node_agent_errors_total',
      ]) {
        assert.match(metrics.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
      }
      assert.match(metrics.body, /^cloister_sgx_epc_total_mib 64$/m);

      const healthz = await call(http.port, '/healthz');
      assert.equal(healthz.status, 200);
      assert.equal(healthz.body, 'ok\n');

      const notReady = await call(http.port, '/readyz');
      assert.equal(notReady.status, 503);
      assert.match(notReady.type ?? '', /^application\/json/);
      assert.deepEqual(JSON.parse(notReady.body), { ready: false, reasons: [`${EPC}: not registered with kubelet yet`] });

      readiness = { ok: true, reasons: [] };
      const ready = await call(http.port, '/readyz?verbose=1');
      assert.equal(ready.status, 200);
      assert.deepEqual(JSON.parse(ready.body), { ready: true, reasons: [] });

      assert.equal((await call(http.port, '/')).status, 404);
      assert.equal((await call(http.port, '/metrics/extra')).status, 404);
      assert.equal((await call(http.port, '/healthz', 'POST')).status, 405);
      const head = await call(http.port, '/healthz', 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
    } finally {
      await http.close();
      await http.close();
    }
  });

  it('answers 503 when the readiness check throws', async () => {
    const http = await startHttp({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      ready: async () => {
        throw new Error('boom');
      },
    });
    try {
      const r = await call(http.port, '/readyz');
      assert.equal(r.status, 503);
      assert.match(r.body, /readiness check failed: boom/);
    } finally {
      await http.close();
    }
  });

  it('fails to start on a taken port and rejects bad ports', async () => {
    const first = await startHttp({ port: 0, host: '127.0.0.1', registry: new Registry(), ready: () => ({ ok: true, reasons: [] }) });
    try {
      await assert.rejects(
        startHttp({ port: first.port, host: '127.0.0.1', registry: new Registry(), ready: () => ({ ok: true, reasons: [] }) }),
        (e: unknown) => (e as NodeJS.ErrnoException).code === 'EADDRINUSE',
      );
      await assert.rejects(startHttp({ port: 70000, registry: new Registry(), ready: () => ({ ok: true, reasons: [] }) }), RangeError);
    } finally {
      await first.close();
    }
  });
});

describe('logger', () => {
  it('writes JSON lines with the component field', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const log = createLogger({ level: 'debug', destination: sink });
    log.debug({ resource: EPC }, 'registered');
    log.trace('hidden');
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(rec['component'], 'cloister-node-agent');
    assert.equal(rec['level'], 'debug');
    assert.equal(rec['msg'], 'registered');
    assert.equal(rec['resource'], EPC);
    assert.match(String(rec['time']), /^\d{4}-\d\d-\d\dT/);
  });

  it('rejects unknown levels', () => {
    assert.throws(() => createLogger({ level: 'verbose' }), (e: unknown) => e instanceof ServiceError && e.code === 'CONFIG_INVALID');
    assert.equal(createLogger().level, 'info');
  });
});
