/** `cloister install`: every object of the add-on, grouped by file, in apply order. Rendering only; kubectl applies. */
import type { JsonObject } from '../json.js';
import { createCa, issueServing, serviceDnsNames } from './certs.js';
import { certManagerCertificate, certManagerIssuers, monitors, namespaces, networkPolicies, tlsSecret } from './cluster.js';
import { NODE_RESOURCES, nodeAgentObjects, quoteHelperObjects, type NodeResources } from './node.js';
import type { CertificateAuthority, InstallOptions } from './options.js';
import { ATTESTATION, KEY_BROKER, attestationObjects, keyBrokerObjects, tlsSecretOf } from './services.js';
import { WEBHOOK, WEBHOOK_TLS_SECRET, webhookConfigurations, webhookObjects } from './webhook.js';

export interface RenderedGroup {
  /** File name under --out-dir (the number orders `kubectl apply -f DIR`). */
  readonly file: string;
  readonly title: string;
  readonly objects: readonly JsonObject[];
}

export interface Rendered {
  readonly groups: readonly RenderedGroup[];
  /** The CA the serving certificates were issued by, when one was generated now (to keep for upgrades). */
  readonly generatedCa?: CertificateAuthority;
}

export async function renderInstall(o: InstallOptions, resources: NodeResources = NODE_RESOURCES): Promise<Rendered> {
  const parts = o.parts;
  const has = (p: (typeof parts)[number]): boolean => parts.includes(p);
  const now = o.now ?? new Date();
  const groups: RenderedGroup[] = [];
  const push = (file: string, title: string, objects: JsonObject[]): void => {
    if (objects.length > 0) groups.push({ file, title, objects });
  };
  const served: Array<{ part: 'webhook' | 'attestation-service' | 'key-broker'; service: string; secret: string }> = [
    { part: 'webhook' as const, service: WEBHOOK, secret: WEBHOOK_TLS_SECRET },
    { part: 'attestation-service' as const, service: ATTESTATION, secret: tlsSecretOf(ATTESTATION) },
    { part: 'key-broker' as const, service: KEY_BROKER, secret: tlsSecretOf(KEY_BROKER) },
  ].filter((s) => has(s.part));

  // Certificates: generated now (Secrets) or requested from cert-manager (Certificates).
  let ca: CertificateAuthority | undefined;
  let generatedCa: CertificateAuthority | undefined;
  const pki = new Map<string, JsonObject>();
  if (served.length > 0) {
    if (o.certificates === 'generate') {
      ca = o.ca ?? (generatedCa = await createCa(now));
      for (const s of served) {
        const cert = await issueServing(ca, serviceDnsNames(s.service, o.namespace), now);
        pki.set(s.part, tlsSecret(s.secret, o.namespace, s.part, cert));
      }
    } else {
      for (const s of served) pki.set(s.part, certManagerCertificate(o, s.service, s.secret, s.part, serviceDnsNames(s.service, o.namespace)));
    }
  }
  const withPki = (part: string, objects: JsonObject[]): JsonObject[] => {
    const p = pki.get(part);
    return p === undefined ? objects : [p, ...objects];
  };

  push('00-namespaces.yaml', 'Namespaces (PodSecurity labels)', namespaces(o, parts));
  if (o.certificates === 'cert-manager' && served.length > 0) push('05-pki.yaml', 'cert-manager issuers (self-signed root -> cloister-ca)', certManagerIssuers(o));
  if (has('node-agent')) push('10-node-agent.yaml', 'Node agent: SGX device plugin DaemonSet', nodeAgentObjects(o, resources));
  if (has('quote-helper')) push('11-quote-helper.yaml', 'Quote helper: AESM socket DaemonSet', quoteHelperObjects(o, resources));
  if (has('webhook')) push('20-webhook.yaml', 'Admission webhook: Deployment, Service, PDB, RBAC', withPki('webhook', webhookObjects(o)));
  if (has('attestation-service')) push('30-attestation-service.yaml', 'Attestation service', withPki('attestation-service', attestationObjects(o)));
  if (has('key-broker')) push('31-key-broker.yaml', 'Key broker', withPki('key-broker', keyBrokerObjects(o)));
  push('40-network-policies.yaml', 'NetworkPolicies (ingress)', networkPolicies(o, parts));
  if (o.prometheusOperator) push('50-monitoring.yaml', 'Prometheus Operator ServiceMonitors and PodMonitors', monitors(o, parts));
  // Registered last: the webhook's pods exist before the API server starts calling them.
  if (has('webhook')) push('90-webhook-configurations.yaml', 'Webhook registration (applied last, deleted first)', webhookConfigurations(o, ca?.certPem));
  return { groups, ...(generatedCa !== undefined ? { generatedCa } : {}) };
}

/**
 * Delete order for --uninstall: webhook configurations first (so no pod create is routed to a webhook being
 * removed), then everything else in reverse apply order, namespaces last.
 */
export function uninstallOrder(r: Rendered): JsonObject[] {
  const all = r.groups.flatMap((g) => g.objects);
  const isConfig = (x: JsonObject): boolean => x['kind'] === 'MutatingWebhookConfiguration' || x['kind'] === 'ValidatingWebhookConfiguration';
  const configs = all.filter(isConfig);
  return [...configs, ...all.filter((x) => !isConfig(x)).reverse()];
}
