/**
 * The browser-safe client (WebCrypto only; no Node built-ins). A browser cannot see the server's TLS certificate,
 * so it does not rely on the TLS layer at all: it
 *
 * 1. fetches the enclave's evidence — the quote and the runtime-data document (and collateral) — from
 *    `GET /v2/cloister/evidence`;
 * 2. verifies the quote with @cloister/dcap (WebCrypto) against the trust anchors IT was given (never the server's),
 *    holds it to the policy with @cloister/policy (the one engine), and checks that REPORTDATA = SHA-256(document):
 *    then the HPKE public key and the model hash in the document are the enclave's;
 * 3. seals every request with HPKE to that key (a fresh context per request) and opens the sealed answer
 *    (hpke.ts), so whatever carries the bytes — the host, a proxy, a TLS terminator — sees ciphertext only.
 *
 * Failures: the DcapError of @cloister/dcap when the quote does not verify, the PolicyError of @cloister/policy
 * (POLICY_MISMATCH with `rule`) when the enclave is not the one named, InferenceError EVIDENCE_INVALID when the
 * document is not bound or malformed.
 */
import { QuoteVerifier, parseQuote, unwrapEvidence, type TrustAnchor } from '@cloister/dcap';
import { enclaveIdentity, evaluatePolicy, parsePolicy, type EnclaveIdentity, type EnclavePolicy, type Policy, type PolicyDecision } from '@cloister/policy';
import { fromBase64 } from '../bytes.js';
import { InferenceError } from '../errors.js';
import { hpkeInfo, sealRequest } from '../hpke.js';
import type { InferenceRequest, InferenceResponse } from '../oip.js';
import { parseRuntimeData, type InferenceRuntimeData } from '../runtime-data.js';
import { ocrRequest, ocrResult, serverError, type RecognizedText } from './common.js';

export interface BrowserClientOptions {
  /** The server's base URL (https://host:port). */
  readonly url: string;
  readonly policy: EnclavePolicy | Policy;
  /** Trust anchors of the PCK chain (e.g. Intel's SGX root; the simulator's root for simulated enclaves). */
  readonly trustAnchors?: readonly TrustAnchor[];
  /** Collateral to verify with (JSON text); default: what the server sends with its evidence. */
  readonly collateral?: string;
  readonly now?: Date | number | string;
  /** Largest response read (default 16 MiB). */
  readonly maxResponseBytes?: number;
  readonly fetch?: typeof fetch;
}

export interface VerifiedEnclave {
  readonly identity: EnclaveIdentity;
  readonly decision: PolicyDecision;
  readonly tcbStatus: string;
  readonly document: InferenceRuntimeData;
}

export interface BrowserInferenceClient extends VerifiedEnclave {
  infer(model: string, request: InferenceRequest): Promise<InferenceResponse>;
  recognize(png: Uint8Array, model?: string): Promise<RecognizedText>;
}

async function readLimited(res: Response, max: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) throw new InferenceError('TOO_LARGE', `the response is over ${max} bytes`, { limit: 'maxResponseBytes' });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > max) throw new InferenceError('TOO_LARGE', `the response is over ${max} bytes`, { limit: 'maxResponseBytes' });
  return bytes;
}

/** Verify the enclave behind `url`, then return a client that seals every request to it. */
export async function connectBrowserClient(options: BrowserClientOptions): Promise<BrowserInferenceClient> {
  const policy = parsePolicy(options.policy);
  const f = options.fetch ?? globalThis.fetch.bind(globalThis);
  const base = options.url.replace(/\/$/, '');
  const max = options.maxResponseBytes ?? 16 * 1024 * 1024;
  const res = await f(`${base}/v2/cloister/evidence`);
  if (res.status !== 200) throw serverError(res.status, undefined);
  const evidence = JSON.parse(new TextDecoder().decode(await readLimited(res, max))) as { quote?: unknown; runtimeData?: unknown; collateral?: unknown };
  const quote = typeof evidence.quote === 'string' ? fromBase64(evidence.quote, 64 * 1024) : undefined;
  const runtimeData = typeof evidence.runtimeData === 'string' ? fromBase64(evidence.runtimeData, 64 * 1024) : undefined;
  if (quote === undefined || runtimeData === undefined) throw new InferenceError('EVIDENCE_INVALID', 'the evidence has no quote or runtime data');
  const collateral = options.collateral ?? (typeof evidence.collateral === 'string' ? evidence.collateral : undefined);
  if (collateral === undefined) throw new InferenceError('EVIDENCE_INVALID', 'no collateral to verify the quote with');
  const parsed = parseQuote(unwrapEvidence(quote).quote.slice());
  if (parsed.body.kind !== 'sgx') evaluatePolicy(policy, { teeType: parsed.teeType, claims: {}, simulated: true });
  const result = await new QuoteVerifier().verify(parsed, collateral, {
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.trustAnchors !== undefined ? { trustAnchors: options.trustAnchors } : {}),
  });
  const decision = evaluatePolicy(policy, result);
  const reportData = parsed.body.kind === 'sgx' ? new Uint8Array(parsed.body.report.reportData) : new Uint8Array(64);
  const document = await parseRuntimeData(runtimeData, reportData);
  const publicKey = fromBase64(document['hpke-public-key'], 1024);
  if (publicKey === undefined) throw new InferenceError('EVIDENCE_INVALID', 'the HPKE public key is not base64url');
  const info = await hpkeInfo(runtimeData);

  async function infer(model: string, request: InferenceRequest): Promise<InferenceResponse> {
    // Inside the sealed message tensors are JSON (a Float32Array becomes an array of numbers).
    const json = JSON.stringify({ model, request }, (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v));
    const sealed = await sealRequest(publicKey!, info, new TextEncoder().encode(json));
    const r = await f(`${base}/v2/cloister/hpke`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: sealed.body as Uint8Array<ArrayBuffer>,
    });
    const bytes = await readLimited(r, max);
    if (r.status !== 200) {
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        body = undefined;
      }
      throw serverError(r.status, body);
    }
    const inner = JSON.parse(new TextDecoder().decode(await sealed.openResponse(bytes))) as { status?: unknown; body?: unknown };
    if (inner.status !== 200) throw serverError(Number(inner.status), inner.body);
    return inner.body as InferenceResponse;
  }

  return {
    identity: enclaveIdentity(result.claims),
    decision,
    tcbStatus: result.status,
    document,
    infer,
    async recognize(png: Uint8Array, model = document.model) {
      return ocrResult(await infer(model, ocrRequest(png)));
    },
  };
}
