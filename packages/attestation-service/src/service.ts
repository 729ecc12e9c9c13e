/**
 * `startAttestationService(options)`: the whole service — storage, instances (real, and simulated with
 * `allowSimulated`), HTTP(S) server with service-kit's limits, probes and metrics. The CLI's
 * `cloister attestation-service serve` is a thin layer over it; the key broker and tests start it in process.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { QuoteVerifier, decodePemCertificates, parseCollateralBundle, trustAnchorFromCertificate, INTEL_SGX_ROOT_CA, type CollateralBundle, type TrustAnchor } from '@cloister/dcap';
import { createCachingProvider, createPccsProvider, nodeCryptoProvider, type CollateralProvider } from '@cloister/dcap/node';
import type { EvidenceRulesInput } from '@cloister/policy';
import {
  ServiceError,
  createLogger,
  createServiceApp,
  createServiceMetrics,
  readSecretFile,
  startService,
  type Logger,
  type RateLimitOptions,
  type ServerLimits,
  type ServiceHandle,
  type TlsFiles,
  type TlsInline,
} from '@cloister/service-kit';
import { describeStorage, openStorage, type Storage, type StorageConfig } from '@cloister/storage';
import { attestationServiceSource, mountDashboard } from '@cloister/dashboard';
import { Counter, Gauge, Histogram } from 'prom-client';
import { AuditLog, type AuditLogOptions } from './audit.js';
import { AttestationInstance, type InstanceName } from './instance.js';
import { deriveKeyEncryptionKey } from './keys.js';
import { parseMaaPolicy } from './policy/parser.js';
import { instanceRoutes } from './routes.js';
import { ATTESTATION_MIGRATIONS, q } from './store.js';
import { InstanceVerifier } from './verify.js';

export interface AttestationServiceOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  readonly tls?: TlsFiles | TlsInline;
  /**
   * The issuer URL (`iss`, `jku`, CN of the signing certificates), exactly as relying parties reach the service.
   * Default: the URL it serves — only allowed on a loopback address (a wildcard bind or replicas need it given).
   */
  readonly issuer?: string;
  /** Default: PGlite in memory. `{ dataDir }` (embedded, on disk) or `{ databaseUrl }` (PostgreSQL, replicas). */
  readonly storage?: StorageConfig;
  /** The secret signing keys are encrypted under (≥ 16 characters), or a file holding it. */
  readonly keyEncryptionKey?: string | Uint8Array;
  readonly keyEncryptionKeyFile?: string;
  /** Admin bearer token (or a file holding it); without one, management endpoints are refused. */
  readonly adminToken?: string;
  readonly adminTokenFile?: string;
  /** Trust roots (PEM or DER certificates) of simulated platforms; needs allowSimulated. */
  readonly trustRoots?: readonly (string | Uint8Array)[];
  /** Serve the simulated instance at `/simulated` (issuer `<issuer>/simulated`). */
  readonly allowSimulated?: boolean;
  /** Offline collateral bundles: bundle JSON text, parsed bundles, or (collateralFiles) file paths. */
  readonly collateral?: readonly (string | CollateralBundle)[];
  readonly collateralFiles?: readonly string[];
  /** A PCCS or Intel PCS base URL, asked after the offline bundles (verified collateral is cached). */
  readonly pccsUrl?: string;
  /** Initial policy signer certificates (PEM or DER): isolated mode, only signed policies accepted. */
  readonly policySignerCerts?: readonly (string | Uint8Array)[];
  /** Evidence rules of @cloister/policy (default: any TCB status but Revoked, debug allowed — MAA's default). */
  readonly evidenceRules?: EvidenceRulesInput;
  /** Largest attest request body in bytes (default 256 KiB). */
  readonly maxRequestBytes?: number;
  /** Per-client rate limit of `/attest` (default 200/s, burst 400); false: none. */
  readonly rateLimit?: RateLimitOptions | false;
  readonly audit?: AuditLogOptions & {
    /** Days the evidence is kept in audit records (default 30; 0: never stored). */
    readonly evidenceRetentionDays?: number;
  };
  /** Policy cache per replica in ms (default 1000). */
  readonly policyCacheMs?: number;
  /** Signing key re-read interval in ms (default 30 000). */
  readonly keyRefreshMs?: number;
  readonly serverLimits?: ServerLimits;
  readonly logger?: Logger;
  readonly logLevel?: string;
}

