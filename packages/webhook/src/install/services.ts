/**
 * The attestation service and key broker: Deployments (2 replicas on PostgreSQL; 1 on embedded storage, which is a
 * single-writer PGlite directory on a PersistentVolumeClaim), Services, PDBs. Both serve HTTPS with a certificate
 * from the install's CA; the key broker trusts that CA for its --authority calls through NODE_EXTRA_CA_CERTS.
 * CLI: `cloister attestation-service serve …`, `cloister key-broker serve …` (health /healthz /readyz, /metrics).
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
  readonly extraArgs: readonly string[];
  readonly env: readonly JsonObject[];
}

function serviceObjects(o: InstallOptions, s: ServiceSpec): JsonObject[] {
  const embedded = o.storage === 'embedded';
  const replicas = embedded ? 1 : POSTGRES_REPLICAS;
  const args = [
    s.command,
    'serve',
    '--host=0.0.0.0',
    '--port=8443',
    ...(embedded ? ['--data=/var/lib/cloister/data'] : ['--database-url=$(DATABASE_URL)']),
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
  ];
  const volumes: JsonObject[] = [
    { name: 'tls', secret: { secretName: tlsSecretOf(s.name), defaultMode: 0o440 } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
  ];
  if (o.adminTokenSecret !== undefined) {
    mounts.push({ name: 'admin-token', mountPath: '/etc/cloister/admin', readOnly: true });
    volumes.push({ name: 'admin-token', secret: { secretName: o.adminTokenSecret, defaultMode: 0o440, items: [{ key: 'token', path: 'token' }] } });
  }
  const objects: JsonObject[] = [];
  if (embedded) {
    mounts.push({ name: 'data', mountPath: '/var/lib/cloister/data' });
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
        // Embedded storage has one writer: the old pod must release the volume before the new one opens it.
        strategy: embedded ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: labels(s.name, s.component) },
          spec: {
            serviceAccountName: s.name,
            automountServiceAccountToken: false,
            securityContext: restrictedPod(),
            ...(embedded ? {} : { topologySpreadConstraints: spread(s.name) }),
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

export function attestationObjects(o: InstallOptions): JsonObject[] {
  return serviceObjects(o, {
    name: ATTESTATION,
    component: 'attestation-service',
    image: 'attestation-service',
    command: 'attestation-service',
    databaseKey: 'attestation-service',
    extraArgs: [
      `--issuer=${attestationUrl(o)}`,
      // Simulated nodes sign quotes under the simulation root; only the simulated overlay accepts them.
      ...(o.simulate ? ['--allow-simulated'] : []),
      ...(o.pccsUrl !== undefined ? [`--pccs=${o.pccsUrl}`] : []),
    ],
    env: [],
  });
}

export function keyBrokerObjects(o: InstallOptions): JsonObject[] {
  return serviceObjects(o, {
    name: KEY_BROKER,
    component: 'key-broker',
    image: 'key-broker',
    command: 'key-broker',
    databaseKey: 'key-broker',
    extraArgs: [`--authority=${attestationUrl(o)}`],
    // The attestation service's certificate is issued by the install's CA (ca.crt of the same TLS Secret).
    env: [{ name: 'NODE_EXTRA_CA_CERTS', value: '/etc/cloister/tls/ca.crt' }],
  });
}
