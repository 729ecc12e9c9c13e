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
 * Calls: `ecalls.name(args)` checks the name against the enclave's 'ready' list (UNKNOWN_CALL), the argument's
 * cloneability (INVALID_ARGUMENT) and serialized size (PAYLOAD_TOO_LARGE) before sending; errors come back as
 * EnclaveError with the remote code. The enclave's ocalls go to `ocalls`, its platform requests to `services`.
 *
 * Crash and restart: if the process exits unexpectedly, every pending ecall rejects with ENCLAVE_CRASHED and
 * health() is 'crashed'. With `restart: 'on-crash'` the process is re-forked and the bundle re-loaded after a backoff
 * (restartBackoffMs, doubling per consecutive crash up to 5 s; a process that stayed up 10 s resets it) up to
 * `maxRestarts` consecutive times. Calls made while it restarts WAIT for the new process (bounded by callTimeoutMs
 * if set) and are never re-sent once sent: in-flight calls of the crashed process fail, they are not retried. If the
 * restart fails or the limit is reached, waiting calls fail with ENCLAVE_CRASHED and the handle stays 'crashed'.
 * After terminate(), every pending or new call fails with ENCLAVE_TERMINATED.
 */
import { fork, type ChildProcess, type Serializable } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnclaveError } from '../errors.js';
import { isValidCallName, MAX_ECALLS } from '../define.js';
import type { EcallHandler, EnclaveSelf, EnclaveServices, HostEcalls, SealOptions } from '../types.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  LOG_LEVELS,
  MAX_LOG_MESSAGE_LENGTH,
  SVC_OPS,
  checkPayload,
  fromWireError,
  isId,
  isMessage,
  isWireError,
  parseOutcome,
  toWireError,
  type LogLevel,
  type Outcome,
  type SvcOp,
} from '../runtime/protocol.js';

/** A pino-like logger: `logger.info({ ...fields }, message)`. */
export interface HostLogger {
  info(obj: Record<string, unknown>, message?: string): void;
  warn(obj: Record<string, unknown>, message?: string): void;
  error(obj: Record<string, unknown>, message?: string): void;
}

export type EnclaveHealth = 'running' | 'crashed' | 'terminated';
export type RestartPolicy = 'never' | 'on-crash';

export interface SimEnclaveProcessOptions {
  /** Absolute path of the enclave's single-file ESM bundle. */
  readonly bundlePath: string;
  /** Files / directories the manifest declares readable (a directory grants its subtree). */
  readonly readablePaths?: readonly string[];
  /** The enclave's environment: exactly these variables (the manifest's allowlist with their values). */
  readonly env?: Readonly<Record<string, string>>;
  readonly services: EnclaveServices;
  readonly ocalls?: Readonly<Record<string, (args: never) => unknown>>;
  /** V8 old-space limit of the enclave process (`--max-old-space-size`), the simulated EPC budget. */
  readonly heapSizeMiB: number;
  /** Largest serialized argument / result / ocall payload, both directions. Default 16 MiB. */
  readonly maxPayloadBytes?: number;
  /** Per-call timeout (TIMEOUT); 0 = none (default). The enclave keeps running; a late result is dropped. */
  readonly callTimeoutMs?: number;
  readonly restart?: RestartPolicy;
  /** Consecutive restarts allowed before giving up (default 5). */
  readonly maxRestarts?: number;
  /** First restart delay (default 100 ms), doubled per consecutive crash up to 5 s. */
  readonly restartBackoffMs?: number;
  /** Receives the enclave's ctx.log, its stdout/stderr lines, and lifecycle events. Without it, stdio is inherited. */
  readonly logger?: HostLogger;
  /** Time allowed for fork + bundle load (default 30 s). */
  readonly loadTimeoutMs?: number;
}

export interface EnclaveExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** 'crashed': unexpected exit; 'terminated': by terminate(). */
  readonly reason: 'crashed' | 'terminated';
}

export interface EnclaveHandle<E extends Record<string, EcallHandler<never, unknown>>> {
  readonly ecalls: HostEcalls<E>;
  readonly self: EnclaveSelf;
  /** The ecall names the loaded bundle declares. */
  readonly ecallNames: readonly string[];
  health(): EnclaveHealth;
  /** Kill the enclave process; pending and later calls fail with ENCLAVE_TERMINATED. Idempotent. */
  terminate(): Promise<void>;
  /** Settles (never rejects) when the handle is finished: terminated, or crashed with no (more) restart. */
  readonly exited: Promise<EnclaveExit>;
  /** 'exit': every exit of an enclave process (including crashes followed by a restart); 'restart': reloaded. */
  on(event: 'exit', listener: (exit: EnclaveExit) => void): void;
  on(event: 'restart', listener: (restarts: number) => void): void;
}

