/**
 * The node agent: detect SGX (or prepare a simulated node), build the resources, serve and register them with
 * kubelet, expose metrics and probes — and when the node has no SGX, say why, advertise nothing, and rescan
 * periodically (and when device nodes appear) instead of crash-looping.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createMetricsRegistry, startProbeServer, type ProbeServerHandle } from '@cloister/service-kit/core';
import { detectHardware, type SgxDetection } from './detect/hardware.js';
import { prepareSimulatedSgx } from './detect/simulated.js';
import { AgentError } from './errors.js';
import { createAgentLogger } from './logger.js';
import { createAgentMetrics } from './metrics.js';
import { PluginManager } from './plugin-manager.js';
import type { QuoteHelperService } from './quote-helper-service.js';
import { buildResources, type BuiltResources, type ResourceKind } from './resources/index.js';

export interface NodeAgentOptions {
  /** Run the device plugin (default true). */
  readonly devicePlugin?: boolean;
  /** Run the out-of-process quote helper on the AESM socket (docs/operators/quote-helper.md). */
  readonly quoteHelper?: {
    readonly socketPath?: string;
    readonly platformDir?: string;
    readonly quoteVersion?: 3 | 4;
    readonly probeIntervalMs?: number;
    /** Serve from a simulated platform, creating it in platformDir when missing (default: when `simulate` is set). */
    readonly simulate?: boolean;
  };
  /** Default /var/lib/kubelet/device-plugins. */
  readonly pluginDir?: string;
  /** Default `<pluginDir>/kubelet.sock`. */
  readonly kubeletSocket?: string;
  readonly resources?: readonly ResourceKind[];
  readonly enclaveLimit?: number;
  readonly provisionLimit?: number;
  readonly legacyAliases?: boolean;
  /** Simulation: EPC size and the directory where the agent creates its simulated device files. */
  readonly simulate?: { readonly epcMiB: number; readonly stateDir: string };
  /** Hardware: roots for detection (tests point them at fake trees). */
  readonly sysRoot?: string;
  readonly procRoot?: string;
  readonly devRoot?: string;
  /** Hardware: EPC when sysfs does not report it (Node cannot read CPUID). */
  readonly configuredEpcMiB?: number;
  /** HTTP port for /metrics, /healthz, /readyz; undefined = no HTTP server; 0 = any free port. */
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  /** How often a node without SGX is rescanned. Default 30 s. */
  readonly rescanIntervalMs?: number;
  /** How often device nodes are checked for health. Default 5 s. */
  readonly healthIntervalMs?: number;
  readonly logger?: Logger;
  readonly registry?: Registry;
}

export class NodeAgent {
  readonly #o: NodeAgentOptions;
  readonly log: Logger;
  readonly registry: Registry;
  readonly #metrics;
  #built: BuiltResources | undefined;
  #manager: PluginManager | undefined;
  #http: ProbeServerHandle | undefined;
  #rescan: NodeJS.Timeout | undefined;
  #noSgxReasons: readonly string[] = [];
  #quoteHelper: QuoteHelperService | undefined;
  #stopped = false;

  constructor(options: NodeAgentOptions = {}) {
    this.#o = options;
    this.log = options.logger ?? createAgentLogger();
    this.registry = options.registry ?? createMetricsRegistry();
    this.#metrics = createAgentMetrics(this.registry);
  }

  get httpPort(): number | undefined {
    return this.#http?.port;
  }

  get quoteHelper(): QuoteHelperService | undefined {
    return this.#quoteHelper;
  }

  /**
   * Ready when SGX (or simulation) was found and every resource is registered with kubelet, and — with the quote
   * helper — when it serves or the AESM service it probes answers.
   */
  readiness(): { ok: boolean; reasons: string[] } {
    const plugin = this.#o.devicePlugin === false ? { ok: true, reasons: [] } : this.#pluginReadiness();
    const helper = this.#quoteHelper?.ready() ?? { ok: true, reasons: [] };
    return { ok: plugin.ok && helper.ok, reasons: [...plugin.reasons, ...helper.reasons] };
  }

