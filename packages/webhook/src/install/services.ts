/**
 * The attestation service and key broker: Deployments, Services, PDBs. Both serve HTTPS with a certificate from the
 * install's CA; the key broker trusts that CA for its --authority calls through NODE_EXTRA_CA_CERTS.
 * CLI: `cloister attestation-service serve …`, `cloister key-broker serve …` (health /healthz /readyz, /metrics).
 *
 * Attestation service: 2 replicas on PostgreSQL sharing one key-encryption key (a Secret: the service refuses
 * PostgreSQL without --key-encryption-key-file); 1 on embedded storage (a single-writer PGlite directory on a PVC).
 * Simulated overlay: --allow-simulated with the nodes' simulation roots from a ConfigMap the operator fills once the
 * quote helpers have created their platforms (each node's platform has its own root).
 *
 * Key broker: one replica, its simulated platform and enclave on a PVC so a restart unseals the KEK. A second
 * replica must start with `--join <a running replica>` and the first must not (its KEK would otherwise never be
 * created): one pod template cannot express that, so replication is left to docs/key-broker.md.
 */
import type { JsonObject } from '../json.js';
import { httpProbe, labels, metadata, pdb, restrictedContainer, restrictedPod, selector, serviceAccount, spread } from './meta.js';
import { imageOf, type ImageName, type InstallOptions } from './options.js';

export const ATTESTATION = 'cloister-attestation';
export const KEY_BROKER = 'cloister-key-broker';
export const POSTGRES_REPLICAS = 2;

export function tlsSecretOf(name: string): string {
  return `${name}-tls`;
}

export function attestationUrl(o: InstallOptions): string {
  return `https://${ATTESTATION}.${o.namespace}.svc:8443`;
}

interface ServiceSpec {
  readonly name: string;
  readonly component: string;
  readonly image: ImageName;
  readonly command: string;
  readonly databaseKey: string;
  /** Replicas on PostgreSQL (embedded storage is always 1). */
  readonly replicas: number;
  /** A PVC for state beyond the database (the key broker's platform and enclave), mounted at DATA_DIR. */
  readonly alwaysVolume: boolean;
  /** Arguments used with PostgreSQL besides --database-url. */
  readonly postgresArgs: readonly string[];
  readonly extraArgs: readonly string[];
  readonly env: readonly JsonObject[];
  readonly mounts: readonly JsonObject[];
  readonly volumes: readonly JsonObject[];
}

const DATA_DIR = '/var/lib/cloister/data';

function serviceObjects(o: InstallOptions, s: ServiceSpec): JsonObject[] {
  const embedded = o.storage === 'embedded';
  const replicas = embedded ? 1 : s.replicas;
  const persistent = embedded || s.alwaysVolume;
  const args = [
    s.command,
    'serve',
    '--host=0.0.0.0',
    '--port=8443',
    ...(embedded ? [`--data=${DATA_DIR}`] : ['--database-url=$(DATABASE_URL)', ...s.postgresArgs]),
    '--tls-cert=/etc/cloister/tls/tls.crt',
    '--tls-key=/etc/cloister/tls/tls.key',
    ...s.extraArgs,
    ...(o.adminTokenSecret !== undefined ? ['--admin-token-file=/etc/cloister/admin/token'] : []),
  ];
  const env: JsonObject[] = [...s.env];
  if (!embedded) {
    // The URL (with its password) stays in the Secret; $(DATABASE_URL) is expanded by kubelet into the argument.
    env.unshift({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: o.databaseSecret, key: s.databaseKey } } });
  }
  const mounts: JsonObject[] = [
    { name: 'tls', mountPath: '/etc/cloister/tls', readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
    ...s.mounts,
  ];
  const volumes: JsonObject[] = [
    { name: 'tls', secret: { secretName: tlsSecretOf(s.name), defaultMode: 0o440 } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ...s.volumes,
  ];
  if (o.adminTokenSecret !== undefined) {
    mounts.push({ name: 'admin-token', mountPath: '/etc/cloister/admin', readOnly: true });
    volumes.push({ name: 'admin-token', secret: { secretName: o.adminTokenSecret, defaultMode: 0o440, items: [{ key: 'token', path: 'token' }] } });
  }
  const objects: JsonObject[] = [];
  if (persistent) {
    mounts.push({ name: 'data', mountPath: DATA_DIR });
    volumes.push({ name: 'data', persistentVolumeClaim: { claimName: `${s.name}-data` } });
    objects.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: metadata(`${s.name}-data`, o.namespace, s.component),
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
  }
  objects.push(
    // Neither service calls the Kubernetes API.
    serviceAccount(s.name, o.namespace, s.component, false),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: metadata(s.name, o.namespace, s.component),
      spec: {
        replicas,
        selector: { matchLabels: selector(s.name) },
        // A ReadWriteOnce volume has one writer: the old pod must release it before the new one opens it.
        strategy: persistent ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: labels(s.name, s.component) },
          spec: {
            serviceAccountName: s.name,
            automountServiceAccountToken: false,
            securityContext: restrictedPod(),
            ...(replicas > 1 ? { topologySpreadConstraints: spread(s.name) } : {}),
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: s.command,
                image: imageOf(o, s.image),
                imagePullPolicy: 'IfNotPresent',
                args,
                env,
                ports: [{ name: 'https', containerPort: 8443, protocol: 'TCP' }],
                securityContext: restrictedContainer(),
                resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
                livenessProbe: httpProbe('/healthz', 'https', 'HTTPS', 20, 10),
                readinessProbe: httpProbe('/readyz', 'https', 'HTTPS', 10, 5),
                volumeMounts: mounts,
              },
            ],
            volumes,
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: metadata(s.name, o.namespace, s.component),
      spec: { selector: selector(s.name), ports: [{ name: 'https', port: 8443, targetPort: 'https', protocol: 'TCP' }] },
    },
    pdb(s.name, o.namespace, s.component, replicas),
  );
  return objects;
}

