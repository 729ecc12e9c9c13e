/**
 * The admission decision for one Pod: what to add so its SGX containers can run an enclave, or why it is refused.
 * Rules (../shared/reference/attestation-service-and-key-release.md §5, kubernetes-node.md §2.5, §3):
 *  - a container "requests EPC" when kubernetes.azure.com/sgx_epc_mem_in_MiB or sgx.intel.com/epc is in its limits
 *    or requests with a value > 0 (init containers too: Intel's webhook skips them, their enclaves need the same);
 *  - such a container gets sgx.intel.com/enclave: 1, and sgx.intel.com/provision: 1 when the pod's
 *    sgx.intel.com/quote-provider annotation names it (in-process quoting);
 *  - when the pod opts in to out-of-process quoting (sgx.intel.com/quote-provider: aesmd, or cloister.dev/quote-helper:
 *    "true"), each such container gets a mount of /var/run/aesmd and SGX_AESM_ADDR=1, and the pod one volume for it
 *    (hostPath /var/run/aesmd DirectoryOrCreate; emptyDir Memory when an `aesmd` sidecar shares it, as Intel does),
 *    each only when the user has not already provided it;
 *  - EPC names are translated in the configured direction, converting MiB <-> bytes.
 */
import type { AdmissionConfig } from './config.js';
import { arrayAt, isObject, objectAt, pointer, stringAt, type JsonObject, type JsonValue } from './json.js';
import {
  AESMD_DIR,
  AESMD_VOLUME,
  AESM_ENV,
  AKS_EPC,
  ENCLAVE,
  EPC_RESOURCE,
  INTEL_EPC,
  MIB,
  PROVISION,
  QUOTE_HELPER_ANNOTATION,
  QUOTE_PROVIDER_ANNOTATION,
  type EpcName,
} from './names.js';
import type { PatchOperation } from './patch.js';
import { formatBytes, isIntegral, parseQuantity, quantityEquals, type Quantity } from './quantity.js';
import { WebhookError } from './errors.js';

/** Why a pod is refused; stable strings for callers, metrics and tests. */
export type DenialRule =
  | 'invalid-pod' // the object is not a pod spec this webhook can read
  | 'requests-ne-limits' // an SGX extended resource whose request differs from (or lacks) its limit
  | 'not-integral' // an SGX resource quantity that is not a whole non-negative number (bytes, MiB, slots)
  | 'bad-annotation' // an opt-in annotation with a value it cannot have
  | 'quoting-mode-conflict' // both in-process and out-of-process quoting asked for
  | 'aesm-mount-conflict' // /var/run/aesmd mounted from a volume that is not the AESM socket directory
  | 'aesm-volume-conflict' // the volume name the webhook needs is taken by another kind of volume
  | 'epc-name-not-advertised' // EPC requested under a name no node advertises (and no translation configured)
  | 'epc-without-enclave' // EPC without sgx.intel.com/enclave (validation: the mutating webhook did not run)
  | 'provision-missing' // the named quote provider lacks sgx.intel.com/provision (validation)
  | 'aesm-opt-in-incomplete' // opted in to out-of-process quoting but mount/env/volume missing (validation)
  | 'epc-exceeds-node'; // the pod's EPC is larger than any node advertises

export interface Denial {
  readonly rule: DenialRule;
  readonly message: string;
}

export type ChangeKind = 'translate' | 'enclave' | 'provision' | 'aesm-mount' | 'aesm-env' | 'aesm-volume';

export interface Change {
  readonly kind: ChangeKind;
  /** `containers[0] "app"` style location, or `pod`. */
  readonly where: string;
  readonly detail: string;
}

export interface Plan {
  /** Whether any container requests EPC. */
  readonly sgx: boolean;
  readonly denials: readonly Denial[];
  readonly changes: readonly Change[];
  readonly patch: readonly PatchOperation[];
  readonly warnings: readonly string[];
}

const LISTS = ['initContainers', 'containers'] as const;
type ListName = (typeof LISTS)[number];

interface ContainerRef {
  readonly list: ListName;
  readonly index: number;
  readonly name: string;
  readonly c: JsonObject;
  readonly where: string;
}

const norm = (p: string): string => (p.length > 1 ? p.replace(/\/+$/, '') : p);

function isAesmVolume(v: JsonObject): 'hostPath' | 'emptyDir' | undefined {
  const hp = objectAt(v, 'hostPath');
  if (hp !== undefined) return norm(stringAt(hp, 'path') ?? '') === AESMD_DIR ? 'hostPath' : undefined;
  if (objectAt(v, 'emptyDir') !== undefined) return 'emptyDir';
  return undefined;
}

