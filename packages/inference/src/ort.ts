/**
 * ONNX Runtime for the enclave: onnxruntime-web's WebAssembly backend, single-threaded, in the calling thread.
 *
 * Why this runtime (docs/developers/confidential-inference.md): the sim backend runs enclave code in a Node process
 * under the permission model — no native addons (`--no-addons`), no workers, no child processes, reads of declared
 * files only. onnxruntime-node is a native addon and cannot load there; onnxruntime-web's WASM build runs the same
 * ONNX Runtime kernels (compiled to WebAssembly with SIMD) as plain JavaScript + WebAssembly. Its `wasm` bundle
 * (`onnxruntime-web/wasm` → ort.wasm.bundle.min.mjs) embeds the Emscripten glue, so the only file it needs is the
 * `.wasm` binary, which the enclave reads from a declared (measured) file and hands over as `env.wasm.wasmBinary`:
 * nothing is fetched, no worker is started (`numThreads = 1`, `proxy = false`).
 *
 * The same module runs the plain (outside any enclave) baseline of the benchmark, so both measure one runtime.
 */
import { InferenceError } from './errors.js';

export type Ort = typeof import('onnxruntime-web');
export type OrtSession = import('onnxruntime-web').InferenceSession;
export type OrtTensor = import('onnxruntime-web').Tensor;

/** The wasm file onnxruntime-web's `wasm` bundle instantiates (also the name declared in the enclave manifest). */
export const ORT_WASM_FILE = 'ort-wasm-simd-threaded.wasm';

let loaded: Promise<Ort> | undefined;

/** Load and configure onnxruntime-web once per process with the given `.wasm` bytes. */
export function loadOrt(wasmBinary: Uint8Array): Promise<Ort> {
  loaded ??= (async () => {
    const ort = (await import('onnxruntime-web/wasm')) as unknown as Ort;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmBinary = wasmBinary as Uint8Array<ArrayBuffer>;
    ort.env.logLevel = 'error';
    return ort;
  })();
  return loaded;
}

/** An inference session over model bytes (RUNTIME_FAILED if ONNX Runtime refuses them). */
export async function createSession(ort: Ort, model: Uint8Array): Promise<OrtSession> {
  try {
    return await ort.InferenceSession.create(model, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (e) {
    throw new InferenceError('RUNTIME_FAILED', `ONNX Runtime cannot load the model: ${e instanceof Error ? e.message.slice(0, 200) : 'error'}`);
  }
}

/** Run a single-input single-output session on an FP32 tensor; the output's data and dims. */
export async function runFloat(
  ort: Ort,
  session: OrtSession,
  data: Float32Array,
  dims: readonly number[],
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  if (input === undefined || output === undefined) throw new InferenceError('RUNTIME_FAILED', 'the model has no input or output');
  let result: Record<string, OrtTensor>;
  try {
    result = (await session.run({ [input]: new ort.Tensor('float32', data, dims) })) as Record<string, OrtTensor>;
  } catch (e) {
    throw new InferenceError('RUNTIME_FAILED', `ONNX Runtime failed: ${e instanceof Error ? e.message.slice(0, 200) : 'error'}`);
  }
  const t = result[output];
  if (t === undefined || !(t.data instanceof Float32Array)) throw new InferenceError('RUNTIME_FAILED', 'the model output is not FP32');
  return { data: t.data, dims: t.dims };
}