/**
 * The runtime files the enclave process must be able to read: enclave-main and everything it imports, relative to
 * this package's compiled `src` folder. Keep in sync with the imports of runtime/enclave-main.ts.
 */
const RUNTIME_FILES = ['runtime/enclave-main.js', 'runtime/protocol.js', 'define.js', 'errors.js'] as const;
const SRC_ROOT = fileURLToPath(new URL('../', import.meta.url));
const ENCLAVE_MAIN = resolve(SRC_ROOT, 'runtime/enclave-main.js');

/** Environment variables that would change how the runtime itself loads or behaves; never passed to an enclave. */
const FORBIDDEN_ENV = /^(NODE_OPTIONS|NODE_PATH|NODE_V8_COVERAGE|NODE_UNIQUE_ID|NODE_CHANNEL_.*|NODE_REPL_EXTERNAL_MODULE|NODE_PRESERVE_SYMLINKS|NODE_ICU_DATA|NODE_EXTRA_CA_CERTS|NODE_DEBUG_NATIVE|UV_.*)$/;

const MAX_RESTART_BACKOFF_MS = 5000;
const STABLE_AFTER_MS = 10_000;

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

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

/** One running enclave process (a generation); replaced on restart. */
interface Generation {
  readonly child: ChildProcess;
  readonly pending: Map<number, PendingCall>;
  readonly startedAt: number;
  names: ReadonlySet<string> | undefined;
  exited: boolean;
}

