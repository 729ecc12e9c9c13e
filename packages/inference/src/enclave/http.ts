/**
 * The HTTP side of the enclave: Open Inference Protocol v2 routes plus two Cloister extensions, served on the
 * TLS connections the enclave terminates itself (main.ts). Every body is bounded (Content-Length checked before
 * reading, the stream counted while reading), every inference has a deadline, errors are `{ error, code }`.
 *
 * | route | what |
 * | --- | --- |
 * | GET /v2/health/live, /v2/health/ready | 200 true, 400 false (OIP: "a 4xx status code indicates false") |
 * | GET /v2 | server metadata |
 * | GET /v2/models/{name}, /v2/models/{name}/ready | model metadata, readiness |
 * | POST /v2/models/{name}/infer | inference (JSON tensors) |
 * | GET /v2/cloister/evidence | quote + runtime data (+ collateral): what a browser verifies |
 * | POST /v2/cloister/hpke | an HPKE-sealed inference request (hpke.ts), answered sealed |
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { toBase64 } from '../bytes.js';
import { HTTP_STATUS, InferenceError } from '../errors.js';
import { openRequest } from '../hpke.js';
import { errorBody, parseInferenceRequest } from '../oip.js';
import { infer, modelMetadata, servedModels } from './models.js';
import { getState, withDeadline, type SerialQueue } from './state.js';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'content-type, inference-header-content-length',
  'access-control-max-age': '600',
};

function send(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...CORS });
  res.end(bytes);
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = InferenceError.is(e) ? e : new InferenceError('RUNTIME_FAILED', 'internal error');
  send(res, HTTP_STATUS[err.code], errorBody(err));
}

/**
 * Read the body with a byte limit (TOO_LARGE before reading when Content-Length says so) and a deadline (TIMEOUT,
 * and the connection is closed: a client trickling its body does not hold the server).
 */
function readBody(req: IncomingMessage, max: number, deadlineMs: number): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    return Promise.reject(new InferenceError('TOO_LARGE', `the request body is over ${max} bytes`, { limit: 'maxBodyBytes' }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // On expiry the error is answered (504) and the connection closed once the answer is out (createRequestHandler).
    const timer = setTimeout(() => reject(new InferenceError('TIMEOUT', `the request body did not arrive within ${deadlineMs} ms`)), deadlineMs);
    req.once('end', () => clearTimeout(timer));
    req.once('close', () => clearTimeout(timer));
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new InferenceError('TOO_LARGE', `the request body is over ${max} bytes`, { limit: 'maxBodyBytes' }));
        // Stop reading; the 413 is answered and the connection closed (createRequestHandler).
        req.removeAllListeners('data');
        req.pause();
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', () => reject(new InferenceError('INVALID_REQUEST', 'the request body was cut off', { field: 'body' })));
  });
}

/** The JSON part and the binary part of a body (binary tensor data extension when the header is present). */
function splitBody(req: IncomingMessage, bytes: Uint8Array): { json: unknown; binary?: Uint8Array } {
  const h = req.headers['inference-header-content-length'];
  if (h === undefined) return { json: parseJson(bytes) };
  const n = Number(h);
  if (!Number.isSafeInteger(n) || n < 2 || n > bytes.length) {
    throw new InferenceError('INVALID_REQUEST', 'Inference-Header-Content-Length does not fit the body', { field: 'Inference-Header-Content-Length' });
  }
  return { json: parseJson(bytes.subarray(0, n)), binary: bytes.subarray(n) };
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new InferenceError('INVALID_REQUEST', 'the body is not UTF-8 JSON', { field: 'body' });
  }
}

