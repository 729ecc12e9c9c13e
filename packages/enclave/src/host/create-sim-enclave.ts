/**
 * The host side of the sim backend's process boundary: one enclave = one Node process running
 * src/runtime/enclave-main.ts under Node's permission model, inside the OS sandbox of sandbox.ts, spoken to over a
 * socketpair on its fd 3 with the framed channel (runtime/stdio-channel.ts: per-kind frame limits checked before
 * deserializing; any bad frame ends the enclave with ENCLAVE_PROTOCOL).
 *
 * Isolation (docs/security.md "Enclave sim backend"):
 *  - Node 20 permission model (`--experimental-permission`): `--allow-fs-read` only for the runtime's own files
 *    (RUNTIME_FILES below), the bundle and the manifest's `readablePaths` (each as given and its real path; a
 *    directory grants its subtree); no `--allow-fs-write`, `--allow-child-process`, `--allow-worker`,
 *    `--allow-addons`, `--allow-wasi` (plus `--no-addons`);
 *  - `process.kill`, `process._kill`, `_debugProcess` and the credential setters locked before enclave code loads;
 *  - sandbox.ts: own process group always; parent-death signal (setpriv); PID and network namespaces and an
 *    unprivileged uid as root, or through a user namespace without root where the kernel allows it; RLIMIT_DATA;
 *  - memory: `--max-old-space-size=<heapSizeMiB>` plus the host's watchdog (memory-watchdog.ts) on private memory
 *    above the measured baseline: over budget → ENCLAVE_OUT_OF_MEMORY (a V8 heap OOM is reported the same way);
 *  - the environment is exactly `env`, names on the allowlist of package/env-policy.ts (ENV_NOT_ALLOWED).
 *
 * Calls, errors, crash / restart and terminate semantics are the shared host core's (enclave-host.ts).
 */
import { spawn as spawnProcess } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnclaveError } from '../errors.js';
import type { EcallHandler, EnclaveServices } from '../types.js';
import { assertEnvAllowed } from '../package/env-policy.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, frameLimits, isMessage } from '../runtime/protocol.js';
import { createStdioChannel } from '../runtime/stdio-channel.js';
import { deepestChild, watchMemory, type MemoryWatchdog } from './memory-watchdog.js';
import { sandboxLaunch, trackGroup, untrackGroup, type SandboxMode } from './sandbox.js';
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
  /**
   * The simulated EPC budget: V8's old space (`--max-old-space-size`) and, watched by the host, all private memory
   * (heap, ArrayBuffers, external) above the process's measured baseline. Over it: ENCLAVE_OUT_OF_MEMORY.
   */
  readonly heapSizeMiB: number;
  /**
   * 'auto' (default): namespaces and a dropped uid (as root, or in a user namespace where allowed);
   * 'unprivileged': none.
   */
  readonly sandbox?: SandboxMode;
  /** uid / gid of the enclave when the host is root (default 65534). */
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * The runtime files the enclave process must be able to read: enclave-main and everything it imports, relative to
 * this package's compiled `src` folder. Keep in sync with the imports of runtime/enclave-main.ts and runtime/serve.ts.
 */
const RUNTIME_FILES = [
  'runtime/enclave-main.js',
  'runtime/serve.js',
  'runtime/protocol.js',
  'runtime/stdio-channel.js',
  'runtime/relay-streams.js',
  'define.js',
  'errors.js',
] as const;
const SRC_ROOT = fileURLToPath(new URL('../', import.meta.url));
const ENCLAVE_MAIN = resolve(SRC_ROOT, 'runtime/enclave-main.js');

/** Lines of a V8 heap OOM on stderr (Node prints them before aborting). */
const HEAP_OOM = /JavaScript heap out of memory|Reached heap limit|FatalProcessOutOfMemory/;
/**
 * Kernel RLIMIT_DATA: a backstop far above the watchdog's budget (baseline ≈ 80 MiB on Node 20, docs/security.md)
 * for when the host's event loop cannot poll; an allocation past it fails inside the enclave and is never granted.
 */
