/**
 * The inference enclave (bundled into an enclave directory by host/prepare.ts; runs on the sim backend in a
 * permission-restricted process, or under Gramine).
 *
 * Ecalls:
 * - `start({ model, blob, collateral?, limits? })`: checks the encrypted model blob's header and hashes it, makes
 *   the key-encryption key (RSA-2048, OAEP), the HPKE key pair and the RA-TLS certificate (its own quote over the
 *   DICE claims), writes the runtime-data document `{ keys, ratls-key-hash, hpke-public-key, hpke-suite,
 *   model-hash, model, version }` and quotes it (REPORTDATA = SHA-256(canonical JSON) ‖ 0³²). Returns the quote and
 *   the document — what the host sends to the attestation service.
 * - `installKey({ value })`: unwraps the broker's release value with the KEK, decrypts the model (AES-256-GCM),
 *   creates the ONNX Runtime sessions. Only then is the server ready.
 * - `status()`.
 *
 * Connections: the host relays TCP connections as byte streams (`onConnection`); TLS ends here, with the RA-TLS
 * certificate, so the host only ever moves ciphertext. The image, the text and the model never leave the enclave
 * in the clear.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { defineEnclave } from '@cloister/enclave/runtime';
import { createAttestedCertificate } from '@cloister/ratls';
import { sha256, toBase64Url, toHex } from '../bytes.js';
import { InferenceError } from '../errors.js';
import { generateHpkeKeyPair, hpkeInfo, HPKE_SUITE_IDS, ReplayWindow } from '../hpke.js';
import { generateKeyEncryptionKey, unwrapReleasedKey } from '../key-release.js';
import { DEFAULT_LIMITS, type InferenceLimits } from '../limits.js';
import { decryptModel, modelHash, parseModelBlobHeader } from '../model-blob.js';
import { loadOrt, ORT_WASM_FILE } from '../ort.js';
import { OcrEngine, OCR_MODEL_FILES } from '../ocr/pipeline.js';
import { encodeRuntimeData, reportDataFor, type InferenceRuntimeData } from '../runtime-data.js';
import { createRequestHandler } from './http.js';
import { getState, SerialQueue, setState } from './state.js';

export interface StartArgs {
  readonly model: string;
  readonly blob: Uint8Array;
  /** Serialized collateral served with the evidence (for clients that do not fetch their own). */
  readonly collateral?: string;
  readonly limits?: Partial<InferenceLimits>;
}

export interface StartResult {
  readonly quote: Uint8Array;
  readonly runtimeData: Uint8Array;
  readonly modelHash: string;
  readonly certificatePem: string;
}

const MODEL_NAME = /^[A-Za-z0-9._-]{1,60}$/;
const KEK_ID = 'cloister-inference-kek';

let secureContext: SecureContext | undefined;
let queue: SerialQueue | undefined;
const http = createServer({ maxHeaderSize: 16 * 1024, keepAlive: true });
/** Connections whose first request head has not arrived yet, and their deadline timer. */
const firstRequest = new WeakMap<object, ReturnType<typeof setTimeout>>();
http.on('request', (req: import('node:http').IncomingMessage) => {
  const t = firstRequest.get(req.socket);
  if (t !== undefined) {
    clearTimeout(t);
    firstRequest.delete(req.socket);
  }
});

function limitsOf(partial: Partial<InferenceLimits> | undefined): InferenceLimits {
  const out: InferenceLimits = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(partial ?? {})) {
    if (!(k in out) || typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new InferenceError('INVALID_REQUEST', `limit ${k} must be a positive integer`, { field: `limits.${k}` });
    }
    out[k as keyof InferenceLimits] = v;
  }
  return out;
}

