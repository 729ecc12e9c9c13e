/**
 * `cloister enclave init|build|sign|measure`: the enclave package workflow (packages/enclave/src/package/).
 *
 *   init DIR     scaffold a project (enclave.json, src/enclave.ts, src/host.ts, package.json, tsconfig.json, README)
 *   build [DIR]  bundle the entry into DIR/dist/enclave.bundle.mjs (the measured code)
 *   sign [DIR]   sign the build: DIR/enclave.sigstruct; prints MRENCLAVE and MRSIGNER
 *   measure [DIR] print the MRENCLAVE of the build, without a key
 */
import * as enclaveSdk from '@cloister/enclave';
import { EnclaveError } from '@cloister/enclave';
import { CliError } from '../errors.js';
import { printJson, reportFailure } from '../output.js';

/**
 * The package API of @cloister/enclave this command uses (src/package/*), typed here so that this file compiles
 * whether or not the package index re-exports it yet; once it does, these can become plain named imports.
 */
interface EnclavePackageApi {
  initEnclaveProject(dir: string, options?: { name?: string; force?: boolean }): { dir: string; files: readonly string[] };
  buildEnclave(dir: string): Promise<{ bundlePath: string; bytes: Uint8Array; sha256: string; warnings: readonly string[] }>;
  signEnclaveDir(
    dir: string,
    options?: { keyPath?: string },
  ): { mrenclave: string; mrsigner: string; sigstructPath: string; keyPath: string; keyGenerated: boolean; warnings: readonly string[] };
  measureEnclaveDir(dir: string): { mrenclave: string };
}

function api(): EnclavePackageApi {
  const sdk = enclaveSdk as unknown as Partial<EnclavePackageApi>;
  if (
    typeof sdk.initEnclaveProject !== 'function' ||
    typeof sdk.buildEnclave !== 'function' ||
    typeof sdk.signEnclaveDir !== 'function' ||
    typeof sdk.measureEnclaveDir !== 'function'
  ) {
    throw new CliError('INVALID_ARGUMENT', 'this build of @cloister/enclave does not export its package API (buildEnclave, signEnclaveDir, …)');
  }
  return sdk as EnclavePackageApi;
}

function fail(e: unknown, json: boolean): void {
  if (EnclaveError.is(e)) {
    if (json) printJson({ ok: false, error: { code: e.code, message: e.message } });
    else process.stderr.write(`error ${e.code}: ${e.message}\n`);
    process.exitCode = 1;
    return;
  }
  reportFailure(e, json);
}

function warn(warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
}

export interface EnclaveInitOptions {
  readonly name?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

export async function enclaveInitCommand(dir: string, opts: EnclaveInitOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const r = api().initEnclaveProject(dir, {
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(opts.force === true ? { force: true } : {}),
    });
    if (json) printJson({ ok: true, dir: r.dir, files: r.files });
    else {
      process.stdout.write(`created ${r.dir}: ${r.files.join(', ')}\n`);
      process.stdout.write(`next: cd ${dir} && npm install && npm start\n`);
    }
  } catch (e) {
    fail(e, json);
  }
}

export interface EnclaveDirOptions {
  readonly json?: boolean;
}

export async function enclaveBuildCommand(dir: string | undefined, opts: EnclaveDirOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const r = await api().buildEnclave(dir ?? '.');
    if (json) printJson({ ok: true, bundle: r.bundlePath, size: r.bytes.length, sha256: r.sha256, warnings: r.warnings });
    else {
      warn(r.warnings);
      process.stdout.write(`built ${r.bundlePath} (${r.bytes.length} bytes, sha256 ${r.sha256})\n`);
    }
  } catch (e) {
    fail(e, json);
  }
}

export interface EnclaveSignOptions {
  readonly key?: string;
  readonly json?: boolean;
}

export async function enclaveSignCommand(dir: string | undefined, opts: EnclaveSignOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const r = api().signEnclaveDir(dir ?? '.', opts.key !== undefined ? { keyPath: opts.key } : {});
    if (json) {
      printJson({
        ok: true,
        mrenclave: r.mrenclave,
        mrsigner: r.mrsigner,
        sigstruct: r.sigstructPath,
        key: r.keyPath,
        keyGenerated: r.keyGenerated,
        warnings: r.warnings,
      });
    } else {
      warn(r.warnings);
      process.stdout.write(`MRENCLAVE ${r.mrenclave}\nMRSIGNER  ${r.mrsigner}\nwrote ${r.sigstructPath}\n`);
    }
  } catch (e) {
    fail(e, json);
  }
}

export async function enclaveMeasureCommand(dir: string | undefined, opts: EnclaveDirOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const r = api().measureEnclaveDir(dir ?? '.');
    if (json) printJson({ ok: true, mrenclave: r.mrenclave });
    else process.stdout.write(`MRENCLAVE ${r.mrenclave}\n`);
  } catch (e) {
    fail(e, json);
  }
}
