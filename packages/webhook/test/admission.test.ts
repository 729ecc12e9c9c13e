import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG, planPod, validatePod, type AdmissionConfig, type DenialRule } from '../src/index.js';
import { applyPatch } from './json-patch.js';
import {
  azureAttestedTlsClient,
  azureHelmHelloworld,
  azureSgxTest,
  cloisterHelloworld,
  intelAesmd,
  intelEcdsaJob,
  plainPod,
  podOf,
  type Pod,
} from './fixtures.js';

const AKS = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
const EPC = 'sgx.intel.com/epc';
const ENCLAVE = 'sgx.intel.com/enclave';
const PROVISION = 'sgx.intel.com/provision';
const HOST_VOLUME = { name: 'aesmd-socket', hostPath: { path: '/var/run/aesmd', type: 'DirectoryOrCreate' } };
const ENV = { name: 'SGX_AESM_ADDR', value: '1' };

/** Cloister node agent cluster: nodes advertise the AKS name; Intel-named pods are translated into it. */
const CLOISTER: AdmissionConfig = { translate: 'intel-to-aks', advertised: ['aks'], enclaveResource: true };
/** AKS confcom today: nodes advertise sgx.intel.com/epc; the legacy MiB name is translated into it. */
const CONFCOM: AdmissionConfig = { translate: 'aks-to-intel', advertised: ['intel'], enclaveResource: true };

function annotate(pod: Pod, annotations: Record<string, string>): Pod {
  const meta = pod['metadata'] as Record<string, unknown>;
  return { ...pod, metadata: { ...meta, annotations: { ...((meta['annotations'] as Record<string, string>) ?? {}), ...annotations } } };
}

/** The patch is exact, applying it twice changes nothing, and the webhook plans nothing on its own output. */
function mutate(pod: Pod, config: AdmissionConfig): { patch: unknown[]; out: Pod } {
  const plan = planPod(pod, config);
  assert.deepEqual(plan.denials, []);
  const out = applyPatch(pod, plan.patch);
  assert.deepEqual(applyPatch(out, plan.patch), out, 'applying the patch twice changes nothing');
  const again = planPod(out, config);
  assert.deepEqual(again.patch, [], 're-invocation on the mutated pod plans nothing');
  assert.deepEqual(validatePod(out, config).denials, [], 'the mutated pod passes validation');
  return { patch: [...plan.patch], out };
}

function rules(pod: Pod, config: AdmissionConfig = DEFAULT_CONFIG): DenialRule[] {
  return planPod(pod, config).denials.map((d) => d.rule);
}

describe('mutation: Azure samples', () => {
  it('sgx-test Job (MiB as a JSON number): enclave added next to it, nothing else without an opt-in', () => {
    const { patch } = mutate(azureSgxTest(), DEFAULT_CONFIG);
    assert.deepEqual(patch, [{ op: 'add', path: '/spec/containers/0/resources/limits', value: { [AKS]: 10, [ENCLAVE]: '1' } }]);
  });

  it('sgx-test Job on AKS confcom: 10 MiB becomes sgx.intel.com/epc 10Mi, with a warning', () => {
    const plan = planPod(azureSgxTest(), CONFCOM);
    assert.deepEqual(plan.patch, [{ op: 'add', path: '/spec/containers/0/resources/limits', value: { [EPC]: '10Mi', [ENCLAVE]: '1' } }]);
    assert.match(plan.warnings[0] ?? '', /sgx_epc_mem_in_MiB: 10 -> sgx\.intel\.com\/epc: 10Mi/);
    mutate(azureSgxTest(), CONFCOM);
  });

  it('helloworld Helm template on a Cloister cluster: 10Mi becomes 10 MiB in limits and requests', () => {
    const { patch } = mutate(azureHelmHelloworld(), CLOISTER);
    assert.deepEqual(patch, [
      { op: 'add', path: '/spec/containers/0/resources/limits', value: { [AKS]: '10', [ENCLAVE]: '1' } },
      { op: 'add', path: '/spec/containers/0/resources/requests', value: { [AKS]: '10', [ENCLAVE]: '1' } },
    ]);
  });

  it('helloworld Helm template opting in: the user volume and mount are reused, only the env var is added', () => {
    const { patch, out } = mutate(annotate(azureHelmHelloworld(), { 'cloister.dev/quote-helper': 'true' }), DEFAULT_CONFIG);
    assert.deepEqual(patch, [
      { op: 'add', path: '/spec/containers/0/resources/limits', value: { [EPC]: '10Mi', [ENCLAVE]: '1' } },
      { op: 'add', path: '/spec/containers/0/resources/requests', value: { [EPC]: '10Mi', [ENCLAVE]: '1' } },
      { op: 'add', path: '/spec/containers/0/env', value: [ENV] },
    ]);
    const spec = out['spec'] as { volumes: unknown[]; containers: Array<{ volumeMounts: unknown[] }> };
    assert.equal(spec.volumes.length, 1);
    assert.equal(spec.containers[0]!.volumeMounts.length, 1);
  });

  it('attested_tls client (MiB as a string) translated up for confcom', () => {
    const { patch } = mutate(azureAttestedTlsClient(), CONFCOM);
    assert.deepEqual(patch, [{ op: 'add', path: '/spec/containers/0/resources/limits', value: { [EPC]: '5Mi', [ENCLAVE]: '1' } }]);
  });

  it('sub-MiB Intel quantities round up to whole MiB on a Cloister cluster', () => {
    const plan = planPod(intelEcdsaJob(), CLOISTER);
    const limits = plan.patch.find((p) => p.path.endsWith('/limits'));
    assert.deepEqual(limits?.value, { [AKS]: '1', [ENCLAVE]: '1' });
    assert.match(plan.warnings.join(' '), /rounded up/);
  });
});

