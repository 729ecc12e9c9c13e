/**
 * A Gramine manifest for running an enclave directory under `gramine-sgx`: the system Node.js runs the in-enclave
 * runtime, which loads the measured bundle (`dist/enclave.bundle.mjs`). Gramine measures its own manifest and the
 * trusted files it lists, so the MRENCLAVE under Gramine is Gramine's (from `gramine-sgx-sign`), not the simulator's.
 *
 * The output is a manifest TEMPLATE for `gramine-manifest` (Jinja): `{{ gramine.libos }}`,
 * `{{ gramine.runtimedir() }}` and `{{ arch_libdir }}` are left for it to fill in
 * (`gramine-manifest -Darch_libdir=/lib/x86_64-linux-gnu enclave.manifest.template enclave.manifest`), unless the
 * options `libosPath`, `runtimeDir` and `archLibDir` give concrete paths, in which case it is plain TOML.
 *
 * What it declares (Documentation/manifest-syntax.rst):
 * - `libos.entrypoint` = the node binary; `loader.argv` = [node, the runtime, the bundle] (a fixed argv: the host's
 *   command line is never used); `fs.start_dir = "/enclave"`.
 * - `fs.mounts`: Gramine's libc at /lib, the arch lib dirs (Node's shared libraries), the node binary, the runtime at
 *   {@link GRAMINE_RUNTIME_PATH}, the enclave directory at {@link GRAMINE_ENCLAVE_ROOT}, a tmpfs /tmp.
 * - `sgx.trusted_files`: the node binary, the lib dirs, the runtime, the bundle and every declared file — hashed
 *   into the measurement by gramine-sgx-sign; nothing else of the enclave directory (its key, its SIGSTRUCT) is
 *   readable inside.
 * - `loader.env.*`: exactly enclave.json's `env` entries (no host environment passes through) plus LD_LIBRARY_PATH.
 * - `sgx.remote_attestation = "dcap"` (so /dev/attestation/quote exists), `sgx.debug`, `sgx.isvprodid`,
 *   `sgx.isvsvn` from enclave.json, `sgx.max_threads` (default 32, as Gramine's Node.js example).
 * - `sgx.enclave_size`: heapSizeMiB rounded up to a power of two, and at least 2G — Gramine's Node.js example uses
 *   "2G" because V8 reserves about 1.7 GB at start (nodejs/node#13018); without EDMM the whole size is committed.
 */
import { join, resolve } from 'node:path';
import type { NormalizedManifest } from '@cloister/sgx-sim';
import { EnclaveError } from '../errors.js';
import { envRecord } from '../package/env-policy.js';
import { BUNDLE_PATH, readEnclaveProject } from '../package/manifest.js';

/** Where the enclave directory appears inside Gramine. */
export const GRAMINE_ENCLAVE_ROOT = '/enclave';
/** Where the in-enclave runtime appears inside Gramine. */
export const GRAMINE_RUNTIME_PATH = '/cloister/enclave-runtime.mjs';
/** Node.js needs about 1.7 GB of address space: the smallest enclave size given to it. */
export const GRAMINE_MIN_ENCLAVE_MIB = 2048;

export interface GramineManifestOptions {
  /** Host path of the enclave directory (absolute in the output; relative paths are resolved from the cwd). */
  readonly enclaveDir: string;
  /** Host path of the node binary; mounted at the same path inside. Default /usr/bin/node. */
  readonly nodePath?: string;
  /** Host path of the self-contained in-enclave runtime module. Default `<enclaveDir>/dist/enclave-runtime.mjs`. */
  readonly runtimePath?: string;
  /** Default the Jinja expression `{{ gramine.libos }}`. */
  readonly libosPath?: string;
  /** Gramine's patched libc directory. Default `{{ gramine.runtimedir() }}`. */
  readonly runtimeDir?: string;
  /** e.g. /lib/x86_64-linux-gnu. Default the template variable `{{ arch_libdir }}`. */
  readonly archLibDir?: string;
  /** Default 32. */
  readonly maxThreads?: number;
  /** Default "error" (the only level fit for production). */
  readonly logLevel?: 'none' | 'error' | 'warning' | 'debug' | 'trace' | 'all';
  /** Use this manifest instead of reading `<enclaveDir>/enclave.json`. */
  readonly manifest?: NormalizedManifest;
}

/** A TOML basic string (JSON's escapes are a subset of TOML's). */
function str(value: string): string {
  return JSON.stringify(value);
}

function key(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : str(name);
}

