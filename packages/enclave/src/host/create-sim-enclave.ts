/**
 * The host side of the sim backend's process boundary: one enclave = one Node process running
 * src/runtime/enclave-main.ts under Node's permission model, spoken to over IPC with `serialization: 'advanced'`.
 *
 * Isolation (Node 20 permission model, `--experimental-permission`):
 *  - `--allow-fs-read` only for the runtime's own files (RUNTIME_FILES below, resolved from this module's
 *    location, so it works from any build output folder), the bundle and the manifest's `readablePaths`
 *    (each path as given and its real path; a directory grants its subtree);
 *  - no `--allow-fs-write`, `--allow-child-process`, `--allow-worker`, `--allow-addons`, `--allow-wasi`
 *    (plus `--no-addons`); `--max-old-space-size=<heapSizeMiB>` is the EPC budget;
 *  - the environment is exactly `env` (NODE_OPTIONS and other loader-affecting NODE_* variables are refused);
 *  - NOT covered by Node 20: the network (sockets, fetch) stays usable; the process can read its own IPC messages.
 *
 * Calls, errors, crash / restart and terminate semantics are the shared host core's (enclave-host.ts); this file
 * is the sim transport: fork + IPC, the permission-model argv, the environment allowlist, services on the host.
 */
import { fork, type Serializable } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnclaveError } from '../errors.js';
import type { EcallHandler, EnclaveServices } from '../types.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../runtime/protocol.js';
import {
  startEnclaveHost,
  type EnclaveHandle,
  type EnclaveProcessCommonOptions,
  type EnclaveTransport,
} from './enclave-host.js';

export type { EnclaveExit, EnclaveHandle, EnclaveHealth, EnclaveTransport, HostLogger, RestartPolicy } from './enclave-host.js';

export interface SimEnclaveProcessOptions extends EnclaveProcessCommonOptions {
  /** Absolute path of the enclave's single-file ESM bundle. */
  readonly bundlePath: string;
  /** Files / directories the manifest declares readable (a directory grants its subtree). */
  readonly readablePaths?: readonly string[];
  /** The enclave's environment: exactly these variables (the manifest's allowlist with their values). */
  readonly env?: Readonly<Record<string, string>>;
  readonly services: EnclaveServices;
  /** V8 old-space limit of the enclave process (`--max-old-space-size`), the simulated EPC budget. */
  readonly heapSizeMiB: number;
}

/**
 * The runtime files the enclave process must be able to read: enclave-main and everything it imports, relative to
 * this package's compiled `src` folder. Keep in sync with the imports of runtime/enclave-main.ts and runtime/serve.ts.
 */
const RUNTIME_FILES = ['runtime/enclave-main.js', 'runtime/serve.js', 'runtime/protocol.js', 'define.js', 'errors.js'] as const;
const SRC_ROOT = fileURLToPath(new URL('../', import.meta.url));
const ENCLAVE_MAIN = resolve(SRC_ROOT, 'runtime/enclave-main.js');

/** Environment variables that would change how the runtime itself loads or behaves; never passed to an enclave. */
const FORBIDDEN_ENV = /^(NODE_OPTIONS|NODE_PATH|NODE_V8_COVERAGE|NODE_UNIQUE_ID|NODE_CHANNEL_.*|NODE_REPL_EXTERNAL_MODULE|NODE_PRESERVE_SYMLINKS|NODE_ICU_DATA|NODE_EXTRA_CA_CERTS|NODE_DEBUG_NATIVE|UV_.*)$/;

function invalid(message: string): EnclaveError {
  return new EnclaveError('INVALID_ARGUMENT', message);
}

/** The paths granted for reading: each as given and its real path (the ESM loader reads modules by real path). */
function readGrants(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    if (typeof p !== 'string' || p.length === 0 || !isAbsolute(p)) throw invalid(`readable path must be absolute: ${String(p)}`);
    // Node 20 used to split --allow-fs-read on commas; refuse such paths rather than grant something else.
    if (p.includes(',') || p.includes('\0') || p.includes('*')) throw invalid(`unsupported character in readable path ${p}`);
    out.add(resolve(p));
    if (existsSync(p)) out.add(realpathSync(p));
  }
  return [...out];
}