/** Effective EPC of one container in bytes (both names count), or undefined when it requests none. */
function containerEpc(res: JsonObject | undefined): bigint | undefined {
  let total = 0n;
  let any = false;
  for (const [name, factor] of [[AKS_EPC, MIB], [INTEL_EPC, 1n]] as const) {
    const v = objectAt(res, 'limits')?.[name] ?? objectAt(res, 'requests')?.[name];
    if (v === undefined) continue;
    const q = parseQuantity(v);
    if (q.num > 0n) {
      any = true;
      total += (q.num * factor + q.den - 1n) / q.den;
    }
  }
  return any ? total : undefined;
}

function isSgxResource(name: string): boolean {
  return name === AKS_EPC || name.startsWith('sgx.intel.com/');
}

/** Requests = limits and integral quantities for every SGX resource of a container (Intel containers.go rule). */
function checkResources(ref: ContainerRef, denials: Denial[]): boolean {
  const res = objectAt(ref.c, 'resources');
  const limits = objectAt(res, 'limits') ?? {};
  const requests = objectAt(res, 'requests') ?? {};
  let ok = true;
  for (const name of new Set([...Object.keys(limits), ...Object.keys(requests)])) {
    if (!isSgxResource(name)) continue;
    const parsed: Array<Quantity | undefined> = [];
    for (const [which, m] of [['limit', limits], ['request', requests]] as const) {
      const v = m[name];
      if (v === undefined) {
        parsed.push(undefined);
        continue;
      }
      let q: Quantity;
      try {
        q = parseQuantity(v);
      } catch (e) {
        if (!WebhookError.is(e)) throw e;
        denials.push({ rule: 'not-integral', message: `${ref.where}: ${which} of ${name} is not a quantity (${e.message})` });
        ok = false;
        parsed.push(undefined);
        continue;
      }
      if (!isIntegral(q) || q.num < 0n) {
        denials.push({
          rule: 'not-integral',
          message: `${ref.where}: ${which} of ${name} is ${JSON.stringify(v)}; SGX resources are whole non-negative counts (${name === INTEL_EPC ? 'bytes' : name === AKS_EPC ? 'MiB' : 'slots'})`,
        });
        ok = false;
      }
      parsed.push(q);
    }
    const [limit, request] = parsed;
    if (requests[name] !== undefined && limits[name] === undefined) {
      denials.push({
        rule: 'requests-ne-limits',
        message: `${ref.where}: ${name} is requested without a limit; extended resources cannot be overcommitted, set limits.${name} equal to the request`,
      });
      ok = false;
    } else if (limit !== undefined && request !== undefined && !quantityEquals(limit, request)) {
      denials.push({
        rule: 'requests-ne-limits',
        message: `${ref.where}: ${name} request ${JSON.stringify(requests[name])} differs from its limit ${JSON.stringify(limits[name])}; extended resources cannot be overcommitted, make them equal`,
      });
      ok = false;
    }
  }
  return ok;
}

/** A copy of a resource map with `from` replaced in place (same key position) by `to`. */
function renameKey(m: JsonObject, from: string, to: string, value: JsonValue): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === from) out[to] = value;
    else out[k] = v;
  }
  return out;
}

function translateMap(m: JsonObject, direction: AdmissionConfig['translate']): { map: JsonObject; note?: string } {
  if (direction === 'aks-to-intel' && m[AKS_EPC] !== undefined && m[INTEL_EPC] === undefined) {
    const q = parseQuantity(m[AKS_EPC]);
    const bytes = formatBytes(q.num * MIB);
    return { map: renameKey(m, AKS_EPC, INTEL_EPC, bytes), note: `${AKS_EPC}: ${String(m[AKS_EPC])} -> ${INTEL_EPC}: ${bytes}` };
  }
  if (direction === 'intel-to-aks' && m[INTEL_EPC] !== undefined && m[AKS_EPC] === undefined) {
    const q = parseQuantity(m[INTEL_EPC]);
    const mib = (q.num + MIB - 1n) / MIB;
    const rounded = q.num % MIB !== 0n ? ' (rounded up to whole MiB)' : '';
    return { map: renameKey(m, INTEL_EPC, AKS_EPC, mib.toString()), note: `${INTEL_EPC}: ${String(m[INTEL_EPC])} -> ${AKS_EPC}: ${mib}${rounded}` };
  }
  return { map: m };
}

