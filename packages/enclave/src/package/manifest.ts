/**
 * The enclave package format: one directory per enclave.
 *
 * ```text
 * <dir>/enclave.json            the manifest (@cloister/sgx-sim's EnclaveManifest), written by the developer
 * <dir>/src/enclave.ts          the SOURCE entry (manifest.entry), bundled by `cloister enclave build`
 * <dir>/dist/enclave.bundle.mjs the build output: ONE self-contained ES module, the enclave's measured code
 * <dir>/enclave.sigstruct       the 1808-byte SIGSTRUCT written by `cloister enclave sign`
 * <dir>/enclave.key.pem         the RSA-3072 (e = 3) signing key, generated on first sign, mode 0600
 * ```
 *
 * ## enclave.json
 *
 * Exactly the fields of sgx-sim's `EnclaveManifest` (unknown fields are refused: every field is measured):
 * `name`, `entry` (the source entry, e.g. `src/enclave.ts`), `heapSizeMiB`, `debug`, `productId` (ISVPRODID),
 * `securityVersion` (ISVSVN), `files` (paths relative to the directory, measured page by page and the only files the
 * enclave may read), `env` (`NAME=value` entries: the enclave's whole environment, measured — nothing passes through
 * from the host; names on the allowlist of env-policy.ts only: ENV_NOT_ALLOWED otherwise), and the KSS fields `kss`, `configSvn`, `isvExtProdId`, `isvFamilyId`, `provisionKey`, `miscSelect`.
 *
 * ## What is measured
 *
 * The measured manifest is enclave.json with `entry` rewritten to the bundle's relative path
 * (`dist/enclave.bundle.mjs`, {@link BUNDLE_PATH}): what runs in the enclave is the bundle, not the TypeScript source,
 * and sgx-sim's measurement binds the code pages to the manifest's `entry`. Every other field is measured as written.
 * So MRENCLAVE = measure(measured manifest, bundle bytes, declared files' bytes); changing a source byte (through the
 * bundle), a declared file or any manifest field changes it.
 *
 * The signing key belongs to the developer: a production key should live in an HSM or a secret store, not next to
 * the code (MRSIGNER is the hash of its modulus; whoever holds it can sign enclaves that inherit MRSIGNER-sealed data).
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { SimError, normalizeManifest, type EnclaveManifest, type NormalizedManifest } from '@cloister/sgx-sim';
import { EnclaveError } from '../errors.js';
import { envRecord } from './env-policy.js';

export const MANIFEST_FILE = 'enclave.json';
/** The build output, relative to the enclave directory; also the measured manifest's `entry`. */
export const BUNDLE_PATH = 'dist/enclave.bundle.mjs';
export const SIGSTRUCT_FILE = 'enclave.sigstruct';
export const KEY_FILE = 'enclave.key.pem';

export interface EnclavePaths {
  readonly dir: string;
  readonly manifest: string;
  readonly bundle: string;
  readonly sigstruct: string;
  readonly key: string;
}

/** The absolute paths of an enclave directory's package files. */
export function enclavePaths(dir: string): EnclavePaths {
  const root = resolve(dir);
  return {
    dir: root,
    manifest: join(root, MANIFEST_FILE),
    bundle: join(root, BUNDLE_PATH),
    sigstruct: join(root, SIGSTRUCT_FILE),
    key: join(root, KEY_FILE),
  };
}

export interface EnclaveProject {
  readonly dir: string;
  /** enclave.json as written, validated, defaults filled in (entry = the source entry). */
  readonly manifest: NormalizedManifest;
  /** The manifest that is measured and signed: `manifest` with `entry` = {@link BUNDLE_PATH}. */
  readonly measuredManifest: EnclaveManifest;
  /** Absolute path of the source entry. */
  readonly entryPath: string;
}

function invalid(message: string, cause?: unknown): never {
  throw new EnclaveError('INVALID_MANIFEST', message, cause === undefined ? undefined : { cause });
}

/** A path that stays inside the enclave directory (relative, no `..` escape). */
function checkRelative(field: string, path: string): void {
  const n = normalize(path);
  if (isAbsolute(path) || n === '..' || n.startsWith(`..${sep}`) || n.startsWith('../')) {
    invalid(`enclave.json ${field} ${JSON.stringify(path)} must be a path relative to the enclave directory, inside it`);
  }
}

/**
 * Validate a manifest value as enclave.json (normalizeManifest plus the package rules: relative paths inside the
 * directory, the entry not being the bundle itself). EnclaveError INVALID_MANIFEST with the offending field.
 */
export function validateEnclaveJson(value: unknown, where = MANIFEST_FILE): NormalizedManifest {
  let manifest: NormalizedManifest;
  try {
    manifest = normalizeManifest(value);
  } catch (e) {
    if (SimError.is(e)) invalid(`${where}: ${e.message.replace(/^manifest\./, '')}`, e);
    throw e;
  }
  checkRelative('entry', manifest.entry);
  if (normalize(manifest.entry) === normalize(BUNDLE_PATH)) {
    invalid(`${where}: entry is the SOURCE entry (e.g. src/enclave.ts), not the build output ${BUNDLE_PATH}`);
  }
  for (const f of manifest.files) checkRelative('files entry', f);
  // The environment allowlist (env-policy.ts): refused here, i.e. at build, sign, measure and load time.
  envRecord(manifest.env, `${where} env`);
  return manifest;
}

/** The manifest that is measured: `entry` rewritten to the bundle path, every other field as normalized. */
export function measuredManifestOf(manifest: NormalizedManifest): EnclaveManifest {
  return { ...manifest, entry: BUNDLE_PATH };
}

/** Read and validate `<dir>/enclave.json`. */
export function readEnclaveProject(dir: string): EnclaveProject {
  const paths = enclavePaths(dir);
  if (!existsSync(paths.manifest)) invalid(`${paths.dir} is not an enclave directory: ${MANIFEST_FILE} is missing (run cloister enclave init)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(paths.manifest, 'utf8'));
  } catch (e) {
    invalid(`${paths.manifest} is not valid JSON: ${(e as Error).message}`, e);
  }
  const manifest = validateEnclaveJson(raw, paths.manifest);
  return { dir: paths.dir, manifest, measuredManifest: measuredManifestOf(manifest), entryPath: join(paths.dir, manifest.entry) };
}

/** Read the declared files of `project` (absolute path and bytes, in declared order); INVALID_MANIFEST if one is missing. */
export function readDeclaredFiles(project: EnclaveProject): { path: string; absolutePath: string; bytes: Uint8Array }[] {
  return project.manifest.files.map((path) => {
    const absolutePath = join(project.dir, path);
    try {
      return { path, absolutePath, bytes: new Uint8Array(readFileSync(absolutePath)) };
    } catch (e) {
      invalid(`enclave.json declares ${JSON.stringify(path)} but it cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, e);
    }
  });
}
