/**
 * The webhook's Deployment, Service, PDB, RBAC and its Mutating/ValidatingWebhookConfiguration.
 *
 * Registration choices (docs/operators/install.md, "Webhook registration"):
 *  - two entries per configuration, split by the pod label cloister.dev/sgx:
 *      labelled "true"  -> failurePolicy Fail: a pod that says it needs SGX is never admitted unmutated;
 *      anything else    -> failurePolicy Ignore: while the webhook is down ordinary pods are never blocked (only an
 *                          unlabelled SGX pod may start without the AESM mount, exactly as without any webhook);
 *  - namespaceSelector excludes kube-system, kube-node-lease, Cloister's own namespaces and any namespace labelled
 *    cloister.dev/webhook=disabled: the webhook can never block the control plane or its own recovery;
 *  - pods CREATE only (a pod's containers and resources are immutable afterwards), sideEffects None,
 *    admissionReviewVersions [v1], timeoutSeconds 5 (half the API server's default 10 s: a hung webhook costs a pod
 *    create 5 s, while a healthy one answers in about a millisecond), reinvocationPolicy IfNeeded (another mutating
 *    webhook adding a container gets it mutated too; the patch is idempotent), matchPolicy Equivalent.
 */
import type { JsonObject } from '../json.js';
import { SGX_POD_LABEL } from '../names.js';
import { httpProbe, labels, metadata, pdb, restrictedContainer, restrictedPod, selector, serviceAccount, spread } from './meta.js';
import { imageOf, translationFor, type InstallOptions } from './options.js';

export const WEBHOOK = 'cloister-webhook';
export const WEBHOOK_TLS_SECRET = 'cloister-webhook-tls';
export const WEBHOOK_REPLICAS = 2;
export const WEBHOOK_TIMEOUT_SECONDS = 5;

export function webhookObjects(o: InstallOptions): JsonObject[] {
  const args = [
    'webhook',
    'serve',
    '--host=0.0.0.0',
    '--port=8443',
    '--tls-cert=/etc/cloister/tls/tls.crt',
    '--tls-key=/etc/cloister/tls/tls.key',
    '--metrics-port=9320',
    `--epc-resource=${o.epcResource}`,
    `--translate=${translationFor(o)}`,
    ...(o.nodeCapacityCheck ? ['--node-capacity'] : []),
  ];
  const objects: JsonObject[] = [serviceAccount(WEBHOOK, o.namespace, 'webhook', o.nodeCapacityCheck)];
  if (o.nodeCapacityCheck) {
    // Read-only Nodes: the largest advertised EPC, to refuse pods that could never be scheduled.
    objects.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: metadata(`${WEBHOOK}-nodes`, undefined, 'webhook'),
        rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: metadata(`${WEBHOOK}-nodes`, undefined, 'webhook'),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${WEBHOOK}-nodes` },
        subjects: [{ kind: 'ServiceAccount', name: WEBHOOK, namespace: o.namespace }],
      },
    );
  }
  objects.push(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: metadata(WEBHOOK, o.namespace, 'webhook'),
      spec: {
        replicas: WEBHOOK_REPLICAS,
        selector: { matchLabels: selector(WEBHOOK) },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: labels(WEBHOOK, 'webhook') },
          spec: {
            serviceAccountName: WEBHOOK,
            automountServiceAccountToken: o.nodeCapacityCheck,
            // Pods are admitted through it: schedule it ahead of ordinary workloads.
            priorityClassName: 'system-cluster-critical',
            securityContext: restrictedPod(),
            topologySpreadConstraints: spread(WEBHOOK),
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'webhook',
                image: imageOf(o, 'webhook'),
                imagePullPolicy: 'IfNotPresent',
                args,
                ports: [
                  { name: 'https', containerPort: 8443, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9320, protocol: 'TCP' },
                ],
                securityContext: restrictedContainer(),
                resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '500m', memory: '160Mi' } },
                livenessProbe: httpProbe('/healthz', 'metrics', 'HTTP', 20, 5),
                readinessProbe: httpProbe('/readyz', 'metrics', 'HTTP', 5, 2),
                // The Secret volume is updated in place (atomic ..data symlink swap); the server reloads it.
                volumeMounts: [{ name: 'tls', mountPath: '/etc/cloister/tls', readOnly: true }],
              },
            ],
            volumes: [{ name: 'tls', secret: { secretName: WEBHOOK_TLS_SECRET, defaultMode: 0o440 } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: metadata(WEBHOOK, o.namespace, 'webhook'),
      spec: {
        selector: selector(WEBHOOK),
        ports: [
          { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
          { name: 'metrics', port: 9320, targetPort: 'metrics', protocol: 'TCP' },
        ],
      },
    },
    pdb(WEBHOOK, o.namespace, 'webhook', WEBHOOK_REPLICAS),
  );
  return objects;
}

function entries(o: InstallOptions, kind: 'mutate' | 'validate', caBundle: string | undefined): JsonObject[] {
  const excluded = [...new Set(['kube-system', 'kube-node-lease', o.namespace, o.nodeNamespace])];
  const common = (name: string, failurePolicy: 'Fail' | 'Ignore', objectSelector: JsonObject): JsonObject => ({
    name,
    admissionReviewVersions: ['v1'],
    clientConfig: {
      service: { namespace: o.namespace, name: WEBHOOK, path: `/${kind}`, port: 443 },
      ...(caBundle !== undefined ? { caBundle } : {}),
    },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
    failurePolicy,
    matchPolicy: 'Equivalent',
    namespaceSelector: {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded },
        { key: 'cloister.dev/webhook', operator: 'NotIn', values: ['disabled'] },
      ],
    },
    objectSelector,
    sideEffects: 'None',
    timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
    ...(kind === 'mutate' ? { reinvocationPolicy: 'IfNeeded' } : {}),
  });
  return [
    common(`sgx-pods.${kind}.cloister.dev`, 'Fail', { matchExpressions: [{ key: SGX_POD_LABEL, operator: 'In', values: ['true'] }] }),
    common(`other-pods.${kind}.cloister.dev`, 'Ignore', { matchExpressions: [{ key: SGX_POD_LABEL, operator: 'NotIn', values: ['true'] }] }),
  ];
}

export function webhookConfigurations(o: InstallOptions, caPem: string | undefined): JsonObject[] {
  const caBundle = caPem === undefined ? undefined : Buffer.from(caPem, 'utf8').toString('base64');
  const annotations: JsonObject =
    o.certificates === 'cert-manager' ? { annotations: { 'cert-manager.io/inject-ca-from': `${o.namespace}/${WEBHOOK}` } } : {};
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: metadata(WEBHOOK, undefined, 'webhook', annotations),
      webhooks: entries(o, 'mutate', caBundle),
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: metadata(WEBHOOK, undefined, 'webhook', annotations),
      webhooks: entries(o, 'validate', caBundle),
    },
  ];
}
