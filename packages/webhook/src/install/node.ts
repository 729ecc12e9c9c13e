/**
 * The node agent DaemonSets: the device plugin and the quote helper (packages/node-agent; docs/operators/device-plugin.md,
 * docs/operators/quote-helper.md). Resource numbers and flags follow the hand-written manifests they replace.
 * Simulated overlay (kind): no /dev/sgx_* CharDevice or /sys hostPaths; the agent makes simulated device files in a
 * per-node hostPath Directory and the quote helper creates a simulated platform per node on first start.
 */
import type { JsonObject } from '../json.js';
import { AKS_EPC, INTEL_EPC, PROVISION } from '../names.js';
import { httpProbe, labels, metadata, selector, serviceAccount } from './meta.js';
import { imageOf, type InstallOptions } from './options.js';

export const NODE_AGENT = 'cloister-node-agent';
export const QUOTE_HELPER = 'cloister-quote-helper';
const SIM_STATE_DIR = '/var/lib/cloister/simulated-sgx';
const SIM_PLATFORM_DIR = '/var/lib/cloister/sgx-sim';

/** Node-side container security: uid 0 without capabilities (kubelet's directories are root-owned). */
function nodeSecurity(): JsonObject {
  return {
    runAsUser: 0,
    runAsGroup: 0,
    runAsNonRoot: false,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function nodeAffinity(o: InstallOptions): JsonObject {
  const expressions: JsonObject[] = [{ key: 'cloister.dev/sgx', operator: 'In', values: ['true'] }];
  // SGX is x86-64 only; a simulated node can be any architecture (kind on arm64 laptops).
  if (!o.simulate) expressions.unshift({ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] });
  return { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: expressions }] } } };
}

const TOLERATIONS: JsonObject[] = [
  // AKS SGX pools may be tainted so only EPC-requesting pods land there; node infrastructure must run anyway.
  { key: AKS_EPC, operator: 'Exists', effect: 'NoSchedule' },
  { key: 'cloister.dev/sgx', operator: 'Exists', effect: 'NoSchedule' },
];

function daemonSet(name: string, component: string, o: InstallOptions, port: number, podSpec: JsonObject): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: metadata(name, o.nodeNamespace, component),
    spec: {
      selector: { matchLabels: selector(name) },
      // One node at a time and never two agents on a node: they would fight over the same sockets.
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      template: {
        metadata: {
          labels: labels(name, component),
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          automountServiceAccountToken: false,
          // Node infrastructure: evicting it takes the node's SGX capacity (or its quoting) away.
          priorityClassName: 'system-node-critical',
          terminationGracePeriodSeconds: 30,
          affinity: nodeAffinity(o),
          tolerations: TOLERATIONS,
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          ...podSpec,
        },
      },
    },
  };
}

export function nodeAgentObjects(o: InstallOptions, resources: NodeResources): JsonObject[] {
  const args = ['node-agent', '--plugin-dir=/var/lib/kubelet/device-plugins', '--metrics-port=9310'];
  const mounts: JsonObject[] = [
    // The DIRECTORY, never the socket files: kubelet recreates sockets (new inodes) when it restarts.
    { name: 'device-plugins', mountPath: '/var/lib/kubelet/device-plugins' },
  ];
  const volumes: JsonObject[] = [{ name: 'device-plugins', hostPath: { path: '/var/lib/kubelet/device-plugins', type: 'Directory' } }];
  if (o.simulate) {
    args.push('--simulate', `--epc-mib=${o.simulatedEpcMiB}`, `--state-dir=${SIM_STATE_DIR}`);
    mounts.push({ name: 'simulated-sgx', mountPath: SIM_STATE_DIR });
    volumes.push({ name: 'simulated-sgx', hostPath: { path: SIM_STATE_DIR, type: 'DirectoryOrCreate' } });
  } else {
    mounts.push(
      // Stat-only, for detection and health: the agent never opens them.
      { name: 'sgx-enclave', mountPath: '/dev/sgx_enclave' },
      { name: 'sgx-provision', mountPath: '/dev/sgx_provision' },
      // EPC per NUMA node: /sys/devices/system/node/node*/x86/sgx_total_bytes.
      { name: 'sys', mountPath: '/sys', readOnly: true },
    );
    volumes.push(
      // CharDevice: the pod does not start on a node without the in-kernel SGX driver, and says which path is missing.
      { name: 'sgx-enclave', hostPath: { path: '/dev/sgx_enclave', type: 'CharDevice' } },
      { name: 'sgx-provision', hostPath: { path: '/dev/sgx_provision', type: 'CharDevice' } },
      { name: 'sys', hostPath: { path: '/sys', type: 'Directory' } },
    );
  }
  return [
    // The agent talks only to kubelet's unix socket, never to the API server: no token, no RBAC.
    serviceAccount(NODE_AGENT, o.nodeNamespace, 'device-plugin', false),
    daemonSet(NODE_AGENT, 'device-plugin', o, 9310, {
      serviceAccountName: NODE_AGENT,
      containers: [
        {
          name: 'node-agent',
          image: imageOf(o, 'node-agent'),
          imagePullPolicy: 'IfNotPresent',
          args,
          ports: [{ name: 'metrics', containerPort: 9310, protocol: 'TCP' }],
          securityContext: nodeSecurity(),
          resources: { requests: { ...resources.nodeAgent.requests }, limits: { ...resources.nodeAgent.limits } },
          livenessProbe: httpProbe('/healthz', 'metrics', 'HTTP', 20, 5),
          readinessProbe: httpProbe('/readyz', 'metrics', 'HTTP', 10, 2),
          volumeMounts: mounts,
        },
      ],
      volumes,
    }),
  ];
}