/** Run one inference request for `model` (shared by the JSON route and the HPKE route): [status, body]. */
async function runInference(model: string, body: unknown, queue: SerialQueue, binary?: Uint8Array): Promise<[number, unknown]> {
  const s = getState();
  if (s === undefined || !servedModels(s.modelName).includes(model)) throw new InferenceError('MODEL_NOT_FOUND', `no model ${JSON.stringify(model.slice(0, 64))}`);
  const engine = s.engine;
  if (engine === undefined) throw new InferenceError('MODEL_NOT_READY', 'the model key has not been released yet');
  const request = parseInferenceRequest(body, s.limits.maxTensorElements, binary);
  const response = await withDeadline(
    queue.run(() => infer(engine, model, request, s.limits)),
    s.limits.requestTimeoutMs,
  );
  return [200, response];
}

const MODEL_PATH = /^\/v2\/models\/([A-Za-z0-9._-]{1,128})(\/ready|\/infer)?$/;

export function createRequestHandler(queue: SerialQueue): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(req, res, queue).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A body that did not arrive (or was refused before being read): answer, then close the connection rather
      // than read what is left of it.
      if (!req.complete) {
        res.setHeader('connection', 'close');
        res.once('finish', () => req.socket.destroy());
      }
      sendError(res, e);
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, queue: SerialQueue): Promise<void> {
  const s = getState();
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') {
    res.writeHead(204, CORS);
    res.end();
    return;
  }
  const ready = s?.engine !== undefined;
  if (method === 'GET') {
    if (path === '/v2/health/live') return send(res, 200, { live: true });
    if (path === '/v2/health/ready') return send(res, ready ? 200 : 400, { ready });
    if (path === '/v2') return send(res, 200, { name: 'cloister-inference', version: '0.1.0', extensions: ['cloister-evidence', 'cloister-hpke'] });
    if (path === '/v2/cloister/evidence') {
      if (s === undefined) throw new InferenceError('NOT_STARTED', 'the enclave is not started');
      return send(res, 200, {
        quote: toBase64(s.quote),
        runtimeData: toBase64(s.runtimeData),
        ...(s.collateral !== undefined ? { collateral: s.collateral } : {}),
      });
    }
  }
  const m = MODEL_PATH.exec(path);
  if (m !== null && s !== undefined) {
    const name = m[1]!;
    const meta = servedModels(s.modelName).includes(name) ? modelMetadata(name) : undefined;
    if (meta === undefined) throw new InferenceError('MODEL_NOT_FOUND', `no model ${JSON.stringify(name)}`);
    if (method === 'GET' && m[2] === undefined) return send(res, 200, meta);
    if (method === 'GET' && m[2] === '/ready') return send(res, ready ? 200 : 400, { name, ready });
    if (method === 'POST' && m[2] === '/infer') {
      if (!ready) throw new InferenceError('MODEL_NOT_READY', 'the model key has not been released yet');
      const { json, binary } = splitBody(req, await readBody(req, s.limits.maxBodyBytes, s.limits.headersTimeoutMs));
      const [status, out] = await runInference(name, json, queue, binary);
      return send(res, status, out);
    }
  }
  if (method === 'POST' && path === '/v2/cloister/hpke' && s !== undefined) {
    const sealed = await readBody(req, s.limits.maxBodyBytes, s.limits.headersTimeoutMs);
    const opened = await openRequest(s.hpke, s.hpkeInfo, sealed);
    s.replay.check(opened.enc);
    let inner: [number, unknown];
    try {
      const msg = parseJson(opened.plaintext) as { model?: unknown; request?: unknown };
      if (typeof msg !== 'object' || msg === null || typeof msg.model !== 'string') {
        throw new InferenceError('INVALID_REQUEST', 'the sealed message must be { model, request }', { field: 'model' });
      }
      inner = await runInference(msg.model, msg.request, queue);
    } catch (e) {
      const err = InferenceError.is(e) ? e : new InferenceError('RUNTIME_FAILED', 'internal error');
      inner = [HTTP_STATUS[err.code], errorBody(err)];
    }
    const out = await opened.sealResponse(new TextEncoder().encode(JSON.stringify({ status: inner[0], body: inner[1] })));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length, ...CORS });
    res.end(out);
    return;
  }
  send(res, 404, { error: 'not found', code: 'NOT_FOUND' });
}