/** The exact argv given to the enclave process (exported for tests and diagnostics). */
export function simEnclaveExecArgv(options: {
  readonly bundlePath: string;
  readonly readablePaths?: readonly string[];
  readonly heapSizeMiB: number;
}): string[] {
  const runtime = RUNTIME_FILES.map((f) => resolve(SRC_ROOT, f));
  const grants = readGrants([...runtime, options.bundlePath, ...(options.readablePaths ?? [])]);
  return [
    '--experimental-permission',
    ...grants.map((g) => `--allow-fs-read=${g}`),
    '--no-addons',
    `--max-old-space-size=${options.heapSizeMiB}`,
    '--no-warnings',
  ];
}

/**
 * Fork the enclave process, load the bundle, and resolve once it is ready (rejects with the load error, e.g.
 * INVALID_MANIFEST for a bundle without a valid default export, ENCLAVE_CRASHED if the process dies first).
 */
export async function createSimEnclaveProcess<E extends Record<string, EcallHandler<never, unknown>>>(
  options: SimEnclaveProcessOptions,
): Promise<EnclaveHandle<E>> {
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const callTimeoutMs = options.callTimeoutMs ?? 0;
  const restartPolicy = options.restart ?? 'never';
  const maxRestarts = options.maxRestarts ?? 5;
  const backoffMs = options.restartBackoffMs ?? 100;
  const loadTimeoutMs = options.loadTimeoutMs ?? 30_000;
  const { services, logger } = options;
  const ocalls = options.ocalls ?? {};
  if (!Number.isSafeInteger(options.heapSizeMiB) || options.heapSizeMiB < 16) throw invalid('heapSizeMiB must be an integer ≥ 16');
  if (!Number.isSafeInteger(maxPayloadBytes) || maxPayloadBytes < 4096) throw invalid('maxPayloadBytes must be an integer ≥ 4096');
  if (!(Number.isFinite(callTimeoutMs) && callTimeoutMs >= 0)) throw invalid('callTimeoutMs must be ≥ 0');
  if (restartPolicy !== 'never' && restartPolicy !== 'on-crash') throw invalid(`unknown restart policy ${String(restartPolicy)}`);
  if (!isAbsolute(options.bundlePath)) throw invalid('bundlePath must be absolute');
  if (!existsSync(options.bundlePath)) throw new EnclaveError('INVALID_MANIFEST', `no bundle at ${options.bundlePath}`);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || FORBIDDEN_ENV.test(key)) throw invalid(`environment variable ${key} is not allowed`);
    if (typeof value !== 'string' || value.includes('\0')) throw invalid(`environment variable ${key} must be a string`);
    env[key] = value;
  }
  const execArgv = simEnclaveExecArgv(options);
  const bundlePath = realpathSync(options.bundlePath);
  const self = Object.freeze({ ...services.self() });

  function spawn(): EnclaveTransport {
    const child = fork(ENCLAVE_MAIN, [], {
      execArgv,
      env,
      serialization: 'advanced',
      stdio: logger === undefined ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null, error?: EnclaveError) => void> = [];
    let gone = false;
    const exit = (code: number | null, signal: NodeJS.Signals | null, error?: EnclaveError): void => {
      if (gone) return;
      gone = true;
      for (const l of exitListeners) l(code, signal, error);
    };
    child.on('error', (err) => {
      try {
        logger?.error({ enclave: true, err: { message: err.message } }, 'enclave process error');
      } catch {
        // A logger failure never affects the enclave.
      }
      if (child.exitCode === null && child.signalCode === null && child.pid === undefined) {
        // Spawning itself failed: no 'exit' event follows.
        exit(null, null);
      }
    });
    child.on('exit', (code, signal) => exit(code, signal));
    return {
      send(message) {
        if (!child.connected) return;
        // No callback: a failed write is reported on the child's 'error' event (logged); the channel is then gone and
        // the 'exit' handler fails whatever was pending.
        child.send(message as Serializable);
      },
      onMessage(listener) {
        child.on('message', listener);
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill() {
        child.kill('SIGKILL');
      },
      stdout: child.stdout,
      stderr: child.stderr,
    };
  }

  return startEnclaveHost<E>({
    spawn,
    loadMessage: () => ({ t: 'load', bundlePath, maxPayloadBytes }),
    services,
    self,
    ocalls,
    maxPayloadBytes,
    callTimeoutMs,
    restart: restartPolicy,
    maxRestarts,
    restartBackoffMs: backoffMs,
    loadTimeoutMs,
    ...(logger !== undefined ? { logger } : {}),
  });
}
