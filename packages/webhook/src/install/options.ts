/** Options of `cloister install`: which parts, where, which images, simulated or real nodes. */
import type { Translation } from '../config.js';
import { WebhookError } from '../errors.js';
import type { EpcName } from '../names.js';

export const PARTS = ['node-agent', 'quote-helper', 'webhook', 'attestation-service', 'key-broker'] as const;
export type Part = (typeof PARTS)[number];

export const IMAGES = ['node-agent', 'webhook', 'attestation-service', 'key-broker'] as const;
export type ImageName = (typeof IMAGES)[number];

export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface InstallOptions {
  /** Namespace of the webhook, attestation service and key broker (PodSecurity `restricted`). */
  readonly namespace: string;
  /** Namespace of the node DaemonSets (PodSecurity `privileged`: they need hostPath). */
  readonly nodeNamespace: string;
  readonly registry: string;
  readonly tag: string;
  /** Full image references overriding registry/tag, per image. */
  readonly images: Readonly<Partial<Record<ImageName, string>>>;
  readonly parts: readonly Part[];
  /** Simulated-node overlay: no /dev/sgx_* CharDevice hostPaths, a simulated platform created per node. */
  readonly simulate: boolean;
  /** EPC each simulated node advertises (MiB). */
  readonly simulatedEpcMiB: number;
  /** `generate`: a CA and serving certificates made now; `cert-manager`: Issuers and Certificates. */
  readonly certificates: 'generate' | 'cert-manager';
  /** With `generate`: sign with this CA instead of a new one (keeps caBundle stable across upgrades). */
  readonly ca?: CertificateAuthority | undefined;
  readonly prometheusOperator: boolean;
  /** `postgres`: URLs from a Secret; `embedded`: PGlite on a PersistentVolumeClaim (one replica). */
  readonly storage: 'postgres' | 'embedded';
  readonly databaseSecret: string;
  /** Secret (key `kek`) with the attestation service's key-encryption key: the same on every replica (PostgreSQL). */
  readonly kekSecret: string;
  /** EPC name the cluster's nodes advertise; the webhook translates the other one into it. */
  readonly epcResource: EpcName;
  /** The webhook reads Nodes to refuse pods asking more EPC than any node has (ClusterRole get/list nodes). */
  readonly nodeCapacityCheck: boolean;
  readonly pccsUrl?: string | undefined;
  /** Secret with key `token` for the attestation service's and key broker's admin API. */
  readonly adminTokenSecret?: string | undefined;
  /** Time the generated certificates start (tests pin it); default now. */
  readonly now?: Date | undefined;
}

export const DEFAULT_OPTIONS: InstallOptions = {
  namespace: 'cloister-system',
  nodeNamespace: 'cloister-node',
  registry: 'ghcr.io/cloister',
  tag: '0.1.0',
  images: {},
  parts: PARTS,
  simulate: false,
  simulatedEpcMiB: 128,
  certificates: 'generate',
  prometheusOperator: false,
  storage: 'postgres',
  databaseSecret: 'cloister-database',
  kekSecret: 'cloister-attestation-kek',
  epcResource: 'aks',
  nodeCapacityCheck: true,
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function translationFor(o: InstallOptions): Translation {
  return o.epcResource === 'aks' ? 'intel-to-aks' : 'aks-to-intel';
}

export function imageOf(o: InstallOptions, name: ImageName): string {
  return o.images[name] ?? `${o.registry.replace(/\/+$/, '')}/${name}:${o.tag}`;
}

/** Fill defaults and check the combination. */
export function resolveOptions(partial: Partial<InstallOptions>): InstallOptions {
  const o: InstallOptions = { ...DEFAULT_OPTIONS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) };
  for (const [what, ns] of [['--namespace', o.namespace], ['--node-namespace', o.nodeNamespace], ['--database-secret', o.databaseSecret], ['--kek-secret', o.kekSecret]] as const) {
    if (!DNS_LABEL.test(ns)) throw new WebhookError('INVALID_OPTION', `${what} ${JSON.stringify(ns)} is not a DNS label`);
  }
  if (o.adminTokenSecret !== undefined && !DNS_LABEL.test(o.adminTokenSecret)) {
    throw new WebhookError('INVALID_OPTION', `--admin-token-secret ${JSON.stringify(o.adminTokenSecret)} is not a DNS label`);
  }
  if (o.parts.length === 0) throw new WebhookError('INVALID_OPTION', 'no part left to install');
  for (const p of o.parts) if (!PARTS.includes(p)) throw new WebhookError('INVALID_OPTION', `unknown part ${JSON.stringify(p)} (${PARTS.join(', ')})`);
  if (!Number.isInteger(o.simulatedEpcMiB) || o.simulatedEpcMiB < 1 || o.simulatedEpcMiB > 1 << 20) {
    throw new WebhookError('INVALID_OPTION', '--epc-mib must be an integer 1..1048576');
  }
  if (!/^[a-z0-9][a-z0-9._:/-]*$/i.test(o.registry)) throw new WebhookError('INVALID_OPTION', `--registry ${JSON.stringify(o.registry)} is not an image registry path`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(o.tag)) throw new WebhookError('INVALID_OPTION', `--tag ${JSON.stringify(o.tag)} is not an image tag`);
  if (o.ca !== undefined && o.certificates !== 'generate') throw new WebhookError('INVALID_OPTION', 'a CA is only used when certificates are generated (not with --cert-manager)');
  if (o.epcResource === 'intel' && o.parts.includes('node-agent')) {
    throw new WebhookError(
      'INVALID_OPTION',
      'the Cloister node agent advertises EPC as kubernetes.azure.com/sgx_epc_mem_in_MiB: use --epc-resource aks, or --exclude node-agent where another plugin advertises sgx.intel.com/epc',
    );
  }
  if (o.pccsUrl !== undefined && !/^https:\/\/\S+$/.test(o.pccsUrl)) throw new WebhookError('INVALID_OPTION', '--pccs must be an https:// URL');
  // Parts sort into the canonical order whatever order they were named in.
  return { ...o, parts: PARTS.filter((p) => o.parts.includes(p)) };
}
