/**
 * `cloister attestation-service serve`: the Azure Attestation–compatible service (docs/attestation/service.md). Runs
 * until SIGTERM / SIGINT.
 */
import { readFileSync } from 'node:fs';
import { startAttestationService, type AttestationServiceOptions } from '@cloister/attestation-service';
import { CliError } from '../errors.js';
import { serveUntilSignal } from '../serve-until-signal.js';

export interface AttestationServeOptions {
  readonly host?: string;
  readonly port?: string;
  readonly data?: string;
  readonly databaseUrl?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly issuer?: string;
  readonly trustRoot?: string[];
  readonly allowSimulated?: boolean;
  readonly collateral?: string[];
  readonly pccs?: string;
  readonly adminTokenFile?: string;
  readonly keyEncryptionKeyFile?: string;
  readonly policySignerCert?: string[];
  readonly evidenceRetentionDays?: string;
  readonly rateLimit?: string;
  readonly maxRequestBytes?: string;
  readonly logLevel?: string;
}

function int(value: string | undefined, what: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError('INVALID_ARGUMENT', `${what} must be an integer ${min}..${max}`);
  return n;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The service options from the flags (exported for tests). Usage mistakes are CliError INVALID_ARGUMENT (exit 2). */
export function serveOptions(opts: AttestationServeOptions): AttestationServiceOptions {
  if ((opts.data === undefined) === (opts.databaseUrl === undefined)) {
    throw new CliError('INVALID_ARGUMENT', 'give exactly one of --data DIR (embedded PGlite) or --database-url URL (PostgreSQL)');
  }
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new CliError('INVALID_ARGUMENT', '--tls-cert and --tls-key go together');
  const host = opts.host ?? '127.0.0.1';
  if (opts.issuer === undefined && !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) {
    throw new CliError('INVALID_ARGUMENT', `--issuer URL is required when listening on ${host} (relying parties must see one issuer)`);
  }
  if (opts.issuer === undefined && opts.databaseUrl !== undefined) {
    throw new CliError('INVALID_ARGUMENT', '--issuer URL is required with --database-url (replicas must name one issuer)');
  }
  if ((opts.trustRoot?.length ?? 0) > 0 && opts.allowSimulated !== true) throw new CliError('INVALID_ARGUMENT', '--trust-root is for simulated platforms: add --allow-simulated');
  if (opts.allowSimulated === true && (opts.trustRoot?.length ?? 0) === 0) throw new CliError('INVALID_ARGUMENT', '--allow-simulated needs --trust-root PEM (cloister sim root)');
  const rate = int(opts.rateLimit, '--rate-limit', 0, 1_000_000);
  const retention = int(opts.evidenceRetentionDays, '--evidence-retention-days', 0, 3650);
  const maxBytes = int(opts.maxRequestBytes, '--max-request-bytes', 16 * 1024, 16 * 1024 * 1024);
  return {
    host,
    port: int(opts.port, '--port', 0, 65535) ?? 8443,
    storage: opts.databaseUrl !== undefined ? { databaseUrl: opts.databaseUrl } : { dataDir: opts.data! },
    ...(opts.tlsCert !== undefined && opts.tlsKey !== undefined ? { tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey } } : {}),
    ...(opts.issuer !== undefined ? { issuer: opts.issuer } : {}),
    ...(opts.trustRoot !== undefined ? { trustRoots: opts.trustRoot.map((f) => readPem(f, 'trust root')) } : {}),
    allowSimulated: opts.allowSimulated === true,
    ...(opts.collateral !== undefined ? { collateralFiles: opts.collateral } : {}),
    ...(opts.pccs !== undefined ? { pccsUrl: opts.pccs } : {}),
    ...(opts.adminTokenFile !== undefined ? { adminTokenFile: opts.adminTokenFile } : {}),
    ...(opts.keyEncryptionKeyFile !== undefined ? { keyEncryptionKeyFile: opts.keyEncryptionKeyFile } : {}),
    ...(opts.policySignerCert !== undefined ? { policySignerCerts: opts.policySignerCert.map((f) => readPem(f, 'policy signer certificate')) } : {}),
    ...(rate !== undefined ? { rateLimit: rate === 0 ? false : { perSecond: rate, burst: rate * 2 } } : {}),
    ...(retention !== undefined ? { audit: { evidenceRetentionDays: retention } } : {}),
    ...(maxBytes !== undefined ? { maxRequestBytes: maxBytes } : {}),
    ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}),
  };
}

export async function attestationServeCommand(opts: AttestationServeOptions): Promise<void> {
  const handle = await startAttestationService(serveOptions(opts));
  process.stderr.write(`attestation service on ${handle.url}, issuer ${handle.issuer}${handle.simulatedIssuer !== undefined ? `, simulated instance ${handle.simulatedIssuer}` : ''}\n`);
  await serveUntilSignal(handle);
}
