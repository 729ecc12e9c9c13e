/**
 * Step 1 of confidential inference: ONNX Runtime (onnxruntime-web's WebAssembly backend, one thread, no workers)
 * runs the PP-OCRv4 recognition model INSIDE a sim enclave — a Node process under the permission model, no addons,
 * reading only its declared (measured) files: the runtime's .wasm and, here, the model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnclave, type EcallHandler, type EnclaveDefinition } from '@cloister/enclave';
import { prepareInferenceEnclave } from '../src/host/prepare.js';
import { ppocrModelPaths } from '../src/ocr/node-files.js';

type Def = EnclaveDefinition<{
  recognizeBlank: EcallHandler<{ width: number }, { dims: number[]; inputs: string[]; permission: boolean | string }>;
  readFileAt: EcallHandler<{ path: string }, { ok: boolean; bytes?: number; code?: string }>;
}>;

test('the PP-OCR recognition model runs on onnxruntime-web inside a permission-restricted sim enclave', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cloister-ort-'));
  try {
    const dir = join(root, 'enclave');
    const prepared = await prepareInferenceEnclave(dir, {
      name: 'ort-probe',
      heapSizeMiB: 512,
      module: fileURLToPath(new URL('./fixtures/ort-enclave.js', import.meta.url)),
      extraFiles: [{ path: 'model/rec.onnx', from: ppocrModelPaths().rec }],
    });
    assert.match(prepared.mrenclave, /^[0-9a-f]{64}$/);
    const enclave = await createEnclave<Def>(dir, { callTimeoutMs: 120_000 });
    try {
      const r = await enclave.ecalls.recognizeBlank({ width: 160 });
      // [batch, time steps = width / 8, classes = 6623 dictionary characters + blank + space]
      assert.deepEqual(r.dims, [1, 20, 6625]);
      assert.deepEqual(r.inputs, ['x']);
      assert.equal(r.permission, false, 'the enclave runs under the permission model and may not read /etc/passwd');
      const denied = await enclave.ecalls.readFileAt({ path: ppocrModelPaths().det });
      assert.deepEqual(denied, { ok: false, code: 'ERR_ACCESS_DENIED' });
      const allowed = await enclave.ecalls.readFileAt({ path: join(dir, 'model/rec.onnx') });
      assert.equal(allowed.ok, true);
    } finally {
      await enclave.terminate();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
