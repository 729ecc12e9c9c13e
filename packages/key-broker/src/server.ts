/**
 * `startKeyBroker`: storage, the broker enclave (KEK unsealed, received from a replica, or created), the API over
 * TLS (or plain HTTP for tests), and the attested TLS listener whose connections end inside the enclave. The
 * enclave relays decrypted API requests to a loopback-only listener of the same app (scheme https in key ids).
 */
import { createLogger, createServiceMetrics, startService, type ServiceHandle, type TlsFiles, type TlsInline } from '@cloister/service-kit';
import { openStorage, type Storage, type StorageConfig } from '@cloister/storage';
import type { Platform } from '@cloister/sgx-sim';
import type { Logger } from 'pino';
import { keyBrokerSource, mountDashboard } from '@cloister/dashboard';
import { createBrokerApp } from './app.js';
import { KeyBroker, type GovernanceConfig } from './broker.js';
import { startBrokerEnclave, type BrokerEnclave, type PeerConfig } from './kek-enclave.js';
import { KEY_BROKER_MIGRATIONS } from './migrations.js';
import { TokenVerifier, type TokenVerifierOptions } from './token.js';
import { addKbsRoutes, type KbsOptions } from './kbs.js';

export interface StartKeyBrokerOptions {
  readonly host?: string;
  readonly port: number;
  readonly tls?: TlsFiles | TlsInline;
  /** Port of the attested TLS listener (RA-TLS certificate made in the enclave); undefined: none. */
  readonly attestedPort?: number;
  readonly storage: StorageConfig;
  readonly authorities: readonly string[];
  readonly adminToken?: string;
  readonly governance?: GovernanceConfig;
  /** A prepared (built and signed) broker enclave directory (prepareBrokerEnclave). */
  readonly enclaveDir: string;
  /** Simulated platform (sim backend). */
  readonly platform?: Platform | string;
  readonly aesmSocketPath?: string;
  readonly hostEnv?: NodeJS.ProcessEnv;
  /** When the state exists but nothing here unseals it: take the KEK from this replica's attested port (retried). */
  readonly join?: { readonly host: string; readonly port: number };
  readonly joinRetryMs?: number;
  /** How replicas are verified: trust roots (PEM) and evidence rules (allowSimulated, acceptedTcbStatuses, …). */
  readonly peer?: PeerConfig;
  /** Collateral for a replica's quote (a PCCS client; sim: the platform's collateral). */
  readonly collateral?: (quote: Uint8Array) => Promise<object>;
  readonly token?: Omit<TokenVerifierOptions, 'authorities'>;
  /** Also serve the Trustee KBS protocol (/kbs/v0/…) over the same keys and policies. */
  readonly kbs?: KbsOptions;
  readonly logger?: Logger;
}

export interface KeyBrokerHandle {
  readonly broker: KeyBroker;
  readonly enclave: BrokerEnclave;
  readonly storage: Storage;
  /** The API (https with `tls`, else http). */
  readonly url: string;
  readonly port: number;
  /** The attested TLS listener, when started. */
  readonly attested?: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

export async function startKeyBroker(o: StartKeyBrokerOptions): Promise<KeyBrokerHandle> {
  const logger = o.logger ?? createLogger({ component: 'key-broker' });
  const metrics = createServiceMetrics({ prefix: 'cloister_key_broker' });
  const storage = await openStorage(o.storage, [KEY_BROKER_MIGRATIONS]);
  const cleanup: (() => Promise<void>)[] = [() => storage.close()];
  const closeAll = async (): Promise<void> => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  };
  try {
    const joinTarget = o.join;
    let relayPort = -1;
    const enclave = await startBrokerEnclave({
      dir: o.enclaveDir,
      ...(o.platform !== undefined ? { platform: o.platform } : {}),
      ...(o.aesmSocketPath !== undefined ? { aesmSocketPath: o.aesmSocketPath } : {}),
      ...(o.hostEnv !== undefined ? { hostEnv: o.hostEnv } : {}),
      ...(o.collateral !== undefined ? { collateral: o.collateral } : {}),
      logger,
      // The enclave may reach its own relay listener and the replica it joins; nothing else.
      connect: (t) => (t.host === '127.0.0.1' && t.port === relayPort) || (joinTarget !== undefined && t.host === joinTarget.host && t.port === joinTarget.port),
    });
    cleanup.push(() => enclave.terminate());
    const broker = await KeyBroker.open({
      storage,
      enclave,
      verifier: new TokenVerifier({ ...(o.token ?? {}), authorities: o.authorities }),
      logger,
      ...(o.governance !== undefined ? { governance: o.governance } : {}),
      ...(o.join !== undefined ? { join: o.join } : {}),
      ...(o.joinRetryMs !== undefined ? { joinRetryMs: o.joinRetryMs } : {}),
      ...(o.peer !== undefined ? { peer: o.peer } : {}),
    });
    cleanup.push(async () => broker.close());
    const app = createBrokerApp({ broker, logger, metrics, ...(o.adminToken !== undefined ? { adminToken: o.adminToken } : {}) });
    // The dashboard at /ui (docs/operators/dashboard.md): loopback clients only, read-only.
    mountDashboard(app, { title: 'Cloister key broker', keyBroker: keyBrokerSource({ storage, signingKey: () => broker.signingJwk }), ...(o.adminToken !== undefined ? { adminToken: o.adminToken } : {}) });
    if (o.kbs !== undefined) addKbsRoutes(app, broker, o.kbs);
    const api: ServiceHandle = await startService({ app, port: o.port, ...(o.host !== undefined ? { host: o.host } : {}), ...(o.tls !== undefined ? { tls: o.tls } : {}), logger });
    cleanup.push(() => api.close());
    let attested: { host: string; port: number } | undefined;
    if (o.attestedPort !== undefined) {
      const relayApp = createBrokerApp({ broker, logger, metrics, scheme: 'https', ...(o.adminToken !== undefined ? { adminToken: o.adminToken } : {}) });
      const relay = await startService({ app: relayApp, port: 0, host: '127.0.0.1', logger });
      cleanup.push(() => relay.close());
      relayPort = relay.port;
      await enclave.ecalls.configure({ apiPort: relay.port });
      const l = await enclave.listen({ host: o.host ?? '127.0.0.1', port: o.attestedPort });
      cleanup.push(() => l.close());
      attested = { host: l.host, port: l.port };
    }
    logger.info({ url: api.url, attested, authorities: o.authorities, state: broker.state }, 'key broker listening');
    return { broker, enclave, storage, url: api.url, port: api.port, ...(attested !== undefined ? { attested } : {}), close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
