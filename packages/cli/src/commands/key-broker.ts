/**
 * `cloister key-broker serve`: the key broker (docs/key-broker.md) — Key Vault's release API over TLS, the KEK in a
 * Cloister enclave (sim backend), governance when members are given. Runs until SIGTERM / SIGINT.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, readSecretFile } from '@cloister/service-kit';
import { Platform, createSimPki, savePki } from '@cloister/sgx-sim';
import { prepareBrokerEnclave, startKeyBroker, type KeyBrokerHandle, type StartKeyBrokerOptions } from '@cloister/key-broker';
import { CliError } from '../errors.js';
import { readTextInput } from '../io.js';
import { serveUntilSignal } from '../serve-until-signal.js';

export interface KeyBrokerServeOptions {
  readonly host?: string;
  readonly port?: string;
  readonly data?: string;
  readonly databaseUrl?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly authority?: string[];
  readonly adminTokenFile?: string;
  readonly members?: string;
  readonly threshold?: string;
  readonly platform?: string;
  readonly enclave?: string;
  readonly enclaveKey?: string;
  readonly attestedPort?: string;
  readonly join?: string;
  readonly peerTrustRoot?: string[];
  readonly peerCollateral?: string;
  readonly allowSimulatedPeers?: boolean;
  readonly kbs?: boolean;
  readonly kbsCollateral?: string;
  readonly kbsTrustRoot?: string[];
  readonly kbsAllowSimulated?: boolean;
  readonly logLevel?: string;
}

function jsonFile(path: string, what: string): object {
  try {
    return JSON.parse(readTextInput(path, what)) as object;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('INVALID_ARGUMENT', `${what} ${path} is not JSON`);
  }
}

function port(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535) throw new CliError('INVALID_ARGUMENT', `${what} must be a port 0..65535`);
  return n;
}

function membersFile(path: string, threshold: string | undefined): { members: unknown[]; threshold: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readTextInput(path, 'the members file'));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('INVALID_ARGUMENT', `${path} is not JSON: {"members":[JWK…],"threshold":M} or [JWK…]`);
  }
  const members = Array.isArray(parsed) ? parsed : (parsed as { members?: unknown }).members;
  if (!Array.isArray(members) || members.length === 0) throw new CliError('INVALID_ARGUMENT', `${path} holds no members (public JWKs)`);
  const t = threshold !== undefined ? Number(threshold) : (parsed as { threshold?: unknown }).threshold;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > members.length) {
    throw new CliError('INVALID_ARGUMENT', `--threshold must be 1..${members.length} (or "threshold" in the members file)`);
  }
  return { members, threshold: t };
}

/** The simulated platform: --platform DIR, else <data>/platform (created on first use), else an ephemeral one. */
async function simPlatform(dir: string | undefined): Promise<Platform | string | undefined> {
  if (dir === undefined) return undefined;
  if (existsSync(join(dir, 'pki'))) return dir;
  mkdirSync(dir, { recursive: true });
  let platform: Platform;
  try {
    platform = Platform.load(dir);
  } catch {
    platform = Platform.create();
    platform.save(dir);
  }
  savePki(await createSimPki(platform), dir);
  return dir;
}

