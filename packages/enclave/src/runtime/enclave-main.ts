/**
 * The entry file of a sim-backend enclave PROCESS. The host (src/host/create-sim-enclave.ts) forks it under Node's
 * permission model with IPC `serialization: 'advanced'`; this file then:
 *  1. waits for `{ t: 'load', bundlePath, maxPayloadBytes }`, imports the bundle (one ESM file whose default export
 *     is an EnclaveDefinition, normally `export default defineEnclave(…)` with defineEnclave inlined by esbuild) and
 *     answers `{ t: 'ready', ecalls }` or `{ t: 'load-failed', error }`;
 *  2. serves `{ t: 'ecall', id, name, args }` with `{ t: 'result', id, ok, value | error }`, any number concurrently;
 *  3. gives each ecall a `ctx` (EnclaveContext) whose ocalls and platform services are requests to the host
 *     (`{ t: 'ocall' | 'svc', id, … }` answered by `{ t: 'reply', id, ok, value | error }`).
 * Errors cross as `{ code, message }` only (see protocol.ts). Every message is validated; unknown ones are ignored.
 * It imports only node: builtins and the files listed in RUNTIME_FILES of the host, which the permission model lets
 * it read.
 */
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import { EnclaveError } from '../errors.js';
import { assertEnclaveDefinition, isValidCallName } from '../define.js';
import type { EcallHandler, EnclaveContext, EnclaveLogger, EnclaveSelf, SealOptions } from '../types.js';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  MAX_LOG_MESSAGE_LENGTH,
  MAX_PATH_LENGTH,
  checkPayload,
  fromWireError,
  isId,
  isMessage,
  parseOutcome,
  toWireError,
  type LogLevel,
  type SvcOp,
} from './protocol.js';

// The permission model is experimental in Node 20 and warns once; the host also passes --no-warnings.
process.removeAllListeners('warning');

const rawSend = process.send?.bind(process);
if (rawSend === undefined) {
  process.stderr.write('enclave-main: must be started by the host with child_process.fork (no IPC channel)\n');
  process.exit(70);
}
const send: (message: unknown) => void = (message) => {
  // A closed channel means the host is gone ('disconnect' below ends the process); nothing to report to.
  if (process.connected) rawSend(message);
};

let maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
let loading = false;
let ecalls: Readonly<Record<string, EcallHandler<never, unknown>>> | undefined;

interface PendingRequest {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}
const pending = new Map<number, PendingRequest>();
let nextRequestId = 1;

function request(message: Record<string, unknown>, payload: unknown, what: string): Promise<unknown> {
  try {
    checkPayload(payload, maxPayloadBytes, what);
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

function svc(op: SvcOp, args: unknown[]): Promise<unknown> {
  return request({ t: 'svc', op, args }, args, `${op} arguments`);
}

function checkBytes(value: unknown, what: string, maxLength?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new EnclaveError('INVALID_ARGUMENT', `${what} must be a Uint8Array`);
  if (maxLength !== undefined && value.byteLength > maxLength) {
    throw new EnclaveError('INVALID_ARGUMENT', `${what} must be at most ${maxLength} bytes`);
  }
}

function log(level: LogLevel, message: unknown, fields: unknown): void {
  const text = typeof message === 'string' ? message : String(message);
  const msg = text.length > MAX_LOG_MESSAGE_LENGTH ? `${text.slice(0, MAX_LOG_MESSAGE_LENGTH - 1)}…` : text;
  const safeFields = typeof fields === 'object' && fields !== null && !Array.isArray(fields) ? fields : {};
  try {
    checkPayload(safeFields, Math.min(maxPayloadBytes, 64 * 1024), 'log fields');
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

const ctx: EnclaveContext = Object.freeze({
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

async function load(bundlePath: string): Promise<void> {
  try {
    const mod = (await import(pathToFileURL(bundlePath).href)) as { default?: unknown };
    let def: unknown = mod.default;
    // A CommonJS-shaped bundle imported as ESM nests the definition one level down.
    if (typeof def === 'object' && def !== null && !('ecalls' in def) && 'default' in def) {
      def = (def as { default: unknown }).default;
    }
    assertEnclaveDefinition(def);
    ecalls = def.ecalls;
    send({ t: 'ready', ecalls: Object.keys(def.ecalls) });
  } catch (err) {
    send({ t: 'load-failed', error: toWireError(err, 'INVALID_MANIFEST') });
  }
}

function sendResult(id: number, value: unknown): void {
  try {
    checkPayload(value, maxPayloadBytes, 'the ecall result');
    send({ t: 'result', id, ok: true, value });
  } catch (err) {
    send({ t: 'result', id, ok: false, error: toWireError(err) });
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
    send({ t: 'result', id, ok: false, error: toWireError(err) });
    return;
  }
  if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
    Promise.resolve(result).then(
      (value) => sendResult(id, value),
      (err: unknown) => send({ t: 'result', id, ok: false, error: toWireError(err) }),
    );
  } else {
    sendResult(id, result);
  }
}

function onMessage(msg: unknown): void {
  if (!isMessage(msg)) return;
  switch (msg.t) {
    case 'ecall':
      if (isId(msg.id)) ecall(msg.id, msg.name, msg.args);
      return;
    case 'reply': {
      if (!isId(msg.id)) return;
      const waiter = pending.get(msg.id);
      const outcome = parseOutcome(msg);
      if (waiter === undefined || outcome === undefined) return;
      pending.delete(msg.id);
      if (outcome.ok) waiter.resolve(outcome.value);
      else waiter.reject(fromWireError(outcome.error));
      return;
    }
    case 'load': {
      const { bundlePath, maxPayloadBytes: max } = msg;
      if (loading || typeof bundlePath !== 'string' || bundlePath.length > MAX_PATH_LENGTH || !isAbsolute(bundlePath)) return;
      if (max !== undefined && !(typeof max === 'number' && Number.isSafeInteger(max) && max >= 1024)) return;
      loading = true;
      if (typeof max === 'number') maxPayloadBytes = max;
      void load(bundlePath);
      return;
    }
    default:
      return;
  }
}

process.on('message', (msg: unknown) => {
  try {
    onMessage(msg);
  } catch {
    // A malformed message never takes the runtime down.
  }
});
// The host went away: an enclave has no life of its own.
process.on('disconnect', () => process.exit(0));
