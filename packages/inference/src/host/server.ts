/**
 * `startInferenceServer`: the host of a confidential inference server. It starts the signed enclave, hands it the
 * encrypted model, carries its evidence to the key releaser, hands the wrapped key back, and relays TCP connections
 * into the enclave (which terminates TLS itself). It refuses to start — and leaves nothing running — when the key
 * is not released or the model does not decrypt.
 */
import { createEnclave, type CreateEnclaveOptions, type Enclave, type EcallHandler, type EnclaveDefinition, type HostLogger } from '@cloister/enclave';
import type { Platform } from '@cloister/sgx-sim';
import { INFERENCE_ERROR_CODES, InferenceError, type InferenceErrorCode } from '../errors.js';
import type { InferenceLimits } from '../limits.js';
import type { StartArgs, StartResult } from '../enclave/main.js';
import type { KeyReleaser } from './key-release.js';

type InferenceEnclave = EnclaveDefinition<{
  start: EcallHandler<StartArgs, StartResult>;
  installKey: EcallHandler<{ value: string }, { ready: true; modelHash: string }>;
  status: EcallHandler<undefined, { started: boolean; ready: boolean; model?: string; modelHash?: string }>;
}>;

export interface InferenceServerOptions {
  /** The signed enclave directory (host/prepare.ts). */
  readonly enclaveDir: string;
  /** The encrypted model blob (model-blob.ts). */
  readonly blob: Uint8Array;
  readonly model?: string;
  readonly keyReleaser: KeyReleaser;
  /** Sim backend: the platform (instance or directory). */
  readonly platform?: Platform | string;
  readonly backend?: 'sim' | 'gramine';
  /** Serialized collateral the enclave serves with its evidence (`serializeCollateralBundle`), for browsers. */
  readonly collateral?: string;
  readonly limits?: Partial<InferenceLimits>;
  readonly host?: string;
  /** 0 = any free port. */
  readonly port?: number;
  readonly logger?: HostLogger;
  /** Allow a debug enclave (refused by default). */
  readonly debug?: boolean;
  /** More createEnclave options (aesmSocketPath, hostEnv, sandbox …). */
  readonly enclaveOptions?: Omit<CreateEnclaveOptions, 'platform' | 'backend' | 'logger' | 'debug'>;
}

export interface InferenceServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly model: string;
  readonly modelHash: string;
  readonly mrenclave: string;
  readonly mrsigner: string;
  /** The attested runtime data and its quote (what the attestation service saw). */
  readonly evidence: { readonly quote: Uint8Array; readonly runtimeData: Uint8Array };
  readonly certificatePem: string;
  /** One-time costs, ms: enclave start, attestation setup (keys, certificate, quotes), key release, model decrypt + load. */
  readonly timings: { readonly enclaveStartMs: number; readonly attestMs: number; readonly keyReleaseMs: number; readonly modelLoadMs: number };
  close(): Promise<void>;
}

/**
 * An error out of an ecall: enclave code throws InferenceErrors, which cross the boundary with their code (as the
 * SDK's EnclaveError); give them back their type. Other errors (ENCLAVE_CRASHED, …) stay as they are.
 */
function fromEnclave(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (!InferenceError.is(e) && typeof code === 'string' && (INFERENCE_ERROR_CODES as readonly string[]).includes(code)) {
    return new InferenceError(code as InferenceErrorCode, (e as Error).message, { cause: e });
  }
  return e;
}

export async function startInferenceServer(options: InferenceServerOptions): Promise<InferenceServer> {
  const model = options.model ?? 'ppocr';
  const t0 = performance.now();
  let enclave: Enclave<InferenceEnclave>;
  try {
    enclave = await createEnclave<InferenceEnclave>(options.enclaveDir, {
      ...(options.enclaveOptions ?? {}),
      ...(options.backend !== undefined ? { backend: options.backend } : {}),
      ...(options.platform !== undefined ? { platform: options.platform } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(options.debug === true ? { debug: true } : {}),
      maxPayloadBytes: Math.max(64 * 1024 * 1024, options.blob.length + 1024 * 1024),
      callTimeoutMs: options.enclaveOptions?.callTimeoutMs ?? 300_000,
    });
  } catch (e) {
    throw new InferenceError('NOT_STARTED', `the enclave did not start: ${(e as { code?: string }).code ?? 'error'}`, { cause: e });
  }
  const t1 = performance.now();
  let listener: Awaited<ReturnType<typeof enclave.listen>> | undefined;
  try {
    const started = await enclave.ecalls
      .start({
        model,
        blob: options.blob,
        ...(options.collateral !== undefined ? { collateral: options.collateral } : {}),
        ...(options.limits !== undefined ? { limits: options.limits } : {}),
      })
      .catch((e: unknown) => {
        throw fromEnclave(e);
      });
    const t2 = performance.now();
    listener = await enclave.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    let value: string;
    try {
      value = await options.keyReleaser.release({ quote: started.quote, runtimeData: started.runtimeData });
    } catch (e) {
      if (InferenceError.is(e)) throw e;
      throw new InferenceError('KEY_RELEASE_FAILED', 'the key was not released', { cause: e });
    }
    const t3 = performance.now();
    await enclave.ecalls.installKey({ value }).catch((e: unknown) => {
      throw fromEnclave(e);
    });
    const t4 = performance.now();
    const { host, port } = listener;
    const l = listener;
    return {
      url: `https://${host}:${port}`,
      host,
      port,
      model,
      modelHash: started.modelHash,
      mrenclave: enclave.self.mrenclave,
      mrsigner: enclave.self.mrsigner,
      evidence: { quote: started.quote, runtimeData: started.runtimeData },
      certificatePem: started.certificatePem,
      timings: { enclaveStartMs: t1 - t0, attestMs: t2 - t1, keyReleaseMs: t3 - t2, modelLoadMs: t4 - t3 },
      async close() {
        await l.close();
        await enclave.terminate();
      },
    };
  } catch (e) {
    await listener?.close().catch(() => undefined);
    await enclave.terminate();
    throw e;
  }
}
