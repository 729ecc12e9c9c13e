/**
 * The enclave package: init → build → sign in a temp dir; the bundle inlines the enclave code and defineEnclave;
 * MRENCLAVE is deterministic and covers the source, the declared files and every manifest field; loadEnclaveDir
 * refuses a directory changed after signing; the signing key is 0600 and reused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnclaveError } from '../src/errors.js';
import { buildEnclave } from '../src/package/build.js';
import { initEnclaveProject } from '../src/package/init.js';
import { BUNDLE_PATH, readEnclaveProject } from '../src/package/manifest.js';
import { loadEnclaveDir, measureEnclaveDir, signEnclaveDir } from '../src/package/sign.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cloister-enclave-pkg-'));
}

function code(e: unknown): string | undefined {
  return EnclaveError.is(e) ? e.code : undefined;
}

function editJson(path: string, edit: (v: Record<string, unknown>) => void): void {
  const v = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(v);
  writeFileSync(path, JSON.stringify(v, null, 2));
}

test('init → build → sign: a bundle with the enclave code and defineEnclave inlined, a 1808-byte SIGSTRUCT', async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const init = initEnclaveProject(dir, { name: 'hello' });
  assert.deepEqual([...init.files].sort(), ['.gitignore', 'README.md', 'enclave.json', 'package.json', 'src/build.ts', 'src/enclave.ts', 'src/host.ts', 'tsconfig.json']);
  assert.equal(readEnclaveProject(dir).manifest.name, 'hello');
  assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /enclave\.key\.pem/);
  assert.throws(() => initEnclaveProject(dir), (e) => code(e) === 'INVALID_MANIFEST');

  const built = await buildEnclave(dir);
  assert.equal(built.bundlePath, join(dir, BUNDLE_PATH));
  const text = readFileSync(built.bundlePath, 'utf8');
  assert.match(text, /from inside the enclave!/, 'the enclave code is in the bundle');
  assert.match(text, /function defineEnclave\(/, 'defineEnclave is inlined');
  assert.match(text, /function assertEnclaveDefinition\(/);
  assert.doesNotMatch(text, /from ["']@cloister\//, 'no SDK import is left external');
  assert.doesNotMatch(text, new RegExp(dir.replace(/[/\\^$.*+?()[\]{}|-]/g, '\\$&')), 'no absolute path of the build machine');
  assert.match(text, /^export \{/m);
  // The bundle is a loadable ES module whose default export is the definition.
  const mod = (await import(`${built.bundlePath}?t=1`)) as { default: { ecalls: Record<string, unknown> } };
  assert.deepEqual(Object.keys(mod.default.ecalls).sort(), ['greet', 'unseal']);
  assert.ok(Object.isFrozen(mod.default));

  const signed = signEnclaveDir(dir);
  assert.match(signed.mrenclave, /^[0-9a-f]{64}$/);
  assert.match(signed.mrsigner, /^[0-9a-f]{64}$/);
  assert.equal(signed.keyGenerated, true);
  assert.equal(signed.warnings.length, 1);
  assert.equal(readFileSync(join(dir, 'enclave.sigstruct')).length, 1808);
  assert.equal(measureEnclaveDir(dir).mrenclave, signed.mrenclave);

  const loaded = loadEnclaveDir(dir);
  assert.equal(loaded.mrenclave, signed.mrenclave);
  assert.equal(loaded.mrsigner, signed.mrsigner);
  assert.equal(loaded.image.manifest.entry, BUNDLE_PATH, 'the measured manifest names the bundle');
  assert.equal(loaded.manifest.entry, 'src/enclave.ts');
  assert.equal(loaded.bundlePath, built.bundlePath);
  assert.deepEqual(loaded.readablePaths, []);
  assert.equal(loaded.sigstruct.length, 1808);
});

test('MRENCLAVE is deterministic and changes with a source byte, a declared file and any manifest field', async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  initEnclaveProject(dir, { name: 'det' });
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'model.bin'), 'weights v1');
  editJson(join(dir, 'enclave.json'), (m) => (m['files'] = ['data/model.bin']));

  const first = await buildEnclave(dir);
  const m1 = measureEnclaveDir(dir).mrenclave;
  const second = await buildEnclave(dir);
  assert.equal(second.sha256, first.sha256, 'two builds give the same bytes');
  assert.equal(measureEnclaveDir(dir).mrenclave, m1);

  // A source byte.
  const src = join(dir, 'src', 'enclave.ts');
  const original = readFileSync(src, 'utf8');
  writeFileSync(src, original.replace('from inside the enclave!', 'from inside the enclave?'));
  await buildEnclave(dir);
  const m2 = measureEnclaveDir(dir).mrenclave;
  assert.notEqual(m2, m1);
  writeFileSync(src, original);
  await buildEnclave(dir);
  assert.equal(measureEnclaveDir(dir).mrenclave, m1, 'back to the same source, back to the same MRENCLAVE');

  // A declared file.
  writeFileSync(join(dir, 'data', 'model.bin'), 'weights v2');
  assert.notEqual(measureEnclaveDir(dir).mrenclave, m1);
  writeFileSync(join(dir, 'data', 'model.bin'), 'weights v1');
  assert.equal(measureEnclaveDir(dir).mrenclave, m1);

  // Each manifest field.
  const changes: [string, unknown][] = [
    ['name', 'det2'],
    ['heapSizeMiB', 65],
    ['debug', true],
    ['productId', 2],
    ['securityVersion', 2],
    ['env', ['MODE=prod']],
  ];
  const seen = new Set([m1]);
  for (const [field, value] of changes) {
    const path = join(dir, 'enclave.json');
    const before = readFileSync(path, 'utf8');
    editJson(path, (m) => (m[field] = value));
    const m = measureEnclaveDir(dir).mrenclave;
    assert.ok(!seen.has(m), `changing ${field} changes MRENCLAVE`);
    seen.add(m);
    writeFileSync(path, before);
  }
  assert.equal(measureEnclaveDir(dir).mrenclave, m1);
});

test('loadEnclaveDir refuses a directory changed after signing; the key is 0600 and reused', async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  initEnclaveProject(dir, { name: 'tamper' });
  await buildEnclave(dir);
  assert.throws(() => loadEnclaveDir(dir), (e) => code(e) === 'INVALID_SIGNATURE' && /not signed/.test((e as Error).message));
  const a = signEnclaveDir(dir);
  const keyPath = join(dir, 'enclave.key.pem');
  assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  const keyPem = readFileSync(keyPath, 'utf8');
  const b = signEnclaveDir(dir);
  assert.equal(b.keyGenerated, false);
  assert.equal(b.mrsigner, a.mrsigner, 'the same key signs again');
  assert.equal(readFileSync(keyPath, 'utf8'), keyPem);
  loadEnclaveDir(dir);

  appendFileSync(join(dir, BUNDLE_PATH), '\n// changed\n');
  assert.throws(
    () => loadEnclaveDir(dir),
    (e) => code(e) === 'INVALID_SIGNATURE' && /the bundle changed since it was signed/.test((e as Error).message) && /cloister enclave sign/.test((e as Error).message),
  );
  signEnclaveDir(dir);
  loadEnclaveDir(dir);
  editJson(join(dir, 'enclave.json'), (m) => (m['securityVersion'] = 7));
  assert.throws(() => loadEnclaveDir(dir), (e) => code(e) === 'INVALID_SIGNATURE');

  // An explicit key elsewhere; a missing explicit key.
  const other = join(dir, 'other.pem');
  assert.throws(() => signEnclaveDir(dir, { keyPath: other }), (e) => code(e) === 'INVALID_SIGNATURE');
  writeFileSync(join(dir, 'enclave.sigstruct'), new Uint8Array(1808));
  assert.throws(() => loadEnclaveDir(dir), (e) => code(e) === 'INVALID_SIGNATURE');
});

test('invalid manifests and builds are INVALID_MANIFEST with the reason', async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.throws(() => readEnclaveProject(dir), (e) => code(e) === 'INVALID_MANIFEST' && /enclave\.json is missing/.test((e as Error).message));
  initEnclaveProject(dir, { name: 'bad' });
  const path = join(dir, 'enclave.json');
  const good = readFileSync(path, 'utf8');
  const cases: [(m: Record<string, unknown>) => void, RegExp][] = [
    [(m) => (m['heapSizeMiB'] = -1), /heapSizeMiB/],
    [(m) => (m['extra'] = 1), /extra is not a manifest field/],
    [(m) => (m['files'] = ['../outside']), /inside it/],
    [(m) => (m['entry'] = BUNDLE_PATH), /SOURCE entry/],
    [(m) => (m['env'] = ['NOVALUE']), /env/],
  ];
  for (const [edit, reason] of cases) {
    writeFileSync(path, good);
    editJson(path, edit);
    assert.throws(() => readEnclaveProject(dir), (e) => code(e) === 'INVALID_MANIFEST' && reason.test((e as Error).message), String(reason));
  }
  writeFileSync(path, '{ not json');
  assert.throws(() => readEnclaveProject(dir), (e) => code(e) === 'INVALID_MANIFEST');
  writeFileSync(path, good);
  editJson(path, (m) => (m['files'] = ['missing.txt']));
  await buildEnclave(dir);
  assert.throws(() => measureEnclaveDir(dir), (e) => code(e) === 'INVALID_MANIFEST' && /missing\.txt/.test((e as Error).message));
  writeFileSync(path, good);

  writeFileSync(join(dir, 'src', 'enclave.ts'), "import { nope } from './nowhere.js';\nexport default nope(;\n");
  await assert.rejects(buildEnclave(dir), (e) => code(e) === 'INVALID_MANIFEST' && /src\/enclave\.ts:2:/.test((e as Error).message));
  writeFileSync(join(dir, 'src', 'enclave.ts'), "import { createEnclave } from '@cloister/enclave';\nexport default createEnclave;\n");
  await assert.rejects(buildEnclave(dir), (e) => code(e) === 'INVALID_MANIFEST' && /createEnclave/.test((e as Error).message));
});
