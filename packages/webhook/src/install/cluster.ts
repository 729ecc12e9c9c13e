/** Namespaces with PodSecurity labels, NetworkPolicies, cert-manager objects, TLS Secrets, Prometheus Operator monitors. */
import type { JsonObject } from '../json.js';
import { metadata, selector } from './meta.js';
import { NODE_AGENT, QUOTE_HELPER } from './node.js';
import type { InstallOptions, Part } from './options.js';
import { ATTESTATION, KEY_BROKER, tlsSecretOf } from './services.js';
import { WEBHOOK, WEBHOOK_TLS_SECRET } from './webhook.js';
import type { ServingCertificate } from './certs.js';

/** Namespaces the cluster owns: never rendered (so never relabelled, and never deleted by --uninstall). */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'default'];

/**
 * PodSecurity admission labels (kubernetes.io/docs/concepts/security/pod-security-admission/):
 * services run `restricted`; the node namespace needs `privileged` (hostPath volumes are outside `baseline`).
 */
export function namespaces(o: InstallOptions, parts: readonly Part[]): JsonObject[] {
  const out: JsonObject[] = [];
  const services = parts.some((p) => p === 'webhook' || p === 'attestation-service' || p === 'key-broker');
  const node = parts.some((p) => p === 'node-agent' || p === 'quote-helper');
  const ns = (name: string, level: string, audit: string): JsonObject => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      ...metadata(name, undefined, 'namespace'),
      labels: {
        ...(metadata(name, undefined, 'namespace')['labels'] as JsonObject),
        'pod-security.kubernetes.io/enforce': level,
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/audit': audit,
        'pod-security.kubernetes.io/warn': level,
        // Never route this namespace's own pods through the webhook (also excluded by name in namespaceSelector).
        'cloister.dev/webhook': 'disabled',
      },
    },
  });
  // One namespace for everything: the node DaemonSets' hostPath volumes need `privileged` there.
  const shared = node && o.nodeNamespace === o.namespace;
  if (services && !SYSTEM_NAMESPACES.includes(o.namespace)) out.push(shared ? ns(o.namespace, 'privileged', 'baseline') : ns(o.namespace, 'restricted', 'restricted'));
  if (node && o.nodeNamespace !== o.namespace && !SYSTEM_NAMESPACES.includes(o.nodeNamespace)) out.push(ns(o.nodeNamespace, 'privileged', 'baseline'));
  return out;
}

function policy(name: string, namespace: string, podSelector: JsonObject, ingress: JsonObject[]): JsonObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(name, namespace, 'network-policy'),
    spec: { podSelector, policyTypes: ['Ingress'], ingress },
  };
}

/**
 * Ingress only: deny by default, then open each served port. The webhook port is open to all sources because the
 * API server often is not a pod (its address is outside any selector); egress stays open (PCCS, PostgreSQL, the API).
 */
export function networkPolicies(o: InstallOptions, parts: readonly Part[]): JsonObject[] {
  const out: JsonObject[] = [];
  const anywhere = (ports: number[]): JsonObject => ({ ports: ports.map((port) => ({ port, protocol: 'TCP' })) });
  const inCluster = (ports: number[]): JsonObject => ({ from: [{ namespaceSelector: {} }], ports: ports.map((port) => ({ port, protocol: 'TCP' })) });
  const has = (p: Part): boolean => parts.includes(p);
  if (has('webhook') || has('attestation-service') || has('key-broker')) {
    out.push(policy('cloister-default-deny-ingress', o.namespace, {}, []));
    if (has('webhook')) out.push(policy(WEBHOOK, o.namespace, { matchLabels: selector(WEBHOOK) }, [anywhere([8443]), inCluster([9320])]));
    // Workloads in every namespace attest and fetch keys.
    if (has('attestation-service')) out.push(policy(ATTESTATION, o.namespace, { matchLabels: selector(ATTESTATION) }, [inCluster([8443])]));
    if (has('key-broker')) out.push(policy(KEY_BROKER, o.namespace, { matchLabels: selector(KEY_BROKER) }, [inCluster([8443])]));
  }
  if (has('node-agent') || has('quote-helper')) {
    if (!out.some((p) => (p['metadata'] as JsonObject)['namespace'] === o.nodeNamespace)) out.push(policy('cloister-default-deny-ingress', o.nodeNamespace, {}, []));
    if (has('node-agent')) out.push(policy(NODE_AGENT, o.nodeNamespace, { matchLabels: selector(NODE_AGENT) }, [inCluster([9310])]));
    if (has('quote-helper')) out.push(policy(QUOTE_HELPER, o.nodeNamespace, { matchLabels: selector(QUOTE_HELPER) }, [inCluster([9311])]));
  }
  return out;
}

