import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_CONFIG, planPod, validatePod, type AdmissionConfig } from '../src/index.js';
import { applyPatch } from './json-patch.js';

const AKS = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
const EPC = 'sgx.intel.com/epc';
const CONFIGS: AdmissionConfig[] = [
  DEFAULT_CONFIG,
  { translate: 'intel-to-aks', advertised: ['aks'], enclaveResource: true },
  { translate: 'aks-to-intel', advertised: ['intel'], enclaveResource: true },
  { translate: 'none', advertised: ['aks', 'intel'], enclaveResource: false },
];

const epcLimits = fc.oneof(
  fc.constant({}),
  fc.record({ [AKS]: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 64 }).map(String)) }),
  fc.record({ [EPC]: fc.constantFrom('512Ki', '1Mi', '10Mi', '1536Ki', '1048576', '3M') }),
  fc.record({ [EPC]: fc.constantFrom('1Mi', '4Mi'), 'sgx.intel.com/enclave': fc.constant('1') }),
);

const container = (name: string): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      limits: epcLimits,
      requests: fc.constantFrom('none', 'same', 'cpu'),
      env: fc.constantFrom('none', 'aesm', 'other'),
      mount: fc.constantFrom('none', 'aesmd', 'data'),
    })
    .map(({ limits, requests, env, mount }) => ({
      name,
      image: 'img',
      resources: {
        limits: { cpu: '1', ...limits },
        ...(requests === 'same' ? { requests: { cpu: '1', ...limits } } : requests === 'cpu' ? { requests: { cpu: '500m' } } : {}),
      },
      ...(env === 'aesm' ? { env: [{ name: 'SGX_AESM_ADDR', value: 'yes' }] } : env === 'other' ? { env: [{ name: 'A', value: 'b' }] } : {}),
      ...(mount === 'aesmd' ? { volumeMounts: [{ name: 'var-run-aesmd', mountPath: '/var/run/aesmd' }] } : mount === 'data' ? { volumeMounts: [{ name: 'data', mountPath: '/data' }] } : {}),
    }));

const pod = fc
  .uniqueArray(fc.constantFrom('app', 'aesmd', 'proxy', 'worker', 'init-a', 'init-b'), { minLength: 1, maxLength: 4 })
  .chain((names) =>
    fc.record({
      containers: fc.tuple(...names.map(container)),
      initCount: fc.integer({ min: 0, max: Math.max(0, names.length - 1) }),
      provider: fc.option(fc.constantFrom('aesmd', ...names)),
      helper: fc.option(fc.constantFrom('true', 'false')),
      volumes: fc.subarray([
        { name: 'var-run-aesmd', hostPath: { path: '/var/run/aesmd' } },
        { name: 'data', emptyDir: {} },
      ]),
    }),
  )
  .map(({ containers, initCount, provider, helper, volumes }) => {
    const annotations: Record<string, string> = {};
    if (provider !== null) annotations['sgx.intel.com/quote-provider'] = provider;
    if (helper !== null) annotations['cloister.dev/quote-helper'] = helper;
    // A pod referencing a volume it lacks is refused by the API server before any webhook: keep them consistent.
    const names = new Set(volumes.map((v) => v.name));
    const fix = (c: Record<string, unknown>): Record<string, unknown> => {
      const m = c['volumeMounts'] as Array<{ name: string }> | undefined;
      return m !== undefined && !names.has(m[0]!.name) ? { ...c, volumeMounts: undefined } : c;
    };
    const all = containers.map(fix).map((c) => JSON.parse(JSON.stringify(c)) as Record<string, unknown>);
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default', annotations },
      spec: { initContainers: all.slice(0, initCount), containers: all.slice(initCount), volumes },
    };
  })
  .filter((p) => p.spec.containers.length > 0);

describe('properties over generated pods', () => {
  it('a plan is a refusal or an idempotent patch whose result validates and plans nothing more', () => {
    const seen = { denied: 0, patched: 0, aesm: 0 };
    fc.assert(
      fc.property(pod, fc.constantFrom(...CONFIGS), (p, config) => {
        const plan = planPod(p, config);
        if (plan.denials.length > 0) {
          seen.denied++;
          assert.deepEqual(plan.patch, []);
          for (const d of plan.denials) assert.ok(d.message.length > 0);
          return;
        }
        if (plan.patch.length > 0) seen.patched++;
        if (plan.changes.some((c) => c.kind === 'aesm-env' || c.kind === 'aesm-mount')) seen.aesm++;
        const out = applyPatch(p, plan.patch);
        assert.deepEqual(applyPatch(out, plan.patch), out);
        const again = planPod(out, config);
        assert.deepEqual([again.denials, again.patch], [[], []]);
        assert.deepEqual(validatePod(out, config).denials, []);
        const spec = out['spec'] as Record<string, Array<Record<string, unknown>>>;
        for (const c of [...(spec['initContainers'] ?? []), ...(spec['containers'] ?? [])]) {
          const env = (c['env'] as Array<{ name: string }> | undefined) ?? [];
          const mounts = (c['volumeMounts'] as Array<{ mountPath: string }> | undefined) ?? [];
          assert.ok(env.filter((e) => e.name === 'SGX_AESM_ADDR').length <= 1, 'SGX_AESM_ADDR at most once');
          assert.ok(mounts.filter((m) => m.mountPath === '/var/run/aesmd').length <= 1, '/var/run/aesmd mounted at most once');
        }
        const vols = (spec['volumes'] ?? []).map((v) => v['name']);
        assert.equal(new Set(vols).size, vols.length, 'volume names unique');
      }),
      { numRuns: 400 },
    );
    // The generator reaches every branch: refusals, patches, and out-of-process wiring.
    assert.ok(seen.denied > 20 && seen.patched > 50 && seen.aesm > 20, JSON.stringify(seen));
  });
});
