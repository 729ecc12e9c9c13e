/**
 * The entry file of a sim-backend enclave PROCESS. The host (src/host/create-sim-enclave.ts) starts it under Node's
 * permission model (inside the sandbox of host/sandbox.ts) with a socketpair on fd 3; this file then:
 *  0. before anything else, and before any enclave code exists in the process: locks `process.kill`,
 *     `process._kill` and the credential setters (no signals to anything, not even itself), opens the framed
 *     channel (stdio-channel.ts) on fd 3 and says `{ t: 'hello' }` (the host measures the memory baseline then);
 *  1. waits for `{ t: 'load', bundlePath, maxPayloadBytes }`, imports the bundle (one ESM file whose default export
 *     is an EnclaveDefinition) and answers `{ t: 'ready', ecalls }` or `{ t: 'load-failed', error }`;
 *  2. serves ecalls, ocalls, platform services, pings and relayed streams (serve.ts, shared with Gramine).
 * The channel closing (the host is gone: EOF on fd 3) ends the process. Everything the enclave writes to fd 3 by
 * other means is still bounded and checked by the host, which ends the enclave (ENCLAVE_PROTOCOL) on any bad frame.
 * It imports only node: builtins and the files listed in RUNTIME_FILES of the host, which the permission model lets
 * it read.
 */
import { isAbsolute } from 'node:path';
import { Socket } from 'node:net';
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_PATH_LENGTH, frameLimits, isMessage } from './protocol.js';
import { createEnclaveRuntime } from './serve.js';
import { createStdioChannel } from './stdio-channel.js';

/** The fd of the host channel (the 4th stdio entry of the host's spawn). */
const CHANNEL_FD = 3;

// The permission model is experimental in Node 20 and warns once; the host also passes --no-warnings.
process.removeAllListeners('warning');

/** Replace `name` on `process` with a function that always throws ERR_ACCESS_DENIED, non-writable, non-configurable. */
function lock(name: string): void {
  const denied = function denied(): never {
    const err = new Error(`process.${name} is not available inside an enclave`) as Error & { code: string };
    err.code = 'ERR_ACCESS_DENIED';
    throw err;
  };
  try {
    Object.defineProperty(process, name, { value: denied, writable: false, configurable: false, enumerable: false });
  } catch {
    process.stderr.write(`enclave-main: cannot lock process.${name}\n`);
    process.exit(70);
  }
}
// No signals from enclave code, to anything: the sandbox (process group, PID namespace, uid) is the second line.
for (const name of ['kill', '_kill', 'setuid', 'setgid', 'seteuid', 'setegid', 'setgroups', 'initgroups', '_debugProcess', 'dlopen']) {
  lock(name);
}

let maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
const socket = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
const channel = createStdioChannel(socket, socket, { maxFrameBytes: (kind) => frameLimits(maxPayloadBytes)(kind) });

const runtime = createEnclaveRuntime({
  send(message) {
    channel.send(message);
  },
});
let loading = false;

channel.onMessage((msg) => {
  if (runtime.handle(msg) || !isMessage(msg) || msg.t !== 'load') return;
  const { bundlePath, maxPayloadBytes: max } = msg;
  if (loading || typeof bundlePath !== 'string' || bundlePath.length > MAX_PATH_LENGTH || !isAbsolute(bundlePath)) return;
  if (max !== undefined && !(typeof max === 'number' && Number.isSafeInteger(max) && max >= 1024 && max <= 0xffffffff - 65536)) return;
  loading = true;
  if (typeof max === 'number') {
    maxPayloadBytes = max;
    runtime.maxPayloadBytes = max;
  }
  void runtime.load(bundlePath);
});
// The host went away (EOF on fd 3) or spoke garbage: an enclave has no life of its own.
channel.onClose((error) => {
  if (error !== undefined) process.stderr.write(`enclave-main: channel closed: ${error.message}\n`);
  process.exit(error === undefined ? 0 : 71);
});
channel.send({ t: 'hello' });
