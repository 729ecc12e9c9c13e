/**
 * The host's side of the broker enclave (enclave/src/enclave.ts): prepare (copy, build, sign) the enclave project,
 * start it on the sim backend (Gramine on hardware: the same project), and open or create its sealed state.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildEnclave, createEnclave, signEnclaveDir, type Enclave, type HostLogger } from '@cloister/enclave';
import type { Platform } from '@cloister/sgx-sim';
import type definition from '../enclave/src/enclave.js';
import type { OpenResult, PeerConfig } from '../enclave/src/enclave.js';

export type BrokerEnclaveDefinition = typeof definition;
export type BrokerEnclave = Enclave<BrokerEnclaveDefinition>;

/** The enclave project shipped with this package (enclave.json and its sources). */
export const ENCLAVE_PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'enclave');

export interface PrepareBrokerEnclaveOptions {
  /** Where the project is copied, built and signed. */
  readonly dir: string;
  /** The signing key (RSA-3072, e = 3; `cloister enclave sign` makes one). Default `<dir>/enclave.key.pem`, generated. */
  readonly keyPath?: string;
}

export interface PreparedBrokerEnclave {
  readonly dir: string;
  readonly mrenclave: string;
  readonly mrsigner: string;
}

/** The node_modules directory that resolves the enclave's imports (@cloister/ratls, jose, …): the nearest upwards. */
function modulesRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(d, 'node_modules');
    if (existsSync(join(candidate, '@cloister', 'ratls')) && existsSync(join(candidate, 'jose'))) return candidate;
    const up = dirname(d);
    if (up === d) throw new Error('cannot find the node_modules holding @cloister/ratls and jose for the broker enclave build');
    d = up;
  }
}

/** Copies the enclave project into `dir` (sources and manifest only), bundles it and signs it. */
export async function prepareBrokerEnclave(options: PrepareBrokerEnclaveOptions): Promise<PreparedBrokerEnclave> {
  const dir = resolve(options.dir);
  mkdirSync(join(dir, 'src'), { recursive: true });
  copyFileSync(join(ENCLAVE_PROJECT_DIR, 'enclave.json'), join(dir, 'enclave.json'));
  for (const f of readdirSync(join(ENCLAVE_PROJECT_DIR, 'src'))) {
    if (f.endsWith('.ts') && !f.endsWith('.d.ts')) copyFileSync(join(ENCLAVE_PROJECT_DIR, 'src', f), join(dir, 'src', f));
  }
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(modulesRoot(), join(dir, 'node_modules'), 'dir');
  await buildEnclave(dir);
  const signed = await signEnclaveDir(dir, options.keyPath !== undefined ? { keyPath: options.keyPath } : {});
  return { dir, mrenclave: signed.mrenclave, mrsigner: signed.mrsigner };
}

export interface StartBrokerEnclaveOptions {
  readonly dir: string;
  readonly platform?: Platform | string;
  readonly aesmSocketPath?: string;
  readonly hostEnv?: NodeJS.ProcessEnv;
  /** Collateral for a peer's quote (replica transfer); the enclave verifies it against its trust roots. */
  readonly collateral?: (quote: Uint8Array) => Promise<object>;
  /** Where the enclave may open relayed connections (its own API listener, replicas). */
  readonly connect?: (target: { readonly host: string; readonly port: number }) => boolean;
  readonly logger?: HostLogger;
}

export async function startBrokerEnclave(options: StartBrokerEnclaveOptions): Promise<BrokerEnclave> {
  const collateral = options.collateral;
  return createEnclave<BrokerEnclaveDefinition>(options.dir, {
    ...(options.platform !== undefined ? { platform: options.platform } : {}),
    ...(options.aesmSocketPath !== undefined ? { aesmSocketPath: options.aesmSocketPath } : {}),
    ...(options.hostEnv !== undefined ? { hostEnv: options.hostEnv } : {}),
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    ...(options.connect !== undefined ? { connect: options.connect } : {}),
    callTimeoutMs: 30_000,
    restart: 'never',
    ocalls: {
      collateral: async (args: { quote: Uint8Array }) => {
        if (collateral === undefined) throw Object.assign(new Error('no collateral source configured for peers'), { code: 'COLLATERAL_UNAVAILABLE' });
        return collateral(args.quote);
      },
    },
  });
}

export type { OpenResult, PeerConfig };
