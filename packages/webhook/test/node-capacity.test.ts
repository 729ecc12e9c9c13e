import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@cloister/service-kit';
import { NodeCapacity, createCa, issueServing, nodeEpcBytes } from '../src/index.js';

const node = (name: string, allocatable: Record<string, unknown>): unknown => ({ metadata: { name }, status: { allocatable } });

describe('node EPC capacity from the API server', () => {
  let server: Server;
  let url: string;
  let caPem: string;
  let mode: 'ok' | 'forbidden' | 'huge' = 'ok';
  const seen: Array<{ path: string; auth: string | undefined }> = [];

  before(async () => {
    const now = new Date();
    const ca = await createCa(now);
    caPem = ca.certPem;
    const cert = await issueServing(ca, ['localhost'], now);
    server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization });
      if (mode === 'forbidden') {
        res.writeHead(403).end('{"kind":"Status"}');
        return;
      }
      if (mode === 'huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"items":[],"pad":"${'x'.repeat(64 * 1024)}"}`);
        return;
      }
      const page2 = (req.url ?? '').includes('continue=tok%2F1');
      const body = page2
        ? { kind: 'NodeList', metadata: {}, items: [node('sgx-b', { 'sgx.intel.com/epc': '256Mi' }), node('cpu', { cpu: '8' })] }
        : { kind: 'NodeList', metadata: { continue: 'tok/1' }, items: [node('sgx-a', { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': '93' })] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://localhost:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  it('reads every page with the bearer token and keeps the largest node', async () => {
    const updates: Array<bigint | undefined> = [];
    const c = new NodeCapacity({ apiServer: url, token: () => 'sa-token', caPem, logger: createLogger({ component: 't', level: 'silent' }) });
    c.onUpdate = (b) => updates.push(b);
    assert.equal(c.max(), undefined);
    await c.refresh();
    assert.equal(c.max(), 256n << 20n);
    assert.deepEqual(updates, [256n << 20n]);
    assert.deepEqual(seen.slice(-2).map((s) => s.path), ['/api/v1/nodes?limit=500', '/api/v1/nodes?limit=500&continue=tok%2F1']);
    assert.ok(seen.every((s) => s.auth === 'Bearer sa-token'));
  });

  it('a refused or oversized answer keeps the last good value', async () => {
    const c = new NodeCapacity({ apiServer: url, token: () => 't', caPem, logger: createLogger({ component: 't', level: 'silent' }), maxResponseBytes: 16 * 1024 });
    await c.refresh();
    const good = c.max();
    mode = 'forbidden';
    await c.refresh();
    assert.equal(c.max(), good);
    mode = 'huge';
    await c.refresh();
    assert.equal(c.max(), good);
    mode = 'ok';
  });

  it('allocatable of either name, in bytes; unreadable quantities count as nothing', () => {
    assert.equal(nodeEpcBytes(node('a', { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': 82 })), 82n << 20n);
    assert.equal(nodeEpcBytes(node('b', { 'sgx.intel.com/epc': '1Gi', 'kubernetes.azure.com/sgx_epc_mem_in_MiB': '10' })), 1n << 30n);
    assert.equal(nodeEpcBytes(node('c', { 'sgx.intel.com/epc': 'lots' })), 0n);
    assert.equal(nodeEpcBytes(null), 0n);
  });
});
