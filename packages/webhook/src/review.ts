/**
 * AdmissionReview admission.k8s.io/v1 in and out (k8s.io/api/admission/v1 types.go; "Dynamic Admission Control",
 * kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request and #response):
 *  - the response echoes apiVersion/kind and `request.uid`; `allowed` is required;
 *  - a mutation is `patchType: "JSONPatch"` with `patch` = base64 of the RFC 6902 JSON array;
 *  - a refusal carries `status` (metav1.Status: code, message) shown to the user as
 *    `admission webhook "<name>" denied the request: <message>`;
 *  - `auditAnnotations` (keys become "<webhook name>/<key>" in the audit event) and `warnings` (shown by kubectl).
 * A review this webhook cannot read is answered with HTTP 200 and a Failure status, never a crash or a 500.
 */
import type { AdmissionConfig } from './config.js';
import { isObject, objectAt, stringAt, type JsonObject } from './json.js';
import type { PatchOperation } from './patch.js';
import { planPod, validatePod, type Denial } from './plan.js';

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';

export type Endpoint = 'mutate' | 'validate';
export type Decision = 'allowed' | 'patched' | 'denied' | 'error' | 'skipped';

export interface Status {
  readonly status: 'Failure';
  readonly code: number;
  readonly reason: string;
  readonly message: string;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: Status;
  readonly patchType?: 'JSONPatch';
  readonly patch?: string;
  readonly auditAnnotations?: Readonly<Record<string, string>>;
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewOut {
  readonly apiVersion: typeof REVIEW_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

export interface Outcome {
  readonly review: AdmissionReviewOut;
  readonly decision: Decision;
  /** The first denial rule (for metrics/logs), when denied. */
  readonly rule?: string;
  readonly patch: readonly PatchOperation[];
  readonly uid: string;
  readonly namespace?: string;
  readonly name?: string;
}

/** "Warnings over 256 characters and large numbers of warnings may be truncated" (AdmissionResponse.warnings). */
const MAX_WARNING = 256;
/** Audit annotation values are stored in every audit event: keep them bounded. */
const MAX_AUDIT_VALUE = 10_000;

function wrap(response: AdmissionResponse): AdmissionReviewOut {
  return { apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response };
}

/** The 200 answer to a review that cannot be processed (malformed, too large, wrong kind of object). */
export function errorReview(uid: string, code: number, message: string): AdmissionReviewOut {
  return wrap({ uid, allowed: false, status: { status: 'Failure', code, reason: code === 413 ? 'RequestEntityTooLarge' : 'BadRequest', message } });
}

function denialMessage(denials: readonly Denial[]): string {
  return denials.map((d) => `[${d.rule}] ${d.message}`).join('; ');
}

function warningsOf(ws: readonly string[]): string[] | undefined {
  return ws.length === 0 ? undefined : ws.map((w) => (w.length > MAX_WARNING ? `${w.slice(0, MAX_WARNING - 1)}…` : w));
}

function bounded(s: string): string {
  return s.length > MAX_AUDIT_VALUE ? `${s.slice(0, MAX_AUDIT_VALUE - 1)}…` : s;
}

/** Handle one decoded AdmissionReview for the given endpoint. Never throws for bad input. */
export function handleReview(body: unknown, endpoint: Endpoint, config: AdmissionConfig): Outcome {
  const request = isObject(body) ? objectAt(body, 'request') : undefined;
  const uid = stringAt(request, 'uid') ?? '';
  const fail = (message: string): Outcome => ({ review: errorReview(uid, 400, message), decision: 'error', patch: [], uid });
  if (!isObject(body)) return fail('the body is not a JSON object');
  if (body['apiVersion'] !== REVIEW_API_VERSION || body['kind'] !== 'AdmissionReview') {
    return fail(`expected apiVersion ${REVIEW_API_VERSION}, kind AdmissionReview (admissionReviewVersions: [v1])`);
  }
  if (request === undefined || uid.length === 0 || uid.length > 256) return fail('request.uid is missing');
  const namespace = stringAt(request, 'namespace');
  const object = objectAt(request, 'object');
  const meta = objectAt(object, 'metadata');
  const name = stringAt(meta, 'name') ?? stringAt(meta, 'generateName');
  const ids = { uid, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}) };
  const kind = objectAt(request, 'kind');
  const resource = objectAt(request, 'resource');
  if (kind === undefined || typeof request['operation'] !== 'string') return fail('request.kind and request.operation are required');
  const isPod = (kind?.['group'] ?? '') === '' && kind?.['kind'] === 'Pod' && (resource === undefined || resource['resource'] === 'pods');
  const operation = stringAt(request, 'operation');
  const subResource = stringAt(request, 'subResource');
  // Only pod CREATE is registered; anything else routed here is let through untouched.
  if (!isPod || operation !== 'CREATE' || (subResource !== undefined && subResource !== '')) {
    return { review: wrap({ uid, allowed: true }), decision: 'skipped', patch: [], ...ids };
  }
  if (object === undefined) return fail('request.object is missing');

  if (endpoint === 'validate') {
    const v = validatePod(object, config);
    if (v.denials.length > 0) {
      const message = denialMessage(v.denials);
      return {
        review: wrap({
          uid,
          allowed: false,
          status: { status: 'Failure', code: 403, reason: 'Forbidden', message },
          auditAnnotations: { decision: 'denied', rules: v.denials.map((d) => d.rule).join(','), reason: bounded(message) },
        }),
        decision: 'denied',
        rule: v.denials[0]!.rule,
        patch: [],
        ...ids,
      };
    }
    const warnings = warningsOf(v.warnings);
    return {
      review: wrap({ uid, allowed: true, ...(v.sgx ? { auditAnnotations: { decision: 'allowed' } } : {}), ...(warnings ? { warnings } : {}) }),
      decision: 'allowed',
      patch: [],
      ...ids,
    };
  }

  const plan = planPod(object, config);
  const warnings = warningsOf(plan.warnings);
  if (plan.denials.length > 0) {
    const message = denialMessage(plan.denials);
    return {
      review: wrap({
        uid,
        allowed: false,
        status: { status: 'Failure', code: 403, reason: 'Forbidden', message },
        auditAnnotations: { decision: 'denied', rules: plan.denials.map((d) => d.rule).join(','), reason: bounded(message) },
        ...(warnings ? { warnings } : {}),
      }),
      decision: 'denied',
      rule: plan.denials[0]!.rule,
      patch: [],
      ...ids,
    };
  }
  if (plan.patch.length === 0) {
    return {
      // Every mutation decision is in the audit event, the empty patch included.
      review: wrap({ uid, allowed: true, auditAnnotations: { decision: plan.sgx ? 'unchanged' : 'not-sgx', patch: '[]' }, ...(warnings ? { warnings } : {}) }),
      decision: 'allowed',
      patch: [],
      ...ids,
    };
  }
  const json = JSON.stringify(plan.patch);
  return {
    review: wrap({
      uid,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(json, 'utf8').toString('base64'),
      auditAnnotations: { decision: 'patched', patch: bounded(json) },
      ...(warnings ? { warnings } : {}),
    }),
    decision: 'patched',
    patch: plan.patch,
    ...ids,
  };
}

export type { JsonObject };
