/**
 * The host side of the Gramine backend: the enclave runs under `gramine-sgx <manifest>` (the manifest's fixed argv
 * starts the in-enclave runtime, src/runtime/gramine-main.ts, on the measured bundle); the host spawns that command
 * with stdio pipes and speaks the SAME protocol as the sim backend (src/runtime/protocol.ts) as length-prefixed
 * frames (src/runtime/stdio-channel.ts): host → enclave on the child's stdin, enclave → host on its stdout. The
 * child's stderr (Gramine's own messages, the enclave's console output) goes to the logger as lines, or is inherited.
 *
 * Differences from the sim: platform services are served inside the enclave (GramineAttestation: Gramine talks to
 * AESM itself), so the host provides none; `self` is what the enclave reports from its own REPORT in its 'ready'
 * message (reading it throws the enclave's error, e.g. BACKEND_UNAVAILABLE, if it had none); isolation is Gramine's.
 * Everything else — UNKNOWN_CALL, INVALID_ARGUMENT, PAYLOAD_TOO_LARGE, codes crossing, ENCLAVE_TIMEOUT (default
 * 60 s per call, liveness ping), ENCLAVE_CRASHED on exit, ENCLAVE_PROTOCOL when the enclave writes anything that is
 * not a valid frame of the right kind and size (checked from the header before deserializing; the process is then
 * killed), log records without reserved keys, relayed streams, ENCLAVE_TERMINATED, restarts — is the shared host
 * core (enclave-host.ts), the same rules as the sim.
 *
 * Host-side rules shared with the sim (sandbox.ts): the launcher runs in its own process group (detached) and,
 * where setpriv exists, with a parent-death signal, so that it dies with the host; the host's 'exit' kills it too.
 * Isolation of the enclave itself (memory, signals, network) is Gramine's and SGX's: the enclave's memory is bounded
 * by sgx.enclave_size (from heapSizeMiB), and Gramine emulates kill() inside its own process tree.
 *
 * Frames are not encrypted: like every ecall argument and result, they are visible to the host that runs the
 * enclave. Secrets must be protected end to end by the application (e.g. a key bound to a quote).
 */
