/**
 * deploy/kubernetes{,-simulated}/11-quote-helper.yaml (rendered by scripts/render-deploy.mjs) and examples/helloworld/job.yaml: valid against the Kubernetes schemas
 * (kubernetes-models, offline) and in the shape the AKS add-on and its documentation use for out-of-process quoting.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@cloister/testkit';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { parseAllDocuments } from 'yaml';

type Obj = Record<string, unknown>;

const helperFile = join(repoRoot, 'deploy', 'kubernetes', '11-quote-helper.yaml');
const simulatedHelperFile = join(repoRoot, 'deploy', 'kubernetes-simulated', '11-quote-helper.yaml');
const pluginFile = join(repoRoot, 'deploy', 'kubernetes', '10-node-agent.yaml');
const quoteHelperDoc = join(repoRoot, 'docs', 'operators', 'quote-helper.md');
const jobFile = join(repoRoot, 'examples', 'helloworld', 'job.yaml');

function load(file: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
    const obj = doc.toJS() as Obj | null;
    if (obj !== null) out.push(obj);
  }
  return out;
}

function only(file: string, kind: string): Obj {
  const docs = load(file).filter((d) => d['kind'] === kind);
  assert.equal(docs.length, 1, `${file}: one ${kind}`);
  return docs[0] as Obj;
}

function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

const validateDaemonSet = (obj: Obj): void =>
  new DaemonSet(obj as unknown as ConstructorParameters<typeof DaemonSet>[0]).validate();
const validateJob = (obj: Obj): void => new Job(obj as unknown as ConstructorParameters<typeof Job>[0]).validate();

const EPC = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
const PROVISION = 'sgx.intel.com/provision';

describe('deploy/kubernetes/11-quote-helper.yaml', () => {
  const helper = (): Obj => only(helperFile, 'DaemonSet');
  const spec = (): unknown => at(helper(), 'spec', 'template', 'spec');
  const container = (): unknown => at(spec(), 'containers', 0);

  it('is one DaemonSet cloister-quote-helper (and its ServiceAccount) in cloister-node that validates', () => {
    assert.deepEqual(load(helperFile).map((d) => d['kind']), ['ServiceAccount', 'DaemonSet']);
    const ds = helper();
    assert.doesNotThrow(() => validateDaemonSet(ds));
    assert.equal(at(ds, 'metadata', 'name'), 'cloister-quote-helper');
    assert.equal(at(ds, 'metadata', 'namespace'), 'cloister-node');
    assert.deepEqual(at(ds, 'spec', 'selector', 'matchLabels'), { 'app.kubernetes.io/name': 'cloister-quote-helper' });
    assert.equal(at(ds, 'spec', 'template', 'metadata', 'labels', 'app.kubernetes.io/name'), 'cloister-quote-helper');
    // Its selector must not match the device plugin's pods (and the other way round).
    const plugin = only(pluginFile, 'DaemonSet');
    assert.notDeepEqual(at(plugin, 'spec', 'selector', 'matchLabels'), at(ds, 'spec', 'selector', 'matchLabels'));
    assert.equal(at(ds, 'spec', 'updateStrategy', 'rollingUpdate', 'maxSurge'), 0);
  });

  it('schema validation is not vacuous', () => {
    const broken = structuredClone(helper());
    (at(broken, 'spec', 'template', 'spec', 'containers', 0) as Obj)['ports'] = [{ containerPort: 'nine' }];
    assert.throws(() => validateDaemonSet(broken));
  });

  it('runs the agent image as the quote helper, probed on metrics port 9311', () => {
    const c = container();
    assert.equal(at(c, 'image'), 'ghcr.io/cloister/node-agent:0.1.0');
    const args = at(c, 'args') as string[];
    assert.deepEqual(args.slice(0, 3), ['node-agent', '--quote-helper', '--no-device-plugin']);
    assert.ok(args.includes('--metrics-port=9311'));
    assert.equal(at(c, 'ports', 0, 'containerPort'), 9311);
    assert.equal(at(c, 'ports', 0, 'name'), 'metrics');
    assert.equal(at(c, 'livenessProbe', 'httpGet', 'path'), '/healthz');
    assert.equal(at(c, 'readinessProbe', 'httpGet', 'path'), '/readyz');
    for (const probe of ['livenessProbe', 'readinessProbe']) {
      const port = at(c, probe, 'httpGet', 'port');
      assert.ok(port === 9311 || port === 'metrics', `${probe} targets the metrics port`);
    }
  });

  it('requests EPC (limits = requests) and one provision slot for the PCE', () => {
    const r = at(container(), 'resources');
    // Extended resources are Kubernetes quantities (rendered as strings).
    assert.equal(String(at(r, 'requests', EPC)), '10');
    assert.equal(String(at(r, 'limits', EPC)), '10');
    assert.equal(String(at(r, 'requests', PROVISION)), '1');
    assert.equal(String(at(r, 'limits', PROVISION)), '1');
    assert.match(readFileSync(quoteHelperDoc, 'utf8'), /PROVISIONKEY/, 'the provision request is explained');
  });

  it('mounts /var/run/aesmd (and on simulated nodes the platform directory) as DirectoryOrCreate, never device nodes', () => {
    for (const [file, dirs] of [
      [helperFile, ['/var/run/aesmd']],
      [simulatedHelperFile, ['/var/run/aesmd', '/var/lib/cloister/sgx-sim']],
    ] as const) {
      const podSpec = at(only(file, 'DaemonSet'), 'spec', 'template', 'spec');
      const volumes = at(podSpec, 'volumes') as Obj[];
      const mounts = at(podSpec, 'containers', 0, 'volumeMounts') as Obj[];
      const hostPathOf = (path: string): Obj | undefined => volumes.find((v) => at(v, 'hostPath', 'path') === path);
      const mountOf = (volume: Obj | undefined): Obj | undefined => mounts.find((m) => m['name'] === volume?.['name']);
      for (const dir of dirs) {
        const v = hostPathOf(dir);
        assert.equal(at(v, 'hostPath', 'type'), 'DirectoryOrCreate', `${file}: ${dir}`);
        assert.equal(at(mountOf(v), 'mountPath'), dir);
        assert.notEqual(at(mountOf(v), 'readOnly'), true);
      }
    }
    const volumes = [helperFile, simulatedHelperFile].flatMap((f) => at(only(f, 'DaemonSet'), 'spec', 'template', 'spec', 'volumes') as Obj[]);
    for (const v of volumes) {
      const path = String(at(v, 'hostPath', 'path') ?? '');
      assert.doesNotMatch(path, /\.socket$|\.sock$/, 'never mount a socket file');
      assert.doesNotMatch(path, /^\/dev\//, 'device nodes come from the device plugin');
    }
  });

  it('is locked down like the device plugin except for the explained uid 0', () => {
    const sc = at(container(), 'securityContext');
    assert.equal(at(sc, 'runAsUser'), 0);
    assert.notEqual(at(sc, 'privileged'), true);
    assert.equal(at(sc, 'allowPrivilegeEscalation'), false);
    assert.equal(at(sc, 'readOnlyRootFilesystem'), true);
    assert.deepEqual(at(sc, 'capabilities', 'drop'), ['ALL']);
    assert.equal(at(sc, 'capabilities', 'add'), undefined);
    assert.equal(at(sc, 'seccompProfile', 'type'), 'RuntimeDefault');
    assert.notEqual(at(spec(), 'hostNetwork'), true);
    assert.notEqual(at(spec(), 'hostPID'), true);
    assert.equal(at(spec(), 'automountServiceAccountToken'), false);
    assert.match(readFileSync(quoteHelperDoc, 'utf8'), /runs as uid 0/, 'the uid 0 choice is explained');
  });

  it('has the device plugin’s node affinity and tolerations', () => {
    const plugin = at(only(pluginFile, 'DaemonSet'), 'spec', 'template', 'spec');
    assert.deepEqual(at(spec(), 'affinity'), at(plugin, 'affinity'));
    assert.deepEqual(at(spec(), 'tolerations'), at(plugin, 'tolerations'));
  });
});

describe('examples/helloworld/job.yaml', () => {
  const job = (): Obj => only(jobFile, 'Job');
  const podSpec = (): unknown => at(job(), 'spec', 'template', 'spec');

  it('is the Job sgx-helloworld and validates', () => {
    const j = job();
    assert.doesNotThrow(() => validateJob(j));
    assert.equal(at(j, 'metadata', 'name'), 'sgx-helloworld');
    const broken = structuredClone(j);
    (broken['spec'] as Obj)['backoffLimit'] = 'none';
    assert.throws(() => validateJob(broken), 'validation is not vacuous');
  });

  it('has the AKS sample’s shape: EPC limit = request, SGX_AESM_ADDR=1, /var/run/aesmd, Never, backoffLimit 0', () => {
    const spec = podSpec();
    const containers = at(spec, 'containers') as Obj[];
    assert.equal(containers.length, 1);
    const c = containers[0];
    assert.equal(at(c, 'image'), 'ghcr.io/cloister/helloworld:0.1.0');
    assert.equal(at(c, 'resources', 'limits', EPC), 10);
    assert.equal(at(c, 'resources', 'requests', EPC), at(c, 'resources', 'limits', EPC));
    const env = at(c, 'env') as Obj[];
    assert.deepEqual(env.find((e) => e['name'] === 'SGX_AESM_ADDR'), { name: 'SGX_AESM_ADDR', value: '1' });
    const volume = (at(spec, 'volumes') as Obj[]).find((v) => at(v, 'hostPath', 'path') === '/var/run/aesmd');
    assert.ok(volume, 'a hostPath volume of /var/run/aesmd');
    const mount = (at(c, 'volumeMounts') as Obj[]).find((m) => m['name'] === volume['name']);
    assert.equal(at(mount, 'mountPath'), '/var/run/aesmd');
    assert.equal(at(spec, 'restartPolicy'), 'Never');
    assert.equal(at(job(), 'spec', 'backoffLimit'), 0);
    assert.match(readFileSync(jobFile, 'utf8'), /#.*SIMULATED SGX node/, 'says where it runs as shipped');
  });

  it('gets no /dev/sgx_provision: no provision request, no device mount', () => {
    const text = readFileSync(jobFile, 'utf8');
    const instructions = text
      .split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');
    assert.doesNotMatch(instructions, /sgx_provision|sgx\/provision|sgx\.intel\.com\/provision/);
    const c = at(podSpec(), 'containers', 0);
    assert.equal(at(c, 'resources', 'limits', PROVISION), undefined);
    assert.equal(at(c, 'resources', 'requests', PROVISION), undefined);
    for (const v of at(podSpec(), 'volumes') as Obj[]) {
      assert.doesNotMatch(String(at(v, 'hostPath', 'path') ?? ''), /^\/dev\//);
    }
    assert.notEqual(at(c, 'securityContext', 'privileged'), true);
  });
});
