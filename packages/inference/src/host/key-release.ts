/**
 * How the host obtains the model key for its enclave — behind one interface, so that the server does not care
 * whether a key broker or a test double answers.
 *
 * The host only CARRIES: the enclave's quote and runtime data go to the attestation service, the token goes to the
 * key broker, the broker's answer (wrapped to the enclave's own RSA key, which is in the attested runtime data)
 * goes back into the enclave. None of it is secret from the host.
 */
import { toBase64Url } from '../bytes.js';
import { InferenceError } from '../errors.js';

export interface EnclaveEvidence {
  /** The enclave's DCAP quote; REPORTDATA = SHA-256(runtimeData) ‖ 0³². */
  readonly quote: Uint8Array;
  /** The canonical JSON runtime-data document (runtime-data.ts). */
  readonly runtimeData: Uint8Array;
}

export interface KeyReleaser {
  /** The broker's release `value` (a JWS whose key_hsm is wrapped to the enclave's key). KEY_RELEASE_FAILED otherwise. */
  release(evidence: EnclaveEvidence): Promise<string>;
}

export interface HttpKeyReleaseOptions {
  /** The attestation service's instance URL (Microsoft Azure Attestation REST API). */
  readonly attestationUrl: string;
  /** The key broker's base URL (Azure Key Vault Secure Key Release API). */
  readonly brokerUrl: string;
  readonly keyName: string;
  /** Optional key version (`/keys/{name}/{version}/release`). */
  readonly keyVersion?: string;
  /** Bearer token for the broker (the vault's data-plane authorization), if it asks for one. */
  readonly brokerToken?: string;
  /** MAA api-version (default 2022-08-01) and AKV api-version (default 7.4). */
  readonly attestationApiVersion?: string;
  readonly keyVaultApiVersion?: string;
  /** Per-call deadline (default 15 s). */
  readonly timeoutMs?: number;
  /** fetch to use (default global fetch; tests can pass one with a custom dispatcher). */
  readonly fetch?: typeof fetch;
}

const MAX_RESPONSE_BYTES = 256 * 1024;

async function postJson(
  f: typeof fetch,
  url: string,
  body: unknown,
  timeoutMs: number,
  what: string,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await f(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new InferenceError('KEY_RELEASE_FAILED', `${what}: ${(e as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable'}`);
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_RESPONSE_BYTES) throw new InferenceError('KEY_RELEASE_FAILED', `${what}: response too large`);
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES) throw new InferenceError('KEY_RELEASE_FAILED', `${what}: response too large`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.status !== 200) {
    const err = (json as { error?: { code?: unknown } } | undefined)?.error;
    const code = typeof err?.code === 'string' ? err.code.slice(0, 64) : undefined;
    throw new InferenceError('KEY_RELEASE_FAILED', `${what}: HTTP ${res.status}${code !== undefined ? ` ${code}` : ''}`, {
      status: res.status,
      ...(code !== undefined ? { remoteCode: code } : {}),
    });
  }
  if (typeof json !== 'object' || json === null) throw new InferenceError('KEY_RELEASE_FAILED', `${what}: not JSON`);
  return json as Record<string, unknown>;
}

/**
 * The real path: `POST {attestationUrl}/attest/SgxEnclave?api-version=…` with
 * `{ quote: base64url, runtimeData: { data: base64url(document), dataType: "JSON" } }` (reference §1.2) → token;
 * `POST {brokerUrl}/keys/{name}[/{version}]/release?api-version=…` with `{ target: token, enc: "RSA_AES_KEY_WRAP_256" }`
 * (reference §3.1) → `{ value }`.
 */
export function httpKeyRelease(options: HttpKeyReleaseOptions): KeyReleaser {
  const f = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maa = options.attestationApiVersion ?? '2022-08-01';
  const akv = options.keyVaultApiVersion ?? '7.4';
  return {
    async release(evidence) {
      const attested = await postJson(
        f,
        `${options.attestationUrl.replace(/\/$/, '')}/attest/SgxEnclave?api-version=${encodeURIComponent(maa)}`,
        { quote: toBase64Url(evidence.quote), runtimeData: { data: toBase64Url(evidence.runtimeData), dataType: 'JSON' } },
        timeoutMs,
        'attestation',
      );
      if (typeof attested.token !== 'string') throw new InferenceError('KEY_RELEASE_FAILED', 'attestation: no token');
      const path = `keys/${encodeURIComponent(options.keyName)}${options.keyVersion !== undefined ? `/${encodeURIComponent(options.keyVersion)}` : ''}/release`;
      const released = await postJson(
        f,
        `${options.brokerUrl.replace(/\/$/, '')}/${path}?api-version=${encodeURIComponent(akv)}`,
        { target: attested.token, enc: 'RSA_AES_KEY_WRAP_256' },
        timeoutMs,
        'key release',
        options.brokerToken !== undefined ? { authorization: `Bearer ${options.brokerToken}` } : {},
      );
      if (typeof released.value !== 'string') throw new InferenceError('KEY_RELEASE_FAILED', 'key release: no value');
      return released.value;
    },
  };
}
