/** A cluster worker of bench/attestation-service: one attestation service process on the shared port. */
import { startAttestationService } from '@cloister/attestation-service';

interface WorkerConfig {
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly rootPem: string;
  readonly collateralJson: string;
  readonly databaseUrl: string | undefined;
  readonly audit: boolean;
}

const config = JSON.parse(process.env['BENCH_ATTESTATION_CONFIG'] ?? '{}') as WorkerConfig;
const svc = await startAttestationService({
  host: '127.0.0.1',
  port: config.port,
  tls: { cert: config.cert, key: config.key },
  issuer: `https://127.0.0.1:${config.port}`,
  storage: config.databaseUrl !== undefined ? { databaseUrl: config.databaseUrl } : { memory: true },
  keyEncryptionKey: 'bench-key-encryption-secret-0123456789',
  allowSimulated: true,
  trustRoots: [config.rootPem],
  collateral: [config.collateralJson],
  rateLimit: false,
  audit: { enabled: config.audit },
  logLevel: 'silent',
});
process.send?.({ ready: true });
process.on('message', (m: { stop?: boolean; cpu?: boolean }) => {
  if (m.cpu === true) {
    const u = process.cpuUsage();
    process.send?.({ cpuMs: (u.user + u.system) / 1000 });
  }
  if (m.stop === true) void svc.close().finally(() => process.exit(0));
});
