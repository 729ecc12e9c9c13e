/**
 * The enclave's state (one per enclave process): keys generated inside, the attested document, the model once its
 * key is released, and the bounded queue that serialises inference (ONNX Runtime's WebAssembly instance runs one
 * session at a time).
 */
import { InferenceError } from '../errors.js';
import type { HpkeKeyPair } from '../hpke.js';
import { ReplayWindow } from '../hpke.js';
import type { KeyEncryptionKey } from '../key-release.js';
import type { InferenceLimits } from '../limits.js';
import type { OcrEngine } from '../ocr/pipeline.js';
import type { InferenceRuntimeData } from '../runtime-data.js';

export interface EnclaveState {
  readonly modelName: string;
  readonly limits: InferenceLimits;
  readonly blob: Uint8Array;
  readonly modelHash: string;
  readonly kek: KeyEncryptionKey;
  readonly hpke: HpkeKeyPair;
  readonly hpkeInfo: Uint8Array;
  readonly runtimeData: Uint8Array;
  readonly document: InferenceRuntimeData;
  readonly quote: Uint8Array;
  readonly tls: { readonly certificatePem: string; readonly privateKeyPem: string };
  readonly collateral: string | undefined;
  readonly replay: ReplayWindow;
  engine: OcrEngine | undefined;
}

let state: EnclaveState | undefined;

export function setState(s: EnclaveState): void {
  state = s;
}

export function getState(): EnclaveState | undefined {
  return state;
}

/** Run inference jobs one at a time; at most `maxQueue` waiting (BUSY beyond). */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#waiting >= this.#max) return Promise.reject(new InferenceError('BUSY', `more than ${this.#max} requests are waiting`));
    this.#waiting++;
    const next = this.#tail.then(
      () => job(),
      () => job(),
    );
    this.#tail = next.then(
      () => undefined,
      () => undefined,
    );
    void next.finally(() => this.#waiting--).catch(() => undefined);
    return next;
  }
}

/** Settle with `work` or with TIMEOUT after `ms` (the work itself cannot be interrupted; its result is dropped). */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InferenceError('TIMEOUT', `the inference did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
