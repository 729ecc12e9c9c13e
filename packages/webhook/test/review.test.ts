import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG, handleReview, planPod } from '../src/index.js';
import { applyPatch } from './json-patch.js';
import { azureSgxTest, intelEcdsaJob, plainPod, review } from './fixtures.js';

describe('AdmissionReview v1 in and out', () => {
  it('a mutation: uid echoed, JSONPatch base64 in patch, the same patch in the audit annotation', () => {
    const r = review(intelEcdsaJob(), 'b2c4-uid');
    const out = handleReview(r, 'mutate', DEFAULT_CONFIG);
    assert.equal(out.decision, 'patched');
    const res = out.review.response;
    assert.equal(out.review.apiVersion, 'admission.k8s.io/v1');
    assert.equal(out.review.kind, 'AdmissionReview');
    assert.equal(res.uid, 'b2c4-uid');
    assert.equal(res.allowed, true);
    assert.equal(res.patchType, 'JSONPatch');
    const patch = JSON.parse(Buffer.from(res.patch!, 'base64').toString('utf8')) as unknown[];
    assert.deepEqual(patch, planPod(intelEcdsaJob(), DEFAULT_CONFIG).patch);
    assert.deepEqual(JSON.parse(res.auditAnnotations!['patch']!), patch);
    assert.equal(res.auditAnnotations!['decision'], 'patched');
    assert.equal(res.status, undefined);
  });

  it('a denial: allowed false, 403 Failure status with each rule and reason; audit annotations name the rules', () => {
    const pod = intelEcdsaJob();
    ((pod['spec'] as { containers: Array<{ resources: unknown }> }).containers[0]!).resources = {
      limits: { 'sgx.intel.com/epc': '1Mi' },
      requests: { 'sgx.intel.com/epc': '2Mi' },
    };
    const out = handleReview(review(pod), 'mutate', DEFAULT_CONFIG);
    assert.equal(out.decision, 'denied');
    assert.equal(out.rule, 'requests-ne-limits');
    const res = out.review.response;
    assert.equal(res.allowed, false);
    assert.equal(res.patch, undefined);
    assert.equal(res.status?.code, 403);
    assert.equal(res.status?.status, 'Failure');
    assert.match(res.status?.message ?? '', /^\[requests-ne-limits\] containers\[0\] "intelsgx-demo-job": sgx\.intel\.com\/epc request "2Mi" differs/);
    assert.equal(res.auditAnnotations?.['rules'], 'requests-ne-limits');
  });

  it('validate: an unmutated SGX pod is refused, a mutated one allowed', () => {
    const pod = azureSgxTest();
    const denied = handleReview(review(pod), 'validate', DEFAULT_CONFIG);
    assert.equal(denied.decision, 'denied');
    assert.equal(denied.rule, 'epc-without-enclave');
    const mutated = applyPatch(pod, planPod(pod, DEFAULT_CONFIG).patch);
    const ok = handleReview(review(mutated), 'validate', DEFAULT_CONFIG);
    assert.equal(ok.decision, 'allowed');
    assert.equal(ok.review.response.allowed, true);
  });

  it('non-SGX pods: allowed, no patch; the audit annotation says so', () => {
    const out = handleReview(review(plainPod()), 'mutate', DEFAULT_CONFIG);
    assert.equal(out.decision, 'allowed');
    assert.deepEqual(out.review.response, {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: true,
      auditAnnotations: { decision: 'not-sgx', patch: '[]' },
    });
  });

  it('operations and resources it is not registered for pass untouched', () => {
    assert.equal(handleReview(review(intelEcdsaJob(), 'u', 'UPDATE'), 'mutate', DEFAULT_CONFIG).decision, 'skipped');
    const r = review(intelEcdsaJob()) as { request: Record<string, unknown> };
    r.request['kind'] = { group: 'apps', version: 'v1', kind: 'Deployment' };
    r.request['resource'] = { group: 'apps', version: 'v1', resource: 'deployments' };
    assert.equal(handleReview(r, 'mutate', DEFAULT_CONFIG).decision, 'skipped');
    const sub = review(intelEcdsaJob()) as { request: Record<string, unknown> };
    sub.request['subResource'] = 'ephemeralcontainers';
    assert.equal(handleReview(sub, 'mutate', DEFAULT_CONFIG).decision, 'skipped');
  });

  it('malformed reviews: an error review (code 400) echoing the uid when there is one, never a throw', () => {
    const cases: unknown[] = [
      null,
      [],
      'x',
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'a' } },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'no-kind', operation: 'CREATE', object: {} } },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' } },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u2', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: { spec: 7 } } },
    ];
    for (const c of cases) {
      const out = handleReview(c, 'mutate', DEFAULT_CONFIG);
      assert.equal(out.review.response.allowed, false, JSON.stringify(c));
      assert.ok(out.decision === 'error' || out.decision === 'denied', JSON.stringify(c));
    }
    const withUid = handleReview(cases[7], 'mutate', DEFAULT_CONFIG);
    assert.equal(withUid.review.response.uid, 'u1');
    assert.equal(withUid.review.response.status?.code, 400);
    assert.equal(handleReview(cases[8], 'mutate', DEFAULT_CONFIG).rule, 'invalid-pod');
  });
});