export default defineEnclave({
  ecalls: {
    async start(args: StartArgs, ctx): Promise<StartResult> {
      if (getState() !== undefined) throw new InferenceError('NOT_STARTED', 'the enclave is already started');
      if (typeof args.model !== 'string' || !MODEL_NAME.test(args.model)) throw new InferenceError('INVALID_REQUEST', 'bad model name', { field: 'model' });
      const limits = limitsOf(args.limits);
      parseModelBlobHeader(args.blob);
      const hash = await modelHash(args.blob);
      const kek = generateKeyEncryptionKey(KEK_ID);
      const hpke = await generateHpkeKeyPair();
      const cert = await createAttestedCertificate({ getQuote: (rd) => ctx.getQuote(rd), subject: 'CN=Cloister confidential inference,O=Cloister' });
      const document: InferenceRuntimeData = {
        version: 1,
        keys: [kek.jwk],
        'ratls-key-hash': toHex(await sha256(cert.spki)),
        'hpke-public-key': toBase64Url(hpke.publicKey),
        'hpke-suite': { ...HPKE_SUITE_IDS },
        'model-hash': hash,
        model: args.model,
      };
      const runtimeData = encodeRuntimeData(document);
      const quote = await ctx.getQuote(await reportDataFor(runtimeData));
      secureContext = createSecureContext({ key: cert.privateKeyPem, cert: cert.certificatePem, minVersion: 'TLSv1.2' });
      queue = new SerialQueue(limits.maxQueue);
      http.headersTimeout = limits.headersTimeoutMs;
      http.requestTimeout = limits.headersTimeoutMs + limits.requestTimeoutMs;
      http.on('request', createRequestHandler(queue));
      setState({
        modelName: args.model,
        limits,
        blob: args.blob,
        modelHash: hash,
        kek,
        hpke,
        hpkeInfo: await hpkeInfo(runtimeData),
        runtimeData,
        document,
        quote,
        tls: { certificatePem: cert.certificatePem, privateKeyPem: cert.privateKeyPem },
        collateral: args.collateral,
        replay: new ReplayWindow(),
        engine: undefined,
      });
      ctx.log.info('inference enclave started', { model: args.model, modelHash: hash });
      return { quote, runtimeData, modelHash: hash, certificatePem: cert.certificatePem };
    },

    async installKey(args: { value: string }, ctx): Promise<{ ready: true; modelHash: string }> {
      const s = getState();
      if (s === undefined) throw new InferenceError('NOT_STARTED', 'call start first');
      if (s.engine !== undefined) return { ready: true, modelHash: s.modelHash };
      const key = unwrapReleasedKey(s.kek, args.value);
      const files = await decryptModel(s.blob, key);
      key.fill(0);
      const file = (name: string): Uint8Array => {
        const f = files.find((x) => x.name === name);
        if (f === undefined) throw new InferenceError('INVALID_MODEL_BLOB', `the model has no ${name}`);
        return f.bytes;
      };
      // The runtime's .wasm is a declared (measured) file: <enclave dir>/runtime/, the bundle being <dir>/dist/.
      const wasm = new Uint8Array(await readFile(new URL(`../runtime/${ORT_WASM_FILE}`, import.meta.url)));
      const ort = await loadOrt(wasm);
      s.engine = await OcrEngine.create(ort, {
        det: file(OCR_MODEL_FILES.det),
        rec: file(OCR_MODEL_FILES.rec),
        keys: new TextDecoder().decode(file(OCR_MODEL_FILES.keys)),
      });
      ctx.log.info('model decrypted and loaded', { modelHash: s.modelHash });
      return { ready: true, modelHash: s.modelHash };
    },

    status(): { started: boolean; ready: boolean; model?: string; modelHash?: string } {
      const s = getState();
      return s === undefined ? { started: false, ready: false } : { started: true, ready: s.engine !== undefined, model: s.modelName, modelHash: s.modelHash };
    },
  },

  onConnection(stream) {
    if (secureContext === undefined) {
      stream.destroy();
      return;
    }
    const socket = new TLSSocket(stream as unknown as import('node:net').Socket, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => socket.destroy());
    const s = getState();
    const headMs = s?.limits.headersTimeoutMs ?? 10_000;
    // The first request head must arrive within headersTimeoutMs (Node enforces headersTimeout only for servers
    // that listen themselves); after that, an idle connection is closed once no request or answer moved for the
    // longest a request may take.
    const head = setTimeout(() => socket.destroy(), headMs);
    socket.once('close', () => clearTimeout(head));
    firstRequest.set(socket, head);
    socket.setTimeout(headMs + (s?.limits.requestTimeoutMs ?? 30_000), () => socket.destroy());
    http.emit('connection', socket);
  },
});