export async function keyBrokerServeCommand(opts: KeyBrokerServeOptions): Promise<void> {
  if ((opts.data === undefined) === (opts.databaseUrl === undefined)) throw new CliError('INVALID_ARGUMENT', 'give exactly one of --data DIR and --database-url URL');
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new CliError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  const authorities = opts.authority ?? [];
  if (authorities.length === 0) throw new CliError('INVALID_ARGUMENT', 'at least one --authority URL (the attestation service or MAA whose tokens are accepted)');
  if (opts.threshold !== undefined && opts.members === undefined) throw new CliError('INVALID_ARGUMENT', '--threshold needs --members');
  let join_: { host: string; port: number } | undefined;
  if (opts.join !== undefined) {
    const m = /^(.+):(\d+)$/.exec(opts.join);
    if (m === null) throw new CliError('INVALID_ARGUMENT', '--join is HOST:PORT (a running replica\'s attested port)');
    join_ = { host: m[1]!, port: port(m[2]!, '--join port') };
  }
  const logger = createLogger({ component: 'cloister-key-broker', level: opts.logLevel ?? 'info' });
  const adminToken = opts.adminTokenFile !== undefined ? readSecretFile(opts.adminTokenFile, 'admin token') : undefined;
  const governance = opts.members !== undefined ? membersFile(opts.members, opts.threshold) : undefined;
  const enclaveDir = opts.enclave ?? (opts.data !== undefined ? join(opts.data, 'enclave') : join(tmpdir(), 'cloister-key-broker-enclave'));
  const prebuilt = opts.enclave !== undefined && existsSync(join(enclaveDir, 'enclave.sigstruct')) && existsSync(join(enclaveDir, 'dist', 'enclave.bundle.mjs'));
  if (!prebuilt) {
    const p = await prepareBrokerEnclave({ dir: enclaveDir, ...(opts.enclaveKey !== undefined ? { keyPath: opts.enclaveKey } : {}) });
    logger.info({ dir: p.dir, mrenclave: p.mrenclave, mrsigner: p.mrsigner }, 'broker enclave built and signed');
    if (opts.enclaveKey === undefined) logger.warn({ key: join(enclaveDir, 'enclave.key.pem') }, 'the enclave was signed with a key generated here: replicas and upgrades must share one signer (--enclave-key)');
  }
  const platform = await simPlatform(opts.platform ?? (opts.data !== undefined ? join(opts.data, 'platform') : undefined));
  if (platform === undefined) logger.warn('no --platform: an ephemeral simulated platform, whose sealed KEK no restart can open (join a replica or recover)');
  const peerCollateral = opts.peerCollateral !== undefined ? (jsonFile(opts.peerCollateral, 'the peer collateral')) : undefined;
  let options: StartKeyBrokerOptions = {
    host: opts.host ?? '0.0.0.0',
    port: port(opts.port ?? '8443', '--port'),
    storage: opts.data !== undefined ? { dataDir: opts.data } : { databaseUrl: opts.databaseUrl! },
    authorities,
    enclaveDir,
    logger,
    ...(platform !== undefined ? { platform } : {}),
    ...(opts.tlsCert !== undefined ? { tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey! } } : {}),
    ...(adminToken !== undefined ? { adminToken } : {}),
    ...(governance !== undefined ? { governance } : {}),
    ...(opts.attestedPort !== undefined ? { attestedPort: port(opts.attestedPort, '--attested-port') } : {}),
    ...(join_ !== undefined ? { join: join_ } : {}),
    peer: {
      trustRootsPem: (opts.peerTrustRoot ?? []).map((f) => readFileSync(f, 'utf8')),
      evidenceRules: { allowSimulated: opts.allowSimulatedPeers === true },
    },
    ...(peerCollateral !== undefined ? { collateral: async () => peerCollateral } : {}),
  };
  if (opts.kbs === true && opts.kbsCollateral === undefined) throw new CliError('INVALID_ARGUMENT', "--kbs needs --kbs-collateral FILE (the collateral of the clients' platform)");
  if (opts.kbs !== true && (opts.kbsCollateral !== undefined || opts.kbsTrustRoot !== undefined || opts.kbsAllowSimulated === true)) throw new CliError('INVALID_ARGUMENT', '--kbs-* options need --kbs');
  if (opts.kbs === true) {
    const kbsCollateral = jsonFile(opts.kbsCollateral!, 'the KBS collateral');
    options = {
      ...options,
      kbs: {
        collateral: async () => kbsCollateral,
        trustRootsPem: (opts.kbsTrustRoot ?? []).map((f) => readFileSync(f, 'utf8')),
        evidenceRules: { allowSimulated: opts.kbsAllowSimulated === true },
      },
    };
  }
  if (opts.tlsCert === undefined) logger.warn('no --tls-cert: the API is plain HTTP (tests only)');
  const handle: KeyBrokerHandle = await startKeyBroker(options);
  await serveUntilSignal(handle);
}