function containersOf(spec: JsonObject): ContainerRef[] | undefined {
  const out: ContainerRef[] = [];
  for (const list of LISTS) {
    const arr = spec[list];
    if (arr === undefined || arr === null) continue;
    if (!Array.isArray(arr)) return undefined;
    for (const [index, c] of arr.entries()) {
      if (!isObject(c)) return undefined;
      const name = stringAt(c, 'name') ?? '';
      out.push({ list, index, name, c, where: `${list}[${index}] ${JSON.stringify(name)}` });
    }
  }
  return out;
}

const NO_PLAN = (denials: Denial[], warnings: string[] = []): Plan => ({ sgx: false, denials, changes: [], patch: [], warnings });

/** Plan the mutation of a pod (`object` of an AdmissionReview for pods). */
export function planPod(pod: unknown, config: AdmissionConfig): Plan {
  if (!isObject(pod)) return NO_PLAN([{ rule: 'invalid-pod', message: 'the object is not a JSON object' }]);
  const spec = objectAt(pod, 'spec');
  const refs = spec === undefined ? undefined : containersOf(spec);
  if (spec === undefined || refs === undefined) return NO_PLAN([{ rule: 'invalid-pod', message: 'the pod has no readable spec.containers' }]);
  const annotations = objectAt(objectAt(pod, 'metadata'), 'annotations') ?? {};
  const denials: Denial[] = [];
  const warnings: string[] = [];

  // Which containers request EPC (a malformed quantity is reported by checkResources below).
  const epcRefs: Array<{ ref: ContainerRef; bytes: bigint }> = [];
  let resourcesOk = true;
  for (const ref of refs) {
    if (!checkResources(ref, denials)) {
      resourcesOk = false;
      continue;
    }
    const bytes = containerEpc(objectAt(ref.c, 'resources'));
    if (bytes !== undefined) epcRefs.push({ ref, bytes });
  }
  if (!resourcesOk) return NO_PLAN(denials);

  const provider = annotations[QUOTE_PROVIDER_ANNOTATION];
  const helper = annotations[QUOTE_HELPER_ANNOTATION];
  if (epcRefs.length === 0) {
    if (provider !== undefined || helper !== undefined) {
      warnings.push(`quoting annotations have no effect: no container requests ${AKS_EPC} or ${INTEL_EPC}`);
    }
    return NO_PLAN([], warnings);
  }

  // Opt-in annotations.
  if (provider !== undefined && (typeof provider !== 'string' || provider.length === 0)) {
    denials.push({ rule: 'bad-annotation', message: `${QUOTE_PROVIDER_ANNOTATION} must be "aesmd" or the name of a container` });
  } else if (typeof provider === 'string' && provider !== 'aesmd' && !refs.some((r) => r.name === provider)) {
    denials.push({
      rule: 'bad-annotation',
      message: `${QUOTE_PROVIDER_ANNOTATION}: ${JSON.stringify(provider)} names no container of this pod; use "aesmd" for out-of-process quoting or a container name for in-process quoting`,
    });
  }
  if (helper !== undefined && helper !== 'true' && helper !== 'false') {
    denials.push({ rule: 'bad-annotation', message: `${QUOTE_HELPER_ANNOTATION} must be "true" or "false", not ${JSON.stringify(helper)}` });
  }
  if (helper === 'false' && provider === 'aesmd') {
    denials.push({
      rule: 'quoting-mode-conflict',
      message: `${QUOTE_PROVIDER_ANNOTATION}: aesmd asks for out-of-process quoting but ${QUOTE_HELPER_ANNOTATION}: "false" refuses it; remove one`,
    });
  }
  const outOfProcess = provider === 'aesmd' || helper === 'true';
  if (helper === 'true' && typeof provider === 'string' && provider !== 'aesmd') {
    denials.push({
      rule: 'quoting-mode-conflict',
      message: `${QUOTE_HELPER_ANNOTATION}: "true" asks for out-of-process quoting but ${QUOTE_PROVIDER_ANNOTATION}: ${JSON.stringify(provider)} asks for in-process quoting in that container; a process cannot use both`,
    });
  }
  for (const { ref } of epcRefs) {
    const env = arrayAt(ref.c, 'env') ?? [];
    const hasEnv = env.some((e) => isObject(e) && e['name'] === AESM_ENV);
    if (hasEnv && provider === ref.name && provider !== 'aesmd') {
      denials.push({
        rule: 'quoting-mode-conflict',
        message: `${ref.where}: is the in-process quote provider (${QUOTE_PROVIDER_ANNOTATION}) but sets ${AESM_ENV}, which switches quoting out of process; remove the env var or the annotation`,
      });
    }
  }

  // EPC names the cluster advertises, after translation.
  const advertisedNames = new Set(config.advertised.map((n: EpcName) => EPC_RESOURCE[n]));
  for (const { ref } of epcRefs) {
    const res = objectAt(ref.c, 'resources');
    for (const name of [AKS_EPC, INTEL_EPC]) {
      const present = objectAt(res, 'limits')?.[name] !== undefined || objectAt(res, 'requests')?.[name] !== undefined;
      if (!present || advertisedNames.has(name)) continue;
      const fixable = (config.translate === 'aks-to-intel' && name === AKS_EPC) || (config.translate === 'intel-to-aks' && name === INTEL_EPC);
      const other = name === AKS_EPC ? INTEL_EPC : AKS_EPC;
      const hasOther = objectAt(res, 'limits')?.[other] !== undefined;
      if (!fixable || hasOther) {
        denials.push({
          rule: 'epc-name-not-advertised',
          message: `${ref.where}: requests ${name}, which no SGX node of this cluster advertises (${[...advertisedNames].join(', ')}); the pod would stay Pending`,
        });
      }
    }
  }

  // The pod's EPC against the largest node.
  const maxNode = config.maxNodeEpcBytes?.();
  if (maxNode !== undefined) {
    const sum = epcRefs.filter((e) => e.ref.list === 'containers').reduce((a, e) => a + e.bytes, 0n);
    const maxInit = epcRefs.filter((e) => e.ref.list === 'initContainers').reduce((a, e) => (e.bytes > a ? e.bytes : a), 0n);
    const effective = sum > maxInit ? sum : maxInit;
    if (effective > maxNode) {
      denials.push({
        rule: 'epc-exceeds-node',
        message: `the pod requests ${formatBytes(effective)} of EPC; the largest SGX node advertises ${formatBytes(maxNode)}, so it can never be scheduled`,
      });
    }
  }

  // The AESM socket volume: reuse the user's, else add one.
  let volumeName: string | undefined;
  let addVolume: JsonObject | undefined;
  const volumes = arrayAt(spec, 'volumes') ?? [];
  const volumeByName = new Map<string, JsonObject>();
  for (const v of volumes) if (isObject(v) && typeof v['name'] === 'string') volumeByName.set(v['name'], v);
  if (outOfProcess) {
    for (const { ref } of epcRefs) {
      for (const m of arrayAt(ref.c, 'volumeMounts') ?? []) {
        if (!isObject(m) || norm(stringAt(m, 'mountPath') ?? '') !== AESMD_DIR) continue;
        const name = stringAt(m, 'name') ?? '';
        const v = volumeByName.get(name);
        if (v === undefined || isAesmVolume(v) === undefined) {
          denials.push({
            rule: 'aesm-mount-conflict',
            message: `${ref.where}: mounts ${AESMD_DIR} from volume ${JSON.stringify(name)}, which is not the AESM socket directory (hostPath ${AESMD_DIR} or an emptyDir shared with an aesmd sidecar)`,
          });
        } else volumeName ??= name;
      }
    }
    if (volumeName === undefined) {
      for (const [name, v] of volumeByName) {
        if (isAesmVolume(v) === 'hostPath') {
          volumeName = name;
          break;
        }
      }
    }
    if (volumeName === undefined) {
      const taken = volumeByName.get(AESMD_VOLUME);
      if (taken !== undefined && isAesmVolume(taken) === undefined) {
        denials.push({
          rule: 'aesm-volume-conflict',
          message: `volume ${JSON.stringify(AESMD_VOLUME)} exists but is not the AESM socket directory; rename it so the webhook can add hostPath ${AESMD_DIR}`,
        });
      } else if (taken !== undefined) {
        volumeName = AESMD_VOLUME;
      } else {
        volumeName = AESMD_VOLUME;
        const regular = epcRefs.filter((e) => e.ref.list === 'containers');
        const sidecar = regular.length >= 2 && regular.some((e) => e.ref.name === 'aesmd');
        addVolume = sidecar
          ? { name: AESMD_VOLUME, emptyDir: { medium: 'Memory' } }
          : { name: AESMD_VOLUME, hostPath: { path: AESMD_DIR, type: 'DirectoryOrCreate' } };
      }
    }
  }
  if (denials.length > 0) return { sgx: true, denials, changes: [], patch: [], warnings };

  // Build the patch.
  const changes: Change[] = [];
  const patch: PatchOperation[] = [];
  for (const { ref } of epcRefs) {
    const base = ['spec', ref.list, ref.index] as const;
    const res = objectAt(ref.c, 'resources') ?? {};
    for (const key of ['limits', 'requests'] as const) {
      const original = objectAt(res, key);
      if (original === undefined) continue;
      const { map: translated, note } = translateMap(original, config.translate);
      let map = translated;
      if (note !== undefined && key === 'limits') {
        changes.push({ kind: 'translate', where: ref.where, detail: note });
        warnings.push(`${ref.where}: ${note}`);
      }
      if (config.enclaveResource && map[ENCLAVE] === undefined) {
        map = { ...map, [ENCLAVE]: '1' };
        if (key === 'limits') changes.push({ kind: 'enclave', where: ref.where, detail: `${ENCLAVE}: 1` });
      }
      if (provider === ref.name && map[PROVISION] === undefined) {
        map = { ...map, [PROVISION]: '1' };
        if (key === 'limits') changes.push({ kind: 'provision', where: ref.where, detail: `${PROVISION}: 1 (${QUOTE_PROVIDER_ANNOTATION})` });
      }
      if (map !== original) patch.push({ op: 'add', path: pointer(...base, 'resources', key), value: map });
    }
    if (outOfProcess && volumeName !== undefined) {
      const mounts = arrayAt(ref.c, 'volumeMounts') ?? [];
      if (!mounts.some((m) => isObject(m) && norm(stringAt(m, 'mountPath') ?? '') === AESMD_DIR)) {
        patch.push({ op: 'add', path: pointer(...base, 'volumeMounts'), value: [...mounts, { name: volumeName, mountPath: AESMD_DIR }] });
        changes.push({ kind: 'aesm-mount', where: ref.where, detail: `${volumeName} at ${AESMD_DIR}` });
      }
      const env = arrayAt(ref.c, 'env') ?? [];
      if (!env.some((e) => isObject(e) && e['name'] === AESM_ENV)) {
        patch.push({ op: 'add', path: pointer(...base, 'env'), value: [...env, { name: AESM_ENV, value: '1' }] });
        changes.push({ kind: 'aesm-env', where: ref.where, detail: `${AESM_ENV}=1` });
      }
    }
  }
  if (addVolume !== undefined) {
    patch.push({ op: 'add', path: pointer('spec', 'volumes'), value: [...volumes, addVolume] });
    changes.push({ kind: 'aesm-volume', where: 'pod', detail: JSON.stringify(addVolume) });
  }
  return { sgx: true, denials: [], changes, patch, warnings };
}

