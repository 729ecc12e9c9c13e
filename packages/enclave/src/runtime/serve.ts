/**
 * The enclave side of the protocol (protocol.ts), shared by both in-enclave entries: the sim process
 * (enclave-main.ts, framed channel on fd 3) and the Gramine runtime (gramine-main.ts, the same frames over stdio).
 *
 * - `load(bundlePath)` imports the bundle (one ESM file whose default export is an EnclaveDefinition) and sends
 *   `{ t: 'ready', ecalls, …readyFields() }` or `{ t: 'load-failed', error }`;
 * - `handle(msg)` serves `{ t: 'ecall' }` with `{ t: 'result' }` (any number concurrently) and settles ocall / svc
 *   requests with the host's `{ t: 'reply' }`; it returns false for any other message (the entry's own, e.g. 'load');
 * - each ecall's `ctx` sends ocalls to the host; platform services go to the host as `{ t: 'svc' }` requests (sim),
 *   or, when `services` is given (Gramine: GramineAttestation over /dev/attestation), are served in process.
 * - `{ t: 'ping', id }` is answered `{ t: 'pong', id }` (the host's liveness probe after a call timeout);
 * - relayed streams (relay-streams.ts): `ctx.connect(host, port)` and the definition's `onConnection`.
 * Errors cross as `{ code, message }` only. Imports only files the sim's permission model lets the process read
 * (RUNTIME_FILES in host/create-sim-enclave.ts).
 */
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { EnclaveError } from '../errors.js';
import { assertEnclaveDefinition, isValidCallName } from '../define.js';
import type { EcallHandler, EnclaveContext, EnclaveLogger, EnclaveSelf, EnclaveServices, SealOptions } from '../types.js';
import { createRelayStreams, type RelayConnectionInfo } from './relay-streams.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  FRAME_STREAM,
  MAX_LOG_FIELDS_BYTES,
  MAX_LOG_MESSAGE_LENGTH,
  kindOf,
  checkPayload,
  fromWireError,
  isId,
  isMessage,
  parseOutcome,
  toWireError,
  type LogLevel,
  type SvcOp,
} from './protocol.js';

export interface EnclaveRuntimeOptions {
  /** Send one message to the host (may throw if it cannot be serialized; a closed channel drops it). */
  send(message: unknown): void;
  /** Platform services served in process; without them, they are `svc` requests to the host. */
  readonly services?: EnclaveServices;
  /** Extra fields of the 'ready' message (e.g. the enclave's identity under Gramine). */
  readyFields?(): Record<string, unknown>;
}

export interface EnclaveRuntime {
  /** Largest serialized payload in either direction (set by the host's 'load'). */
  maxPayloadBytes: number;
  load(bundlePath: string): Promise<void>;
  /** Serve 'ecall' and 'reply' messages; false for anything else. Never throws. */
  handle(msg: unknown): boolean;
  readonly ctx: EnclaveContext;
}

function checkBytes(value: unknown, what: string, maxLength?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new EnclaveError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
  if (maxLength !== undefined && value.byteLength > maxLength) {
    throw new EnclaveError('INVALID_ARGUMENT', `${what} must be at most ${maxLength} bytes`);
  }
}