export function quoteHelperObjects(o: InstallOptions, resources: NodeResources): JsonObject[] {
  const args = ['node-agent', '--quote-helper', '--no-device-plugin', '--metrics-port=9311'];
  const mounts: JsonObject[] = [{ name: 'var-run-aesmd', mountPath: '/var/run/aesmd' }];
  const volumes: JsonObject[] = [{ name: 'var-run-aesmd', hostPath: { path: '/var/run/aesmd', type: 'DirectoryOrCreate' } }];
  if (o.simulate) {
    // The helper creates the simulated platform here when it is missing: one platform per node, kept across restarts.
    args.push('--simulate', `--platform-dir=${SIM_PLATFORM_DIR}`);
    mounts.push({ name: 'sgx-sim-platform', mountPath: SIM_PLATFORM_DIR });
    volumes.push({ name: 'sgx-sim-platform', hostPath: { path: SIM_PLATFORM_DIR, type: 'DirectoryOrCreate' } });
  }
  // EPC for the QE and PCE (integer MiB, limits = requests) and /dev/sgx_provision for the PCE's PROVISIONKEY.
  // Under the EPC name the nodes advertise (an Intel-plugin node counts bytes: 10 MiB = "10Mi").
  const sgx: Record<string, string> = o.epcResource === 'aks' ? { [AKS_EPC]: '10', [PROVISION]: '1' } : { [INTEL_EPC]: '10Mi', [PROVISION]: '1' };
  const r = resources.quoteHelper;
  return [
    serviceAccount(QUOTE_HELPER, o.nodeNamespace, 'quote-helper', false),
    daemonSet(QUOTE_HELPER, 'quote-helper', o, 9311, {
      serviceAccountName: QUOTE_HELPER,
      containers: [
        {
          name: 'quote-helper',
          image: imageOf(o, 'node-agent'),
          imagePullPolicy: 'IfNotPresent',
          args,
          ports: [{ name: 'metrics', containerPort: 9311, protocol: 'TCP' }],
          securityContext: nodeSecurity(),
          resources: { requests: { ...r.requests, ...sgx }, limits: { ...r.limits, ...sgx } },
          livenessProbe: httpProbe('/healthz', 'metrics', 'HTTP', 20, 5),
          // Ready when the AESM socket answers: the helper's own server, or Intel's aesmd as probed.
          readinessProbe: httpProbe('/readyz', 'metrics', 'HTTP', 10, 2),
          volumeMounts: mounts,
        },
      ],
      volumes,
    }),
  ];
}

export interface ContainerResources {
  readonly requests: Readonly<Record<string, string>>;
  readonly limits: Readonly<Record<string, string>>;
}

export interface NodeResources {
  readonly nodeAgent: ContainerResources;
  readonly quoteHelper: ContainerResources;
}

/**
 * CPU/memory of the node containers (measured by bench/device-plugin and bench/quote-helper: the agent idles near
 * 62 MB RSS). Kept in one place so an adjustment is one edit here and `node scripts/render-deploy.mjs`.
 */
export const NODE_RESOURCES: NodeResources = {
  // bench/device-plugin: idle RSS 64 MB, peak (VmHWM) 113 MiB under 10,000 Allocate calls; limit 1.7x the peak.
  nodeAgent: { requests: { cpu: '10m', memory: '80Mi' }, limits: { cpu: '100m', memory: '192Mi' } },
  // bench/quote-helper: peak RSS 100 MiB with 64 concurrent clients and 256 slow connections; limit about 2x.
  quoteHelper: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '200m', memory: '192Mi' } },
};