import { spawn as spawnProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { EnclaveError } from '../errors.js';
import type { EcallHandler } from '../types.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, frameLimits } from '../runtime/protocol.js';
import { DEFAULT_MAX_FRAME_BYTES, createStdioChannel } from '../runtime/stdio-channel.js';
import { parentDeathTool, trackGroup, untrackGroup } from './sandbox.js';
import {
  startEnclaveHost,
  type EnclaveHandle,
  type EnclaveProcessCommonOptions,
  type EnclaveTransport,
} from './enclave-host.js';

export interface GramineEnclaveProcessOptions extends EnclaveProcessCommonOptions {
  /** The launcher, looked up in PATH unless it contains a slash. Default `gramine-sgx`. */
  readonly command?: string;
  /** Its arguments. Default `[manifestName]`. */
  readonly args?: readonly string[];
  /** The Gramine manifest's base name (`<name>.manifest.sgx` in `cwd`), used when `args` is not given. Default 'enclave'. */
  readonly manifestName?: string;
  /** Working directory of the launcher (where the manifest is). Default the current directory. */
  readonly cwd?: string;
  /** The LAUNCHER's environment (default process.env). Under Gramine it does not reach the enclave: loader.env does. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  // maxPayloadBytes: at most 64 MiB − 64 KiB (the stdio frame cap less an envelope).
}

const ENVELOPE_BYTES = 64 * 1024;

function invalid(message: string): EnclaveError {
  return new EnclaveError('INVALID_ARGUMENT', message);
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute path of `command` (as given if it contains a slash, else searched in `pathVar`), or EnclaveError
 * BACKEND_UNAVAILABLE if there is no executable file there.
 */
export function resolveLauncher(command: string, pathVar: string | undefined, cwd: string): string {
  if (typeof command !== 'string' || command.length === 0 || command.includes('\0')) throw invalid('command must be a non-empty string');
  const found = command.includes('/')
    ? isExecutableFile(resolve(cwd, command))
      ? resolve(cwd, command)
      : undefined
    : (pathVar ?? '')
        .split(delimiter)
        .filter((d) => d.length > 0 && isAbsolute(d))
        .map((d) => join(d, command))
        .find(isExecutableFile);
  if (found === undefined) {
    throw new EnclaveError('BACKEND_UNAVAILABLE', `${command} not found: install Gramine, or use the sim backend`);
  }
  return found;
}

/**
 * Launch the enclave under Gramine (or any command that ends up running the in-enclave runtime with stdio
 * attached), load it, and resolve once it is ready. BACKEND_UNAVAILABLE if the command does not exist.
 */
export async function createGramineEnclaveProcess<E extends Record<string, EcallHandler<never, unknown>>>(
  options: GramineEnclaveProcessOptions = {},
): Promise<EnclaveHandle<E>> {
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const callTimeoutMs = options.callTimeoutMs ?? 60_000;
  const restartPolicy = options.restart ?? 'never';
  const cwd = resolve(options.cwd ?? process.cwd());
  const command = options.command ?? 'gramine-sgx';
  const args = [...(options.args ?? [options.manifestName ?? 'enclave'])];
  const env = { ...(options.env ?? process.env) };
  const { logger } = options;
  if (!Number.isSafeInteger(maxPayloadBytes) || maxPayloadBytes < 4096 || maxPayloadBytes > DEFAULT_MAX_FRAME_BYTES - ENVELOPE_BYTES) {
    throw invalid(`maxPayloadBytes must be an integer in 4096..${DEFAULT_MAX_FRAME_BYTES - ENVELOPE_BYTES}`);
  }
  if (!(Number.isFinite(callTimeoutMs) && callTimeoutMs >= 0)) throw invalid('callTimeoutMs must be ≥ 0');
  if (restartPolicy !== 'never' && restartPolicy !== 'on-crash') throw invalid(`unknown restart policy ${String(restartPolicy)}`);
  if (!args.every((a) => typeof a === 'string' && !a.includes('\0'))) throw invalid('args must be strings');
  const launcher = resolveLauncher(command, env.PATH, cwd);

  const log = (level: 'warn' | 'error', obj: Record<string, unknown>, message: string): void => {
    try {
      logger?.[level](obj, message);
    } catch {
      // A logger failure never affects the enclave.
    }
  };

  const setpriv = parentDeathTool();
  const limits = frameLimits(maxPayloadBytes);

  function spawn(): EnclaveTransport {
    const [cmd, ...argv] = setpriv !== null ? [setpriv, '--pdeathsig=KILL', '--', launcher, ...args] : [launcher, ...args];
    const child = spawnProcess(cmd as string, argv, {
      cwd,
      env,
      detached: true,
      stdio: ['pipe', 'pipe', logger === undefined ? 'inherit' : 'pipe'],
    });
    const pid = child.pid;
    const killGroup = (): void => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    if (pid !== undefined) trackGroup(pid);
    let fault: EnclaveError | undefined;
    const exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null, error?: EnclaveError) => void> = [];
    const messageListeners: Array<(message: unknown) => void> = [];
    let gone = false;
    let channel: ReturnType<typeof createStdioChannel> | undefined;
    const exit = (code: number | null, signal: NodeJS.Signals | null, error?: EnclaveError): void => {
      if (gone) return;
      gone = true;
      if (pid !== undefined) untrackGroup(pid);
      channel?.close();
      killGroup();
      for (const l of exitListeners) l(code, signal, error ?? fault);
    };
    if (child.stdout !== null && child.stdin !== null) {
      channel = createStdioChannel(child.stdout, child.stdin, { maxFrameBytes: limits });
      channel.onMessage((message) => {
        for (const l of messageListeners) l(message);
      });
      channel.onClose((error) => {
        if (error === undefined || gone || !EnclaveError.is(error)) return;
        // The enclave broke the framing: nothing it sends can be trusted to line up any more.
        log('error', { enclave: true, err: error.message }, 'enclave channel error: killing the enclave');
        fault ??= error;
        killGroup();
      });
    }
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined && child.exitCode === null && child.signalCode === null) {
        // Spawning itself failed: no 'exit' event follows.
        const code = err.code === 'ENOENT' || err.code === 'EACCES' ? 'BACKEND_UNAVAILABLE' : 'ENCLAVE_CRASHED';
        exit(null, null, new EnclaveError(code, `cannot start ${command}: ${err.message}`));
      } else {
        log('error', { enclave: true, err: err.message }, 'enclave process error');
      }
    });
    child.on('exit', (code, signal) => exit(code, signal));
    return {
      send(message) {
        channel?.send(message);
      },
      onMessage(listener) {
        messageListeners.push(listener);
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill: killGroup,
      stdout: null,
      stderr: child.stderr,
    };
  }

  return startEnclaveHost<E>({
    spawn,
    loadMessage: () => ({ t: 'load', maxPayloadBytes }),
    ocalls: options.ocalls ?? {},
    maxPayloadBytes,
    callTimeoutMs,
    restart: restartPolicy,
    maxRestarts: options.maxRestarts ?? 5,
    restartBackoffMs: options.restartBackoffMs ?? 100,
    loadTimeoutMs: options.loadTimeoutMs ?? 120_000,
    ...(options.livenessTimeoutMs !== undefined ? { livenessTimeoutMs: options.livenessTimeoutMs } : {}),
    ...(options.connect !== undefined ? { connect: options.connect } : {}),
    ...(options.maxStreams !== undefined ? { maxStreams: options.maxStreams } : {}),
    ...(logger !== undefined ? { logger } : {}),
  });
}
