/**
 * bench/inference — the PP-OCRv4 recognition model on the same runtime (onnxruntime-web, WebAssembly, one thread),
 * in one run:
 *  - plain: in this process, outside any enclave: the line tensor goes straight to the ONNX Runtime session, CTC
 *    decoding included;
 *  - confidential: the sim enclave serving Open Inference Protocol v2 (`ppocr-rec`, FP32 tensor as binary data) over attested
 *    TLS that ends inside the enclave, the host relaying bytes, through the Node client (@cloister/ratls agent,
 *    keep-alive: the handshake and its quote verification are one-time costs).
 * Requests alternate plain / confidential (binary tensor) / confidential (JSON tensor), one at a time, so that both see the same machine load. Latency p50/p99
 * and throughput (sequential requests per second); the target is confidential p50 ≤ 1.10 × plain p50.
 * One-time costs: enclave start, attestation setup (key pairs, RA-TLS certificate, quotes), key release (the
 * attestation service verifies the quote and signs a token; the key broker checks it against the release policy and
 * wraps the key; over loopback HTTP), model decrypt + load, the client's attested connection.
 * Last line: `inference: plain_p50_ms=… conf_p50_ms=… overhead_p50=… target_overhead_p50=0.10 …`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { Platform, createSimCollateral, createSimPki, generateSigningKey, savePki } from '@cloister/sgx-sim';
import {
  OcrEngine,
  connectNodeClient,
  decodePng,
  createLogger,
  encryptModel,
  httpKeyRelease,
  loadOrt,
  ortWasmPath,
  ppocrModelPaths,
  prepareInferenceEnclave,
  readPpocrModelFiles,
  recPreprocess,
  prepareBrokerEnclave,
  serializeCollateral,
  startAttestationService,
  startInferenceServer,
  startKeyBroker,
} from './deps.js';

const ITERATIONS = Number(process.env.INFERENCE_BENCH_ITERATIONS ?? 25);
const WARMUP = 3;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cloister-bench-inference-'));
  try {
    const sample = new Uint8Array(readFileSync(new URL('../../../examples/confidential-ocr/sample.png', import.meta.url)));
    // The line "Hello from an enclave 2026" of the sample, preprocessed once: both sides get the same tensor.
    const image = decodePng(sample, { maxImageBytes: 1 << 24, maxPixels: 1 << 24, maxImageSide: 8192 });
    const line = recPreprocess(image, { x: 18, y: 80, width: 490, height: 46 });
    const tensorW = line.dims[3];

    // Plain: same runtime, this process.
    const paths = ppocrModelPaths();
    const ort = await loadOrt(new Uint8Array(readFileSync(ortWasmPath())));
    const engine = await OcrEngine.create(ort, { rec: new Uint8Array(readFileSync(paths.rec)), keys: readFileSync(paths.keys, 'utf8') });

    // Confidential: platform, encrypted model, signed enclave, key released after attestation, attested client.
    const platformDir = join(root, 'platform');
    const platform = Platform.create();
    platform.save(platformDir);
    const pki = await createSimPki(platform);
    savePki(pki, platformDir);
    const collateral = await createSimCollateral(platform, pki);
    const anchors = [trustAnchorFromCertificate(pki.rootCertPem)];
    const keyPath = join(root, 'signer.pem');
    writeFileSync(keyPath, generateSigningKey(), { mode: 0o600 });
    let t = performance.now();
    const model = await encryptModel(readPpocrModelFiles());
    const encryptMs = performance.now() - t;
    t = performance.now();
    const enclave = await prepareInferenceEnclave(join(root, 'enclave'), { keyPath });
    const buildSignMs = performance.now() - t;
    // The attestation service and the key broker (simulated instance), the model key registered under a release
    // policy naming the enclave and the blob.
    const logger = createLogger({ component: 'bench-inference', level: 'silent' });
    const secret = `bench-${process.pid}-${Date.now()}-secret`;
    const as = await startAttestationService({ allowSimulated: true, trustRoots: [pki.rootCertPem], collateral: [serializeCollateral(collateral)], keyEncryptionKey: secret, rateLimit: false, logger });
    const authority = as.simulatedIssuer!;
    const brokerEnclave = await prepareBrokerEnclave({ dir: join(root, 'broker-enclave'), keyPath });
    const broker = await startKeyBroker({ port: 0, storage: { dataDir: join(root, 'broker-data') }, authorities: [authority], adminToken: secret, enclaveDir: brokerEnclave.dir, platform: platformDir, logger });
    const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
    const releasePolicy = {
      version: '1.0.0',
      anyOf: [{ authority, allOf: [
        { claim: 'x-ms-sgx-mrenclave', equals: enclave.mrenclave },
        { claim: 'x-ms-sgx-mrsigner', equals: enclave.mrsigner },
        { claim: 'x-ms-sgx-is-debuggable', equals: false },
        { claim: 'x-ms-runtime.model-hash', equals: model.hash },
      ] }],
    };
    const put = await fetch(`${broker.url}/keys/ocr-model?api-version=7.4`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({
        key: { kty: 'oct-HSM', k: b64url(model.key), key_ops: ['wrapKey', 'unwrapKey'] },
        attributes: { exportable: true },
        release_policy: { contentType: 'application/json; charset=utf-8', data: b64url(new TextEncoder().encode(JSON.stringify(releasePolicy))) },
      }),
    });
    if (put.status !== 200) throw new Error(`key registration failed: HTTP ${put.status}`);
    const server = await startInferenceServer({
      enclaveDir: enclave.dir,
      platform: platformDir,
      blob: model.blob,
      collateral: serializeCollateral(collateral),
      keyReleaser: httpKeyRelease({ attestationUrl: authority.replace(as.issuer, as.url), brokerUrl: broker.url, keyName: 'ocr-model', brokerToken: 'bench' }),
    });
    t = performance.now();
    const client = await connectNodeClient({ url: server.url, policy: { mrenclave: enclave.mrenclave, allowSimulated: true }, verifyOptions: { collateral, trustRoots: anchors } });
    const connectMs = performance.now() - t;
    // FP32 as raw bytes (the protocol's binary tensor data extension), as a production client sends tensors.
    const request = { inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [1, 3, 48, tensorW], data: line.tensor }] };
    // The same tensor as JSON numbers (the protocol's default encoding), measured too: what the text costs.
    const jsonRequest = { inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [1, 3, 48, tensorW], data: Array.from(line.tensor) }] };
    try {
      const plainText = (await engine.recognizeTensor(line.tensor, line.dims)).text;
      const confText = String((await client.infer('ppocr-rec', request)).outputs[0]?.data[0]);
      if (plainText !== confText) throw new Error(`plain and confidential disagree: ${plainText} / ${confText}`);
      const plain: number[] = [];
      const conf: number[] = [];
      const confJson: number[] = [];
      for (let i = 0; i < WARMUP + ITERATIONS; i++) {
        let s = performance.now();
        await engine.recognizeTensor(line.tensor, line.dims);
        const p = performance.now() - s;
        s = performance.now();
        await client.infer('ppocr-rec', request);
        const c = performance.now() - s;
        s = performance.now();
        await client.infer('ppocr-rec', jsonRequest);
        const j = performance.now() - s;
        if (i >= WARMUP) {
          plain.push(p);
          conf.push(c);
          confJson.push(j);
        }
      }
      plain.sort((a, b) => a - b);
      conf.sort((a, b) => a - b);
      confJson.sort((a, b) => a - b);
      const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
      const r = {
        plain_p50_ms: percentile(plain, 50),
        plain_p99_ms: percentile(plain, 99),
        plain_per_s: (1000 * plain.length) / sum(plain),
        conf_p50_ms: percentile(conf, 50),
        conf_p99_ms: percentile(conf, 99),
        conf_per_s: (1000 * conf.length) / sum(conf),
        conf_json_p50_ms: percentile(confJson, 50),
      };
      const overhead = r.conf_p50_ms / r.plain_p50_ms - 1;
      const once = {
        encrypt_ms: encryptMs,
        build_sign_ms: buildSignMs,
        enclave_start_ms: server.timings.enclaveStartMs,
        attest_setup_ms: server.timings.attestMs,
        key_release_ms: server.timings.keyReleaseMs,
        model_load_ms: server.timings.modelLoadMs,
        client_connect_ms: connectMs,
      };
      console.log(`recognition model, line tensor [1,3,48,${tensorW}] -> "${plainText}", ${ITERATIONS} requests each, alternating`);
      console.log(`plain         p50 ${r.plain_p50_ms.toFixed(1)} ms  p99 ${r.plain_p99_ms.toFixed(1)} ms  ${r.plain_per_s.toFixed(2)}/s`);
      console.log(`confidential  p50 ${r.conf_p50_ms.toFixed(1)} ms  p99 ${r.conf_p99_ms.toFixed(1)} ms  ${r.conf_per_s.toFixed(2)}/s`);
      console.log(`  JSON tensor p50 ${r.conf_json_p50_ms.toFixed(1)} ms (the same request with FP32 as JSON numbers instead of binary data)`);
      console.log(`overhead p50  ${(100 * overhead).toFixed(1)}% (target ≤ 10%)`);
      console.log(`one-time      ${Object.entries(once).map(([k, v]) => `${k}=${v.toFixed(0)}`).join(' ')}`);
      const kv = (o: Record<string, number>, digits = 1): string => Object.entries(o).map(([k, v]) => `${k}=${v.toFixed(digits)}`).join(' ');
      console.log(`inference: ${kv(r)} overhead_p50=${overhead.toFixed(3)} target_overhead_p50=0.10 ${kv(once, 0)}`);
    } finally {
      client.close();
      await server.close();
      await broker.close();
      await as.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