export const SIMULATED_ROOTS_CONFIGMAP = 'cloister-simulated-roots';

export function attestationObjects(o: InstallOptions): JsonObject[] {
  const embedded = o.storage === 'embedded';
  return serviceObjects(o, {
    name: ATTESTATION,
    component: 'attestation-service',
    image: 'attestation-service',
    command: 'attestation-service',
    databaseKey: 'attestation-service',
    replicas: POSTGRES_REPLICAS,
    alwaysVolume: false,
    // Every replica must encrypt and decrypt the signing keys under the same key-encryption key.
    postgresArgs: ['--key-encryption-key-file=/etc/cloister/kek/kek'],
    extraArgs: [
      `--issuer=${attestationUrl(o)}`,
      // Simulated nodes sign quotes under their own simulation roots; only the simulated overlay accepts them,
      // at <issuer>/simulated, and only under the roots the operator collected.
      ...(o.simulate ? ['--allow-simulated', '--trust-root=/etc/cloister/simulated-roots/roots.pem'] : []),
      ...(o.pccsUrl !== undefined ? [`--pccs=${o.pccsUrl}`] : []),
    ],
    env: [],
    mounts: [
      ...(embedded ? [] : [{ name: 'kek', mountPath: '/etc/cloister/kek', readOnly: true }]),
      ...(o.simulate ? [{ name: 'simulated-roots', mountPath: '/etc/cloister/simulated-roots', readOnly: true }] : []),
    ],
    volumes: [
      ...(embedded ? [] : [{ name: 'kek', secret: { secretName: o.kekSecret, defaultMode: 0o440, items: [{ key: 'kek', path: 'kek' }] } }]),
      ...(o.simulate ? [{ name: 'simulated-roots', configMap: { name: SIMULATED_ROOTS_CONFIGMAP, items: [{ key: 'roots.pem', path: 'roots.pem' }] } }] : []),
    ],
  });
}

export function keyBrokerObjects(o: InstallOptions): JsonObject[] {
  return serviceObjects(o, {
    name: KEY_BROKER,
    component: 'key-broker',
    image: 'key-broker',
    command: 'key-broker',
    databaseKey: 'key-broker',
    replicas: 1,
    alwaysVolume: true,
    // With PostgreSQL the platform and enclave still live on the volume: the KEK is sealed to them.
    postgresArgs: [`--platform=${DATA_DIR}/platform`, `--enclave=${DATA_DIR}/enclave`],
    extraArgs: [`--authority=${attestationUrl(o)}`, ...(o.simulate ? [`--authority=${attestationUrl(o)}/simulated`] : [])],
    // The attestation service's certificate is issued by the install's CA (ca.crt of the same TLS Secret).
    env: [{ name: 'NODE_EXTRA_CA_CERTS', value: '/etc/cloister/tls/ca.crt' }],
    mounts: [],
    volumes: [],
  });
}
