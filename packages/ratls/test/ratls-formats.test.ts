/**
 * The two real RA-TLS certificates (Gramine, Intel SGX SDK; ../shared/testdata/ratls): parsing, evidence formats,
 * bindings, claims, quote provenance to the Intel root, tampering and policy refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCertificate, toHex } from '@cloister/dcap';
import {
  OID_GRAMINE_LEGACY,
  OID_INTEL_SGXSDK_LEGACY,
  OID_TCG_DICE_TAGGED_EVIDENCE,
  RatlsError,
  checkEvidenceBinding,
  extractEvidence,
  inspectAttestedCertificate,
  verifyAttestedCertificate,
  type RatlsErrorCode,
} from '../src/index.js';
import { PolicyError, type PolicyRule } from '@cloister/policy';
import { REAL_CERTS, resignWithOtherKey } from './ratls-fixtures.js';

async function rejectsWith(p: Promise<unknown>, code: RatlsErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(RatlsError.is(e), `expected a RatlsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** A policy refusal is the one engine's PolicyError, naming the rule (or, for a malformed policy, the key). */
async function refused(p: Promise<unknown>, rule: PolicyRule): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(PolicyError.is(e), `expected a PolicyError, got ${String(e)}`);
    assert.equal(e.code, 'POLICY_MISMATCH', e.message);
    assert.equal(e.rule, rule, e.message);
    return true;
  });
}

async function invalidPolicy(p: Promise<unknown>, key: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === key);
}

/** expect.json writes names in DER order; dcap's Name.text is RFC 4514 (last RDN first). */
const rfc4514 = (derOrder: string): string => derOrder.split(',').reverse().join(',');

