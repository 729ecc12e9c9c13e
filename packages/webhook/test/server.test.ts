import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@cloister/service-kit';
import { DEFAULT_CONFIG, createCa, issueServing, planPod, startWebhook, type AdmissionReviewOut, type WebhookHandle } from '../src/index.js';
import { intelEcdsaJob, review } from './fixtures.js';

const NOW = new Date();

interface Reply {
  readonly status: number;
  readonly body: string;
}

function post(url: string, path: string, body: string | Uint8Array, ca: string, agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, url),
      {
        method: 'POST',
        ca,
        servername: 'localhost',
        agent: agent ?? false,
        headers: { 'content-type': 'application/json', accept: 'application/json, */*' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function get(url: string): Promise<Reply> {
  return fetch(url).then(async (r) => ({ status: r.status, body: await r.text() }));
}

describe('the webhook over real HTTPS, called as the API server calls it', () => {
  let dir: string;
  let handle: WebhookHandle;
  let caPem: string;
  let agent: Agent;
  const limit = 2 * 1024 * 1024;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cloister-webhook-'));
    const ca = await createCa(NOW);
    caPem = ca.certPem;
    const cert = await issueServing(ca, ['localhost', 'cloister-webhook.cloister-system.svc'], NOW);
    writeFileSync(join(dir, 'tls.crt'), cert.certPem);
    writeFileSync(join(dir, 'tls.key'), cert.keyPem);
    handle = await startWebhook({
      config: DEFAULT_CONFIG,
      logger: createLogger({ component: 'cloister-webhook', level: 'silent' }),
      port: 0,
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      metricsPort: 0,
      bodyLimit: limit,
    });
    agent = new Agent({ keepAlive: true, maxSockets: 2 });
  });

  after(async () => {
    agent.destroy();
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('POST /mutate?timeout=10s on a keep-alive connection: 200, the patch, the uid', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await post(handle.url, '/mutate?timeout=10s', JSON.stringify(review(intelEcdsaJob(), `uid-${i}`)), caPem, agent);
      assert.equal(r.status, 200);
      const out = JSON.parse(r.body) as AdmissionReviewOut;
      assert.equal(out.response.uid, `uid-${i}`);
      assert.equal(out.response.patchType, 'JSONPatch');
      assert.deepEqual(JSON.parse(Buffer.from(out.response.patch!, 'base64').toString()), planPod(intelEcdsaJob(), DEFAULT_CONFIG).patch);
    }
  });

  it('POST /validate refuses an unmutated SGX pod with its reason', async () => {
    const r = await post(handle.url, '/validate?timeout=5s', JSON.stringify(review(intelEcdsaJob())), caPem);
    const out = JSON.parse(r.body) as AdmissionReviewOut;
    assert.equal(r.status, 200);
    assert.equal(out.response.allowed, false);
    assert.match(out.response.status?.message ?? '', /\[epc-without-enclave\]/);
  });

  it('a large pod (1.5 MiB of annotations, the etcd object limit) is reviewed', async () => {
    const pod = intelEcdsaJob();
    (pod['metadata'] as Record<string, unknown>)['annotations'] = { 'sgx.intel.com/quote-provider': 'aesmd', 'example.com/blob': 'x'.repeat(1_500_000) };
    const r = await post(handle.url, '/mutate?timeout=10s', JSON.stringify(review(pod, 'big')), caPem);
    const out = JSON.parse(r.body) as AdmissionReviewOut;
    assert.equal(out.response.uid, 'big');
    assert.equal(out.response.allowed, true);
    assert.equal(out.response.patchType, 'JSONPatch');
  });

  it('a body over the limit: 200 with a 413 Failure review, and the server keeps serving', async () => {
    const r = await post(handle.url, '/mutate?timeout=10s', new Uint8Array(limit + 1).fill(0x20), caPem);
    assert.equal(r.status, 200);
    const out = JSON.parse(r.body) as AdmissionReviewOut;
    assert.equal(out.response.allowed, false);
    assert.equal(out.response.status?.code, 413);
    const again = await post(handle.url, '/mutate', JSON.stringify(review(intelEcdsaJob(), 'after')), caPem);
    assert.equal((JSON.parse(again.body) as AdmissionReviewOut).response.uid, 'after');
  });

  it('malformed reviews: 200 with a 400 Failure review', async () => {
    for (const body of ['{', 'null', '"review"', '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}', '\xff\xfe']) {
      const r = await post(handle.url, '/mutate?timeout=10s', body, caPem);
      assert.equal(r.status, 200, body);
      const out = JSON.parse(r.body) as AdmissionReviewOut;
      assert.equal(out.apiVersion, 'admission.k8s.io/v1');
      assert.equal(out.response.allowed, false);
      assert.equal(out.response.status?.code, 400);
    }
  });

  it('a body that stops arriving is answered when the caller`s ?timeout= runs out (408 review)', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: handle.port, ca: caPem, servername: 'localhost' }, () => {
        s.write('POST /mutate?timeout=300ms HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"apiVersion"');
      });
      let data = '';
      s.on('data', (c: Buffer) => {
        data += c.toString('utf8');
        if (data.includes('"response"')) {
          s.destroy();
          resolve(data);
        }
      });
      s.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 200/);
    const out = JSON.parse(reply.slice(reply.indexOf('{'))) as AdmissionReviewOut;
    assert.equal(out.response.status?.code, 408);
  });

  it('a caller that disconnects mid-body costs nothing and the server keeps answering', async () => {
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: handle.port, ca: caPem, servername: 'localhost' }, () => {
        s.write('POST /validate?timeout=10s HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5000\r\n\r\n{"apiVersion":', () => {
          s.destroy();
          resolve();
        });
      });
      s.on('error', reject);
    });
    const r = await post(handle.url, '/mutate?timeout=10s', JSON.stringify(review(intelEcdsaJob(), 'still-there')), caPem);
    assert.equal((JSON.parse(r.body) as AdmissionReviewOut).response.uid, 'still-there');
  });

  it('other paths and methods are the service app`s: JSON 404, never an AdmissionReview', async () => {
    const r = await post(handle.url, '/mutate/extra', '{}', caPem);
    assert.equal(r.status, 404);
    assert.match(r.body, /NOT_FOUND/);
  });

  it('metrics and probes on the plain-HTTP port', async () => {
    assert.equal((await get(`${handle.metricsUrl!}/healthz`)).status, 200);
    assert.equal((await get(`${handle.metricsUrl!}/readyz`)).status, 200);
    const m = await get(`${handle.metricsUrl!}/metrics`);
    assert.match(m.body, /cloister_webhook_reviews_total\{endpoint="mutate",decision="patched"\} [1-9]/);
    assert.match(m.body, /cloister_webhook_denials_total\{endpoint="validate",rule="epc-without-enclave"\} 1/);
    assert.match(m.body, /cloister_webhook_review_duration_seconds_bucket/);
  });

  it('a rotated certificate is served without a restart', async () => {
    const ca2 = await createCa(NOW, 'rotated-ca');
    const cert2 = await issueServing(ca2, ['localhost'], NOW);
    // As kubelet updates a Secret volume: new files appear atomically.
    writeFileSync(join(dir, 'tls.key.new'), cert2.keyPem);
    writeFileSync(join(dir, 'tls.crt.new'), cert2.certPem);
    renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
    let served = false;
    for (let i = 0; i < 100 && !served; i++) {
      try {
        const r = await post(handle.url, '/mutate', JSON.stringify(review(intelEcdsaJob(), 'rotated')), ca2.certPem);
        served = r.status === 200;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(served, true, 'the new certificate (signed by the new CA) is served');
    await assert.rejects(post(handle.url, '/mutate', '{}', caPem), /certificate|self.signed|verify/i);
  });
});
