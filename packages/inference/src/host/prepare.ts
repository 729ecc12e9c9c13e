/**
 * Host side: make, build and sign an inference enclave directory with the enclave SDK's own tools.
 *
 * ```text
 * <dir>/enclave.json                          name, heap, debug, productId, securityVersion,
 *                                             files: ["runtime/ort-wasm-simd-threaded.wasm", …extra files]
 * <dir>/src/enclave.mjs                       the entry: re-exports the enclave module (default: this package's
 *                                             enclave/main.js, the OCR server)
 * <dir>/runtime/ort-wasm-simd-threaded.wasm   onnxruntime-web's WebAssembly binary, copied from node_modules
 * <dir>/dist/enclave.bundle.mjs, enclave.sigstruct, enclave.key.pem   (cloister enclave build / sign)
 * ```
 *
 * The `.wasm` is a declared file: measured into MRENCLAVE page by page and one of the few files the enclave may
 * read. The model is not a declared file: the owner's encrypted blob is handed to the enclave at start and bound
 * into its attestation by hash (runtime-data.ts), so one signed enclave serves any model its key broker releases.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEnclave, signEnclaveDir } from '@cloister/enclave';
import { ORT_WASM_FILE } from '../ort.js';
import { ortWasmPath } from '../ocr/node-files.js';

/** The declared path of the ONNX Runtime binary inside an enclave directory. */
export const ENCLAVE_WASM_PATH = `runtime/${ORT_WASM_FILE}`;
/** The compiled enclave module of this package (the OCR server). */
export const INFERENCE_ENCLAVE_MODULE = fileURLToPath(new URL('../enclave/main.js', import.meta.url));

export interface PrepareEnclaveOptions {
  readonly name?: string;
  /** EPC budget: the model, ONNX Runtime's WebAssembly memory and the sessions live here. Default 1024 MiB. */
  readonly heapSizeMiB?: number;
  readonly debug?: boolean;
  readonly productId?: number;
  readonly securityVersion?: number;
  /** The enclave module to re-export (absolute path of a compiled ES module). Default the OCR server. */
  readonly module?: string;
  /** More files to copy in and declare: `{ path: relative path in the enclave, from: absolute source }`. */
  readonly extraFiles?: readonly { readonly path: string; readonly from: string }[];
  /** The signing key (PEM, RSA-3072 e = 3); default `<dir>/enclave.key.pem`, generated on first use. */
  readonly keyPath?: string;
}

export interface PreparedEnclave {
  readonly dir: string;
  readonly mrenclave: string;
  readonly mrsigner: string;
}

export async function prepareInferenceEnclave(dir: string, options: PrepareEnclaveOptions = {}): Promise<PreparedEnclave> {
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(join(dir, 'runtime'), { recursive: true });
  copyFileSync(ortWasmPath(), join(dir, ENCLAVE_WASM_PATH));
  const extra = options.extraFiles ?? [];
  for (const f of extra) {
    mkdirSync(join(dir, f.path, '..'), { recursive: true });
    copyFileSync(f.from, join(dir, f.path));
  }
  writeFileSync(
    join(dir, 'enclave.json'),
    `${JSON.stringify(
      {
        name: options.name ?? 'confidential-inference',
        entry: 'src/enclave.mjs',
        heapSizeMiB: options.heapSizeMiB ?? 1024,
        debug: options.debug ?? false,
        productId: options.productId ?? 1,
        securityVersion: options.securityVersion ?? 1,
        files: [ENCLAVE_WASM_PATH, ...extra.map((f) => f.path)],
      },
      null,
      2,
    )}\n`,
  );
  const module = options.module ?? INFERENCE_ENCLAVE_MODULE;
  writeFileSync(join(dir, 'src', 'enclave.mjs'), `export { default } from ${JSON.stringify(module)};\n`);
  await buildEnclave(dir);
  const signed = await signEnclaveDir(dir, options.keyPath === undefined ? {} : { keyPath: options.keyPath });
  return { dir, mrenclave: signed.mrenclave, mrsigner: signed.mrsigner };
}
