/**
 * `cloister infer encrypt`: the model owner's step. The blob it writes decrypts with the key it writes (mode 0600)
 * into the three files, its printed hash is the blob's; existing outputs are not replaced without --force.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decryptModel, modelHash } from '../src/model-blob.js';

const CLI = fileURLToPath(new URL('../../../cli/dist/src/bin.js', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout });
    });
  });
}

test('cloister infer encrypt writes a blob that opens with the key it writes; outputs are not overwritten without --force', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-infer-encrypt-'));
  try {
    writeFileSync(join(dir, 'det.onnx'), 'detection model bytes');
    writeFileSync(join(dir, 'rec.onnx'), 'recognition model bytes');
    writeFileSync(join(dir, 'keys.txt'), 'a\nb\n');
    const args = ['infer', 'encrypt', '--det', join(dir, 'det.onnx'), '--rec', join(dir, 'rec.onnx'), '--keys', join(dir, 'keys.txt'), '--out', join(dir, 'model.blob'), '--key-out', join(dir, 'model.key'), '--json'];
    const first = await run(args);
    assert.equal(first.code, 0);
    const out = JSON.parse(first.stdout) as { ok: boolean; modelHash: string };
    const blob = new Uint8Array(readFileSync(join(dir, 'model.blob')));
    const key = new Uint8Array(readFileSync(join(dir, 'model.key')));
    assert.equal(key.length, 32);
    assert.equal(statSync(join(dir, 'model.key')).mode & 0o777, 0o600);
    assert.equal(out.modelHash, await modelHash(blob));
    const files = await decryptModel(blob, key);
    assert.deepEqual(
      files.map((f) => [f.name, new TextDecoder().decode(f.bytes)]),
      [['det.onnx', 'detection model bytes'], ['rec.onnx', 'recognition model bytes'], ['keys.txt', 'a\nb\n']],
    );
    const again = await run(args);
    assert.equal(again.code, 1);
    assert.equal((JSON.parse(again.stdout) as { error: { code: string } }).error.code, 'OUTPUT_UNWRITABLE');
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'model.key'))), key, 'the key was not replaced');
    assert.equal((await run([...args, '--force'])).code, 0);
    assert.notDeepEqual(new Uint8Array(readFileSync(join(dir, 'model.key'))), key, '--force writes a fresh key');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