export function createEnclaveRuntime(options: EnclaveRuntimeOptions): EnclaveRuntime {
  const { services } = options;
  const send = (message: unknown): void => options.send(message);
  let ecalls: Readonly<Record<string, EcallHandler<never, unknown>>> | undefined;

  interface PendingRequest {
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  const pending = new Map<number, PendingRequest>();
  let nextRequestId = 1;

  const runtime: EnclaveRuntime = {
    maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
    load,
    handle,
    ctx: undefined as unknown as EnclaveContext,
  };

  function request(message: Record<string, unknown>, payload: unknown, what: string): Promise<unknown> {
    try {
      checkPayload(payload, runtime.maxPayloadBytes, what);
    } catch (err) {
      return Promise.reject(err);
    }
    const id = nextRequestId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      try {
        send({ ...message, id });
      } catch (err) {
        pending.delete(id);
        reject(new EnclaveError('INVALID_ARGUMENT', `${what} could not be sent: ${toWireError(err).message}`));
      }
    });
  }

  /** A platform service: in process if `services` is set, else a request to the host. */
  async function svc(op: SvcOp, args: unknown[]): Promise<unknown> {
    if (services === undefined) return request({ t: 'svc', op, args }, args, `${op} arguments`);
    switch (op) {
      case 'self':
        return services.self();
      case 'report':
        return services.report(args[0] as Uint8Array, args[1] as Uint8Array | undefined);
      case 'quote':
        return services.quote(args[0] as Uint8Array);
      case 'seal':
        return services.seal(args[0] as Uint8Array, args[1] as SealOptions | undefined);
      case 'unseal':
        return services.unseal(args[0] as Uint8Array);
    }
  }

  function log(level: LogLevel, message: unknown, fields: unknown): void {
    const text = typeof message === 'string' ? message : String(message);
    const msg = text.length > MAX_LOG_MESSAGE_LENGTH ? `${text.slice(0, MAX_LOG_MESSAGE_LENGTH - 1)}…` : text;
    const safeFields = typeof fields === 'object' && fields !== null && !Array.isArray(fields) ? fields : {};
    try {
      checkPayload(safeFields, MAX_LOG_FIELDS_BYTES, 'log fields');
      send({ t: 'log', level, message: msg, fields: safeFields });
    } catch {
      try {
        send({ t: 'log', level, message: msg, fields: { fieldsDropped: true } });
      } catch {
        // Logging never throws into the enclave.
      }
    }
  }

  const logger: EnclaveLogger = Object.freeze({
    info: (message: string, fields?: Record<string, unknown>) => log('info', message, fields),
    warn: (message: string, fields?: Record<string, unknown>) => log('warn', message, fields),
    error: (message: string, fields?: Record<string, unknown>) => log('error', message, fields),
  });

  const relay = createRelayStreams({
    send: (message) => send(message),
    request: (message) => request(message, undefined, 'connect'),
  });

  const ctx: EnclaveContext = Object.freeze({
    connect(host: string, port: number): Promise<Duplex> {
      return relay.connect(host, port);
    },
    ocall<T = unknown>(name: string, args?: unknown): Promise<T> {
      if (!isValidCallName(name)) {
        return Promise.reject(new EnclaveError('INVALID_ARGUMENT', 'invalid ocall name'));
      }
      return request({ t: 'ocall', name, args }, args, `ocall ${name} arguments`) as Promise<T>;
    },
    async getReport(reportData: Uint8Array, targetInfo?: Uint8Array): Promise<Uint8Array> {
      checkBytes(reportData, 'reportData', 64);
      if (targetInfo !== undefined) checkBytes(targetInfo, 'targetInfo', 4096);
      return (await svc('report', targetInfo === undefined ? [reportData] : [reportData, targetInfo])) as Uint8Array;
    },
    async getQuote(reportData: Uint8Array): Promise<Uint8Array> {
      checkBytes(reportData, 'reportData', 64);
      return (await svc('quote', [reportData])) as Uint8Array;
    },
    async identity(): Promise<EnclaveSelf> {
      return (await svc('self', [])) as EnclaveSelf;
    },
    async seal(data: Uint8Array, options?: SealOptions): Promise<Uint8Array> {
      checkBytes(data, 'data');
      return (await svc('seal', options === undefined ? [data] : [data, options])) as Uint8Array;
    },
    async unseal(blob: Uint8Array): Promise<{ data: Uint8Array; additionalData: Uint8Array }> {
      checkBytes(blob, 'blob');
      return (await svc('unseal', [blob])) as { data: Uint8Array; additionalData: Uint8Array };
    },
    log: logger,
  });
  (runtime as { ctx: EnclaveContext }).ctx = ctx;

  async function load(bundlePath: string): Promise<void> {
    let names: string[];
    try {
      const mod = (await import(pathToFileURL(bundlePath).href)) as { default?: unknown };
      let def: unknown = mod.default;
      // A CommonJS-shaped bundle imported as ESM nests the definition one level down.
      if (typeof def === 'object' && def !== null && !('ecalls' in def) && 'default' in def) {
        def = (def as { default: unknown }).default;
      }
      assertEnclaveDefinition(def);
      ecalls = def.ecalls;
      const onConnection = def.onConnection;
      if (onConnection !== undefined) {
        relay.setConnectionHandler((stream: Duplex, info: RelayConnectionInfo) => {
          const r = onConnection(stream, info, ctx) as unknown;
          if (typeof r === 'object' && r !== null && typeof (r as { then?: unknown }).then === 'function') {
            (r as Promise<unknown>).then(undefined, (err: unknown) => stream.destroy(err instanceof Error ? err : new Error(String(err))));
          }
        });
      }
      names = Object.keys(def.ecalls);
    } catch (err) {
      send({ t: 'load-failed', error: toWireError(err, 'INVALID_MANIFEST') });
      return;
    }
    send({ ...(options.readyFields?.() ?? {}), t: 'ready', ecalls: names });
  }

  function sendResult(id: number, value: unknown): void {
    try {
      checkPayload(value, runtime.maxPayloadBytes, 'the ecall result');
      send({ t: 'result', id, ok: true, value });
    } catch (err) {
      send({ t: 'result', id, ok: false, error: toWireError(err) });
    }
  }

  function sendError(id: number, err: unknown): void {
    try {
      send({ t: 'result', id, ok: false, error: toWireError(err) });
    } catch {
      // The channel is gone: the host fails the call when the process ends.
    }
  }

  function ecall(id: number, name: unknown, args: unknown): void {
    const handler = ecalls !== undefined && typeof name === 'string' && Object.hasOwn(ecalls, name) ? ecalls[name] : undefined;
    if (handler === undefined) {
      send({ t: 'result', id, ok: false, error: { code: 'UNKNOWN_CALL', message: `no ecall ${String(name).slice(0, 128)}` } });
      return;
    }
    let result: unknown;
    try {
      result = (handler as (args: unknown, ctx: EnclaveContext) => unknown)(args, ctx);
    } catch (err) {
      sendError(id, err);
      return;
    }
    if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
      Promise.resolve(result).then(
        (value) => sendResult(id, value),
        (err: unknown) => sendError(id, err),
      );
    } else {
      sendResult(id, result);
    }
  }

  function handle(msg: unknown): boolean {
    if (!isMessage(msg)) return false;
    try {
      if (kindOf(msg.t) === FRAME_STREAM) return relay.handle(msg);
      switch (msg.t) {
        case 'ping':
          if (isId(msg.id)) send({ t: 'pong', id: msg.id });
          return true;
        case 'ecall':
          if (isId(msg.id)) ecall(msg.id, msg.name, msg.args);
          return true;
        case 'reply': {
          if (!isId(msg.id)) return true;
          const waiter = pending.get(msg.id);
          const outcome = parseOutcome(msg);
          if (waiter === undefined || outcome === undefined) return true;
          pending.delete(msg.id);
          if (outcome.ok) waiter.resolve(outcome.value);
          else waiter.reject(fromWireError(outcome.error));
          return true;
        }
        default:
          return false;
      }
    } catch {
      // A malformed message never takes the runtime down.
      return true;
    }
  }

  return runtime;
}
