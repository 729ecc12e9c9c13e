/**
 * Pod shapes of public SGX samples, rebuilt from their sources as recorded in ../shared/reference/kubernetes-node.md
 * (§2.5, §2.6, §3.4) — the pod templates the API server would hand the webhook for them:
 *  - Azure-Samples/confidential-computing containersamples/helloworld/helloworld_with_node_selector.yaml (Job sgx-test)
 *  - Azure-Samples/confidential-computing containersamples/helloworld/helm/templates/helloworld.yaml (Job oe-helloworld)
 *  - Azure-Samples/confidential-computing attested_tls client Job (kubernetes.azure.com/sgx_epc_mem_in_MiB: "5")
 *  - intel/intel-device-plugins-for-kubernetes deployments/sgx_aesmd/base/intel-sgx-aesmd.yaml (aesmd DaemonSet pod)
 *  - intel/intel-device-plugins-for-kubernetes sgx_ecdsa_aesmd_quote overlay (an SGX job with quote-provider: aesmd)
 *  - examples/helloworld/job.yaml of this repository (mount + env already written by hand)
 */
export type Pod = Record<string, unknown>;

export function podOf(template: { metadata?: Record<string, unknown>; spec: Record<string, unknown> }, namespace = 'default'): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'job-', namespace, ...(template.metadata ?? {}) }, spec: template.spec };
}

/** Job `sgx-test`: node affinity on the acc pools, EPC in integer MiB (a JSON number, as YAML `10` decodes). */
export const azureSgxTest = (): Pod =>
  podOf({
    metadata: { labels: { app: 'sgx-test' } },
    spec: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'agentpool', operator: 'In', values: ['acc', 'acc_second'] }] }],
          },
        },
      },
      containers: [
        {
          name: 'sgx-test',
          image: 'oeciteam/oe-helloworld:1.0',
          command: ['/helloworld/host/helloworld_host', '/helloworld/enclave/helloworld_enc.signed'],
          volumeMounts: [{ name: 'var-run-aesmd', mountPath: '/var/run/aesmd' }],
          resources: { limits: { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': 10 } },
        },
      ],
      volumes: [{ name: 'var-run-aesmd', hostPath: { path: '/var/run/aesmd' } }],
      restartPolicy: 'Never',
    },
  });

/** Helm template `oe-helloworld`: sgx.intel.com/epc "10Mi" in limits and requests, hostPath var-run-aesmd. */
export const azureHelmHelloworld = (): Pod =>
  podOf({
    metadata: { labels: { app: 'oe-helloworld' } },
    spec: {
      containers: [
        {
          name: 'oe-helloworld',
          image: 'mcr.microsoft.com/acc/samples/oe-helloworld:1.1',
          resources: { limits: { 'sgx.intel.com/epc': '10Mi' }, requests: { 'sgx.intel.com/epc': '10Mi' } },
          volumeMounts: [{ name: 'var-run-aesmd', mountPath: '/var/run/aesmd' }],
        },
      ],
      volumes: [{ name: 'var-run-aesmd', hostPath: { path: '/var/run/aesmd' } }],
      restartPolicy: 'Never',
    },
  });

/** attested_tls client Job: the AKS name as a quoted string. */
export const azureAttestedTlsClient = (): Pod =>
  podOf({
    spec: {
      containers: [
        {
          name: 'attested-tls-client',
          image: 'mcr.microsoft.com/acc/samples/attested-tls-client:1.0',
          resources: { limits: { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': '5' } },
        },
      ],
      restartPolicy: 'Never',
    },
  });

/** Intel's aesmd DaemonSet pod: annotation quote-provider aesmd, container named aesmd, 1Mi EPC. */
export const intelAesmd = (): Pod =>
  podOf(
    {
      metadata: { labels: { app: 'intel-sgx-aesmd' }, annotations: { 'sgx.intel.com/quote-provider': 'aesmd' } },
      spec: {
        containers: [
          {
            name: 'aesmd',
            image: 'intel/sgx-aesmd-demo:devel',
            resources: { limits: { 'sgx.intel.com/epc': '1Mi' } },
            volumeMounts: [{ name: 'aesmdconf', mountPath: '/etc/aesmd.conf', subPath: 'aesmd.conf' }],
          },
        ],
        volumes: [{ name: 'aesmdconf', configMap: { name: 'sgx-aesmd-conf' } }],
      },
    },
    'kube-system-like',
  );

/** An SGX SDK sample job under Intel's sgx_ecdsa_aesmd_quote overlay (commonAnnotations quote-provider: aesmd). */
export const intelEcdsaJob = (): Pod =>
  podOf({
    metadata: { annotations: { 'sgx.intel.com/quote-provider': 'aesmd' } },
    spec: {
      containers: [
        {
          name: 'intelsgx-demo-job',
          image: 'intel/sgx-sdk-demo:devel',
          workingDir: '/opt/intel/sgx-sample-apps/sgx_ecdsa_quote',
          command: ['/opt/intel/sgx-sample-apps/sgx_ecdsa_quote/app'],
          resources: { limits: { 'sgx.intel.com/epc': '512Ki' } },
        },
      ],
      restartPolicy: 'OnFailure',
    },
  });

/** examples/helloworld/job.yaml: env and mount already present. */
export const cloisterHelloworld = (): Pod =>
  podOf({
    metadata: { labels: { 'app.kubernetes.io/name': 'sgx-helloworld' } },
    spec: {
      containers: [
        {
          name: 'sgx-helloworld',
          image: 'ghcr.io/cloister/helloworld:0.1.0',
          resources: {
            limits: { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': 10 },
            requests: { 'kubernetes.azure.com/sgx_epc_mem_in_MiB': 10 },
          },
          env: [{ name: 'SGX_AESM_ADDR', value: '1' }],
          volumeMounts: [{ name: 'var-run-aesmd', mountPath: '/var/run/aesmd' }],
        },
      ],
      volumes: [{ name: 'var-run-aesmd', hostPath: { path: '/var/run/aesmd' } }],
      restartPolicy: 'Never',
    },
  });

/** A non-SGX pod: must pass untouched. */
export const plainPod = (): Pod =>
  podOf({ spec: { containers: [{ name: 'web', image: 'nginx:1.27', resources: { limits: { cpu: '1', memory: '128Mi' } } }] } });

export function review(pod: Pod, uid = '705ab4f5-6393-11e8-b7cc-42010a800002', operation = 'CREATE'): Record<string, unknown> {
  const meta = pod['metadata'] as Record<string, unknown>;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: meta['namespace'],
      operation,
      userInfo: { username: 'system:serviceaccount:kube-system:job-controller', groups: ['system:serviceaccounts'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}