describe('mutation: Intel samples', () => {
  it('aesmd DaemonSet pod: enclave + provision for the provider, socket hostPath, env, existing volumes kept', () => {
    const { patch } = mutate(intelAesmd(), DEFAULT_CONFIG);
    assert.deepEqual(patch, [
      { op: 'add', path: '/spec/containers/0/resources/limits', value: { [EPC]: '1Mi', [ENCLAVE]: '1', [PROVISION]: '1' } },
      {
        op: 'add',
        path: '/spec/containers/0/volumeMounts',
        value: [{ name: 'aesmdconf', mountPath: '/etc/aesmd.conf', subPath: 'aesmd.conf' }, { name: 'aesmd-socket', mountPath: '/var/run/aesmd' }],
      },
      { op: 'add', path: '/spec/containers/0/env', value: [ENV] },
      { op: 'add', path: '/spec/volumes', value: [{ name: 'aesmdconf', configMap: { name: 'sgx-aesmd-conf' } }, HOST_VOLUME] },
    ]);
  });

  it('ECDSA quote job under quote-provider aesmd: out-of-process quoting wired, no provision', () => {
    const { patch } = mutate(intelEcdsaJob(), DEFAULT_CONFIG);
    assert.deepEqual(patch, [
      { op: 'add', path: '/spec/containers/0/resources/limits', value: { [EPC]: '512Ki', [ENCLAVE]: '1' } },
      { op: 'add', path: '/spec/containers/0/volumeMounts', value: [{ name: 'aesmd-socket', mountPath: '/var/run/aesmd' }] },
      { op: 'add', path: '/spec/containers/0/env', value: [ENV] },
      { op: 'add', path: '/spec/volumes', value: [HOST_VOLUME] },
    ]);
  });

  it('sidecar mode: an aesmd container beside an app shares an in-memory emptyDir', () => {
    const pod = podOf({
      metadata: { annotations: { 'sgx.intel.com/quote-provider': 'aesmd' } },
      spec: {
        containers: [
          { name: 'app', image: 'app', resources: { limits: { [EPC]: '4Mi' } } },
          { name: 'aesmd', image: 'aesmd', resources: { limits: { [EPC]: '1Mi' } } },
        ],
      },
    });
    const { patch } = mutate(pod, DEFAULT_CONFIG);
    assert.deepEqual(patch.at(-1), { op: 'add', path: '/spec/volumes', value: [{ name: 'aesmd-socket', emptyDir: { medium: 'Memory' } }] });
    assert.deepEqual(patch[3], { op: 'add', path: '/spec/containers/1/resources/limits', value: { [EPC]: '1Mi', [ENCLAVE]: '1', [PROVISION]: '1' } });
  });

  it('in-process provider: the named container gets provision and no AESM wiring', () => {
    const pod = annotate(intelEcdsaJob(), { 'sgx.intel.com/quote-provider': 'intelsgx-demo-job' });
    const { patch } = mutate(pod, DEFAULT_CONFIG);
    assert.deepEqual(patch, [
      { op: 'add', path: '/spec/containers/0/resources/limits', value: { [EPC]: '512Ki', [ENCLAVE]: '1', [PROVISION]: '1' } },
    ]);
  });
});