for (const rc of REAL_CERTS) {
  const x = rc.expect;
  const legacyFormat = x.evidence.legacy.kind === 'gramine' ? 'gramine-legacy' : 'intel-sgxsdk-legacy';

  test(`${rc.name}: extractEvidence finds DICE and the legacy extension, both bound`, () => {
    const cert = parseCertificate(rc.der);
    const found = extractEvidence(cert);
    assert.deepEqual(found.map((f) => f.format).sort(), [legacyFormat, 'tcg-dice'].sort());
    const dice = found.find((f) => f.format === 'tcg-dice')!;
    assert.equal(dice.oid, OID_TCG_DICE_TAGGED_EVIDENCE);
    assert.equal(toHex(dice.claimsBuffer!), x.evidence.tcgDice.claimsBufferHex);
    assert.deepEqual(dice.claims, x.evidence.tcgDice.claims);
    const legacy = found.find((f) => f.format === legacyFormat)!;
    assert.equal(legacy.oid, legacyFormat === 'gramine-legacy' ? OID_GRAMINE_LEGACY : OID_INTEL_SGXSDK_LEGACY);
    assert.equal(legacy.oid, x.evidence.legacy.oid);
    for (const f of found) {
      const b = checkEvidenceBinding(f);
      assert.ok(b.ok, b.reason);
      assert.equal(f.bindingProblem, undefined);
    }
    assert.equal(toHex(legacy.expectedReportData) + '0'.repeat(64), x.evidence.legacy.quote.reportDataHex);
  });

  test(`${rc.name}: inspect matches expect.json`, async () => {
    for (const input of [rc.pem, rc.der]) {
      const i = await inspectAttestedCertificate(input);
      assert.equal(i.subject, rfc4514(x.subject));
      assert.equal(i.issuer, rfc4514(x.issuer));
      assert.equal(i.spkiSha256, x.spkiSha256);
      assert.equal(i.validity.notBefore, new Date(x.validity.notBefore).toISOString());
      assert.equal(i.validity.notAfter, new Date(x.validity.notAfter).toISOString());
      assert.equal(i.selfSignatureValid, true);
      assert.deepEqual(
        i.extensions,
        x.extensions.map((e) => ({ oid: e.oid, critical: e.critical, length: e.valueLength })),
      );
      assert.equal(i.evidence.length, 2);
      for (const ev of i.evidence) {
        assert.equal(ev.binding.ok, true, ev.binding.reason);
        assert.equal(ev.quote.version, 3);
        assert.equal(ev.quote.teeType, 'SGX');
        const { mrenclave, mrsigner, isvProdId, isvSvn, debug } = ev.quote;
        assert.deepEqual({ mrenclave, mrsigner, isvProdId, isvSvn, debug }, x.claims);
      }
      const dice = i.evidence.find((e) => e.format === 'tcg-dice')!;
      assert.deepEqual(dice.claims, x.evidence.tcgDice.claims);
    }
  });

  test(`${rc.name}: quote provenance verifies to the Intel root (signaturesOnly, allowDebug)`, async () => {
    const v = await verifyAttestedCertificate(rc.pem, { allowDebug: true, mrenclave: x.claims.mrenclave, mrsigner: x.claims.mrsigner }, {
      signaturesOnly: true,
      now: x.verifyAt,
    });
    assert.equal(v.format, 'tcg-dice');
    assert.equal(v.trustAnchor.intel, true);
    assert.equal(v.result, undefined);
    assert.equal(v.claims.mrenclave, x.claims.mrenclave);
    assert.equal(v.claims.mrsigner, x.claims.mrsigner);
    assert.equal(v.claims.isvProdId, x.claims.isvProdId);
    assert.equal(v.claims.isvSvn, x.claims.isvSvn);
    assert.equal(v.claims.debug, x.claims.debug);
    assert.equal(v.certificate.spkiSha256, x.spkiSha256);
    assert.equal(v.certificate.subject, rfc4514(x.subject));
  });

  test(`${rc.name}: policy refusals`, async () => {
    const opts = { signaturesOnly: true, now: x.verifyAt } as const;
    const mrenclave = x.claims.mrenclave;
    await refused(verifyAttestedCertificate(rc.pem, { mrenclave }, opts), 'debug');
    await refused(verifyAttestedCertificate(rc.pem, { allowDebug: true, mrenclave: '00'.repeat(32) }, opts), 'mrenclave');
    await refused(verifyAttestedCertificate(rc.pem, { allowDebug: true, mrsigner: '11'.repeat(32), isvProdId: x.claims.isvProdId }, opts), 'mrsigner');
    await refused(verifyAttestedCertificate(rc.pem, { allowDebug: true, mrenclave, isvProdId: x.claims.isvProdId + 1 }, opts), 'isvProdId');
    await refused(verifyAttestedCertificate(rc.pem, { allowDebug: true, mrenclave, minIsvSvn: x.claims.isvSvn + 1 }, opts), 'isvSvn');
    // The policies the old RA-TLS check accepted: no identity rule, a misspelt key.
    await invalidPolicy(verifyAttestedCertificate(rc.pem, {} as never, opts), 'mrenclave');
    await invalidPolicy(verifyAttestedCertificate(rc.pem, { allowDebug: true, mrenclaev: mrenclave } as never, opts), 'mrenclaev');
    const ok = await verifyAttestedCertificate(rc.pem, { allowDebug: true, mrenclave: ['00'.repeat(32), mrenclave.toUpperCase()] }, opts);
    assert.equal(ok.claims.mrenclave, mrenclave);
    assert.equal(ok.identity.mrenclave, mrenclave);
    assert.equal(ok.identity.isvSvn, x.claims.isvSvn);
    assert.deepEqual(ok.decision.checks.filter((k) => k.outcome === 'skip').map((k) => k.rule), ['tcbStatus', 'advisories']);
    assert.ok(ok.decision.optIns.some((o) => o.option === 'tcbNotEvaluated'));
  });

  test(`${rc.name}: certificate checks (validity, no collateral)`, async () => {
    const policy = { allowDebug: true, mrenclave: x.claims.mrenclave };
    await rejectsWith(verifyAttestedCertificate(rc.pem, policy, { signaturesOnly: true, now: '2060-01-01T00:00:00Z' }), 'INVALID_CERTIFICATE');
    await rejectsWith(verifyAttestedCertificate(rc.pem, policy, { now: x.verifyAt }), 'UNTRUSTED_EVIDENCE');
  });

  test(`${rc.name}: same evidence under another key → BINDING_MISMATCH`, async () => {
    const forged = await resignWithOtherKey(rc.der);
    const i = await inspectAttestedCertificate(forged);
    assert.equal(i.selfSignatureValid, true);
    assert.ok(i.evidence.length === 2 && i.evidence.every((e) => !e.binding.ok));
    await rejectsWith(verifyAttestedCertificate(forged, { allowDebug: true, mrenclave: x.claims.mrenclave }, { signaturesOnly: true, now: x.verifyAt }), 'BINDING_MISMATCH');
  });

  test(`${rc.name}: a flipped certificate signature byte → INVALID_CERTIFICATE`, async () => {
    const bad = new Uint8Array(rc.der);
    bad[bad.length - 5] = bad[bad.length - 5]! ^ 0x01;
    await rejectsWith(verifyAttestedCertificate(bad, { allowDebug: true, mrenclave: x.claims.mrenclave }, { signaturesOnly: true, now: x.verifyAt }), 'INVALID_CERTIFICATE');
  });
}

test('the Intel legacy quote without the DICE extension cannot bind', async () => {
  const rc = REAL_CERTS[1];
  const cert = parseCertificate(rc.der);
  const stripped = { ...cert, extensions: cert.extensions.filter((e) => e.oid !== OID_TCG_DICE_TAGGED_EVIDENCE) };
  const found = extractEvidence(stripped);
  assert.equal(found.length, 1);
  assert.equal(found[0]!.format, 'intel-sgxsdk-legacy');
  assert.equal(checkEvidenceBinding(found[0]!).ok, false);
});

test('a certificate without evidence → NO_EVIDENCE', async () => {
  const rc = REAL_CERTS[0];
  const cert = parseCertificate(rc.der);
  const bare = { ...cert, extensions: cert.extensions.filter((e) => e.oid.startsWith('2.5.29.')) };
  assert.deepEqual(extractEvidence(bare), []);
  await rejectsWith(verifyAttestedCertificate(bare, { allowDebug: true, mrenclave: rc.expect.claims.mrenclave }, { signaturesOnly: true, now: rc.expect.verifyAt }), 'NO_EVIDENCE');
});
