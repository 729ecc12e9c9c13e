/**
 * The Node client: Open Inference Protocol v2 over attested TLS (@cloister/ratls's attestedHttpsAgent). A request
 * is written only on a connection whose RA-TLS certificate verified against the policy — the enclave terminates
 * that TLS itself. The client also reads the runtime-data document over that channel and checks that it names
 * the certificate's key (`ratls-key-hash`) and, when asked, the model hash.
 */
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { attestedHttpsAgent, peerAttestation, type AttestedVerification, type VerifyAttestedOptions } from '@cloister/ratls';
import type { EnclavePolicy, Policy } from '@cloister/policy';
import { parseQuote, unwrapEvidence } from '@cloister/dcap';
import { fromBase64 } from '../bytes.js';
import { InferenceError } from '../errors.js';
import { encodeBinaryRequest, type InferenceRequest, type InferenceResponse, type ModelMetadata } from '../oip.js';
import { parseRuntimeData, type InferenceRuntimeData } from '../runtime-data.js';
import { ocrRequest, ocrResult, serverError, type RecognizedText } from './common.js';

export interface NodeClientOptions {
  readonly url: string;
  readonly policy: EnclavePolicy | Policy;
  readonly verifyOptions?: VerifyAttestedOptions;
  /** Refuse an enclave serving another model (hex SHA-256 of the encrypted blob). */
  readonly expectedModelHash?: string;
  /** Per-request deadline (default 60 s). */
  readonly timeoutMs?: number;
  /** Largest response read (default 16 MiB). */
  readonly maxResponseBytes?: number;
}

export interface NodeInferenceClient {
  /** The verified RA-TLS attestation of the server (identity, decision). */
  readonly attestation: AttestedVerification;
  readonly document: InferenceRuntimeData;
  infer(model: string, request: InferenceRequest): Promise<InferenceResponse>;
  recognize(png: Uint8Array, model?: string): Promise<RecognizedText>;
  metadata(model: string): Promise<ModelMetadata>;
  ready(): Promise<boolean>;
  close(): void;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly socket: TLSSocket;
}

export async function connectNodeClient(options: NodeClientOptions): Promise<NodeInferenceClient> {
  const agent = attestedHttpsAgent({
    policy: options.policy,
    ...(options.verifyOptions !== undefined ? { verifyOptions: options.verifyOptions } : {}),
    keepAlive: true,
    maxSockets: 4,
  });
  const base = new URL(options.url);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const max = options.maxResponseBytes ?? 16 * 1024 * 1024;

  function call(method: 'GET' | 'POST', path: string, body?: unknown, binary?: { body: Uint8Array; headerLength: number }): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const payload =
        binary !== undefined ? Buffer.from(binary.body.buffer, binary.body.byteOffset, binary.body.byteLength) : body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = https.request(
        {
          host: base.hostname,
          port: base.port,
          path,
          method,
          agent,
          headers:
            payload === undefined
              ? {}
              : {
                  'content-type': binary !== undefined ? 'application/octet-stream' : 'application/json',
                  'content-length': payload.length,
                  ...(binary !== undefined ? { 'inference-header-content-length': binary.headerLength } : {}),
                },
          timeout: timeoutMs,
        },
        (res) => {
          const socket = res.socket as TLSSocket;
          const declared = Number(res.headers['content-length'] ?? '0');
          if (declared > max) {
            res.destroy();
            reject(new InferenceError('TOO_LARGE', `the response is over ${max} bytes`, { limit: 'maxResponseBytes' }));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > max) {
              res.destroy();
              reject(new InferenceError('TOO_LARGE', `the response is over ${max} bytes`, { limit: 'maxResponseBytes' }));
            } else chunks.push(c);
          });
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              reject(new InferenceError('SERVER_ERROR', 'the server answered something that is not JSON', { status: res.statusCode ?? 0 }));
              return;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, socket });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new InferenceError('TIMEOUT', `no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  try {
    const ev = await call('GET', '/v2/cloister/evidence');
    if (ev.status !== 200) throw serverError(ev.status, ev.body);
    const attestation = peerAttestation(ev.socket);
    if (attestation === undefined) throw new InferenceError('EVIDENCE_INVALID', 'the connection was not attested');
    const e = ev.body as { quote?: unknown; runtimeData?: unknown };
    const quote = typeof e.quote === 'string' ? fromBase64(e.quote, 64 * 1024) : undefined;
    const runtimeData = typeof e.runtimeData === 'string' ? fromBase64(e.runtimeData, 64 * 1024) : undefined;
    if (quote === undefined || runtimeData === undefined) throw new InferenceError('EVIDENCE_INVALID', 'the evidence has no quote or runtime data');
    // The document came over the attested channel, from the enclave; its own quote must still bind it, and it must
    // name this connection's certificate key and come from the same enclave.
    const parsed = parseQuote(unwrapEvidence(quote).quote.slice());
    if (parsed.body.kind !== 'sgx') throw new InferenceError('EVIDENCE_INVALID', 'not an SGX quote');
    const document = await parseRuntimeData(runtimeData, new Uint8Array(parsed.body.report.reportData));
    if (attestation.certificate.spkiSha256.toLowerCase() !== document['ratls-key-hash']) {
      throw new InferenceError('EVIDENCE_INVALID', 'the runtime data does not name this connection’s certificate key');
    }
    const mrenclave = Buffer.from(parsed.body.report.mrEnclave).toString('hex');
    if (mrenclave !== attestation.identity.mrenclave) throw new InferenceError('EVIDENCE_INVALID', 'the runtime data was quoted by another enclave');
    if (options.expectedModelHash !== undefined && options.expectedModelHash.toLowerCase() !== document['model-hash']) {
      throw new InferenceError('EVIDENCE_INVALID', 'the enclave serves another model (model hash differs)');
    }
    return {
      attestation,
      document,
      async infer(model, request) {
        // FP32 inputs given as Float32Array travel as raw bytes (binary tensor data extension).
        const binary = request.inputs.some((i) => i.data instanceof Float32Array) ? encodeBinaryRequest(request) : undefined;
        const r = await call('POST', `/v2/models/${encodeURIComponent(model)}/infer`, binary === undefined ? request : undefined, binary);
        if (r.status !== 200) throw serverError(r.status, r.body);
        return r.body as InferenceResponse;
      },
      async recognize(png, model = document.model) {
        const r = await call('POST', `/v2/models/${encodeURIComponent(model)}/infer`, ocrRequest(png));
        if (r.status !== 200) throw serverError(r.status, r.body);
        return ocrResult(r.body as InferenceResponse);
      },
      async metadata(model) {
        const r = await call('GET', `/v2/models/${encodeURIComponent(model)}`);
        if (r.status !== 200) throw serverError(r.status, r.body);
        return r.body as ModelMetadata;
      },
      async ready() {
        return (await call('GET', '/v2/health/ready')).status === 200;
      },
      close() {
        agent.destroy();
      },
    };
  } catch (e) {
    agent.destroy();
    throw e;
  }
}
