/**
 * The quote helper as the node agent runs it (docs/operators/quote-helper.md):
 *  - Intel's aesmd already owns /var/run/aesmd/aesm.socket (a hardware node): do not serve; probe aesmd and report.
 *  - a simulated node (`--simulate`, or a simulated platform in the platform directory): serve the AESM protocol,
 *    backed by the simulated Quoting Enclave of that platform (created there with `--simulate` if missing).
 *  - neither: nothing can produce quotes; probe the socket, say what to do, and become ready when aesmd appears.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Platform, SimQuotingEnclave, createSimPki, hasSavedPki, loadPki, savePki } from '@cloister/sgx-sim';
import { AESM_SOCKET_PATH } from '@cloister/aesm';
import { AesmdProbe, socketOwnedByAnotherServer } from './aesm/probe.js';
import { createQuoteHelperMetrics } from './aesm/quote-helper-metrics.js';
import { QuoteHelperServer } from './aesm/quote-helper-server.js';

export const DEFAULT_SIM_PLATFORM_DIR = '/var/lib/cloister/sgx-sim';

export interface QuoteHelperServiceOptions {
  readonly socketPath?: string;
  /** Simulated platform directory (`cloister sim init DIR`). Default /var/lib/cloister/sgx-sim. */
  readonly platformDir?: string;
  /** Create the simulated platform in platformDir when it is missing, and serve from it. */
  readonly simulate?: boolean;
  readonly quoteVersion?: 3 | 4;
  readonly probeIntervalMs?: number;
  readonly logger: Logger;
  readonly registry: Registry;
}

export class QuoteHelperService {
  readonly #o: QuoteHelperServiceOptions;
  #server: QuoteHelperServer | undefined;
  #probe: AesmdProbe | undefined;

  constructor(options: QuoteHelperServiceOptions) {
    this.#o = options;
  }

  get mode(): 'serving' | 'probing' | 'stopped' {
    return this.#server !== undefined ? 'serving' : this.#probe !== undefined ? 'probing' : 'stopped';
  }

  get socketPath(): string {
    return this.#o.socketPath ?? AESM_SOCKET_PATH;
  }

  async start(): Promise<void> {
    const log = this.#o.logger;
    const socketPath = this.socketPath;
    const platformDir = this.#o.platformDir ?? DEFAULT_SIM_PLATFORM_DIR;
    if (await socketOwnedByAnotherServer(socketPath)) {
      log.info({ socketPath }, 'an AESM service (Intel aesmd) owns the socket: not serving, probing it');
      return this.#startProbe();
    }
    const hasPlatform = existsSync(join(platformDir, 'platform.json'));
    if (!hasPlatform && this.#o.simulate !== true) {
      log.warn(
        { socketPath, platformDir },
        `no AESM service at ${socketPath} and no simulated platform in ${platformDir}: ` +
          'on an SGX node start Intel aesmd (sgx-aesm-service) with /var/run/aesmd shared; on a simulated node run ' +
          '`cloister sim init` there or start the agent with --simulate. Probing until a service appears.',
      );
      return this.#startProbe();
    }
    let platform: Platform;
    if (hasPlatform) platform = Platform.load(platformDir);
    else {
      platform = Platform.create();
      platform.save(platformDir);
      log.info({ platformDir }, 'created a simulated SGX platform');
    }
    const pki = hasSavedPki(platformDir) ? await loadPki(platform, platformDir) : await createSimPki(platform);
    if (!hasSavedPki(platformDir)) savePki(pki, platformDir);
    this.#server = new QuoteHelperServer({
      socketPath,
      quotingEnclave: new SimQuotingEnclave(platform, pki),
      quoteVersion: this.#o.quoteVersion ?? 3,
      logger: log,
      metrics: createQuoteHelperMetrics(this.#o.registry),
    });
    await this.#server.start();
    log.info({ socketPath, platformDir, simulated: true }, 'serving the AESM protocol (simulated Quoting Enclave)');
  }

  async #startProbe(): Promise<void> {
    this.#probe = new AesmdProbe({
      socketPath: this.socketPath,
      ...(this.#o.probeIntervalMs !== undefined ? { intervalMs: this.#o.probeIntervalMs } : {}),
      logger: this.#o.logger,
      registry: this.#o.registry,
    });
    await this.#probe.start();
  }

  ready(): { ok: boolean; reasons: string[] } {
    if (this.#server !== undefined) return { ok: true, reasons: [] };
    if (this.#probe?.ready()) return { ok: true, reasons: [] };
    const s = this.#probe?.status();
    const detail = s?.lastError !== undefined ? ` (${s.lastError.code}: ${s.lastError.message})` : '';
    return { ok: false, reasons: [`AESM service at ${this.socketPath}: ${s?.state ?? 'not started'}${detail}`] };
  }

  async stop(): Promise<void> {
    await this.#server?.stop();
    this.#probe?.stop();
  }
}
