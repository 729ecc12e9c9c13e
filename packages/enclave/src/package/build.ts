/**
 * `buildEnclave(dir)`: bundle the enclave's source entry into ONE ES module, `<dir>/dist/enclave.bundle.mjs` — the
 * code that is measured into MRENCLAVE and the only code the enclave runs.
 *
 * - Everything is bundled (the developer's code, its npm dependencies, and the SDK's enclave side — `defineEnclave`,
 *   `EnclaveError` — so that the measurement covers all code that runs in the enclave); only Node.js built-ins
 *   (`node:fs`, `crypto`, …) stay external: they are part of the runtime (the sim's Node.js process, or the node
 *   binary that Gramine lists among its trusted files).
 * - `@cloister/enclave` and `@cloister/enclave/runtime` imported by enclave code resolve to the enclave-side API of
 *   the SDK that runs the build (this package's own compiled files), whatever the enclave directory's
 *   node_modules holds: the SDK that builds an enclave is the SDK measured into it. Host-only exports
 *   (createEnclave, …) are not available there and fail the build.
 * - Deterministic: esbuild with no minification, no source map, no legal comments, a fixed target and UTF-8
 *   output; the SDK's files appear in the bundle under stable `cloister-enclave-sdk:` names (not absolute paths),
 *   and the developer's files under paths relative to the enclave directory. Two builds of the same sources with the
 *   same esbuild version give the same bytes (pin esbuild to reproduce an MRENCLAVE elsewhere).
 * - A two-line preamble gives bundled CommonJS dependencies a `require` (for their `require('fs')`), as an ES module
 *   has none.
 *
 * It also writes `<dir>/dist/enclave-runtime.mjs`: the Gramine backend's in-enclave runtime (runtime/gramine-main of
 * the SDK that builds, with its dependencies) bundled into one self-contained ES module, the file the Gramine
 * manifest mounts at /cloister/enclave-runtime.mjs and lists among its trusted files (gramine/manifest.ts).
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildFailure, Message, Plugin } from 'esbuild';
import { EnclaveError } from '../errors.js';
import { enclavePaths, readEnclaveProject } from './manifest.js';

const SDK_NAMESPACE = 'cloister-enclave-sdk';
const SDK_ENTRY = 'enclave-side-api';
/** The compiled `src/` of this package (…/dist/src/), where the enclave-side modules live. */
const SDK_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The Gramine runtime's build output, relative to the enclave directory (gramine/manifest.ts expects it there). */
export const RUNTIME_OUTPUT_PATH = 'dist/enclave-runtime.mjs';

const PREAMBLE =
  "import { createRequire as __cloisterCreateRequire } from 'node:module';\n" +
  'const require = __cloisterCreateRequire(import.meta.url);';

export interface BuildEnclaveResult {
  /** Absolute path of dist/enclave.bundle.mjs. */
  readonly bundlePath: string;
  /** Absolute path of dist/enclave-runtime.mjs (the Gramine backend's in-enclave runtime). */
  readonly runtimePath: string;
  readonly bytes: Uint8Array;
  /** SHA-256 of the bundle, hex. */
  readonly sha256: string;
  /** esbuild warnings, formatted `file:line:column: text`. */
  readonly warnings: readonly string[];
}

function formatMessage(m: Message): string {
  const at = m.location === null ? '' : `${m.location.file}:${m.location.line}:${m.location.column}: `;
  return `${at}${m.text}`;
}

function sdkPlugin(): Plugin {
  return {
    name: 'cloister-enclave-sdk',
    setup(b) {
      b.onResolve({ filter: /^@cloister\/enclave(\/.*)?$/ }, (args) => {
        if (args.path === '@cloister/enclave' || args.path === '@cloister/enclave/runtime') {
          return { path: SDK_ENTRY, namespace: SDK_NAMESPACE };
        }
        return {
          errors: [{ text: `enclave code may import '@cloister/enclave/runtime' (the enclave-side API), not '${args.path}'` }],
        };
      });
      b.onResolve({ filter: /^\.\.?\//, namespace: SDK_NAMESPACE }, (args) => {
        const rel = relative(SDK_ROOT, resolve(args.resolveDir, args.path));
        if (rel.startsWith('..')) return { errors: [{ text: `the SDK module ${args.importer} imports ${args.path}, outside the SDK` }] };
        return { path: rel.split(sep).join('/'), namespace: SDK_NAMESPACE };
      });
      b.onLoad({ filter: /.*/, namespace: SDK_NAMESPACE }, (args) => {
        if (args.path === SDK_ENTRY) {
          // An explicit export wins over `export *`, so this stays valid once runtime/index exports defineEnclave.
          return {
            contents: "export * from './runtime/index.js';\nexport { defineEnclave } from './define.js';\n",
            loader: 'js',
            resolveDir: SDK_ROOT,
          };
        }
        const abs = join(SDK_ROOT, args.path);
        return { contents: readFileSync(abs, 'utf8'), loader: 'js', resolveDir: dirname(abs) };
      });
    },
  };
}