/** sgx.enclave_size for a heap: a power of two of MiB, at least {@link GRAMINE_MIN_ENCLAVE_MIB}, as "<n>G". */
export function gramineEnclaveSize(heapSizeMiB: number): string {
  let mib = GRAMINE_MIN_ENCLAVE_MIB;
  while (mib < heapSizeMiB) mib *= 2;
  return `${mib / 1024}G`;
}

/** The text of a Gramine manifest (template) for `options.enclaveDir` (see the module comment). */
export function gramineManifest(options: GramineManifestOptions): string {
  const manifest = options.manifest ?? readEnclaveProject(options.enclaveDir).manifest;
  const dir = resolve(options.enclaveDir);
  const node = options.nodePath ?? '/usr/bin/node';
  const runtime = options.runtimePath ?? join(dir, 'dist', 'enclave-runtime.mjs');
  const libos = options.libosPath ?? '{{ gramine.libos }}';
  const runtimeDir = options.runtimeDir ?? '{{ gramine.runtimedir() }}';
  const archLibDir = options.archLibDir ?? '{{ arch_libdir }}';
  const maxThreads = options.maxThreads ?? 32;
  if (!Number.isInteger(maxThreads) || maxThreads < 1 || maxThreads > 4096) {
    throw new EnclaveError('INVALID_ARGUMENT', 'maxThreads must be an integer 1..4096');
  }
  for (const [what, path] of [
    ['nodePath', node],
    ['runtimePath', runtime],
  ] as const) {
    if (!path.startsWith('/')) throw new EnclaveError('INVALID_ARGUMENT', `${what} must be an absolute path`);
  }

  const env = new Map<string, string>();
  env.set('LD_LIBRARY_PATH', `/lib:${archLibDir}:/usr${archLibDir}`);
  // The allowlist (package/env-policy.ts) again: a manifest given directly never adds a loader variable.
  for (const [name, value] of Object.entries(envRecord(manifest.env, 'enclave.json env'))) env.set(name, value);
  const inside = (rel: string): string => `${GRAMINE_ENCLAVE_ROOT}/${rel}`;
  const host = (rel: string): string => join(dir, rel);

  const lines: string[] = [
    `# Gramine manifest for the enclave "${manifest.name.replace(/[\r\n]/g, ' ')}", generated by @cloister/enclave.`,
    '# Render with gramine-manifest, sign with gramine-sgx-sign, run with gramine-sgx.',
    '',
    `loader.entrypoint.uri = ${str(`file:${libos}`)}`,
    `libos.entrypoint = ${str(node)}`,
    `loader.log_level = ${str(options.logLevel ?? 'error')}`,
    `loader.argv = [${[node, GRAMINE_RUNTIME_PATH, inside(BUNDLE_PATH)].map(str).join(', ')}]`,
    `fs.start_dir = ${str(GRAMINE_ENCLAVE_ROOT)}`,
    '',
    ...[...env].map(([name, value]) => `loader.env.${key(name)} = ${str(value)}`),
    '',
    'fs.mounts = [',
    `  { path = "/lib", uri = ${str(`file:${runtimeDir}`)} },`,
    `  { path = ${str(archLibDir)}, uri = ${str(`file:${archLibDir}`)} },`,
    `  { path = ${str(`/usr${archLibDir}`)}, uri = ${str(`file:/usr${archLibDir}`)} },`,
    `  { path = ${str(node)}, uri = ${str(`file:${node}`)} },`,
    `  { path = ${str(GRAMINE_RUNTIME_PATH)}, uri = ${str(`file:${runtime}`)} },`,
    `  { path = ${str(GRAMINE_ENCLAVE_ROOT)}, uri = ${str(`file:${dir}`)} },`,
    '  { type = "tmpfs", path = "/tmp" },',
    ']',
    '',
    `sgx.debug = ${manifest.debug ? 'true' : 'false'}`,
    `sgx.enclave_size = ${str(gramineEnclaveSize(manifest.heapSizeMiB))}`,
    `sgx.max_threads = ${maxThreads}`,
    `sgx.isvprodid = ${manifest.productId}`,
    `sgx.isvsvn = ${manifest.securityVersion}`,
    'sgx.remote_attestation = "dcap"',
    '',
    'sgx.trusted_files = [',
    ...[
      `file:${node}`,
      `file:${runtimeDir}/`,
      `file:${archLibDir}/`,
      `file:/usr${archLibDir}/`,
      `file:${runtime}`,
      `file:${host(BUNDLE_PATH)}`,
      ...manifest.files.map((f) => `file:${host(f)}`),
    ].map((uri) => `  ${str(uri)},`),
    ']',
    '',
  ];
  return lines.join('\n');
}
