/** `cloister webhook serve`: the SGX admission webhook (docs/operators/install.md). Runs until SIGTERM / SIGINT. */
import { createLogger } from '@cloister/service-kit';
import {
  NodeCapacity,
  TRANSLATIONS,
  WebhookError,
  checkConfig,
  inClusterCapacityOptions,
  startWebhook,
  type AdmissionConfig,
  type EpcName,
  type Translation,
  type WebhookHandle,
} from '@cloister/webhook';
import { CliError } from '../errors.js';
import { serveUntilSignal } from '../serve-until-signal.js';

export interface WebhookServeOptions {
  readonly host?: string;
  readonly port?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly metricsPort?: string;
  readonly epcResource?: string;
  readonly translate?: string;
  readonly enclaveResource?: boolean;
  readonly nodeCapacity?: boolean;
  readonly maxNodeEpcMib?: string;
  readonly bodyLimit?: string;
  readonly logLevel?: string;
}

function port(value: string | undefined, dflt: number, what: string): number {
  const n = Number(value ?? dflt);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new CliError('INVALID_ARGUMENT', `${what} must be a port 0..65535`);
  return n;
}

export async function webhookServeCommand(opts: WebhookServeOptions): Promise<void> {
  let handle: WebhookHandle;
  let capacity: NodeCapacity | undefined;
  try {
    if (opts.tlsCert === undefined || opts.tlsKey === undefined) throw new CliError('INVALID_ARGUMENT', '--tls-cert and --tls-key are required (the API server calls webhooks over HTTPS only)');
    const epc = opts.epcResource ?? 'both';
    const advertised: EpcName[] = epc === 'both' ? ['aks', 'intel'] : epc === 'aks' || epc === 'intel' ? [epc] : [];
    if (advertised.length === 0) throw new CliError('INVALID_ARGUMENT', '--epc-resource must be aks, intel or both');
    const translate = (opts.translate ?? 'none') as Translation;
    if (!TRANSLATIONS.includes(translate)) throw new CliError('INVALID_ARGUMENT', `--translate must be one of ${TRANSLATIONS.join(', ')}`);
    const bodyLimit = opts.bodyLimit === undefined ? undefined : Number(opts.bodyLimit);
    if (bodyLimit !== undefined && (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1024)) throw new CliError('INVALID_ARGUMENT', '--body-limit must be an integer >= 1024 (bytes)');
    const logger = createLogger({ component: 'cloister-webhook', level: opts.logLevel ?? 'info' });
    if (opts.maxNodeEpcMib !== undefined && !/^[1-9]\d{0,6}$/.test(opts.maxNodeEpcMib)) throw new CliError('INVALID_ARGUMENT', '--max-node-epc-mib must be a positive integer');
    const staticMax = opts.maxNodeEpcMib === undefined ? undefined : BigInt(opts.maxNodeEpcMib) << 20n;
    if (opts.nodeCapacity === true) capacity = new NodeCapacity(inClusterCapacityOptions(logger));
    const config: AdmissionConfig = checkConfig({
      translate,
      advertised,
      enclaveResource: opts.enclaveResource !== false,
      maxNodeEpcBytes: capacity !== undefined ? capacity.max : staticMax !== undefined ? () => staticMax : undefined,
    });
    handle = await startWebhook({
      config,
      logger,
      host: opts.host ?? '0.0.0.0',
      port: port(opts.port, 8443, '--port'),
      tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey },
      ...(opts.metricsPort !== undefined ? { metricsPort: port(opts.metricsPort, 9320, '--metrics-port') } : {}),
      ...(bodyLimit !== undefined ? { bodyLimit } : {}),
      ...(capacity !== undefined ? { capacity } : {}),
    });
  } catch (e) {
    if (e instanceof CliError || e instanceof WebhookError) {
      process.stderr.write(`error ${e.code}: ${e.message}\n`);
      process.exitCode = e.code === 'INVALID_ARGUMENT' || e.code === 'INVALID_CONFIG' ? 2 : 1;
      return;
    }
    if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string' && e.name === 'ServiceError') {
      process.stderr.write(`error ${(e as Error & { code: string }).code}: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
  await serveUntilSignal(handle);
}
