/**
 * The host side of the protocol (src/runtime/protocol.ts), shared by both backends: the sim (a sandboxed Node process,
 * framed channel on its fd 3) and Gramine (`gramine-sgx`, framed stdio). A backend supplies an {@link EnclaveTransport} factory (one
 * transport per enclave process) and the 'load' message; this module does the rest:
 *
 * Calls: `ecalls.name(args)` checks the name against the enclave's 'ready' list (UNKNOWN_CALL), the argument's
 * cloneability (INVALID_ARGUMENT) and serialized size (PAYLOAD_TOO_LARGE) before sending; errors come back as
 * EnclaveError with the remote code. The enclave's ocalls go to `ocalls`, its platform requests ('svc') to
 * `services` (the sim; without `services`, as under Gramine where they are served inside, 'svc' gets UNKNOWN_CALL).
 * The enclave's identity is `self` if given, else the one its 'ready' message carries.
 *
 * Crash and restart: if the process exits unexpectedly, every pending ecall rejects with ENCLAVE_CRASHED and
 * health() is 'crashed'. With `restart: 'on-crash'` the process is restarted and the bundle re-loaded after a backoff
 * (restartBackoffMs, doubling per consecutive crash up to 5 s; a process that stayed up 10 s resets it) up to
 * `maxRestarts` consecutive times. Calls made while it restarts WAIT for the new process (bounded by callTimeoutMs
 * if set) and are never re-sent once sent: in-flight calls of the crashed process fail, they are not retried. If the
 * restart fails or the limit is reached, waiting calls fail with ENCLAVE_CRASHED and the handle stays 'crashed'.
 * After terminate(), every pending or new call fails with ENCLAVE_TERMINATED.
 *
 * Hostile enclaves (docs/security.md): everything from the enclave arrives as frames whose size the transport checks
 * per kind before deserializing; a transport that sees a bad frame kills the process and reports ENCLAVE_PROTOCOL,
 * an enclave over its memory budget ENCLAVE_OUT_OF_MEMORY: pending calls fail with that code (then restart policy).
 * An ecall that does not finish within callTimeoutMs (default 60 s) fails with ENCLAVE_TIMEOUT; the host then sends
 * a liveness ping, and an enclave that does not answer it within livenessTimeoutMs is spinning: it is killed and
 * its other pending calls fail with ENCLAVE_TIMEOUT too. Log records are copied under log-record.ts's rules (no
 * reserved logger keys). Relayed streams (relay-host.ts) are bounded per stream and in number.
 */
import { EnclaveError } from '../errors.js';
import { isValidCallName, MAX_ECALLS } from '../define.js';
import type { EcallHandler, EnclaveSelf, EnclaveServices, HostEcalls, SealOptions } from '../types.js';
import type { Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import type { EnclaveErrorCode } from '../errors.js';
import { sanitizeLogRecord } from './log-record.js';
import { createRelayHost, type ConnectPolicy, type RelayHost } from './relay-host.js';
import type { SimIsolation } from './sandbox.js';
import {
  FRAME_STREAM,
  MAX_LOG_MESSAGE_LENGTH,
  SVC_OPS,
  kindOf,
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
  type WireError,
} from '../runtime/protocol.js';

/** A pino-like logger: `logger.info({ ...fields }, message)`. */
export interface HostLogger {
  info(obj: Record<string, unknown>, message?: string): void;
  warn(obj: Record<string, unknown>, message?: string): void;
  error(obj: Record<string, unknown>, message?: string): void;
}

export type EnclaveHealth = 'running' | 'crashed' | 'terminated';
export type RestartPolicy = 'never' | 'on-crash';

export interface EnclaveExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** 'crashed': unexpected exit; 'terminated': by terminate(). */
  readonly reason: 'crashed' | 'terminated';
  /** Why the host ended it, when it did: ENCLAVE_PROTOCOL, ENCLAVE_OUT_OF_MEMORY, ENCLAVE_TIMEOUT. */
  readonly error?: EnclaveErrorCode;
}