const dataLimitMiB = (heapSizeMiB: number): number => 1024 + 4 * heapSizeMiB;

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
  const callTimeoutMs = options.callTimeoutMs ?? 60_000;
  const restartPolicy = options.restart ?? 'never';
  const maxRestarts = options.maxRestarts ?? 5;
  const backoffMs = options.restartBackoffMs ?? 100;
  const loadTimeoutMs = options.loadTimeoutMs ?? 30_000;
  const { services, logger } = options;
  const ocalls = options.ocalls ?? {};
  if (!Number.isSafeInteger(options.heapSizeMiB) || options.heapSizeMiB < 16) throw invalid('heapSizeMiB must be an integer ≥ 16');
  if (!Number.isSafeInteger(maxPayloadBytes) || maxPayloadBytes < 4096 || maxPayloadBytes > 1024 * 1024 * 1024) {
    throw invalid('maxPayloadBytes must be an integer in 4096..1 GiB');
  }
  const sandboxMode = options.sandbox ?? 'auto';
  if (sandboxMode !== 'auto' && sandboxMode !== 'unprivileged') throw invalid(`unknown sandbox ${String(sandboxMode)}`);
  for (const id of [options.uid, options.gid]) {
    if (id !== undefined && !(Number.isSafeInteger(id) && id > 0 && id < 2 ** 32 - 1)) throw invalid('uid / gid must be a positive integer');
  }
  if (!(Number.isFinite(callTimeoutMs) && callTimeoutMs >= 0)) throw invalid('callTimeoutMs must be ≥ 0');
  if (restartPolicy !== 'never' && restartPolicy !== 'on-crash') throw invalid(`unknown restart policy ${String(restartPolicy)}`);
  if (!isAbsolute(options.bundlePath)) throw invalid('bundlePath must be absolute');
  if (!existsSync(options.bundlePath)) throw new EnclaveError('INVALID_MANIFEST', `no bundle at ${options.bundlePath}`);
  const env: Record<string, string> = { ...(options.env ?? {}) };
  // The allowlist again at run time (package/env-policy.ts): ENV_NOT_ALLOWED.
  assertEnvAllowed(env, 'the enclave environment');
  const execArgv = simEnclaveExecArgv(options);
  const launch = sandboxLaunch([...execArgv, ENCLAVE_MAIN], {
    mode: sandboxMode,
    dataLimitMiB: dataLimitMiB(options.heapSizeMiB),
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  const budgetBytes = options.heapSizeMiB * 1024 * 1024;
  const limits = frameLimits(maxPayloadBytes);
  const bundlePath = realpathSync(options.bundlePath);
  const self = Object.freeze({ ...services.self() });

  function spawn(): EnclaveTransport {
    const child = spawnProcess(launch.command, launch.args, {
      env,
      detached: true,
      stdio: ['ignore', logger === undefined ? 'inherit' : 'pipe', 'pipe', 'pipe'],
    });
    const exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null, error?: EnclaveError) => void> = [];
    const messageListeners: Array<(message: unknown) => void> = [];
    let gone = false;
    let fault: EnclaveError | undefined;
    let watchdog: MemoryWatchdog | undefined;
    const pid = child.pid;
    if (pid !== undefined) trackGroup(pid);

    const kill = (): void => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const failWith = (error: EnclaveError): void => {
      fault ??= error;
      kill();
    };
    const exit = (code: number | null, signal: NodeJS.Signals | null, error?: EnclaveError): void => {
      if (gone) return;
      gone = true;
      watchdog?.stop();
      if (pid !== undefined) untrackGroup(pid);
      channel?.close();
      // The group may hold more than the chain's first process (unshare's child): make sure none survives.
      kill();
      const reason = error ?? fault;
      for (const l of exitListeners) l(code, signal, reason);
    };

    const socket = child.stdio[3] as import('node:net').Socket | null | undefined;
    const channel = socket ? createStdioChannel(socket, socket, { maxFrameBytes: limits }) : undefined;
    channel?.onMessage((message) => {
      if (isMessage(message) && message.t === 'hello') {
        // The runtime is up and no enclave code exists yet: measure the baseline, start the budget watchdog.
        if (watchdog === undefined && pid !== undefined) {
          watchdog = watchMemory(deepestChild(pid), budgetBytes, (used) =>
            failWith(
              new EnclaveError(
                'ENCLAVE_OUT_OF_MEMORY',
                `the enclave used ${Math.round(used / 1048576)} MiB above its baseline, over its budget heapSizeMiB = ${options.heapSizeMiB}`,
              ),
            ),
          );
        }
        return;
      }
      for (const l of messageListeners) l(message);
    });
    channel?.onClose((error) => {
      // A stream error (ECONNRESET as the process dies) is the exit's business; a framing error is the enclave's.
      if (error === undefined || gone || !EnclaveError.is(error)) return;
      // The enclave broke the framing: nothing it sends can be trusted to line up any more.
      failWith(error);
    });

    // stderr: V8 heap OOM detection, then to the logger (enclave-host) or to the host's stderr.
    const stderr = child.stderr;
    if (stderr !== null) {
      let tail = '';
      stderr.on('data', (chunk: Buffer | string) => {
        tail = (tail + chunk.toString()).slice(-4096);
        if (HEAP_OOM.test(tail)) {
          fault ??= new EnclaveError('ENCLAVE_OUT_OF_MEMORY', `the enclave's JavaScript heap is over its budget heapSizeMiB = ${options.heapSizeMiB}`);
        }
      });
      if (logger === undefined) stderr.pipe(process.stderr, { end: false });
    }
    child.on('error', (err) => {
      try {
        logger?.error({ enclave: true, err: { message: err.message } }, 'enclave process error');
      } catch {
        // A logger failure never affects the enclave.
      }
      if (child.exitCode === null && child.signalCode === null && child.pid === undefined) {
        // Spawning itself failed: no 'exit' event follows.
        exit(null, null, new EnclaveError('BACKEND_UNAVAILABLE', `cannot start the enclave process: ${err.message}`));
      }
    });
    // 'close', not 'exit': stderr is read to its end first (a heap OOM's last words decide the error code).
    child.on('close', (code, signal) => exit(code, signal));
    return {
      send(message) {
        if (gone || channel === undefined) return;
        channel.send(message);
      },
      onMessage(listener) {
        messageListeners.push(listener);
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill,
      stdout: child.stdout,
      stderr: logger === undefined ? null : child.stderr,
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
    isolation: launch.isolation,
    ...(options.livenessTimeoutMs !== undefined ? { livenessTimeoutMs: options.livenessTimeoutMs } : {}),
    ...(options.connect !== undefined ? { connect: options.connect } : {}),
    ...(options.maxStreams !== undefined ? { maxStreams: options.maxStreams } : {}),
    ...(logger !== undefined ? { logger } : {}),
  });
}
