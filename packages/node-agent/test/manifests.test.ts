import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@cloister/testkit';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

// The rendered manifests (scripts/render-deploy.mjs from packages/webhook/src/install); the hardware variant.
const deployDir = join(repoRoot, 'deploy', 'kubernetes');
const AGENT_FILE = '10-node-agent.yaml';
const dockerfile = join(repoRoot, 'deploy', 'docker', 'node-agent.Dockerfile');

type Obj = Record<string, unknown>;

function loadAll(): { file: string; obj: Obj }[] {
  const out: { file: string; obj: Obj }[] = [];
  for (const file of [AGENT_FILE]) { // 11-quote-helper.yaml: test/quote-helper-manifests.test.ts
    for (const doc of parseAllDocuments(readFileSync(join(deployDir, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const obj = doc.toJS() as Obj | null;
      if (obj !== null) out.push({ file, obj });
    }
  }
  return out;
}

/** Validates offline against the Kubernetes OpenAPI schemas shipped with kubernetes-models (throws on errors). */
function validate(obj: Obj): void {
  const kind = `${String(obj['apiVersion'])}/${String(obj['kind'])}`;
  switch (kind) {
    case 'apps/v1/DaemonSet':
      new DaemonSet(obj as unknown as ConstructorParameters<typeof DaemonSet>[0]).validate();
      return;
    case 'v1/ServiceAccount':
      new ServiceAccount(obj as unknown as ConstructorParameters<typeof ServiceAccount>[0]).validate();
      return;
    default:
      assert.fail(`no validator for ${kind}: add it to manifests.test.ts`);
  }
}

/** Narrow access to nested fields without a cascade of casts. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

function daemonSet(): Obj {
  const ds = loadAll().find((d) => d.obj['kind'] === 'DaemonSet');
  assert.ok(ds, 'a DaemonSet');
  return ds.obj;
}

describe('deploy/kubernetes/10-node-agent.yaml', () => {
  it('parse and validate against the Kubernetes schemas, all in cloister-node', () => {
    const docs = loadAll();
    assert.deepEqual(docs.map((d) => d.obj['kind']).sort(), ['DaemonSet', 'ServiceAccount']);
    for (const { file, obj } of docs) {
      assert.doesNotThrow(() => validate(obj), `${file}: ${String(obj['kind'])}`);
      assert.equal(at(obj, 'metadata', 'namespace'), 'cloister-node');
      assert.equal(at(obj, 'metadata', 'labels', 'app.kubernetes.io/name'), 'cloister-node-agent');
    }
  });

  it('schema validation is not vacuous', () => {
    const broken = structuredClone(daemonSet());
    (at(broken, 'spec', 'template', 'spec', 'containers', 0) as Obj)['ports'] = [{ containerPort: 'nine' }];
    assert.throws(() => validate(broken));
  });

  it('runs the agent with the documented image, args, probes and resources', () => {
    const ds = daemonSet();
    assert.equal(at(ds, 'metadata', 'name'), 'cloister-node-agent');
    const spec = at(ds, 'spec', 'template', 'spec');
    const c = at(spec, 'containers', 0);
    assert.equal(at(c, 'image'), 'ghcr.io/cloister/node-agent:0.1.0');
    assert.deepEqual(at(c, 'args'), ['node-agent', '--plugin-dir=/var/lib/kubelet/device-plugins', '--metrics-port=9310']);
    assert.equal(at(c, 'ports', 0, 'containerPort'), 9310);
    assert.equal(at(c, 'livenessProbe', 'httpGet', 'path'), '/healthz');
    assert.equal(at(c, 'readinessProbe', 'httpGet', 'path'), '/readyz');
    for (const probe of ['livenessProbe', 'readinessProbe']) {
      const port = at(c, probe, 'httpGet', 'port');
      assert.ok(port === 9310 || port === at(c, 'ports', 0, 'name'), `${probe} targets the metrics port`);
    }
    // Limit above the peak RSS bench/device-plugin measures (113 MiB), request above the idle agent (64 MB).
    assert.deepEqual(at(c, 'resources'), {
      requests: { cpu: '10m', memory: '80Mi' },
      limits: { cpu: '100m', memory: '192Mi' },
    });
    assert.equal(at(spec, 'priorityClassName'), 'system-node-critical');
    assert.equal(at(ds, 'spec', 'updateStrategy', 'type'), 'RollingUpdate');
    assert.equal(at(ds, 'spec', 'updateStrategy', 'rollingUpdate', 'maxUnavailable'), 1);
    assert.deepEqual(at(ds, 'spec', 'selector', 'matchLabels'), { 'app.kubernetes.io/name': 'cloister-node-agent' });
    assert.equal(at(ds, 'spec', 'template', 'metadata', 'labels', 'app.kubernetes.io/name'), 'cloister-node-agent');
  });

  it('is locked down except for the documented uid 0', () => {
    const spec = at(daemonSet(), 'spec', 'template', 'spec');
    const sc = at(spec, 'containers', 0, 'securityContext');
    assert.equal(at(sc, 'runAsUser'), 0);
    assert.equal(at(sc, 'allowPrivilegeEscalation'), false);
    assert.equal(at(sc, 'readOnlyRootFilesystem'), true);
    assert.notEqual(at(sc, 'privileged'), true);
    assert.deepEqual(at(sc, 'capabilities', 'drop'), ['ALL']);
    assert.equal(at(sc, 'capabilities', 'add'), undefined);
    assert.equal(at(sc, 'seccompProfile', 'type'), 'RuntimeDefault');
    assert.notEqual(at(spec, 'hostNetwork'), true);
    assert.notEqual(at(spec, 'hostPID'), true);
    assert.equal(at(spec, 'automountServiceAccountToken'), false);
    // Rendered YAML carries no comments: the uid 0 choice is explained where the renderer sets it.
    const renderer = readFileSync(join(repoRoot, 'packages', 'webhook', 'src', 'install', 'node.ts'), 'utf8');
    assert.match(renderer, /uid 0 .*kubelet's directories are root-owned/, 'the uid 0 choice is explained');
  });

  it('mounts the plugin DIRECTORY, the SGX char devices and /sys read-only', () => {
    const spec = at(daemonSet(), 'spec', 'template', 'spec');
    const volumes = at(spec, 'volumes') as Obj[];
    const mounts = at(spec, 'containers', 0, 'volumeMounts') as Obj[];
    const hostPathOf = (path: string): Obj | undefined => volumes.find((v) => at(v, 'hostPath', 'path') === path);
    const mountOf = (volume: Obj | undefined): Obj | undefined => mounts.find((m) => m['name'] === volume?.['name']);

    const plugins = hostPathOf('/var/lib/kubelet/device-plugins');
    assert.equal(at(plugins, 'hostPath', 'type'), 'Directory');
    assert.equal(at(mountOf(plugins), 'mountPath'), '/var/lib/kubelet/device-plugins');
    assert.notEqual(at(mountOf(plugins), 'readOnly'), true);
    for (const v of volumes) {
      assert.doesNotMatch(String(at(v, 'hostPath', 'path') ?? ''), /\.sock$/, 'never mount a socket file');
    }
    for (const dev of ['/dev/sgx_enclave', '/dev/sgx_provision']) {
      const v = hostPathOf(dev);
      assert.equal(at(v, 'hostPath', 'type'), 'CharDevice', dev);
      assert.equal(at(mountOf(v), 'mountPath'), dev);
    }
    const sys = hostPathOf('/sys');
    assert.equal(at(sys, 'hostPath', 'type'), 'Directory');
    assert.equal(at(mountOf(sys), 'readOnly'), true);
  });

  it('schedules on amd64 SGX-labelled nodes and tolerates the SGX taint', () => {
    const spec = at(daemonSet(), 'spec', 'template', 'spec');
    const terms = at(spec, 'affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms') as Obj[];
    assert.ok(terms.length >= 1);
    for (const term of terms) {
      const exprs = term['matchExpressions'] as Obj[];
      assert.ok(exprs.some((e) => e['key'] === 'kubernetes.io/arch' && e['operator'] === 'In' && JSON.stringify(e['values']) === '["amd64"]'));
      assert.ok(exprs.some((e) => e['key'] === 'cloister.dev/sgx' && e['operator'] === 'In' && JSON.stringify(e['values']) === '["true"]'));
    }
    const tolerations = at(spec, 'tolerations') as Obj[];
    assert.ok(
      tolerations.some(
        (t) => t['key'] === 'kubernetes.azure.com/sgx_epc_mem_in_MiB' && t['effect'] === 'NoSchedule' && t['operator'] === 'Exists',
      ),
    );
  });
});

describe('deploy/docker/node-agent.Dockerfile', () => {
  const text = existsSync(dockerfile) ? readFileSync(dockerfile, 'utf8') : '';
  // Instructions only (comments may mention anything).
  const instructions = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');

  it('exists and is a multi-stage build on a pinned Node 20 image', () => {
    assert.ok(existsSync(dockerfile), dockerfile);
    assert.match(instructions, /^ARG BUILD_IMAGE=node:20\.\d+\.\d+-bookworm-slim$/m);
    assert.match(instructions, /^FROM \$\{BUILD_IMAGE\} AS build$/m);
    assert.ok((instructions.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
    assert.match(instructions, /npm ci/);
    assert.match(instructions, /npm run build/);
    assert.match(instructions, /npm prune --omit=dev/);
    assert.match(instructions, /packages\/cli\/dist\/src\/bin\.js/);
    assert.match(instructions, /ENTRYPOINT .*packages\/cli\/dist\/src\/bin\.js/);
  });

  it('fetches no binaries over the network and drops root in the image', () => {
    assert.doesNotMatch(instructions, /\b(curl|wget)\b/);
    assert.doesNotMatch(instructions, /^ADD\s+https?:/im);
    assert.doesNotMatch(instructions, /git clone/);
    const users = instructions.match(/^USER\s+(\S+)/gm) ?? [];
    assert.ok(users.length > 0 && !/USER\s+(root|0)(:|$)/.test(users[users.length - 1] ?? ''), 'final USER is not root');
  });
});