/** A host-side listener whose accepted connections are relayed into the enclave (handle.listen). */
export interface EnclaveListener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface EnclaveHandle<E extends Record<string, EcallHandler<never, unknown>>> {
  readonly ecalls: HostEcalls<E>;
  /**
   * The enclave's identity. Sim: from its SIGSTRUCT. Gramine: what the enclave reported from its own REPORT at
   * start (a claim of the enclave, not evidence — verify a quote for that); reading it throws the enclave's error
   * (e.g. BACKEND_UNAVAILABLE under gramine-direct) if it could not produce one.
   */
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
  /** What the OS sandbox guarantees for this enclave (sim backend; undefined under Gramine). */
  readonly isolation: SimIsolation | undefined;
  /**
   * Relay an accepted connection (e.g. from the host's own server) into the enclave's `onConnection` as a byte
   * stream. False (and the socket destroyed) if the enclave is not running or over the stream limit.
   */
  relay(socket: Socket): boolean;
  /** Listen on host:port (default 127.0.0.1, port 0 = any) and relay every accepted connection into the enclave. */
  listen(options?: { readonly host?: string; readonly port?: number }): Promise<EnclaveListener>;
}

/** One enclave process as seen by the host: a message channel plus the process's life. */
/** Options both process backends share (sim: sandboxed node + framed fd 3; gramine: gramine-sgx + framed stdio). */
export interface EnclaveProcessCommonOptions {
  readonly ocalls?: Readonly<Record<string, (args: never) => unknown>>;
  /** Largest serialized argument / result / ocall payload, both directions. Default 16 MiB. */
  readonly maxPayloadBytes?: number;
  /**
   * Per-call timeout (ENCLAVE_TIMEOUT), default 60 000 ms; 0 = none. After a timeout the host pings the enclave:
   * a responsive enclave keeps running (a late result is dropped), a spinning one is killed (then restart policy).
   */
  readonly callTimeoutMs?: number;
  /** Time the enclave has to answer the liveness ping after a call timeout (default 2 000 ms). */
  readonly livenessTimeoutMs?: number;
  /**
   * Outbound relayed connections (ctx.connect): the host connects only where this returns true. Default: none.
   */
  readonly connect?: ConnectPolicy;
  /** Most relayed streams open at once per enclave (default 64). */
  readonly maxStreams?: number;
  readonly restart?: RestartPolicy;
  /** Consecutive restarts allowed before giving up (default 5). */
  readonly maxRestarts?: number;
  /** First restart delay (default 100 ms), doubled per consecutive crash up to 5 s. */
  readonly restartBackoffMs?: number;
  /** Receives the enclave's ctx.log, its output lines, and lifecycle events. Without it, output is inherited. */
  readonly logger?: HostLogger;
  /** Time allowed for the start and the bundle load (sim default 30 s; gramine 120 s: Gramine commits the enclave). */
  readonly loadTimeoutMs?: number;
}

export interface EnclaveTransport {
  /**
   * Note for implementers: report a misbehaving enclave (bad frame, over budget) by killing the process and passing
   * the EnclaveError (ENCLAVE_PROTOCOL, ENCLAVE_OUT_OF_MEMORY) as `error` of the exit listeners.
   */
  /** Best effort: a message to a closed transport is dropped (its exit fails the pending calls). */
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Once, when the process is gone; `error` explains a process that could not start (e.g. command not found). */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null, error?: EnclaveError) => void): void;
  /** SIGKILL the process. */
  kill(): void;
  /** The process's stdout / stderr when piped (forwarded line by line to the logger), else null. */
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
}

export interface EnclaveHostConfig {
  /** Start one enclave process. */
  spawn(): EnclaveTransport;
  /** The first message sent to a new process. */
  loadMessage(): unknown;
  /** Platform services for the enclave's 'svc' requests; none under Gramine. */
  readonly services?: EnclaveServices;
  /** The enclave's identity if the host knows it (sim); else taken from 'ready'. */
  readonly self?: EnclaveSelf;
  readonly ocalls: Readonly<Record<string, (args: never) => unknown>>;
  readonly maxPayloadBytes: number;
  readonly callTimeoutMs: number;
  readonly restart: RestartPolicy;
  readonly maxRestarts: number;
  readonly restartBackoffMs: number;
  readonly loadTimeoutMs: number;
  readonly livenessTimeoutMs?: number;
  readonly connect?: ConnectPolicy;
  readonly maxStreams?: number;
  readonly isolation?: SimIsolation;
  readonly logger?: HostLogger;
}

const MAX_RESTART_BACKOFF_MS = 5000;
/** Ocall / platform-service requests one enclave process may have running in the host at once. */
export const MAX_HOST_REQUESTS = 64;
const STABLE_AFTER_MS = 10_000;
const HEX64 = /^[0-9a-f]{64}$/;

function invalid(message: string): EnclaveError {
  return new EnclaveError('INVALID_ARGUMENT', message);
}