describe('mutation: user settings, init and multiple containers', () => {
  it('the hand-written helloworld (env, mount, volume present) only gains the enclave resource', () => {
    const { patch } = mutate(annotate(cloisterHelloworld(), { 'cloister.dev/quote-helper': 'true' }), DEFAULT_CONFIG);
    assert.deepEqual(patch, [
      { op: 'add', path: '/spec/containers/0/resources/limits', value: { [AKS]: 10, [ENCLAVE]: '1' } },
      { op: 'add', path: '/spec/containers/0/resources/requests', value: { [AKS]: 10, [ENCLAVE]: '1' } },
    ]);
  });

  it('init container + two containers (one without EPC): each EPC container wired once, user entries kept in order', () => {
    const pod = podOf({
      metadata: { annotations: { 'cloister.dev/quote-helper': 'true' } },
      spec: {
        initContainers: [{ name: 'fetch-keys', image: 'kb', resources: { limits: { [AKS]: '4' } } }],
        containers: [
          {
            name: 'app',
            image: 'app',
            env: [{ name: 'MODE', value: 'prod' }, { name: 'SGX_AESM_ADDR', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } }],
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
            resources: { limits: { [EPC]: '8Mi', cpu: '1' }, requests: { [EPC]: '8Mi', cpu: '500m' } },
          },
          { name: 'proxy', image: 'envoy', resources: { limits: { cpu: '100m' } } },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    });
    const { patch, out } = mutate(pod, DEFAULT_CONFIG);
    assert.deepEqual(patch, [
      { op: 'add', path: '/spec/initContainers/0/resources/limits', value: { [AKS]: '4', [ENCLAVE]: '1' } },
      { op: 'add', path: '/spec/initContainers/0/volumeMounts', value: [{ name: 'aesmd-socket', mountPath: '/var/run/aesmd' }] },
      { op: 'add', path: '/spec/initContainers/0/env', value: [ENV] },
      { op: 'add', path: '/spec/containers/0/resources/limits', value: { [EPC]: '8Mi', cpu: '1', [ENCLAVE]: '1' } },
      { op: 'add', path: '/spec/containers/0/resources/requests', value: { [EPC]: '8Mi', cpu: '500m', [ENCLAVE]: '1' } },
      {
        op: 'add',
        path: '/spec/containers/0/volumeMounts',
        value: [{ name: 'data', mountPath: '/data' }, { name: 'aesmd-socket', mountPath: '/var/run/aesmd' }],
      },
      { op: 'add', path: '/spec/volumes', value: [{ name: 'data', emptyDir: {} }, HOST_VOLUME] },
    ]);
    // The user's own SGX_AESM_ADDR (from a ConfigMap) is left alone, never duplicated.
    const app = (out['spec'] as { containers: Array<{ env: Array<{ name: string }> }> }).containers[0]!;
    assert.equal(app.env.filter((e) => e.name === 'SGX_AESM_ADDR').length, 1);
    const proxy = (out['spec'] as { containers: Array<Record<string, unknown>> }).containers[1]!;
    assert.deepEqual(proxy, { name: 'proxy', image: 'envoy', resources: { limits: { cpu: '100m' } } });
  });

  it('a mount at /var/run/aesmd/ (trailing slash) and an existing hostPath volume under another name are reused', () => {
    const pod = podOf({
      metadata: { annotations: { 'sgx.intel.com/quote-provider': 'aesmd' } },
      spec: {
        containers: [
          { name: 'a', image: 'a', resources: { limits: { [EPC]: '1Mi' } }, volumeMounts: [{ name: 'sock', mountPath: '/var/run/aesmd/' }] },
          { name: 'b', image: 'b', resources: { limits: { [EPC]: '1Mi' } } },
        ],
        volumes: [{ name: 'sock', hostPath: { path: '/var/run/aesmd/', type: 'Directory' } }],
      },
    });
    const { patch } = mutate(pod, DEFAULT_CONFIG);
    assert.deepEqual(
      patch.filter((p) => (p as { path: string }).path.includes('volume')),
      [{ op: 'add', path: '/spec/containers/1/volumeMounts', value: [{ name: 'sock', mountPath: '/var/run/aesmd' }] }],
    );
  });

  it('pods without EPC pass untouched (a stray opt-in only warns)', () => {
    assert.deepEqual(planPod(plainPod(), DEFAULT_CONFIG), { sgx: false, denials: [], changes: [], patch: [], warnings: [] });
    const plan = planPod(annotate(plainPod(), { 'cloister.dev/quote-helper': 'true' }), DEFAULT_CONFIG);
    assert.deepEqual(plan.patch, []);
    assert.match(plan.warnings[0] ?? '', /no effect/);
  });

  it('enclaveResource off: only the opt-in wiring is added', () => {
    const { patch } = mutate(intelEcdsaJob(), { ...DEFAULT_CONFIG, enclaveResource: false });
    assert.equal(patch.some((p) => (p as { path: string }).path.endsWith('/limits')), false);
  });

  it('JSON Pointer escaping: the resource name with "/" never appears unescaped in a path', () => {
    const plan = planPod(azureSgxTest(), DEFAULT_CONFIG);
    for (const op of plan.patch) assert.equal(op.path.split('/').length, 6);
  });
});

describe('denials carry their rule and reason', () => {
  const one = (limits: Record<string, unknown>, requests?: Record<string, unknown>, extra: Record<string, unknown> = {}): Pod =>
    podOf({ spec: { containers: [{ name: 'c', image: 'i', resources: { limits, ...(requests ? { requests } : {}) }, ...extra }] } });

  it('requests differ from limits, or a request has no limit', () => {
    const plan = planPod(one({ [EPC]: '10Mi' }, { [EPC]: '5Mi' }), DEFAULT_CONFIG);
    assert.deepEqual(plan.denials.map((d) => d.rule), ['requests-ne-limits']);
    assert.match(plan.denials[0]!.message, /containers\[0\] "c": sgx\.intel\.com\/epc request "5Mi" differs from its limit "10Mi"/);
    assert.deepEqual(plan.patch, []);
    assert.deepEqual(rules(podOf({ spec: { containers: [{ name: 'c', resources: { requests: { [AKS]: 10 } } }] } })), ['requests-ne-limits']);
    // Equal values written differently are equal.
    assert.deepEqual(rules(one({ [EPC]: '1Mi' }, { [EPC]: '1048576' })), []);
  });

  it('non-integral or malformed quantities', () => {
    assert.deepEqual(rules(one({ [AKS]: '1.5' })), ['not-integral']);
    assert.deepEqual(rules(one({ [EPC]: '0.5' })), ['not-integral']);
    assert.deepEqual(rules(one({ [ENCLAVE]: 'lots' })), ['not-integral']);
    assert.deepEqual(rules(one({ [EPC]: '-1Mi' })), ['not-integral']);
  });

  it('bad annotation values', () => {
    assert.deepEqual(rules(annotate(intelEcdsaJob(), { 'cloister.dev/quote-helper': 'yes' })), ['bad-annotation']);
    const plan = planPod(annotate(intelEcdsaJob(), { 'sgx.intel.com/quote-provider': 'nosuch' }), DEFAULT_CONFIG);
    assert.deepEqual(plan.denials.map((d) => d.rule), ['bad-annotation']);
    assert.match(plan.denials[0]!.message, /"nosuch" names no container/);
  });

  it('in-process and out-of-process quoting at once', () => {
    assert.deepEqual(rules(annotate(intelEcdsaJob(), { 'cloister.dev/quote-helper': 'false' })), ['quoting-mode-conflict']);
    assert.deepEqual(
      rules(annotate(intelEcdsaJob(), { 'sgx.intel.com/quote-provider': 'intelsgx-demo-job', 'cloister.dev/quote-helper': 'true' })),
      ['quoting-mode-conflict'],
    );
    const provider = annotate(one({ [EPC]: '1Mi' }, undefined, { env: [ENV] }), { 'sgx.intel.com/quote-provider': 'c' });
    const plan = planPod(provider, DEFAULT_CONFIG);
    assert.deepEqual(plan.denials.map((d) => d.rule), ['quoting-mode-conflict']);
    assert.match(plan.denials[0]!.message, /sets SGX_AESM_ADDR/);
  });

  it('opt-in with /var/run/aesmd mounted from something else, or the volume name taken', () => {
    const pod = podOf({
      metadata: { annotations: { 'cloister.dev/quote-helper': 'true' } },
      spec: {
        containers: [{ name: 'c', resources: { limits: { [EPC]: '1Mi' } }, volumeMounts: [{ name: 'cfg', mountPath: '/var/run/aesmd' }] }],
        volumes: [{ name: 'cfg', configMap: { name: 'x' } }],
      },
    });
    assert.deepEqual(rules(pod), ['aesm-mount-conflict']);
    const taken = podOf({
      metadata: { annotations: { 'cloister.dev/quote-helper': 'true' } },
      spec: { containers: [{ name: 'c', resources: { limits: { [EPC]: '1Mi' } } }], volumes: [{ name: 'aesmd-socket', secret: { secretName: 's' } }] },
    });
    assert.deepEqual(rules(taken), ['aesm-volume-conflict']);
  });

  it('EPC under a name no node advertises (no translation configured)', () => {
    const plan = planPod(azureHelmHelloworld(), { translate: 'none', advertised: ['aks'], enclaveResource: true });
    assert.deepEqual(plan.denials.map((d) => d.rule), ['epc-name-not-advertised']);
    assert.match(plan.denials[0]!.message, /would stay Pending/);
  });

  it('EPC larger than any node (containers add up; init containers count alone)', () => {
    const config: AdmissionConfig = { ...DEFAULT_CONFIG, maxNodeEpcBytes: () => 64n << 20n };
    const two = podOf({ spec: { containers: [{ name: 'a', resources: { limits: { [AKS]: 40 } } }, { name: 'b', resources: { limits: { [EPC]: '40Mi' } } }] } });
    const plan = planPod(two, config);
    assert.deepEqual(plan.denials.map((d) => d.rule), ['epc-exceeds-node']);
    assert.match(plan.denials[0]!.message, /requests 80Mi of EPC; the largest SGX node advertises 64Mi/);
    const init = podOf({ spec: { initContainers: [{ name: 'i', resources: { limits: { [AKS]: 60 } } }], containers: [{ name: 'a', resources: { limits: { [AKS]: 50 } } }] } });
    assert.deepEqual(rules(init, config), []);
    assert.deepEqual(rules(two, { ...config, maxNodeEpcBytes: () => undefined }), []);
  });

  it('not a pod', () => {
    assert.deepEqual(rules({ spec: { containers: 'x' } } as unknown as Pod), ['invalid-pod']);
    assert.deepEqual(planPod(null, DEFAULT_CONFIG).denials.map((d) => d.rule), ['invalid-pod']);
  });
});

describe('validation of the final object', () => {
  it('an SGX pod the mutating webhook never saw is refused with what is missing', () => {
    const v = validatePod(azureSgxTest(), DEFAULT_CONFIG);
    assert.deepEqual(v.denials.map((d) => d.rule), ['epc-without-enclave']);
    assert.match(v.denials[0]!.message, /no \/dev\/sgx_enclave.*bypassed/);
    const optIn = validatePod(intelEcdsaJob(), { ...DEFAULT_CONFIG, enclaveResource: false });
    assert.deepEqual(optIn.denials.map((d) => d.rule), ['aesm-opt-in-incomplete', 'aesm-opt-in-incomplete', 'aesm-opt-in-incomplete']);
    assert.deepEqual(validatePod(azureHelmHelloworld(), CLOISTER).denials.map((d) => d.rule), ['epc-name-not-advertised', 'epc-without-enclave']);
  });

  it('plain pods and mutated SGX pods pass', () => {
    assert.deepEqual(validatePod(plainPod(), DEFAULT_CONFIG).denials, []);
    for (const make of [azureSgxTest, azureHelmHelloworld, intelAesmd, intelEcdsaJob, cloisterHelloworld]) {
      for (const config of [DEFAULT_CONFIG, CLOISTER, CONFCOM]) {
        const pod = make();
        const out = applyPatch(pod, planPod(pod, config).patch);
        assert.deepEqual(validatePod(out, config).denials, [], `${make.name}`);
      }
    }
  });
});