export function tlsSecret(name: string, namespace: string, component: string, cert: ServingCertificate): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(name, namespace, component),
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': cert.certPem, 'tls.key': cert.keyPem, 'ca.crt': cert.caPem },
  };
}

/** cert-manager: a self-signed root, a CA Issuer, and one Certificate per served name (secret has ca.crt). */
export function certManagerIssuers(o: InstallOptions): JsonObject[] {
  return [
    { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: metadata('cloister-selfsigned', o.namespace, 'pki'), spec: { selfSigned: {} } },
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: metadata('cloister-ca', o.namespace, 'pki'),
      spec: {
        isCA: true,
        commonName: 'cloister-ca',
        secretName: 'cloister-ca',
        duration: '87600h',
        privateKey: { algorithm: 'ECDSA', size: 256 },
        issuerRef: { name: 'cloister-selfsigned', kind: 'Issuer', group: 'cert-manager.io' },
      },
    },
    { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: metadata('cloister-ca', o.namespace, 'pki'), spec: { ca: { secretName: 'cloister-ca' } } },
  ];
}

export function certManagerCertificate(o: InstallOptions, name: string, secretName: string, component: string, dnsNames: string[]): JsonObject {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: metadata(name, o.namespace, component),
    spec: {
      secretName,
      dnsNames,
      duration: '8760h',
      renewBefore: '720h',
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      usages: ['server auth', 'digital signature'],
      issuerRef: { name: 'cloister-ca', kind: 'Issuer', group: 'cert-manager.io' },
    },
  };
}

export { WEBHOOK_TLS_SECRET, tlsSecretOf };

/** Prometheus Operator: ServiceMonitors for the services, PodMonitors for the DaemonSets (no Service in front). */
export function monitors(o: InstallOptions, parts: readonly Part[]): JsonObject[] {
  const out: JsonObject[] = [];
  const sm = (name: string, component: string, endpoint: JsonObject): JsonObject => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: metadata(name, o.namespace, component),
    spec: { selector: { matchLabels: selector(name) }, namespaceSelector: { matchNames: [o.namespace] }, endpoints: [endpoint] },
  });
  const https = (name: string): JsonObject => ({
    port: 'https',
    scheme: 'https',
    path: '/metrics',
    interval: '30s',
    tlsConfig: { ca: { secret: { name: tlsSecretOf(name), key: 'ca.crt' } }, serverName: `${name}.${o.namespace}.svc` },
  });
  if (parts.includes('webhook')) out.push(sm(WEBHOOK, 'webhook', { port: 'metrics', scheme: 'http', path: '/metrics', interval: '30s' }));
  if (parts.includes('attestation-service')) out.push(sm(ATTESTATION, 'attestation-service', https(ATTESTATION)));
  if (parts.includes('key-broker')) out.push(sm(KEY_BROKER, 'key-broker', https(KEY_BROKER)));
  for (const [part, name, component] of [['node-agent', NODE_AGENT, 'device-plugin'], ['quote-helper', QUOTE_HELPER, 'quote-helper']] as const) {
    if (!parts.includes(part)) continue;
    out.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: metadata(name, o.nodeNamespace, component),
      spec: {
        selector: { matchLabels: selector(name) },
        namespaceSelector: { matchNames: [o.nodeNamespace] },
        podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
      },
    });
  }
  return out;
}
