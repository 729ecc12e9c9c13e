/**
 * `createEnclave(dir, options)`: the host starts a signed enclave and gets typed ecalls.
 *
 * Backend `sim`: the SIGSTRUCT is checked against the measured bundle (a changed bundle no longer loads), the
 * simulated CPU takes the enclave's identity from it (@cloister/sgx-sim SimEnclave on the given platform), and the
 * enclave code runs in its own Node process under the permission model (declared files only, no child processes,
 * no workers, no writes) inside an OS sandbox (host/sandbox.ts), memory limited to the manifest's heapSizeMiB above
 * the process's baseline (ENCLAVE_OUT_OF_MEMORY); the environment is the manifest's allowlisted `env`. Backend `gramine` launches
 * `gramineCommand` (default `gramine-sgx <enclave name>` in the enclave directory, which must hold the signed Gramine
 * manifest: docs/developers/gramine.md) and speaks to the in-enclave runtime over its stdio; platform services are
 * served inside the enclave by Gramine. BACKEND_UNAVAILABLE if the command is not found.
 */
import { Platform, SimEnclave, SimQuotingEnclave, loadOrCreatePki } from '@cloister/sgx-sim';
import { EnclaveError } from './errors.js';
import { createGramineEnclaveProcess } from './host/create-gramine-enclave.js';
import { createSimEnclaveProcess, type EnclaveHandle, type HostLogger, type RestartPolicy } from './host/create-sim-enclave.js';
import type { ConnectPolicy } from './host/relay-host.js';
import type { SandboxMode } from './host/sandbox.js';
import { readEnclaveProject } from './package/manifest.js';
import { loadEnclaveDir } from './package/sign.js';
import { SimEnclaveServices } from './sim/services.js';
import type { EcallHandler, EnclaveDefinition } from './types.js';

export interface CreateEnclaveOptions {
  readonly backend?: 'sim' | 'gramine';
  /** Host functions the enclave may call with ctx.ocall(name, args). */
  readonly ocalls?: Readonly<Record<string, (args: never) => unknown>>;
  /** The simulated platform (sim backend): an instance, or a platform directory (`cloister sim init DIR`). */
  readonly platform?: Platform | string;
  /** Out-of-process quoting socket (default /var/run/aesmd/aesm.socket), used when SGX_AESM_ADDR is set. */
  readonly aesmSocketPath?: string;
  /** Environment consulted for SGX_AESM_ADDR (default process.env). */
  readonly hostEnv?: NodeJS.ProcessEnv;
  /** Refuse a debug enclave unless true (a debug enclave's memory is readable by a debugger). Default false. */
  readonly debug?: boolean;
  readonly restart?: RestartPolicy;
  /**
   * Per-call timeout in ms (default 60 000; 0 = none): the call fails with ENCLAVE_TIMEOUT, and an enclave that then
   * does not answer a liveness ping within `livenessTimeoutMs` (default 2 000) is ended (then `restart` applies).
   */
  readonly callTimeoutMs?: number;
  readonly livenessTimeoutMs?: number;
  readonly maxPayloadBytes?: number;
  readonly logger?: HostLogger;
  /** Outbound relayed connections the host makes for ctx.connect(host, port): only where this returns true. */
  readonly connect?: ConnectPolicy;
  /** Most relayed streams open at once (default 64). */
  readonly maxStreams?: number;
  /**
   * Sim: 'auto' (default; namespaces and a dropped uid as root, or through a user namespace where allowed) or
   * 'unprivileged' (no namespaces; docs/security.md).
   */
  readonly sandbox?: SandboxMode;
  /**
   * Backend `gramine`: the launcher and its arguments, run in the enclave directory. Default
   * `['gramine-sgx', <enclave.json name>]` (i.e. `<name>.manifest.sgx` in the directory).
   */
  readonly gramineCommand?: readonly string[];
}

type AnyDefinition = EnclaveDefinition<Record<string, EcallHandler<never, unknown>>>;
export type Enclave<D extends AnyDefinition> = EnclaveHandle<D['ecalls']>;

export async function createEnclave<D extends AnyDefinition>(dir: string, options: CreateEnclaveOptions = {}): Promise<Enclave<D>> {
  const backend = options.backend ?? 'sim';
  if (backend === 'gramine') {
    const project = readEnclaveProject(dir);
    if (project.manifest.debug && options.debug !== true) {
      throw new EnclaveError('INVALID_MANIFEST', `${dir} is a debug enclave: pass { debug: true } to run it`);
    }
    const [command, ...args] = options.gramineCommand ?? ['gramine-sgx', project.manifest.name];
    if (command === undefined) throw new EnclaveError('INVALID_ARGUMENT', 'gramineCommand must not be empty');
    return createGramineEnclaveProcess<D['ecalls']>({
      command,
      args,
      cwd: project.dir,
      ...(options.ocalls !== undefined ? { ocalls: options.ocalls } : {}),
      ...(options.restart !== undefined ? { restart: options.restart } : {}),
      ...(options.callTimeoutMs !== undefined ? { callTimeoutMs: options.callTimeoutMs } : {}),
      ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(options.livenessTimeoutMs !== undefined ? { livenessTimeoutMs: options.livenessTimeoutMs } : {}),
      ...(options.connect !== undefined ? { connect: options.connect } : {}),
      ...(options.maxStreams !== undefined ? { maxStreams: options.maxStreams } : {}),
    });
  }
  if (backend !== 'sim') throw new EnclaveError('BACKEND_UNAVAILABLE', `unknown backend ${String(backend)}`);
  const loaded = loadEnclaveDir(dir);
  if (loaded.manifest.debug && options.debug !== true) {
    throw new EnclaveError('INVALID_MANIFEST', `${dir} is a debug enclave: pass { debug: true } to run it`);
  }
  const platform =
    options.platform instanceof Platform
      ? options.platform
      : typeof options.platform === 'string'
        ? Platform.load(options.platform)
        : Platform.create();
  const enclave = SimEnclave.load(platform, loaded.image, loaded.sigstruct);
  const pki = typeof options.platform === 'string' ? await loadOrCreatePki(platform, options.platform) : undefined;
  const qe = pki !== undefined ? new SimQuotingEnclave(platform, pki) : undefined;
  const services = new SimEnclaveServices({
    enclave,
    ...(qe !== undefined ? { qe } : {}),
    ...(options.aesmSocketPath !== undefined ? { aesmSocketPath: options.aesmSocketPath } : {}),
    ...(options.hostEnv !== undefined ? { env: options.hostEnv } : {}),
  });
  return createSimEnclaveProcess<D['ecalls']>({
    bundlePath: loaded.bundlePath,
    readablePaths: loaded.readablePaths,
    env: loaded.env,
    services,
    heapSizeMiB: loaded.manifest.heapSizeMiB,
    ...(options.ocalls !== undefined ? { ocalls: options.ocalls } : {}),
    ...(options.restart !== undefined ? { restart: options.restart } : {}),
    ...(options.callTimeoutMs !== undefined ? { callTimeoutMs: options.callTimeoutMs } : {}),
    ...(options.maxPayloadBytes !== undefined ? { maxPayloadBytes: options.maxPayloadBytes } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...(options.livenessTimeoutMs !== undefined ? { livenessTimeoutMs: options.livenessTimeoutMs } : {}),
    ...(options.connect !== undefined ? { connect: options.connect } : {}),
    ...(options.maxStreams !== undefined ? { maxStreams: options.maxStreams } : {}),
    ...(options.sandbox !== undefined ? { sandbox: options.sandbox } : {}),
  });
}