/** A well-formed EnclaveSelf from the other side (copied, so no extra fields or getters come along). */
export function parseEnclaveSelf(value: unknown): EnclaveSelf | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { mrenclave, mrsigner, productId, securityVersion, debug } = v;
  const u16 = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff;
  if (typeof mrenclave !== 'string' || !HEX64.test(mrenclave) || typeof mrsigner !== 'string' || !HEX64.test(mrsigner)) return undefined;
  if (!u16(productId) || !u16(securityVersion) || typeof debug !== 'boolean') return undefined;
  return Object.freeze({ mrenclave, mrsigner, productId, securityVersion, debug });
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

/** One running enclave process (a generation); replaced on restart. */
interface Generation {
  readonly transport: EnclaveTransport;
  readonly pending: Map<number, PendingCall>;
  readonly startedAt: number;
  names: ReadonlySet<string> | undefined;
  self: EnclaveSelf | undefined;
  selfError: WireError | undefined;
  exited: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Why the host killed it (protocol violation, memory, unresponsive), if it did. */
  fault: EnclaveError | undefined;
  readonly relay: RelayHost;
  /** Liveness pings waiting for their pong. */
  readonly pings: Map<number, () => void>;
  /** Host functions (ocalls, services) running for this process. */
  requests: number;
}

type ErrorFactory = () => EnclaveError;

/**
 * Start the enclave process, load the bundle, and resolve once it is ready (rejects with the load error, e.g.
 * INVALID_MANIFEST for a bundle without a valid default export, ENCLAVE_CRASHED if the process dies first).
 */