  #pluginReadiness(): { ok: boolean; reasons: string[] } {
    if (this.#manager === undefined) {
      return { ok: false, reasons: this.#noSgxReasons.length > 0 ? [...this.#noSgxReasons] : ['starting'] };
    }
    if (this.#manager.ready()) return { ok: true, reasons: [] };
    return {
      ok: false,
      reasons: this.#manager
        .status()
        .filter((s) => !s.registered)
        .map((s) => `${s.resourceName} is not registered with kubelet`),
    };
  }

  async start(): Promise<void> {
    if (this.#o.metricsPort !== undefined) {
      this.#http = await startProbeServer({
        port: this.#o.metricsPort,
        ...(this.#o.metricsHost !== undefined ? { host: this.#o.metricsHost } : {}),
        registry: this.registry,
        ready: () => this.readiness(),
      });
      this.log.info({ port: this.#http.port }, 'metrics and probes listening');
    }
    if (this.#o.quoteHelper !== undefined) {
      // Loaded only when asked for: the simulated QE (and its X.509 stack) stays out of a device-plugin-only agent.
      const { QuoteHelperService } = await import('./quote-helper-service.js');
      this.#quoteHelper = new QuoteHelperService({
        ...this.#o.quoteHelper,
        simulate: this.#o.quoteHelper.simulate ?? this.#o.simulate !== undefined,
        logger: this.log,
        registry: this.registry,
      });
      await this.#quoteHelper.start();
    }
    if (this.#o.devicePlugin !== false) await this.#scan();
  }

  async #detect(): Promise<SgxDetection> {
    const o = this.#o;
    if (o.simulate !== undefined) {
      return prepareSimulatedSgx({ stateDir: o.simulate.stateDir, epcMiB: o.simulate.epcMiB });
    }
    return detectHardware({
      ...(o.sysRoot !== undefined ? { sysRoot: o.sysRoot } : {}),
      ...(o.procRoot !== undefined ? { procRoot: o.procRoot } : {}),
      ...(o.devRoot !== undefined ? { devRoot: o.devRoot } : {}),
      ...(o.configuredEpcMiB !== undefined ? { configuredEpcBytes: o.configuredEpcMiB * 1024 * 1024 } : {}),
    });
  }

  async #scan(): Promise<void> {
    if (this.#stopped || this.#manager !== undefined) return;
    const o = this.#o;
    const detection = await this.#detect();
    if (!detection.sgx) {
      this.#noSgxReasons = detection.reasons;
      this.#metrics.setEpcTotalMiB(0);
      this.log.warn({ reasons: detection.reasons }, `no SGX on this node: ${detection.reason}; advertising nothing`);
      this.#scheduleRescan();
      return;
    }
    const built = buildResources(detection, {
      ...(o.resources !== undefined ? { resources: o.resources } : {}),
      ...(o.enclaveLimit !== undefined ? { enclaveLimit: o.enclaveLimit } : {}),
      ...(o.provisionLimit !== undefined ? { provisionLimit: o.provisionLimit } : {}),
      ...(o.legacyAliases !== undefined ? { legacyAliases: o.legacyAliases } : {}),
      ...(o.healthIntervalMs !== undefined ? { healthIntervalMs: o.healthIntervalMs } : {}),
      // containerd and CRI-O refuse DeviceSpecs that are not device nodes: simulated files go in as bind mounts.
      simulatedDelivery: 'mount',
    });
    for (const r of built.reasons) this.log.info(r);
    this.#metrics.setEpcTotalMiB(built.epcMiB);
    if (built.resources.length === 0) {
      built.stop();
      this.#noSgxReasons = built.reasons;
      this.#scheduleRescan();
      return;
    }
    const manager = new PluginManager({
      resources: built.resources,
      ...(o.pluginDir !== undefined ? { pluginDir: o.pluginDir } : {}),
      ...(o.kubeletSocket !== undefined ? { kubeletSocket: o.kubeletSocket } : {}),
      logger: this.log,
      metrics: this.#metrics,
    });
    this.#built = built;
    this.#manager = manager;
    try {
      await manager.start();
    } catch (e) {
      this.#manager = undefined;
      this.#built = undefined;
      built.stop();
      if (AgentError.is(e)) this.#metrics.error(e.code.toLowerCase());
      throw e;
    }
    this.log.info(
      { resources: built.resources.map((r) => r.resourceName), epcMiB: built.epcMiB, simulated: o.simulate !== undefined },
      'serving SGX resources',
    );
  }

  #scheduleRescan(): void {
    if (this.#stopped) return;
    this.#rescan = setTimeout(() => {
      this.#scan().catch((e: unknown) => {
        this.log.error({ err: e }, 'rescan failed');
        this.#scheduleRescan();
      });
    }, this.#o.rescanIntervalMs ?? 30_000);
    this.#rescan.unref();
  }

  /** Graceful stop (SIGTERM): ListAndWatch streams end, sockets are removed, the HTTP server closes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#rescan !== undefined) clearTimeout(this.#rescan);
    await this.#manager?.stop();
    this.#built?.stop();
    await this.#quoteHelper?.stop();
    await this.#http?.close();
  }
}