export interface AttestationServiceHandle {
  /** Where it listens (`https://127.0.0.1:port`). */
  readonly url: string;
  readonly port: number;
  /** The real instance's issuer. */
  readonly issuer: string;
  /** `<issuer>/simulated`, when allowSimulated. */
  readonly simulatedIssuer: string | undefined;
  readonly storage: Storage;
  readonly audit: AuditLog;
  instance(name: InstanceName): AttestationInstance;
  /** Rotates the signing key of an instance; returns the new kid. */
  rotateSigningKey(name?: InstanceName): Promise<string>;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

function certDer(input: string | Uint8Array, what: string): Uint8Array[] {
  if (typeof input !== 'string') return [input];
  const certs = decodePemCertificates(input);
  if (certs.length === 0) throw new ServiceError('CONFIG_INVALID', 400, `${what} holds no PEM certificate`);
  return certs;
}

function keyEncryptionKey(o: AttestationServiceOptions, log: Logger): Uint8Array {
  if (o.keyEncryptionKey !== undefined) {
    if (o.keyEncryptionKey.length < 16) throw new ServiceError('CONFIG_INVALID', 400, 'the key-encryption key must be at least 16 characters');
    return deriveKeyEncryptionKey(o.keyEncryptionKey);
  }
  if (o.keyEncryptionKeyFile !== undefined) return deriveKeyEncryptionKey(readSecretFile(o.keyEncryptionKeyFile, 'key-encryption key'));
  const storage = o.storage ?? { memory: true };
  if ('databaseUrl' in storage) {
    throw new ServiceError('CONFIG_INVALID', 400, 'with a PostgreSQL database, give --key-encryption-key-file (the same secret on every replica)');
  }
  if ('dataDir' in storage) {
    // Single host: a generated secret beside the data, created once (mode 0600). Back it up with the data.
    const file = join(storage.dataDir, 'key-encryption-key');
    if (!existsSync(file)) {
      mkdirSync(storage.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
      log.warn({ file }, 'generated a key-encryption key for the signing keys; back it up with the data directory');
    }
    return deriveKeyEncryptionKey(readSecretFile(file, 'key-encryption key'));
  }
  return deriveKeyEncryptionKey(randomBytes(32));
}

function loadBundles(o: AttestationServiceOptions): CollateralBundle[] {
  const out: CollateralBundle[] = [];
  for (const c of o.collateral ?? []) out.push(typeof c === 'string' ? parseCollateralBundle(c) : c);
  for (const f of o.collateralFiles ?? []) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new ServiceError('CONFIG_INVALID', 400, `cannot read the collateral file ${f}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    try {
      out.push(parseCollateralBundle(text));
    } catch (e) {
      throw new ServiceError('CONFIG_INVALID', 400, `${f} is not a collateral bundle: ${(e as Error).message}`);
    }
  }
  return out;
}

export async function startAttestationService(o: AttestationServiceOptions = {}): Promise<AttestationServiceHandle> {
  const log = o.logger ?? createLogger({ component: 'cloister-attestation-service', ...(o.logLevel !== undefined ? { level: o.logLevel } : {}) });
  const host = o.host ?? '127.0.0.1';
  if (o.issuer === undefined && !LOOPBACK.test(host)) {
    throw new ServiceError('CONFIG_INVALID', 400, `--issuer URL is required when listening on ${host} (the default, the URL it serves, is only for loopback)`);
  }
  if (o.issuer === undefined && o.storage !== undefined && 'databaseUrl' in o.storage) {
    throw new ServiceError('CONFIG_INVALID', 400, '--issuer URL is required with --database-url (replicas must name one issuer)');
  }
  if (o.issuer !== undefined) {
    let u: URL;
    try {
      u = new URL(o.issuer);
    } catch {
      throw new ServiceError('CONFIG_INVALID', 400, `--issuer ${o.issuer} is not a URL`);
    }
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.search !== '' || u.hash !== '' || o.issuer.endsWith('/')) {
      throw new ServiceError('CONFIG_INVALID', 400, '--issuer must be an http(s) URL without a trailing slash, query or fragment');
    }
  }
  if ((o.trustRoots?.length ?? 0) > 0 && o.allowSimulated !== true) {
    throw new ServiceError('CONFIG_INVALID', 400, '--trust-root is for simulated platforms: give --allow-simulated too (the real instance trusts only Intel)');
  }
  if (o.allowSimulated === true && (o.trustRoots?.length ?? 0) === 0) {
    throw new ServiceError('CONFIG_INVALID', 400, '--allow-simulated needs the simulated platforms\' --trust-root');
  }
  const adminToken = o.adminToken ?? (o.adminTokenFile !== undefined ? readSecretFile(o.adminTokenFile, 'admin token') : undefined);
  if (adminToken !== undefined && adminToken.length < 16) throw new ServiceError('CONFIG_INVALID', 400, 'the admin token must be at least 16 characters');
  const kek = keyEncryptionKey(o, log);
  const bundles = loadBundles(o);
  const simAnchors: TrustAnchor[] = (o.trustRoots ?? []).flatMap((r, i) => certDer(r, `trust root ${i + 1}`).map((d) => trustAnchorFromCertificate(d, `trust root ${i + 1}`)));
  const signers = (o.policySignerCerts ?? []).flatMap((c, i) => certDer(c, `policy signer ${i + 1}`));

  const storageConfig = o.storage ?? { memory: true };
  const storage = await openStorage(storageConfig, [ATTESTATION_MIGRATIONS]);
  const metrics = createServiceMetrics({ prefix: 'cloister_attestation', processMetrics: true });
  const audit = new AuditLog(storage, log, o.audit ?? {});
  new Gauge({ name: 'cloister_attestation_audit_backlog', help: 'Audit records waiting to be written.', registers: [metrics.registry], collect() { this.set(audit.backlog); } });

  const attestations = new Counter({
    name: 'cloister_attestation_attestations_total',
    help: 'Attestations by instance, attestation type, outcome (issued, refused, failed) and error code.',
    labelNames: ['instance', 'type', 'outcome', 'code'] as const,
    registers: [metrics.registry],
  });
  const attestSeconds = new Histogram({
    name: 'cloister_attestation_attestation_duration_seconds',
    help: 'Time to verify evidence, evaluate the policy, sign the token and store the audit record.',
    labelNames: ['instance', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [metrics.registry],
  });
  const onAttestation = (instance: InstanceName) => (type: string, outcome: string, code: string | null, seconds: number): void => {
    attestations.inc({ instance, type, outcome, code: code ?? '' });
    attestSeconds.observe({ instance, outcome }, seconds);
  };
  const instances = new Map<InstanceName, AttestationInstance>();
  const get = (name: InstanceName) => (): AttestationInstance => {
    const i = instances.get(name);
    if (i === undefined) throw new ServiceError('STARTING', 503, 'the service is starting');
    return i;
  };
  const app = createServiceApp({
    logger: log,
    metrics,
    ready: async () => {
      const ok = await storage.ping();
      const reasons: string[] = [];
      if (!ok) reasons.push(`storage ${describeStorage(storageConfig)} unreachable`);
      if (instances.size === 0) reasons.push('starting');
      return { ok: reasons.length === 0, reasons };
    },
  });
  const routeOptions = {
    adminToken,
    maxAttestBodyBytes: o.maxRequestBytes ?? 256 * 1024,
    maxAdminBodyBytes: 512 * 1024,
    requestLimits: { maxEvidenceBytes: 64 * 1024, maxRuntimeDataBytes: 64 * 1024 },
    rateLimit: o.rateLimit ?? { perSecond: 200, burst: 400 },
  };
  app.route('/', instanceRoutes(get('real'), routeOptions));
  if (o.allowSimulated === true) app.route('/simulated', instanceRoutes(get('simulated'), routeOptions));
  // The dashboard at /ui (docs/operators/dashboard.md): loopback clients only; saving a policy needs the admin token.
  mountDashboard(app, { title: 'Cloister attestation service', attestation: attestationServiceSource({ storage, instance: (name) => get(name)(), simulated: o.allowSimulated === true, parsePolicy: parseMaaPolicy }), ...(adminToken !== undefined ? { adminToken } : {}) });

  let server: ServiceHandle;
  try {
    server = await startService({
      app,
      host,
      port: o.port ?? 0,
      ...(o.tls !== undefined ? { tls: o.tls } : {}),
      ...(o.serverLimits !== undefined ? { limits: o.serverLimits } : {}),
      logger: log,
    });
  } catch (e) {
    await storage.close().catch(() => undefined);
    throw e;
  }
  const issuer = o.issuer ?? server.url;
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const online = (anchors: readonly TrustAnchor[]): CollateralProvider | undefined =>
    o.pccsUrl === undefined ? undefined : createCachingProvider(createPccsProvider({ baseUrl: o.pccsUrl }), { trustAnchors: anchors, verifier });
  const retentionDays = o.audit?.evidenceRetentionDays ?? 30;
  const common = { db: storage, kek, audit, logger: log, keepEvidence: retentionDays > 0, ...(o.policyCacheMs !== undefined ? { policyCacheMs: o.policyCacheMs } : {}), ...(o.keyRefreshMs !== undefined ? { keyRefreshMs: o.keyRefreshMs } : {}) };
  let pruneTimer: NodeJS.Timeout | undefined;
  try {
    const realAnchors = [INTEL_SGX_ROOT_CA];
    const realOnline = online(realAnchors);
    instances.set(
      'real',
      await AttestationInstance.open({
        ...common,
        name: 'real',
        issuer,
        onAttestation: onAttestation('real'),
        policySigners: signers,
        verifier: await InstanceVerifier.create({ verifier, trustAnchors: realAnchors, bundles, simulated: false, ...(realOnline !== undefined ? { online: realOnline } : {}), ...(o.evidenceRules !== undefined ? { evidenceRules: o.evidenceRules } : {}) }),
      }),
    );
    if (o.allowSimulated === true) {
      const simOnline = online(simAnchors);
      instances.set(
        'simulated',
        await AttestationInstance.open({
          ...common,
          name: 'simulated',
          issuer: `${issuer}/simulated`,
          onAttestation: onAttestation('simulated'),
          policySigners: signers,
          verifier: await InstanceVerifier.create({ verifier, trustAnchors: simAnchors, bundles, simulated: true, ...(simOnline !== undefined ? { online: simOnline } : {}), ...(o.evidenceRules !== undefined ? { evidenceRules: o.evidenceRules } : {}) }),
        }),
      );
    }
    const prune = (): void => {
      if (retentionDays <= 0) return;
      q(storage, 'UPDATE attestation_audit SET evidence = NULL WHERE evidence IS NOT NULL AND at < $1', [new Date(Date.now() - retentionDays * 86_400_000)]).catch(() => undefined);
    };
    prune();
    pruneTimer = setInterval(prune, 3_600_000);
    pruneTimer.unref();
  } catch (e) {
    await server.close().catch(() => undefined);
    await storage.close().catch(() => undefined);
    throw e;
  }
  log.info({ url: server.url, issuer, storage: describeStorage(storageConfig), simulated: o.allowSimulated === true, offlineBundles: bundles.length }, 'attestation service listening');
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    issuer,
    simulatedIssuer: o.allowSimulated === true ? `${issuer}/simulated` : undefined,
    storage,
    audit,
    instance(name) {
      return get(name)();
    },
    rotateSigningKey(name = 'real') {
      return get(name)().rotateSigningKey();
    },
    close: () =>
      (closing ??= (async () => {
        if (pruneTimer !== undefined) clearInterval(pruneTimer);
        await server.close();
        await audit.close();
        await storage.close();
      })()),
  };
}
