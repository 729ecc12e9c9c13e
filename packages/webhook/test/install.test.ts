import { strict as assert } from 'node:assert';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { MutatingWebhookConfiguration, ValidatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Certificate, Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { PodMonitor, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import {
  DEPLOY_VARIANTS,
  NODE_RESOURCES,
  WebhookError,
  createCa,
  groupsToYaml,
  objectsToJson,
  renderDeploy,
  renderInstall,
  resolveOptions,
  uninstallOrder,
  writeGroups,
  type InstallOptions,
  type JsonObject,
  type Rendered,
} from '../src/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModelClass = new (data: any) => { validate(): void };
const MODELS: Readonly<Record<string, ModelClass>> = {
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': ValidatingWebhookConfiguration,
  'cert-manager.io/v1/Certificate': Certificate,
  'cert-manager.io/v1/Issuer': Issuer,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

function validateAll(objects: readonly JsonObject[]): void {
  for (const o of objects) {
    const key = `${String(o['apiVersion'])}/${String(o['kind'])}`;
    const Model = MODELS[key];
    assert.ok(Model !== undefined, `no schema for ${key}`);
    const name = (o['metadata'] as JsonObject)['name'];
    try {
      new Model(o).validate();
    } catch (e) {
      assert.fail(`${key} ${String(name)} does not validate: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

const NOW = new Date('2026-12-01T00:00:00Z');
const OPTION_SETS: ReadonlyArray<[string, Partial<InstallOptions>]> = [
  ['defaults', {}],
  ['--simulate', { simulate: true }],
  ['--simulate --storage embedded --epc-mib 64', { simulate: true, storage: 'embedded', simulatedEpcMiB: 64 }],
  ['--cert-manager --prometheus-operator', { certificates: 'cert-manager', prometheusOperator: true }],
  ['--prometheus-operator --admin-token-secret --pccs', { prometheusOperator: true, adminTokenSecret: 'cloister-admin', pccsUrl: 'https://pccs.example:8081' }],
  ['AKS confcom: --epc-resource intel --exclude node-agent,quote-helper', { epcResource: 'intel', parts: ['webhook', 'attestation-service', 'key-broker'] }],
  ['--include webhook --no-node-capacity', { parts: ['webhook'], nodeCapacityCheck: false }],
  ['--include node-agent,quote-helper --simulate', { parts: ['node-agent', 'quote-helper'], simulate: true }],
  ['Intel plugin nodes: --epc-resource intel --exclude node-agent', { epcResource: 'intel', parts: ['quote-helper', 'webhook', 'attestation-service', 'key-broker'] }],
  ['namespaces, registry, tag, image override', { namespace: 'sgx', nodeNamespace: 'sgx-node', registry: 'registry.example/cl', tag: '1.2.3', images: { webhook: 'other.example/wh@sha256:' + 'a'.repeat(64) } }],
];

const all = (r: Rendered): JsonObject[] => r.groups.flatMap((g) => g.objects);
const find = (r: Rendered, kind: string, name: string): JsonObject => {
  const o = all(r).find((x) => x['kind'] === kind && (x['metadata'] as JsonObject)['name'] === name);
  assert.ok(o !== undefined, `${kind} ${name} rendered`);
  return o;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const dig = (o: unknown, ...path: Array<string | number>): any => path.reduce((a: any, k) => (a === undefined ? undefined : a[k]), o);

function hostPaths(r: Rendered): Array<{ path: string; type?: string }> {
  const out: Array<{ path: string; type?: string }> = [];
  for (const o of all(r)) {
    for (const v of (dig(o, 'spec', 'template', 'spec', 'volumes') ?? []) as JsonObject[]) {
      if (v['hostPath'] !== undefined) out.push(v['hostPath'] as { path: string; type?: string });
    }
  }
  return out;
}

describe('cloister install: every rendered manifest validates against its schema', () => {
  for (const [label, options] of OPTION_SETS) {
    it(label, async () => {
      const r = await renderInstall(resolveOptions({ ...options, now: NOW }));
      assert.ok(all(r).length > 0);
      validateAll(all(r));
      // The serialisations round-trip to the same objects.
      const fromYaml = parseAllDocuments(groupsToYaml(r.groups)).map((d) => d.toJS() as JsonObject);
      assert.deepEqual(fromYaml, all(r));
      assert.deepEqual((JSON.parse(objectsToJson(all(r))) as { items: JsonObject[] }).items, all(r));
    });
  }

  it('the schemas do bite: a broken Deployment and webhook configuration are refused', async () => {
    const r = await renderInstall(resolveOptions({ certificates: 'cert-manager' }));
    const d = structuredClone(find(r, 'Deployment', 'cloister-webhook'));
    (d['spec'] as JsonObject)['replicas'] = 'two';
    assert.throws(() => new Deployment(d as never).validate());
    const m = structuredClone(find(r, 'MutatingWebhookConfiguration', 'cloister-webhook'));
    (dig(m, 'webhooks', 0) as JsonObject)['timeoutSeconds'] = 'slow';
    assert.throws(() => new MutatingWebhookConfiguration(m as never).validate());
  });
});

describe('cloister install: what is rendered', () => {
  it('the simulated overlay has no CharDevice hostPaths (or /sys), the real one has both SGX devices', async () => {
    const sim = await renderInstall(resolveOptions({ simulate: true, certificates: 'cert-manager' }));
    assert.deepEqual(hostPaths(sim).filter((h) => h.type === 'CharDevice' || h.path.startsWith('/dev') || h.path === '/sys'), []);
    const agent = find(sim, 'DaemonSet', 'cloister-node-agent');
    assert.deepEqual(dig(agent, 'spec', 'template', 'spec', 'containers', 0, 'args'), [
      'node-agent',
      '--plugin-dir=/var/lib/kubelet/device-plugins',
      '--metrics-port=9310',
      '--simulate',
      '--epc-mib=128',
      '--state-dir=/var/lib/cloister/simulated-sgx',
    ]);
    assert.ok((dig(find(sim, 'DaemonSet', 'cloister-quote-helper'), 'spec', 'template', 'spec', 'containers', 0, 'args') as string[]).includes('--simulate'));
    assert.ok((dig(find(sim, 'Deployment', 'cloister-attestation'), 'spec', 'template', 'spec', 'containers', 0, 'args') as string[]).includes('--allow-simulated'));
    const real = await renderInstall(resolveOptions({ certificates: 'cert-manager' }));
    assert.deepEqual(
      hostPaths(real).filter((h) => h.type === 'CharDevice').map((h) => h.path),
      ['/dev/sgx_enclave', '/dev/sgx_provision'],
    );
    assert.equal((dig(find(real, 'Deployment', 'cloister-attestation'), 'spec', 'template', 'spec', 'containers', 0, 'args') as string[]).includes('--allow-simulated'), false);
  });

  it('webhook: 2 replicas, a PDB, two entries per configuration split by cloister.dev/sgx, sideEffects None, 5 s', async () => {
    const r = await renderInstall(resolveOptions({ now: NOW }));
    assert.equal(dig(find(r, 'Deployment', 'cloister-webhook'), 'spec', 'replicas'), 2);
    assert.equal(dig(find(r, 'PodDisruptionBudget', 'cloister-webhook'), 'spec', 'minAvailable'), 1);
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const hooks = dig(find(r, kind, 'cloister-webhook'), 'webhooks') as JsonObject[];
      assert.deepEqual(hooks.map((h) => [h['failurePolicy'], dig(h, 'objectSelector', 'matchExpressions', 0, 'operator')]), [['Fail', 'In'], ['Ignore', 'NotIn']]);
      for (const h of hooks) {
        assert.equal(h['sideEffects'], 'None');
        assert.equal(h['timeoutSeconds'], 5);
        assert.deepEqual(h['admissionReviewVersions'], ['v1']);
        assert.deepEqual(dig(h, 'rules', 0, 'operations'), ['CREATE']);
        assert.deepEqual(dig(h, 'namespaceSelector', 'matchExpressions', 0, 'values'), ['kube-system', 'kube-node-lease', 'cloister-system', 'cloister-node']);
      }
    }
  });

  it('generated PKI: caBundle is the CA that signed the webhook Secret, for the service DNS name', async () => {
    const r = await renderInstall(resolveOptions({ now: NOW }));
    assert.ok(r.generatedCa !== undefined);
    const secret = find(r, 'Secret', 'cloister-webhook-tls');
    assert.equal(secret['type'], 'kubernetes.io/tls');
    const data = secret['stringData'] as Record<string, string>;
    const caBundle = dig(find(r, 'MutatingWebhookConfiguration', 'cloister-webhook'), 'webhooks', 0, 'clientConfig', 'caBundle') as string;
    const ca = new X509Certificate(Buffer.from(caBundle, 'base64'));
    const leaf = new X509Certificate(data['tls.crt']!);
    assert.equal(leaf.verify(ca.publicKey), true);
    assert.equal(leaf.checkIssued(ca), true);
    assert.equal(leaf.checkHost('cloister-webhook.cloister-system.svc'), 'cloister-webhook.cloister-system.svc');
    assert.equal(ca.ca, true);
    assert.equal(createPrivateKey(data['tls.key']!).asymmetricKeyType, 'ec');
    assert.equal(data['ca.crt'], r.generatedCa.certPem);
    // The attestation service and key broker get certificates from the same CA.
    for (const name of ['cloister-attestation-tls', 'cloister-key-broker-tls']) {
      const s = new X509Certificate((find(r, 'Secret', name)['stringData'] as Record<string, string>)['tls.crt']!);
      assert.equal(s.verify(ca.publicKey), true);
    }
  });

  it('a CA given (--ca-dir) signs everything and is not reported as generated', async () => {
    const ca = await createCa(NOW, 'kept-ca');
    const r = await renderInstall(resolveOptions({ ca, now: NOW }));
    assert.equal(r.generatedCa, undefined);
    const caBundle = dig(find(r, 'ValidatingWebhookConfiguration', 'cloister-webhook'), 'webhooks', 1, 'clientConfig', 'caBundle') as string;
    assert.equal(Buffer.from(caBundle, 'base64').toString(), ca.certPem);
  });

  it('cert-manager: no private key anywhere, Certificates for each service, CA injected by annotation', async () => {
    const r = await renderInstall(resolveOptions({ certificates: 'cert-manager' }));
    assert.equal(all(r).some((o) => o['kind'] === 'Secret'), false);
    assert.doesNotMatch(groupsToYaml(r.groups), /PRIVATE KEY/);
    assert.deepEqual(all(r).filter((o) => o['kind'] === 'Certificate').map((o) => dig(o, 'spec', 'secretName')), [
      'cloister-ca',
      'cloister-webhook-tls',
      'cloister-attestation-tls',
      'cloister-key-broker-tls',
    ]);
    const m = find(r, 'MutatingWebhookConfiguration', 'cloister-webhook');
    assert.equal(dig(m, 'metadata', 'annotations', 'cert-manager.io/inject-ca-from'), 'cloister-system/cloister-webhook');
    assert.equal(dig(m, 'webhooks', 0, 'clientConfig', 'caBundle'), undefined);
  });

  it('attestation service: 2 replicas on PostgreSQL (URL and KEK from Secrets); 1 replica + PVC + Recreate when embedded', async () => {
    const pg = await renderInstall(resolveOptions({ certificates: 'cert-manager' }));
    const d = find(pg, 'Deployment', 'cloister-attestation');
    assert.equal(dig(d, 'spec', 'replicas'), 2);
    const c = dig(d, 'spec', 'template', 'spec', 'containers', 0);
    assert.ok((c.args as string[]).includes('--database-url=$(DATABASE_URL)'));
    assert.ok((c.args as string[]).includes('--key-encryption-key-file=/etc/cloister/kek/kek'));
    assert.equal(dig(c, 'env', 0, 'valueFrom', 'secretKeyRef', 'name'), 'cloister-database');
    assert.equal(dig(c, 'env', 0, 'valueFrom', 'secretKeyRef', 'key'), 'attestation-service');
    const kek = (dig(d, 'spec', 'template', 'spec', 'volumes') as JsonObject[]).find((v) => v['name'] === 'kek');
    assert.equal(dig(kek, 'secret', 'secretName'), 'cloister-attestation-kek');
    assert.equal(dig(find(pg, 'PodDisruptionBudget', 'cloister-attestation'), 'spec', 'minAvailable'), 1);
    assert.equal(dig(find(pg, 'Service', 'cloister-attestation'), 'spec', 'ports', 0, 'port'), 8443);
    const emb = await renderInstall(resolveOptions({ certificates: 'cert-manager', storage: 'embedded' }));
    const e = find(emb, 'Deployment', 'cloister-attestation');
    assert.equal(dig(e, 'spec', 'replicas'), 1);
    assert.equal(dig(e, 'spec', 'strategy', 'type'), 'Recreate');
    const args = dig(e, 'spec', 'template', 'spec', 'containers', 0, 'args') as string[];
    assert.ok(args.includes('--data=/var/lib/cloister/data'));
    assert.equal(args.some((a) => a.startsWith('--key-encryption-key-file') || a.startsWith('--database-url')), false);
    find(emb, 'PersistentVolumeClaim', 'cloister-attestation-data');
    assert.equal(dig(find(emb, 'PodDisruptionBudget', 'cloister-attestation'), 'spec', 'maxUnavailable'), 1);
  });

  it('key broker: one replica whose platform and enclave live on a PVC, trusting the attestation service', async () => {
    const pg = await renderInstall(resolveOptions({ certificates: 'cert-manager' }));
    const d = find(pg, 'Deployment', 'cloister-key-broker');
    assert.equal(dig(d, 'spec', 'replicas'), 1);
    assert.equal(dig(d, 'spec', 'strategy', 'type'), 'Recreate');
    const c = dig(d, 'spec', 'template', 'spec', 'containers', 0);
    const args = c.args as string[];
    for (const a of ['--database-url=$(DATABASE_URL)', '--platform=/var/lib/cloister/data/platform', '--enclave=/var/lib/cloister/data/enclave', '--authority=https://cloister-attestation.cloister-system.svc:8443']) {
      assert.ok(args.includes(a), a);
    }
    assert.equal(dig(c, 'env', 0, 'valueFrom', 'secretKeyRef', 'key'), 'key-broker');
    find(pg, 'PersistentVolumeClaim', 'cloister-key-broker-data');
    assert.equal(dig(find(pg, 'PodDisruptionBudget', 'cloister-key-broker'), 'spec', 'maxUnavailable'), 1);
    const sim = await renderInstall(resolveOptions({ certificates: 'cert-manager', simulate: true, storage: 'embedded' }));
    const simArgs = dig(find(sim, 'Deployment', 'cloister-key-broker'), 'spec', 'template', 'spec', 'containers', 0, 'args') as string[];
    assert.ok(simArgs.includes('--data=/var/lib/cloister/data'));
    assert.ok(simArgs.includes('--authority=https://cloister-attestation.cloister-system.svc:8443/simulated'));
    const att = dig(find(sim, 'Deployment', 'cloister-attestation'), 'spec', 'template', 'spec');
    assert.ok((att.containers[0].args as string[]).includes('--trust-root=/etc/cloister/simulated-roots/roots.pem'));
    assert.equal((att.volumes as JsonObject[]).find((v) => v['name'] === 'simulated-roots')?.['configMap'] !== undefined, true);
  });

  it('PodSecurity: services restricted (and their pods meet it), node namespace privileged', async () => {
    const r = await renderInstall(resolveOptions({ certificates: 'cert-manager' }));
    assert.equal(dig(find(r, 'Namespace', 'cloister-system'), 'metadata', 'labels', 'pod-security.kubernetes.io/enforce'), 'restricted');
    assert.equal(dig(find(r, 'Namespace', 'cloister-node'), 'metadata', 'labels', 'pod-security.kubernetes.io/enforce'), 'privileged');
    for (const o of all(r).filter((x) => x['kind'] === 'Deployment')) {
      const c = dig(o, 'spec', 'template', 'spec', 'containers', 0, 'securityContext');
      assert.deepEqual([c.runAsNonRoot, c.allowPrivilegeEscalation, c.readOnlyRootFilesystem, c.capabilities.drop, c.seccompProfile.type], [true, false, true, ['ALL'], 'RuntimeDefault']);
    }
  });

  it('images from registry and tag, with per-image overrides; node resources from one place', async () => {
    const r = await renderInstall(resolveOptions({ registry: 'registry.example/cl/', tag: '9.9', images: { 'key-broker': 'kb.example/kb:1' }, certificates: 'cert-manager' }));
    const image = (kind: string, name: string): string => dig(find(r, kind, name), 'spec', 'template', 'spec', 'containers', 0, 'image');
    assert.equal(image('DaemonSet', 'cloister-node-agent'), 'registry.example/cl/node-agent:9.9');
    assert.equal(image('DaemonSet', 'cloister-quote-helper'), 'registry.example/cl/node-agent:9.9');
    assert.equal(image('Deployment', 'cloister-webhook'), 'registry.example/cl/webhook:9.9');
    assert.equal(image('Deployment', 'cloister-attestation'), 'registry.example/cl/attestation-service:9.9');
    assert.equal(image('Deployment', 'cloister-key-broker'), 'kb.example/kb:1');
    assert.deepEqual(dig(find(r, 'DaemonSet', 'cloister-node-agent'), 'spec', 'template', 'spec', 'containers', 0, 'resources'), {
      requests: NODE_RESOURCES.nodeAgent.requests,
      limits: NODE_RESOURCES.nodeAgent.limits,
    });
  });

  it('--prometheus-operator: ServiceMonitors for the services, PodMonitors for the DaemonSets', async () => {
    const r = await renderInstall(resolveOptions({ prometheusOperator: true, certificates: 'cert-manager' }));
    assert.deepEqual(
      all(r).filter((o) => String(o['apiVersion']).startsWith('monitoring.coreos.com')).map((o) => `${String(o['kind'])}/${String(dig(o, 'metadata', 'name'))}`),
      ['ServiceMonitor/cloister-webhook', 'ServiceMonitor/cloister-attestation', 'ServiceMonitor/cloister-key-broker', 'PodMonitor/cloister-node-agent', 'PodMonitor/cloister-quote-helper'],
    );
  });

  it('--uninstall order: webhook configurations first, namespaces last', async () => {
    const order = uninstallOrder(await renderInstall(resolveOptions({ certificates: 'cert-manager' })));
    assert.deepEqual(order.slice(0, 2).map((o) => o['kind']), ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
    assert.deepEqual(order.slice(-2).map((o) => o['kind']), ['Namespace', 'Namespace']);
    const iDeploy = order.findIndex((o) => o['kind'] === 'Deployment' && dig(o, 'metadata', 'name') === 'cloister-webhook');
    assert.ok(iDeploy > 1);
  });

  it('system namespaces are never rendered, so never relabelled or deleted', async () => {
    const r = await renderInstall(resolveOptions({ nodeNamespace: 'kube-system', certificates: 'cert-manager' }));
    assert.deepEqual(all(r).filter((o) => o['kind'] === 'Namespace').map((o) => dig(o, 'metadata', 'name')), ['cloister-system']);
    assert.equal(dig(find(r, 'DaemonSet', 'cloister-node-agent'), 'metadata', 'namespace'), 'kube-system');
    assert.equal(uninstallOrder(r).some((o) => o['kind'] === 'Namespace' && dig(o, 'metadata', 'name') === 'kube-system'), false);
  });

  it('one namespace for everything: privileged (hostPath), one default-deny policy', async () => {
    const r = await renderInstall(resolveOptions({ namespace: 'cloister', nodeNamespace: 'cloister', certificates: 'cert-manager' }));
    const ns = all(r).filter((o) => o['kind'] === 'Namespace');
    assert.deepEqual(ns.map((o) => [dig(o, 'metadata', 'name'), dig(o, 'metadata', 'labels', 'pod-security.kubernetes.io/enforce')]), [['cloister', 'privileged']]);
    assert.equal(all(r).filter((o) => o['kind'] === 'NetworkPolicy' && dig(o, 'metadata', 'name') === 'cloister-default-deny-ingress').length, 1);
    validateAll(all(r));
  });

  it('the quote helper requests EPC under the name the nodes advertise', async () => {
    const limits = async (o: Partial<InstallOptions>): Promise<unknown> =>
      dig(find(await renderInstall(resolveOptions({ certificates: 'cert-manager', ...o })), 'DaemonSet', 'cloister-quote-helper'), 'spec', 'template', 'spec', 'containers', 0, 'resources', 'limits');
    assert.deepEqual(await limits({}), { cpu: '200m', memory: '192Mi', 'kubernetes.azure.com/sgx_epc_mem_in_MiB': '10', 'sgx.intel.com/provision': '1' });
    assert.deepEqual(await limits({ epcResource: 'intel', parts: ['quote-helper'] }), { cpu: '200m', memory: '192Mi', 'sgx.intel.com/epc': '10Mi', 'sgx.intel.com/provision': '1' });
  });

  it('bad options are refused with INVALID_OPTION', () => {
    for (const bad of [
      { namespace: 'Not_A_Label' },
      { parts: [] },
      { parts: ['nope' as never] },
      { simulatedEpcMiB: 0 },
      { tag: 'a b' },
      { pccsUrl: 'http://insecure' },
      { epcResource: 'intel' as const },
      { kekSecret: 'Bad Name' },
      { certificates: 'cert-manager' as const, ca: { certPem: '', keyPem: '' } },
    ] satisfies Array<Partial<InstallOptions>>) {
      assert.throws(() => resolveOptions(bad), (e: unknown) => e instanceof WebhookError && e.code === 'INVALID_OPTION', JSON.stringify(bad));
    }
  });

  it('--out-dir writes one file per part, in apply order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-install-'));
    try {
      const r = await renderInstall(resolveOptions({ certificates: 'cert-manager', prometheusOperator: true }));
      const files = writeGroups(r.groups, dir, 'yaml');
      assert.deepEqual(readdirSync(dir).sort(), [...files].sort());
      assert.deepEqual(files, [...files].sort(), 'file names sort in apply order');
      assert.equal(files.at(-1), '90-webhook-configurations.yaml');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/ is current', () => {
  it('matches node scripts/render-deploy.mjs output file for file', async () => {
    const root = new URL('../../../../', import.meta.url).pathname;
    const expected = await renderDeploy();
    for (const v of DEPLOY_VARIANTS) {
      const dir = join(root, v.dir);
      assert.ok(existsSync(dir), `${v.dir} exists (run node scripts/render-deploy.mjs)`);
      const present = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => `${v.dir}/${f}`).sort();
      assert.deepEqual(present, [...expected.keys()].filter((k) => k.startsWith(`${v.dir}/`)).sort(), `${v.dir}: the same files`);
    }
    for (const [path, content] of expected) {
      assert.equal(readFileSync(join(root, path), 'utf8'), content, `${path} is stale: run node scripts/render-deploy.mjs`);
    }
    // Every deploy/ manifest validates too.
    validateAll([...expected.values()].flatMap((text) => parseAllDocuments(text).map((d) => d.toJS() as JsonObject)));
  });
});
