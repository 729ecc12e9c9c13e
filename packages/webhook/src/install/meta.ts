/** Labels, security contexts and small object builders shared by the rendered manifests. */
import type { JsonObject } from '../json.js';

export const VERSION = '0.1.0';

export function labels(name: string, component: string): JsonObject {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'cloister',
    'app.kubernetes.io/version': VERSION,
  };
}

export function selector(name: string): JsonObject {
  return { 'app.kubernetes.io/name': name };
}

export function metadata(name: string, namespace: string | undefined, component: string, extra: JsonObject = {}): JsonObject {
  return { name, ...(namespace !== undefined ? { namespace } : {}), labels: labels(name, component), ...extra };
}

/** PodSecurity `restricted` for a container (kubernetes.io/docs/concepts/security/pod-security-standards/#restricted). */
export function restrictedContainer(): JsonObject {
  return {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function restrictedPod(): JsonObject {
  return { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } };
}

/** Spread replicas over nodes (and zones when labelled), never blocking scheduling on a small cluster. */
export function spread(name: string): JsonObject[] {
  return [
    { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector(name) } },
    { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector(name) } },
  ];
}

export function pdb(name: string, namespace: string, component: string, replicas: number): JsonObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(name, namespace, component),
    // With >= 2 replicas keep one serving through voluntary disruptions; with one replica never block a drain.
    spec: replicas >= 2 ? { minAvailable: 1, selector: { matchLabels: selector(name) } } : { maxUnavailable: 1, selector: { matchLabels: selector(name) } },
  };
}

export function serviceAccount(name: string, namespace: string, component: string, automount: boolean): JsonObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(name, namespace, component), automountServiceAccountToken: automount };
}

export function httpProbe(path: string, port: string, scheme: 'HTTP' | 'HTTPS', periodSeconds: number, initialDelaySeconds: number): JsonObject {
  return { httpGet: { path, port, scheme }, initialDelaySeconds, periodSeconds, timeoutSeconds: 3, failureThreshold: 3 };
}