const CHANGE_RULE: Readonly<Record<ChangeKind, DenialRule>> = {
  translate: 'epc-name-not-advertised',
  enclave: 'epc-without-enclave',
  provision: 'provision-missing',
  'aesm-mount': 'aesm-opt-in-incomplete',
  'aesm-env': 'aesm-opt-in-incomplete',
  'aesm-volume': 'aesm-opt-in-incomplete',
};

const CHANGE_WHY: Readonly<Record<ChangeKind, string>> = {
  translate: 'requests EPC under the name this cluster translates',
  enclave: `requests EPC without ${ENCLAVE}, so it would get no /dev/sgx_enclave`,
  provision: `is the in-process quote provider but lacks ${PROVISION}`,
  'aesm-mount': `opted in to out-of-process quoting but does not mount ${AESMD_DIR}`,
  'aesm-env': `opted in to out-of-process quoting but does not set ${AESM_ENV}`,
  'aesm-volume': `opted in to out-of-process quoting but has no ${AESMD_DIR} volume`,
};

/**
 * Validation of the final object (after every mutating webhook): the mutation rules' own refusals, and anything the
 * mutating webhook would still have to add — which means it did not run (failurePolicy Ignore while it was down).
 */
export function validatePod(pod: unknown, config: AdmissionConfig): { readonly sgx: boolean; readonly denials: readonly Denial[]; readonly warnings: readonly string[] } {
  const plan = planPod(pod, config);
  const denials = [...plan.denials];
  for (const ch of plan.changes) {
    denials.push({
      rule: CHANGE_RULE[ch.kind],
      message: `${ch.where}: ${CHANGE_WHY[ch.kind]} (the mutating webhook would add ${ch.detail}; was it bypassed?)`,
    });
  }
  return { sgx: plan.sgx, denials, warnings: plan.changes.length > 0 ? [] : plan.warnings };
}
