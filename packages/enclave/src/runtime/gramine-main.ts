/**
 * The in-enclave entry of the Gramine backend: `node enclave-runtime.mjs <bundlePath>`, with that argv fixed by the
 * Gramine manifest (loader.argv, src/gramine/manifest.ts) — the host cannot choose which code runs. Built into the
 * self-contained `dist/enclave-runtime.mjs` by buildEnclave (src/package/build.ts), a trusted file of the manifest.
 *
 * Transport: under Gramine only fds 0–2 reach the enclave, so Node's fork IPC is not available. The SAME messages as
 * the sim backend (protocol.ts) travel as frames (stdio-channel.ts: u32 LE length ‖ v8.serialize, ≤ 64 MiB) over
 * stdin (host → enclave) and stdout (enclave → host). Anything the enclave code writes to process.stdout
 * (console.log, …) is redirected to stderr so that it cannot corrupt the frames; stderr is the log stream.
 *
 * Sequence: the host sends `{ t: 'load', maxPayloadBytes }` (a `bundlePath` in it is IGNORED: the bundle is argv's);
 * the runtime imports the bundle and answers `{ t: 'ready', ecalls, self }` (`self` = this enclave's identity from
 * its own report) or, if the identity is unavailable (no /dev/attestation), `{ t: 'ready', ecalls, selfError }`;
 * then ecalls, results, ocalls and replies exactly as in the sim (serve.ts). The host's stdin closing ends the process.
 *
 * Platform services (ctx.getReport / getQuote / seal / unseal / identity) are served INSIDE the enclave by
 * GramineAttestation over `/dev/attestation` (root overridable with CLOISTER_ATTESTATION_ROOT); Gramine itself
 * talks to AESM for quotes. The host is never asked (no 'svc' messages are sent).
 *
 * TEST HOOK: if CLOISTER_GRAMINE_FAKE_SERVICES names a module, its default export (an EnclaveServices) replaces
 * GramineAttestation. It exists only to test this runtime as a plain process without SGX. A production manifest
 * never sets it: the Gramine manifest's loader.env is exactly enclave.json's `env` (measured), so it cannot be set
 * from outside the enclave; and the runtime refuses the hook when `<attestation root>/attestation_type` exists,
 * i.e. when it really runs under gramine-sgx.
 */
import { existsSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GramineAttestation } from '../gramine/attestation-fs.js';
import type { EnclaveServices } from '../types.js';
import { frameLimits, isMessage, toWireError } from './protocol.js';
import { createEnclaveRuntime } from './serve.js';
import { DEFAULT_MAX_FRAME_BYTES, createStdioChannel, type ChannelWritable } from './stdio-channel.js';

/** Environment variable of the test-only services hook (see the module comment). */
export const FAKE_SERVICES_ENV = 'CLOISTER_GRAMINE_FAKE_SERVICES';
/** Environment variable overriding the /dev/attestation root. */
export const ATTESTATION_ROOT_ENV = 'CLOISTER_ATTESTATION_ROOT';
/** Payload headroom kept inside a frame for the message envelope. */
const ENVELOPE_BYTES = 64 * 1024;

function fatal(message: string): never {
  process.stderr.write(`enclave-runtime: ${message}\n`);
  process.exit(70);
}

const SERVICE_METHODS = ['self', 'report', 'quote', 'seal', 'unseal'] as const;

async function loadServices(): Promise<EnclaveServices> {
  const root = process.env[ATTESTATION_ROOT_ENV] ?? '/dev/attestation';
  const fake = process.env[FAKE_SERVICES_ENV];
  if (fake === undefined || fake === '') return new GramineAttestation({ root });
  if (existsSync(posix.join(root, 'attestation_type'))) {
    fatal(`${FAKE_SERVICES_ENV} is set but ${root} exists: refusing fake platform services inside a real enclave`);
  }
  const mod = (await import(pathToFileURL(resolve(fake)).href)) as { default?: unknown };
  const services = mod.default;
  if (typeof services !== 'object' || services === null) fatal(`${fake} has no default export`);
  for (const m of SERVICE_METHODS) {
    if (typeof (services as Record<string, unknown>)[m] !== 'function') fatal(`${fake}'s default export has no ${m}()`);
  }
  process.stderr.write(`enclave-runtime: WARNING: ${FAKE_SERVICES_ENV} is set, platform services are FAKE (tests only)\n`);
  return services as EnclaveServices;
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === undefined || arg === '' || process.argv.length > 3) fatal('usage: node enclave-runtime.mjs <bundlePath>');
  const bundlePath = resolve(arg);

  // The frames own stdout: keep its real write for the channel and send everything else written to it to stderr.
  const stdout = process.stdout;
  const stdoutWrite = stdout.write.bind(stdout) as (chunk: Uint8Array, cb?: (err?: Error | null) => void) => boolean;
  stdout.write = process.stderr.write.bind(process.stderr) as typeof stdout.write;
  const out: ChannelWritable = {
    write: (chunk, cb) => stdoutWrite(chunk, cb),
    on: (event, listener) => stdout.on(event, listener),
  };

  const services = await loadServices();
  let maxPayloadBytes = DEFAULT_MAX_FRAME_BYTES - ENVELOPE_BYTES;
  const channel = createStdioChannel(process.stdin, out, { maxFrameBytes: (kind) => frameLimits(maxPayloadBytes)(kind) });
  const runtime = createEnclaveRuntime({
    send: (message) => {
      channel.send(message);
    },
    services,
    readyFields() {
      try {
        return { self: { ...services.self() } };
      } catch (err) {
        return { selfError: toWireError(err, 'BACKEND_UNAVAILABLE') };
      }
    },
  });
  let loading = false;

  channel.onMessage((msg) => {
    if (runtime.handle(msg) || !isMessage(msg) || msg.t !== 'load' || loading) return;
    const max = msg.maxPayloadBytes;
    if (max !== undefined && !(typeof max === 'number' && Number.isSafeInteger(max) && max >= 1024)) return;
    loading = true;
    if (typeof max === 'number') {
      maxPayloadBytes = Math.min(max, DEFAULT_MAX_FRAME_BYTES - ENVELOPE_BYTES);
      runtime.maxPayloadBytes = maxPayloadBytes;
    }
    void runtime.load(bundlePath);
  });
  channel.onClose((error) => {
    // The host went away (or spoke garbage): an enclave has no life of its own.
    if (error !== undefined) process.stderr.write(`enclave-runtime: channel closed: ${error.message}\n`);
    process.exit(error === undefined ? 0 : 71);
  });
}

main().catch((err: unknown) => fatal(`cannot start: ${toWireError(err).message}`));