type ErrorFactory = () => EnclaveError;

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

  let state: EnclaveHealth = 'running';
  let gen: Generation | undefined;
  let ready: Promise<Generation> | undefined;
  let nextCallId = 1;
  let restarts = 0;
  let consecutiveCrashes = 0;
  const exitListeners: Array<(exit: EnclaveExit) => void> = [];
  const restartListeners: Array<(restarts: number) => void> = [];
  let finish!: (exit: EnclaveExit) => void;
  const exited = new Promise<EnclaveExit>((r) => {
    finish = r;
  });

  const log = (level: LogLevel, obj: Record<string, unknown>, message: string): void => {
    try {
      logger?.[level](obj, message);
    } catch {
      // A logger failure never affects the enclave.
    }
  };

  function forwardStream(stream: NodeJS.ReadableStream | null, level: LogLevel, name: string): void {
    if (stream === null || logger === undefined) return;
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.length > 0) log(level, { enclave: true, stream: name }, line.slice(0, MAX_LOG_MESSAGE_LENGTH));
      }
      if (buffered.length > MAX_LOG_MESSAGE_LENGTH) {
        log(level, { enclave: true, stream: name }, buffered.slice(0, MAX_LOG_MESSAGE_LENGTH));
        buffered = '';
      }
    });
    stream.on('end', () => {
      if (buffered.length > 0) log(level, { enclave: true, stream: name }, buffered);
    });
  }

  function sendTo(g: Generation, message: unknown): void {
    if (g.exited || !g.child.connected) return;
    try {
      // No callback: a failed write is reported on the child's 'error' event (logged); the channel is then gone and
      // the 'exit' handler fails whatever was pending.
      g.child.send(message as Serializable);
    } catch {
      // Channel closed under us: the 'exit' handler deals with the pending calls.
    }
  }

  function reply(g: Generation, id: number, outcome: Outcome): void {
    if (outcome.ok) {
      try {
        checkPayload(outcome.value, maxPayloadBytes, 'the reply');
      } catch (err) {
        sendTo(g, { t: 'reply', id, ok: false, error: toWireError(err) });
        return;
      }
      sendTo(g, { t: 'reply', id, ok: true, value: outcome.value });
    } else {
      sendTo(g, { t: 'reply', id, ok: false, error: outcome.error });
    }
  }

  function answer(g: Generation, id: number, work: () => unknown): void {
    let result: unknown;
    try {
      result = work();
    } catch (err) {
      reply(g, id, { ok: false, error: toWireError(err) });
      return;
    }
    Promise.resolve(result).then(
      (value) => reply(g, id, { ok: true, value }),
      (err: unknown) => reply(g, id, { ok: false, error: toWireError(err) }),
    );
  }

  function bytes(value: unknown, what: string, optional = false): Uint8Array | undefined {
    if (optional && value === undefined) return undefined;
    if (!(value instanceof Uint8Array)) throw new EnclaveError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
    return value;
  }

  function serve(op: SvcOp, args: unknown[]): unknown {
    switch (op) {
      case 'self':
        return services.self();
      case 'report':
        return services.report(bytes(args[0], 'reportData') as Uint8Array, bytes(args[1], 'targetInfo', true));
      case 'quote':
        return services.quote(bytes(args[0], 'reportData') as Uint8Array);
      case 'seal': {
        const opts = args[1];
        if (opts !== undefined && (typeof opts !== 'object' || opts === null)) throw invalid('seal options must be an object');
        const o = (opts ?? {}) as { policy?: unknown; additionalData?: unknown };
        if (o.policy !== undefined && o.policy !== 'MRENCLAVE' && o.policy !== 'MRSIGNER') throw invalid('unknown seal policy');
        const sealOptions: { policy?: SealOptions['policy']; additionalData?: Uint8Array } = {};
        if (o.policy !== undefined) sealOptions.policy = o.policy;
        const ad = bytes(o.additionalData, 'additionalData', true);
        if (ad !== undefined) sealOptions.additionalData = ad;
        return services.seal(bytes(args[0], 'data') as Uint8Array, sealOptions);
      }
      case 'unseal':
        return services.unseal(bytes(args[0], 'blob') as Uint8Array);
    }
  }

  function onMessage(g: Generation, msg: unknown, onLoad: (outcome: Outcome) => void): void {
    if (!isMessage(msg)) return;
    switch (msg.t) {
      case 'result': {
        if (!isId(msg.id)) return;
        const call = g.pending.get(msg.id);
        const outcome = parseOutcome(msg);
        if (call === undefined || outcome === undefined) return;
        g.pending.delete(msg.id);
        if (call.timer !== undefined) clearTimeout(call.timer);
        if (outcome.ok) call.resolve(outcome.value);
        else call.reject(fromWireError(outcome.error));
        return;
      }
      case 'ocall': {
        if (!isId(msg.id)) return;
        const name = msg.name;
        const args = msg.args;
        const fn = isValidCallName(name) && Object.hasOwn(ocalls, name) ? ocalls[name] : undefined;
        if (typeof fn !== 'function') {
          reply(g, msg.id, { ok: false, error: { code: 'UNKNOWN_CALL', message: `no ocall ${String(name).slice(0, 128)}` } });
          return;
        }
        answer(g, msg.id, () => (fn as (args: unknown) => unknown)(args));
        return;
      }
      case 'svc': {
        const { op, args } = msg;
        if (!isId(msg.id)) return;
        if (!(SVC_OPS as readonly unknown[]).includes(op) || !Array.isArray(args) || args.length > 2) {
          reply(g, msg.id, { ok: false, error: { code: 'UNKNOWN_CALL', message: 'unknown platform service request' } });
          return;
        }
        answer(g, msg.id, () => serve(op as SvcOp, args as unknown[]));
        return;
      }
      case 'log': {
        const { level, message, fields } = msg;
        if (!(LOG_LEVELS as readonly unknown[]).includes(level) || typeof message !== 'string') return;
        const extra = isMessageFields(fields) ? fields : {};
        log(level as LogLevel, { ...extra, enclave: true }, message.slice(0, MAX_LOG_MESSAGE_LENGTH));
        return;
      }
      case 'ready': {
        const list = msg.ecalls;
        if (!Array.isArray(list) || list.length > MAX_ECALLS || !list.every(isValidCallName)) {
          onLoad({ ok: false, error: { code: 'INVALID_MANIFEST', message: 'the enclave declared an invalid ecall list' } });
          return;
        }
        onLoad({ ok: true, value: list });
        return;
      }
      case 'load-failed':
        onLoad({
          ok: false,
          error: isWireError(msg.error) ? msg.error : { code: 'INVALID_MANIFEST', message: 'the bundle failed to load' },
        });
        return;
      default:
        return;
    }
  }

  function isMessageFields(v: unknown): v is Record<string, unknown> {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  }

  /** Fork and load one generation; resolves when 'ready'. */
  function start(): Promise<Generation> {
    return new Promise<Generation>((resolveStart, rejectStart) => {
      const child = fork(ENCLAVE_MAIN, [], {
        execArgv,
        env,
        serialization: 'advanced',
        stdio: logger === undefined ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      const g: Generation = { child, pending: new Map(), startedAt: Date.now(), names: undefined, exited: false };
      gen = g;
      let settled = false;
      const loadTimer = setTimeout(() => {
        if (settled) return;
        settled = true;
        rejectStart(new EnclaveError('TIMEOUT', `the enclave did not load within ${loadTimeoutMs} ms`));
        child.kill('SIGKILL');
      }, loadTimeoutMs);
      const onLoad = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(loadTimer);
        if (outcome.ok) {
          g.names = new Set(outcome.value as string[]);
          resolveStart(g);
        } else {
          rejectStart(fromWireError(outcome.error));
          child.kill('SIGKILL');
        }
      };
      forwardStream(child.stdout, 'info', 'stdout');
      forwardStream(child.stderr, 'warn', 'stderr');
      child.on('message', (msg: unknown) => {
        try {
          onMessage(g, msg, onLoad);
        } catch (err) {
          log('error', { enclave: true, err: toWireError(err) }, 'enclave message handling failed');
        }
      });
      child.on('error', (err) => {
        log('error', { enclave: true, err: toWireError(err) }, 'enclave process error');
        if (child.exitCode === null && child.signalCode === null && child.pid === undefined) {
          // Spawning itself failed: no 'exit' event follows.
          onExit(g, null, null);
        }
      });
      child.on('exit', (code, signal) => {
        if (!settled) {
          settled = true;
          clearTimeout(loadTimer);
          rejectStart(new EnclaveError('ENCLAVE_CRASHED', `the enclave process exited while loading (code ${code}, signal ${signal})`));
        }
        onExit(g, code, signal);
      });
      child.send({ t: 'load', bundlePath, maxPayloadBytes });
    });
  }

  function failAll(g: Generation, error: ErrorFactory): void {
    for (const call of g.pending.values()) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      call.reject(error());
    }
    g.pending.clear();
  }

  function onExit(g: Generation, code: number | null, signal: NodeJS.Signals | null): void {
    if (g.exited) return;
    g.exited = true;
    const reason = state === 'terminated' ? 'terminated' : 'crashed';
    const exit: EnclaveExit = { code, signal, reason };
    failAll(g, () =>
      reason === 'terminated'
        ? new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated')
        : new EnclaveError('ENCLAVE_CRASHED', `the enclave process exited (code ${code}, signal ${signal})`),
    );
    for (const l of exitListeners) {
      try {
        l(exit);
      } catch {
        // listeners cannot break the handle
      }
    }
    if (gen !== g) return; // an older generation (or a failed load attempt that was already replaced)
    if (reason === 'terminated') {
      finish(exit);
      return;
    }
    state = 'crashed';
    log('error', { enclave: true, code, signal }, 'enclave process crashed');
    if (ready === undefined) return; // still in the initial load: createSimEnclaveProcess rejects
    if (restartPolicy !== 'on-crash') {
      finish(exit);
      return;
    }
    if (Date.now() - g.startedAt >= STABLE_AFTER_MS) consecutiveCrashes = 0;
    consecutiveCrashes++;
    if (consecutiveCrashes > maxRestarts) {
      log('error', { enclave: true, restarts }, 'enclave restart limit reached');
      ready = Promise.reject(new EnclaveError('ENCLAVE_CRASHED', `the enclave crashed ${consecutiveCrashes} times in a row`));
      ready.catch(() => undefined);
      finish(exit);
      return;
    }
    const delay = Math.min(backoffMs * 2 ** (consecutiveCrashes - 1), MAX_RESTART_BACKOFF_MS);
    ready = restartAfter(delay);
    ready.catch(() => undefined);
  }

  /** Read through a call so that TypeScript does not keep a narrowing of `state` across awaits. */
  function terminated(): boolean {
    return state === 'terminated';
  }

  /**
   * Wait, then fork and load a new generation. If that fails, the failed generation's own exit goes through onExit
   * again, which schedules the next attempt (or gives up after maxRestarts); calls waiting on this attempt fail.
   */
  async function restartAfter(delay: number): Promise<Generation> {
    await new Promise((r) => setTimeout(r, delay));
    if (terminated()) throw new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated');
    try {
      const g = await start();
      if (terminated()) {
        g.child.kill('SIGKILL');
        throw new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated');
      }
      restarts++;
      state = 'running';
      log('info', { enclave: true, restarts }, 'enclave restarted');
      for (const l of restartListeners) {
        try {
          l(restarts);
        } catch {
          // listeners cannot break the handle
        }
      }
      return g;
    } catch (err) {
      if (terminated()) throw new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated');
      throw new EnclaveError('ENCLAVE_CRASHED', `the enclave could not be restarted: ${toWireError(err).message}`);
    }
  }

  function send(g: Generation, name: string, args: unknown): Promise<unknown> {
    if (g.exited) return Promise.reject(new EnclaveError('ENCLAVE_CRASHED', 'the enclave process is not running'));
    if (g.names === undefined || !g.names.has(name)) {
      return Promise.reject(new EnclaveError('UNKNOWN_CALL', `the enclave has no ecall ${name}`));
    }
    const id = nextCallId++;
    return new Promise((resolveCall, rejectCall) => {
      const call: PendingCall = { resolve: resolveCall, reject: rejectCall, timer: undefined };
      if (callTimeoutMs > 0) {
        call.timer = setTimeout(() => {
          if (g.pending.delete(id)) rejectCall(new EnclaveError('TIMEOUT', `ecall ${name} did not finish within ${callTimeoutMs} ms`));
        }, callTimeoutMs);
      }
      g.pending.set(id, call);
      sendTo(g, { t: 'ecall', id, name, args });
    });
  }

  function call(name: string, args: unknown): Promise<unknown> {
    if (state === 'terminated') return Promise.reject(new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated'));
    try {
      checkPayload(args, maxPayloadBytes, `the arguments of ecall ${name}`);
    } catch (err) {
      return Promise.reject(err);
    }
    const g = gen;
    if (g !== undefined && !g.exited && state === 'running') return send(g, name, args);
    if (ready === undefined || restartPolicy !== 'on-crash') {
      return Promise.reject(new EnclaveError('ENCLAVE_CRASHED', 'the enclave process crashed'));
    }
    // Restarting: wait for the new process (or its failure), within the call timeout if any.
    const waiting = ready.then((next) => {
      if (state === 'terminated') throw new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated');
      return send(next, name, args);
    });
    if (callTimeoutMs <= 0) return waiting;
    return new Promise((res, rej) => {
      const timer = setTimeout(
        () => rej(new EnclaveError('TIMEOUT', `ecall ${name} did not start within ${callTimeoutMs} ms (enclave restarting)`)),
        callTimeoutMs,
      );
      waiting.then(
        (v) => {
          clearTimeout(timer);
          res(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          rej(e);
        },
      );
    });
  }

  let first: Generation;
  try {
    first = await start();
  } catch (err) {
    state = 'terminated';
    gen?.child.kill('SIGKILL');
    throw err;
  }
  ready = Promise.resolve(first);

  const fnCache = new Map<string, (args?: unknown) => Promise<unknown>>();
  const ecalls = new Proxy(Object.create(null) as object, {
    get(_target, key) {
      if (typeof key !== 'string') return undefined;
      // Not a thenable unless the enclave really declares `then` (so `await handle.ecalls` stays harmless).
      if (key === 'then' && !(gen?.names?.has('then') ?? false)) return undefined;
      let fn = fnCache.get(key);
      if (fn === undefined) {
        if (!isValidCallName(key)) return (): Promise<never> => Promise.reject(new EnclaveError('UNKNOWN_CALL', 'invalid ecall name'));
        fn = (args?: unknown) => call(key, args);
        if (fnCache.size < MAX_ECALLS * 4) fnCache.set(key, fn);
      }
      return fn;
    },
    has(_target, key) {
      return typeof key === 'string' && (gen?.names?.has(key) ?? false);
    },
    ownKeys() {
      return [];
    },
    set() {
      return false;
    },
    defineProperty() {
      return false;
    },
  }) as HostEcalls<E>;

  async function terminate(): Promise<void> {
    if (state === 'terminated') {
      await exited;
      return;
    }
    state = 'terminated';
    const g = gen;
    if (g === undefined || g.exited) {
      if (g !== undefined) failAll(g, () => new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated'));
      finish({ code: g?.child.exitCode ?? null, signal: g?.child.signalCode ?? null, reason: 'terminated' });
      await exited;
      return;
    }
    // Fail pending calls now (not only when the process is gone), then kill it.
    failAll(g, () => new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated'));
    g.child.kill('SIGKILL');
    await exited;
  }

  return Object.freeze({
    ecalls,
    self,
    get ecallNames(): readonly string[] {
      return [...(gen?.names ?? [])];
    },
    health: () => state,
    terminate,
    exited,
    on(event: 'exit' | 'restart', listener: ((exit: EnclaveExit) => void) | ((restarts: number) => void)): void {
      if (event === 'exit') exitListeners.push(listener as (exit: EnclaveExit) => void);
      else if (event === 'restart') restartListeners.push(listener as (restarts: number) => void);
    },
  }) as EnclaveHandle<E>;
}
