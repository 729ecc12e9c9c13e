/**
 * The entry file of a sim-backend enclave PROCESS. The host (src/host/create-sim-enclave.ts) forks it under Node's
 * permission model with IPC `serialization: 'advanced'`; this file then:
 *  1. waits for `{ t: 'load', bundlePath, maxPayloadBytes }`, imports the bundle (one ESM file whose default export
 *     is an EnclaveDefinition, normally `export default defineEnclave(…)` with defineEnclave inlined by esbuild) and
 *     answers `{ t: 'ready', ecalls }` or `{ t: 'load-failed', error }`;
 *  2. serves `{ t: 'ecall', id, name, args }` with `{ t: 'result', id, ok, value | error }`, any number concurrently;
 *  3. gives each ecall a `ctx` (EnclaveContext) whose ocalls and platform services are requests to the host
 *     (`{ t: 'ocall' | 'svc', id, … }` answered by `{ t: 'reply', id, ok, value | error }`).
 * Steps 1–3 are serve.ts (shared with the Gramine runtime, gramine-main.ts); this file is the IPC transport and the
 * 'load' message. Errors cross as `{ code, message }` only (see protocol.ts). Every message is validated; unknown
 * ones are ignored. It imports only node: builtins and the files listed in RUNTIME_FILES of the host, which the
 * permission model lets it read.
 */
import { isAbsolute } from 'node:path';
import { MAX_PATH_LENGTH, isMessage } from './protocol.js';
import { createEnclaveRuntime } from './serve.js';

// The permission model is experimental in Node 20 and warns once; the host also passes --no-warnings.
process.removeAllListeners('warning');

const rawSend = process.send?.bind(process);
if (rawSend === undefined) {
  process.stderr.write('enclave-main: must be started by the host with child_process.fork (no IPC channel)\n');
  process.exit(70);
}

const runtime = createEnclaveRuntime({
  send(message) {
    // A closed channel means the host is gone ('disconnect' below ends the process); nothing to report to.
    if (process.connected) rawSend(message);
  },
});
let loading = false;

function onMessage(msg: unknown): void {
  if (runtime.handle(msg) || !isMessage(msg) || msg.t !== 'load') return;
  const { bundlePath, maxPayloadBytes: max } = msg;
  if (loading || typeof bundlePath !== 'string' || bundlePath.length > MAX_PATH_LENGTH || !isAbsolute(bundlePath)) return;
  if (max !== undefined && !(typeof max === 'number' && Number.isSafeInteger(max) && max >= 1024)) return;
  loading = true;
  if (typeof max === 'number') runtime.maxPayloadBytes = max;
  void runtime.load(bundlePath);
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
