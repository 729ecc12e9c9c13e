/** createAttestedCertificate → verifyAttestedCertificate round trip on a simulated SGX platform (@cloister/sgx-sim). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { parseCertificate, parseQuote, toHex, trustAnchorFromCertificate } from '@cloister/dcap';
import { Platform, SGX_FLAGS, SimQuotingEnclave, createSimCollateral, createSimPki, enclaveIdentity } from '@cloister/sgx-sim';
import {
  OID_GRAMINE_LEGACY,
  OID_TCG_DICE_TAGGED_EVIDENCE,
  RatlsError,
  checkEvidenceBinding,
  createAttestedCertificate,
  decodeCbor,
  encodeCbor,
  extractEvidence,
  inspectAttestedCertificate,
  verifyAttestedCertificate,
} from '../src/index.js';
import { PolicyError } from '@cloister/policy';

const sha = (s: string): Uint8Array => new Uint8Array(createHash('sha256').update(s).digest());
const MRENCLAVE = sha('ratls test enclave');
const MRSIGNER = sha('ratls test signer');

const platform = Platform.create();
const setup = (async () => {
  const pki = await createSimPki(platform);
  const qe = new SimQuotingEnclave(platform, pki);
  const collateral = await createSimCollateral(platform, pki);
  const roots = [trustAnchorFromCertificate(pki.rootCertPem)];
  return { pki, qe, collateral, roots };
})();

function quoter(qe: SimQuotingEnclave, debug = false) {
  const id = enclaveIdentity({
    mrEnclave: MRENCLAVE,
    mrSigner: MRSIGNER,
    isvProdId: 7,
    isvSvn: 3,
    ...(debug ? { flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT | SGX_FLAGS.DEBUG } : {}),
  });
  return async (reportData: Uint8Array): Promise<Uint8Array> => qe.quoteFor(id, reportData);
}

test('create → verify with collateral: UpToDate, DICE evidence, policy satisfied', async () => {
  const { qe, collateral, roots } = await setup;
  let calls = 0;
  const getQuote = quoter(qe);
  const made = await createAttestedCertificate({ getQuote: (rd) => (calls++, getQuote(rd)) });
  assert.equal(calls, 2);
  const cert = parseCertificate(made.certificateDer);
  assert.equal(cert.subject.text, 'CN=Cloister RA-TLS,O=Cloister');
  const dice = cert.extensions.find((e) => e.oid === OID_TCG_DICE_TAGGED_EVIDENCE)!;
  const legacy = cert.extensions.find((e) => e.oid === OID_GRAMINE_LEGACY)!;
  assert.equal(dice.critical, false);
  assert.equal(legacy.critical, false);
  assert.equal(cert.notAfter - cert.notBefore, 30 * 86_400_000);
  // both bindings hold, each with its own quote
  const found = extractEvidence(cert);
  assert.deepEqual(found.map((f) => f.format), ['gramine-legacy', 'tcg-dice']);
  for (const f of found) assert.ok(checkEvidenceBinding(f).ok);
  const rd = parseQuote(made.quote).body.report.reportData;
  assert.deepEqual(rd.subarray(32), new Uint8Array(32));
  assert.deepEqual(encodeCbor(decodeCbor(made.claimsBuffer)), made.claimsBuffer);
  // the key: PKCS#8 PEM importable, matching the certificate
  const priv = createPrivateKey(made.privateKeyPem);
  assert.deepEqual(new Uint8Array(createPublicKey(priv).export({ format: 'der', type: 'spki' })), cert.spki);

  const policy = { mrenclave: toHex(MRENCLAVE), mrsigner: toHex(MRSIGNER), isvProdId: 7, minIsvSvn: 3, allowSimulated: true };
  const v = await verifyAttestedCertificate(made.certificatePem, policy, { collateral, trustRoots: roots });
  assert.equal(v.format, 'tcg-dice');
  assert.equal(v.result?.status, 'UpToDate');
  assert.equal(v.result?.simulated, true);
  assert.equal(v.claims.mrenclave, toHex(MRENCLAVE));
  assert.equal(v.claims.debug, false);

  // collateralProvider path, and provenance only
  const v2 = await verifyAttestedCertificate(made.certificateDer, policy, { collateralProvider: async () => collateral, trustRoots: roots });
  assert.equal(v2.result?.status, 'UpToDate');
  const v3 = await verifyAttestedCertificate(cert, policy, { signaturesOnly: true, trustRoots: roots });
  assert.equal(v3.result, undefined);

  const i = await inspectAttestedCertificate(made.certificatePem);
  assert.ok(i.selfSignatureValid);
  assert.ok(i.evidence.every((e) => e.binding.ok));
});

test('refusals: simulated without allowSimulated, Intel root, TCB status, debug', async () => {
  const { qe, collateral, roots } = await setup;
  const made = await createAttestedCertificate({ getQuote: quoter(qe), keyAlgorithm: 'P-384', legacyQuote: false, subject: 'CN=x' });
  assert.equal(extractEvidence(parseCertificate(made.certificateDer)).length, 1);
  const expectCode = async (p: Promise<unknown>, code: string) => assert.rejects(p, (e: unknown) => RatlsError.is(e) && e.code === code);
  const refused = async (p: Promise<unknown>, rule: string) =>
    assert.rejects(p, (e: unknown) => PolicyError.is(e) && e.code === 'POLICY_MISMATCH' && e.rule === rule);
  const id = { mrenclave: toHex(MRENCLAVE) };
  await refused(verifyAttestedCertificate(made.certificatePem, id, { collateral, trustRoots: roots }), 'simulated');
  // the Intel root refuses the simulated chain; the DcapError is the cause and its code is in the message
  await assert.rejects(verifyAttestedCertificate(made.certificatePem, { ...id, allowSimulated: true }, { collateral }), (e: unknown) => {
    assert.ok(RatlsError.is(e));
    assert.equal(e.code, 'UNTRUSTED_EVIDENCE');
    assert.ok(e.dcapCode !== undefined && e.message.includes(e.dcapCode));
    assert.ok(e.cause !== undefined);
    return true;
  });
  await refused(
    verifyAttestedCertificate(made.certificatePem, { ...id, allowSimulated: true, acceptedTcbStatuses: ['OutOfDate'] }, { collateral, trustRoots: roots }),
    'tcbStatus',
  );
  const dbg = await createAttestedCertificate({ getQuote: quoter(qe, true) });
  await refused(verifyAttestedCertificate(dbg.certificatePem, { ...id, allowSimulated: true }, { collateral, trustRoots: roots }), 'debug');
  const ok = await verifyAttestedCertificate(dbg.certificatePem, { ...id, allowSimulated: true, allowDebug: true }, { collateral, trustRoots: roots });
  assert.deepEqual(ok.decision.optIns.map((o) => [o.option, o.used]), [['allowSimulated', true], ['allowDebug', true]]);
  assert.equal(ok.claims.debug, true);
  // a quote over other report data → BINDING_MISMATCH
  const wrong = await createAttestedCertificate({ getQuote: async () => qe.quoteFor(enclaveIdentity({ mrEnclave: MRENCLAVE }), new Uint8Array(64)) });
  await expectCode(verifyAttestedCertificate(wrong.certificatePem, { ...id, allowSimulated: true }, { collateral, trustRoots: roots }), 'BINDING_MISMATCH');
  // expired certificate
  const old = await createAttestedCertificate({ getQuote: quoter(qe), now: '2020-01-01T00:00:00Z', validityDays: 1 });
  await expectCode(verifyAttestedCertificate(old.certificatePem, { ...id, allowSimulated: true }, { collateral, trustRoots: roots }), 'INVALID_CERTIFICATE');
});