export async function startEnclaveHost<E extends Record<string, EcallHandler<never, unknown>>>(
  config: EnclaveHostConfig,
): Promise<EnclaveHandle<E>> {
  const { services, logger, ocalls, maxPayloadBytes, callTimeoutMs, maxRestarts, loadTimeoutMs } = config;
  const livenessTimeoutMs = config.livenessTimeoutMs ?? 2000;
  const maxStreams = config.maxStreams ?? 64;
  let nextPingId = 1;
  const restartPolicy = config.restart;
  const backoffMs = config.restartBackoffMs;

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
    if (g.exited) return;
    try {
      g.transport.send(message);
    } catch {
      // Channel closed under us: the exit handler deals with the pending calls.
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

  /**
   * Run a host function for the enclave (ocall, platform service) and reply. At most MAX_HOST_REQUESTS run at once
   * per enclave process (each holds its deserialized arguments, ≤ maxPayloadBytes): more get REQUEST_LIMIT.
   */
  function answer(g: Generation, id: number, work: () => unknown): void {
    if (g.requests >= MAX_HOST_REQUESTS) {
      reply(g, id, { ok: false, error: { code: 'REQUEST_LIMIT', message: `at most ${MAX_HOST_REQUESTS} ocall / service requests in flight` } });
      return;
    }
    let result: unknown;
    try {
      result = work();
    } catch (err) {
      reply(g, id, { ok: false, error: toWireError(err) });
      return;
    }
    g.requests++;
    Promise.resolve(result).then(
      (value) => {
        g.requests--;
        reply(g, id, { ok: true, value });
      },
      (err: unknown) => {
        g.requests--;
        reply(g, id, { ok: false, error: toWireError(err) });
      },
    );
  }

  function bytes(value: unknown, what: string, optional = false): Uint8Array | undefined {
    if (optional && value === undefined) return undefined;
    if (!(value instanceof Uint8Array)) throw new EnclaveError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
    return value;
  }

  function serve(s: EnclaveServices, op: SvcOp, args: unknown[]): unknown {
    switch (op) {
      case 'self':
        return s.self();
      case 'report':
        return s.report(bytes(args[0], 'reportData') as Uint8Array, bytes(args[1], 'targetInfo', true));
      case 'quote':
        return s.quote(bytes(args[0], 'reportData') as Uint8Array);
      case 'seal': {
        const opts = args[1];
        if (opts !== undefined && (typeof opts !== 'object' || opts === null)) throw invalid('seal options must be an object');
        const o = (opts ?? {}) as { policy?: unknown; additionalData?: unknown };
        if (o.policy !== undefined && o.policy !== 'MRENCLAVE' && o.policy !== 'MRSIGNER') throw invalid('unknown seal policy');
        const sealOptions: { policy?: SealOptions['policy']; additionalData?: Uint8Array } = {};
        if (o.policy !== undefined) sealOptions.policy = o.policy;
        const ad = bytes(o.additionalData, 'additionalData', true);
        if (ad !== undefined) sealOptions.additionalData = ad;
        return s.seal(bytes(args[0], 'data') as Uint8Array, sealOptions);
      }
      case 'unseal':
        return s.unseal(bytes(args[0], 'blob') as Uint8Array);
    }
  }

  function onMessage(g: Generation, msg: unknown, onLoad: (outcome: Outcome) => void): void {
    if (!isMessage(msg)) return;
    if (kindOf(msg.t) === FRAME_STREAM) {
      g.relay.handle(msg);
      return;
    }
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
        if (services === undefined || !(SVC_OPS as readonly unknown[]).includes(op) || !Array.isArray(args) || args.length > 2) {
          reply(g, msg.id, { ok: false, error: { code: 'UNKNOWN_CALL', message: 'unknown platform service request' } });
          return;
        }
        answer(g, msg.id, () => serve(services, op as SvcOp, args as unknown[]));
        return;
      }
      case 'log': {
        const record = sanitizeLogRecord(msg);
        if (record !== undefined) log(record.level, { ...record.fields, enclave: true }, record.message);
        return;
      }
      case 'pong': {
        const done = isId(msg.id) ? g.pings.get(msg.id) : undefined;
        if (done !== undefined) {
          g.pings.delete(msg.id as number);
          done();
        }
        return;
      }
      case 'ready': {
        const list = msg.ecalls;
        if (!Array.isArray(list) || list.length > MAX_ECALLS || !list.every(isValidCallName)) {
          onLoad({ ok: false, error: { code: 'INVALID_MANIFEST', message: 'the enclave declared an invalid ecall list' } });
          return;
        }
        if (config.self === undefined) {
          g.self = parseEnclaveSelf(msg.self);
          if (g.self === undefined) {
            g.selfError = isWireError(msg.selfError)
              ? msg.selfError
              : { code: 'ATTESTATION_FAILED', message: 'the enclave did not report a well-formed identity' };
          }
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

  /** The host ends generation `g` for `error` (the first reason wins); its exit then fails the calls with it. */
  function fault(g: Generation, error: EnclaveError): void {
    if (g.exited || g.fault !== undefined) return;
    g.fault = error;
    log('error', { enclave: true, code: error.code }, `ending the enclave: ${error.message}`);
    g.relay.closeAll();
    g.transport.kill();
  }

  /** After a call timeout: ping; no pong within livenessTimeoutMs = spinning, end it. */
  function probe(g: Generation, name: string): void {
    if (g.exited || g.fault !== undefined || g.pings.size > 0) return;
    const id = nextPingId++;
    const timer = setTimeout(() => {
      if (!g.pings.delete(id)) return;
      fault(g, new EnclaveError('ENCLAVE_TIMEOUT', `the enclave stopped answering (ecall ${name} timed out after ${callTimeoutMs} ms, no answer to a ping within ${livenessTimeoutMs} ms)`));
    }, livenessTimeoutMs);
    g.pings.set(id, () => clearTimeout(timer));
    sendTo(g, { t: 'ping', id });
  }

  /** Start and load one generation; resolves when 'ready'. */
  function start(): Promise<Generation> {
    return new Promise<Generation>((resolveStart, rejectStart) => {
      const transport = config.spawn();
      const g: Generation = {
        transport,
        pending: new Map(),
        startedAt: Date.now(),
        names: undefined,
        self: undefined,
        selfError: undefined,
        exited: false,
        exitCode: null,
        signal: null,
        fault: undefined,
        pings: new Map(),
        requests: 0,
        relay: createRelayHost({
          send: (message) => sendTo(g, message),
          reply: (id, outcome) => reply(g, id, outcome),
          onViolation: (error) => fault(g, error),
          ...(config.connect !== undefined ? { connect: config.connect } : {}),
          maxStreams,
          connectTimeoutMs: 10_000,
        }),
      };
      gen = g;
      let settled = false;
      const loadTimer = setTimeout(() => {
        if (settled) return;
        settled = true;
        rejectStart(new EnclaveError('TIMEOUT', `the enclave did not load within ${loadTimeoutMs} ms`));
        g.fault ??= new EnclaveError('TIMEOUT', `the enclave did not load within ${loadTimeoutMs} ms`);
        transport.kill();
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
          transport.kill();
        }
      };
      forwardStream(transport.stdout, 'info', 'stdout');
      forwardStream(transport.stderr, 'warn', 'stderr');
      transport.onMessage((msg: unknown) => {
        try {
          onMessage(g, msg, onLoad);
        } catch (err) {
          log('error', { enclave: true, err: toWireError(err) }, 'enclave message handling failed');
        }
      });
      transport.onExit((code, signal, error) => {
        if (error !== undefined && g.fault === undefined) g.fault = error;
        if (!settled) {
          settled = true;
          clearTimeout(loadTimer);
          rejectStart(
            g.fault ?? new EnclaveError('ENCLAVE_CRASHED', `the enclave process exited while loading (code ${code}, signal ${signal})`),
          );
        }
        if (error !== undefined) log('error', { enclave: true, err: toWireError(error) }, 'enclave process error');
        onExit(g, code, signal);
      });
      sendTo(g, config.loadMessage());
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
    g.exitCode = code;
    g.signal = signal;
    g.relay.closeAll();
    for (const done of g.pings.values()) done();
    g.pings.clear();
    const reason = state === 'terminated' ? 'terminated' : 'crashed';
    const fault = g.fault;
    const exit: EnclaveExit = fault !== undefined && reason === 'crashed' ? { code, signal, reason, error: fault.code } : { code, signal, reason };
    failAll(g, () =>
      reason === 'terminated'
        ? new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated')
        : fault !== undefined
          ? new EnclaveError(fault.code, fault.message)
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
    log('error', { enclave: true, code, signal, ...(fault !== undefined ? { error: fault.code } : {}) }, 'enclave process crashed');
    if (ready === undefined) return; // still in the initial load: the creation rejects
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
   * Wait, then start and load a new generation. If that fails, the failed generation's own exit goes through onExit
   * again, which schedules the next attempt (or gives up after maxRestarts); calls waiting on this attempt fail.
   */
  async function restartAfter(delay: number): Promise<Generation> {
    await new Promise((r) => setTimeout(r, delay));
    if (terminated()) throw new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated');
    try {
      const g = await start();
      if (terminated()) {
        g.transport.kill();
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
          if (!g.pending.delete(id)) return;
          rejectCall(new EnclaveError('ENCLAVE_TIMEOUT', `ecall ${name} did not finish within ${callTimeoutMs} ms`));
          probe(g, name);
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
        () => rej(new EnclaveError('ENCLAVE_TIMEOUT', `ecall ${name} did not start within ${callTimeoutMs} ms (enclave restarting)`)),
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
    gen?.transport.kill();
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
      finish({ code: g?.exitCode ?? null, signal: g?.signal ?? null, reason: 'terminated' });
      await exited;
      return;
    }
    // Fail pending calls now (not only when the process is gone), then kill it.
    failAll(g, () => new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated'));
    g.transport.kill();
    await exited;
  }

  function relay(socket: Socket): boolean {
    const g = gen;
    if (state !== 'running' || g === undefined || g.exited || g.names === undefined) {
      socket.destroy();
      return false;
    }
    return g.relay.accept(socket);
  }

  const listeners = new Set<Server>();
  async function listen(options: { readonly host?: string; readonly port?: number } = {}): Promise<EnclaveListener> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    if (state === 'terminated') throw new EnclaveError('ENCLAVE_TERMINATED', 'the enclave was terminated');
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      relay(socket);
    });
    server.maxConnections = maxStreams;
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(port, host, () => {
        server.removeListener('error', rej);
        res();
      });
    });
    listeners.add(server);
    const address = server.address();
    const bound = typeof address === 'object' && address !== null ? address.port : port;
    return Object.freeze({
      host,
      port: bound,
      close: () =>
        new Promise<void>((res) => {
          listeners.delete(server);
          server.close(() => res());
        }),
    });
  }
  void exited.then(() => {
    for (const server of listeners) server.close();
    listeners.clear();
  });

  const fixedSelf = config.self === undefined ? undefined : Object.freeze({ ...config.self });
  return Object.freeze({
    ecalls,
    get self(): EnclaveSelf {
      if (fixedSelf !== undefined) return fixedSelf;
      const g = gen ?? first;
      const s = g.self ?? first.self;
      if (s !== undefined) return s;
      throw fromWireError(g.selfError ?? first.selfError ?? { code: 'ATTESTATION_FAILED', message: 'the enclave identity is unknown' });
    },
    get ecallNames(): readonly string[] {
      return [...(gen?.names ?? [])];
    },
    health: () => state,
    terminate,
    exited,
    isolation: config.isolation,
    relay,
    listen,
    on(event: 'exit' | 'restart', listener: ((exit: EnclaveExit) => void) | ((restarts: number) => void)): void {
      if (event === 'exit') exitListeners.push(listener as (exit: EnclaveExit) => void);
      else if (event === 'restart') restartListeners.push(listener as (restarts: number) => void);
    },
  }) as EnclaveHandle<E>;
}