/** The options both bundles share: one deterministic ESM file for Node 20, nothing minified, no source maps. */
const ESBUILD_COMMON = {
  write: false,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  charset: 'utf8',
  banner: { js: PREAMBLE },
  logLevel: 'silent',
} as const;

/**
 * The Gramine runtime (runtime/gramine-main.js of this SDK and everything it imports, @cloister/dcap included) as one
 * ES module; only Node.js built-ins stay external. Paths in it are relative to the SDK's compiled `src/`.
 */
async function bundleGramineRuntime(build: typeof import('esbuild').build, outfile: string): Promise<Uint8Array> {
  const entry = join(SDK_ROOT, 'runtime', 'gramine-main.js');
  try {
    const result = await build({
      absWorkingDir: SDK_ROOT,
      entryPoints: [entry],
      outfile,
      ...ESBUILD_COMMON,
    });
    const file = result.outputFiles.find((f) => f.path === outfile) ?? result.outputFiles[0];
    if (file === undefined) throw new EnclaveError('INVALID_MANIFEST', 'esbuild produced no runtime output');
    return file.contents;
  } catch (e) {
    if (EnclaveError.is(e)) throw e;
    const failure = e as Partial<BuildFailure>;
    const errors = Array.isArray(failure.errors) ? failure.errors.map(formatMessage) : [(e as Error).message];
    throw new EnclaveError('INVALID_MANIFEST', `cannot bundle the Gramine runtime ${entry}:\n  ${errors.join('\n  ')}`, { cause: e });
  }
}

/**
 * Bundle `<dir>`'s entry (enclave.json `entry`) into `<dir>/dist/enclave.bundle.mjs`, and write the Gramine runtime
 * `<dir>/dist/enclave-runtime.mjs`. EnclaveError INVALID_MANIFEST
 * when enclave.json is invalid, the entry is missing, or esbuild reports errors (all of them, in the message).
 */
export async function buildEnclave(dir: string): Promise<BuildEnclaveResult> {
  const project = readEnclaveProject(dir);
  if (!existsSync(project.entryPath)) {
    throw new EnclaveError('INVALID_MANIFEST', `the enclave entry ${project.manifest.entry} does not exist in ${project.dir}`);
  }
  const bundlePath = enclavePaths(project.dir).bundle;
  let output: Uint8Array;
  let warnings: string[];
  // esbuild is loaded only when building, so that hosts importing @cloister/enclave do not pay for it.
  const { build } = await import('esbuild');
  try {
    const result = await build({
      absWorkingDir: project.dir,
      entryPoints: [project.entryPath],
      outfile: bundlePath,
      ...ESBUILD_COMMON,
      plugins: [sdkPlugin()],
    });
    const file = result.outputFiles.find((f) => f.path === bundlePath) ?? result.outputFiles[0];
    if (file === undefined) throw new EnclaveError('INVALID_MANIFEST', 'esbuild produced no output');
    output = file.contents;
    warnings = result.warnings.map(formatMessage);
  } catch (e) {
    if (EnclaveError.is(e)) throw e;
    const failure = e as Partial<BuildFailure>;
    const errors = Array.isArray(failure.errors) ? failure.errors.map(formatMessage) : [(e as Error).message];
    throw new EnclaveError('INVALID_MANIFEST', `cannot bundle ${project.manifest.entry}:\n  ${errors.join('\n  ')}`, { cause: e });
  }
  const runtimePath = join(project.dir, RUNTIME_OUTPUT_PATH);
  const runtime = await bundleGramineRuntime(build, runtimePath);
  mkdirSync(dirname(bundlePath), { recursive: true });
  writeFileSync(bundlePath, output);
  writeFileSync(runtimePath, runtime);
  return {
    bundlePath,
    runtimePath,
    bytes: output,
    sha256: createHash('sha256').update(output).digest('hex'),
    warnings,
  };
}

