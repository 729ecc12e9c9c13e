/** `cloister node-agent`: the SGX device plugin (docs/operators/device-plugin.md). Runs until SIGTERM / SIGINT. */
import { AgentError, NodeAgent, RESOURCE_KINDS, createLogger, type ResourceKind } from '@cloister/node-agent/agent';
import { CliError } from '../errors.js';
import { reportFailure } from '../output.js';

export interface NodeAgentCommandOptions {
  readonly simulate?: boolean;
  readonly epcMib?: string;
  readonly stateDir?: string;
  readonly pluginDir?: string;
  readonly kubeletSocket?: string;
  readonly resources?: string;
  readonly enclaveLimit?: string;
  readonly provisionLimit?: string;
  readonly legacyAliases?: boolean;
  readonly metricsPort?: string;
  readonly metricsHost?: string;
  readonly logLevel?: string;
  readonly devicePlugin?: boolean;
  readonly quoteHelper?: boolean;
  readonly aesmSocket?: string;
  readonly platformDir?: string;
  readonly quoteVersion?: string;
}

function intOption(value: string | undefined, min: number, max: number, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError('INVALID_ARGUMENT', `${what} must be an integer ${min}..${max}`);
  return n;
}

export async function nodeAgentCommand(opts: NodeAgentCommandOptions): Promise<void> {
  let agent: NodeAgent;
  try {
    const epcMiB = intOption(opts.epcMib, 1, 1 << 20, '--epc-mib');
    const devicePlugin = opts.devicePlugin !== false;
    if (!devicePlugin && opts.quoteHelper !== true) {
      throw new CliError('INVALID_ARGUMENT', '--no-device-plugin without --quote-helper leaves nothing to run');
    }
    if (devicePlugin && opts.simulate === true && epcMiB === undefined) {
      throw new CliError('INVALID_ARGUMENT', '--simulate needs --epc-mib N');
    }
    const quoteVersion = intOption(opts.quoteVersion, 3, 4, '--quote-version');
    let resources: ResourceKind[] | undefined;
    if (opts.resources !== undefined) {
      resources = opts.resources.split(',').map((s) => s.trim()) as ResourceKind[];
      const bad = resources.filter((r) => !RESOURCE_KINDS.includes(r));
      if (bad.length > 0) throw new CliError('INVALID_ARGUMENT', `--resources: unknown ${bad.join(', ')} (use ${RESOURCE_KINDS.join(',')})`);
    }
    const enclaveLimit = intOption(opts.enclaveLimit, 1, 10_000, '--enclave-limit');
    const provisionLimit = intOption(opts.provisionLimit, 1, 10_000, '--provision-limit');
    const metricsPort = intOption(opts.metricsPort ?? '9310', 0, 65_535, '--metrics-port');
    const logger = createLogger({ level: opts.logLevel ?? 'info' });
    agent = new NodeAgent({
      logger,
      devicePlugin,
      ...(opts.quoteHelper === true
        ? {
            quoteHelper: {
              ...(opts.aesmSocket !== undefined ? { socketPath: opts.aesmSocket } : {}),
              ...(opts.platformDir !== undefined ? { platformDir: opts.platformDir } : {}),
              ...(quoteVersion !== undefined ? { quoteVersion: quoteVersion as 3 | 4 } : {}),
              simulate: opts.simulate === true,
            },
          }
        : {}),
      ...(opts.pluginDir !== undefined ? { pluginDir: opts.pluginDir } : {}),
      ...(opts.kubeletSocket !== undefined ? { kubeletSocket: opts.kubeletSocket } : {}),
      ...(resources !== undefined ? { resources } : {}),
      ...(enclaveLimit !== undefined ? { enclaveLimit } : {}),
      ...(provisionLimit !== undefined ? { provisionLimit } : {}),
      legacyAliases: opts.legacyAliases === true,
      ...(metricsPort !== undefined ? { metricsPort } : {}),
      ...(opts.metricsHost !== undefined ? { metricsHost: opts.metricsHost } : {}),
      ...(opts.simulate === true && devicePlugin
        ? { simulate: { epcMiB: epcMiB!, stateDir: opts.stateDir ?? '/var/lib/cloister/simulated-sgx' } }
        : epcMiB !== undefined
          ? { configuredEpcMiB: epcMiB }
          : {}),
    });
    await agent.start();
  } catch (e) {
    if (AgentError.is(e)) {
      process.stderr.write(`error ${e.code}: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    reportFailure(e, false);
    return;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      agent.log.info({ signal }, 'stopping');
      agent.stop().then(resolve, (e: unknown) => {
        agent.log.error({ err: e }, 'stop failed');
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
