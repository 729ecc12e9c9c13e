/**
 * The simulated Quoting Enclave: quote v3 / v4 layout as @cloister/dcap parses it, full verification against the
 * simulated root (UpToDate, the application's claims), the Intel anchor refusing it, tampering, and speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  INTEL_QE_VENDOR_ID,
  QuoteVerifier,
  decodePemCertificates,
  parseEnclaveIdentity,
  parseQuote,
  toHex,
  trustAnchorFromCertificate,
} from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import { createSimCollateral } from '../src/collateral.js';
import { encodeAttributes } from '../src/identity.js';
import { createSimPki } from '../src/pki.js';
import { SimError } from '../src/errors.js';
import {
  SIM_QE_AUTH_DATA,
  SIM_QE_MRSIGNER,
  attestationKeyOf,
  buildQuote,
  certifyAttestationKey,
  qeIdOf,
  qeIdentityOf,
} from '../src/quoting.js';
import { encodeReportBody } from '../src/report-body.js';
import { APP_IDENTITY, APP_REPORT_DATA, fixedPlatform, rejectsWith, simVerifier } from './pki-fixtures.js';

const platform = fixedPlatform();
const pkiPromise = createSimPki(platform);
const body = encodeReportBody(APP_IDENTITY, platform.cpuSvn, APP_REPORT_DATA);

test('quote v3: header, body and signature data laid out as Intel QE3 does', async () => {
  const pki = await pkiPromise;
  const bytes = buildQuote(platform, body, { pki });
  const q = parseQuote(bytes);
  assert.equal(q.version, 3);
  assert.equal(q.teeType, 'SGX');
  assert.equal(q.header.attestationKeyType, 2);
  assert.equal(q.header.teeTypeRaw, 0);
  assert.equal(q.header.qeSvn, platform.config.qeSvn);
  assert.equal(q.header.pceSvn, platform.config.pceSvn);
  assert.deepEqual(q.header.qeVendorId, INTEL_QE_VENDOR_ID);
  assert.deepEqual(q.header.userData, Uint8Array.from([...qeIdOf(platform), 0, 0, 0, 0]));
  assert.equal(q.body.kind, 'sgx');
  assert.deepEqual(q.body.report.raw, body);
  assert.deepEqual(q.signedBytes, bytes.subarray(0, 432));
  assert.equal(q.trailingBytes, 0);
  assert.equal(q.signatureDataLength, bytes.length - 436);
  const sig = q.signature;
  assert.equal(sig.outerCertificationType, undefined);
  assert.deepEqual(sig.attestationKey, attestationKeyOf(platform).raw);
  const qrcd = sig.qeReportCertificationData;
  assert.deepEqual(qrcd.qeAuthData, SIM_QE_AUTH_DATA);
  assert.deepEqual([...qrcd.qeAuthData], Array.from({ length: 32 }, (_, i) => i));
  // QE report: the QE's identity, REPORTDATA = SHA-256(attestation key ‖ auth data) ‖ 32 zero bytes.
  const qe = qeIdentityOf(platform);
  assert.deepEqual(qrcd.qeReport.mrEnclave, qe.mrEnclave);
  assert.deepEqual(qrcd.qeReport.mrSigner, SIM_QE_MRSIGNER);
  assert.equal(qrcd.qeReport.isvProdId, 1);
  assert.equal(qrcd.qeReport.isvSvn, platform.config.qeSvn);
  assert.deepEqual(qrcd.qeReport.cpuSvn, platform.cpuSvn);
  assert.deepEqual(qrcd.qeReport.attributes, encodeAttributes(0x15n, 0x03n));
  const binding = createHash('sha256').update(sig.attestationKey).update(SIM_QE_AUTH_DATA).digest();
  assert.deepEqual(qrcd.qeReport.reportData, Uint8Array.from([...binding, ...new Uint8Array(32)]));
  assert.deepEqual(qrcd.qeReportSignature, certifyAttestationKey(platform, pki).qeReportSignature);
  // Certification data type 5: the PEM chain with Intel's trailing NUL.
  const cd = qrcd.certificationData;
  assert.equal(cd.type, 5);
  if (cd.type === 5) {
    assert.equal(cd.data[cd.data.length - 1], 0);
    assert.deepEqual(decodePemCertificates(cd.pem), [pki.pckCertDer, pki.platformCaCertDer, pki.rootCertDer]);
  }
  // Fixed length: 48 + 384 + 4 + 64 + 64 + 384 + 64 + 2 + 32 + 2 + 4 + PEM + NUL.
  assert.equal(bytes.length, 1052 + pki.pckChainPem.length + 1);
});

test('quote v4: tee_type 0, certification data type 6 wrapping the QE report certification data', async () => {
  const pki = await pkiPromise;
  const bytes = buildQuote(platform, body, { pki, version: 4 });
  const q = parseQuote(bytes);
  assert.equal(q.version, 4);
  assert.equal(q.teeType, 'SGX');
  assert.equal(q.header.qeSvn, 0);
  assert.equal(q.header.pceSvn, 0);
  assert.equal(q.signature.outerCertificationType, 6);
  assert.deepEqual(q.body.report.raw, body);
  assert.equal(q.signature.qeReportCertificationData.certificationData.type, 5);
  assert.equal(bytes.length, buildQuote(platform, body, { pki }).length + 6);
});

test('quotes v3 and v4 verify against the simulated root: UpToDate with the application’s claims', async () => {
  const pki = await pkiPromise;
  const collateral = await createSimCollateral(platform, pki);
  for (const version of [3, 4] as const) {
    const quote = buildQuote(platform, body, { pki, version });
    const r = await simVerifier(pki).verify(quote, collateral);
    assert.equal(r.status, 'UpToDate');
    assert.deepEqual(r.advisoryIds, []);
    assert.equal(r.quoteVersion, version);
    assert.equal(r.teeType, 'SGX');
    assert.equal(r.simulated, true);
    assert.equal(r.trustAnchor.intel, false);
    assert.equal(r.claims['mrenclave'], toHex(APP_IDENTITY.mrEnclave));
    assert.equal(r.claims['mrsigner'], toHex(APP_IDENTITY.mrSigner));
    assert.equal(r.claims['isvProdId'], 42);
    assert.equal(r.claims['isvSvn'], 3);
    assert.equal(r.claims['debug'], false);
    assert.equal(r.claims['reportData'], toHex(APP_REPORT_DATA));
    assert.equal(r.claims['attributes'], toHex(encodeAttributes(APP_IDENTITY.flags, APP_IDENTITY.xfrm)));
    assert.equal(r.claims['cpuSvn'], toHex(platform.cpuSvn));
    assert.equal(r.platform.fmspc, platform.config.fmspc);
    assert.equal(r.platform.ppid, platform.config.ppid);
    assert.equal(r.platform.pceSvn, platform.config.pceSvn);
    assert.equal(r.platform.ca, 'platform');
    assert.equal(r.qeIdentity.status, 'UpToDate');
    assert.equal(r.qeIdentity.isvSvn, platform.config.qeSvn);
  }
});

test('the node:crypto provider verifies the simulated quote too, and the parse-only check passes', async () => {
  const pki = await pkiPromise;
  const collateral = await createSimCollateral(platform, pki);
  const anchor = trustAnchorFromCertificate(pki.rootCertPem);
  const v = new QuoteVerifier({ crypto: nodeCryptoProvider(), trustAnchors: [anchor] });
  const quote = buildQuote(platform, body, { pki });
  assert.equal((await v.verify(quote, collateral)).status, 'UpToDate');
  const sigs = await v.verifySignatures(quote);
  assert.equal(sigs.trustAnchor.intel, false);
  assert.equal(sigs.pck.sgxType, 'Scalable');
});

test('the QE identity collateral describes the simulated QE', async () => {
  const pki = await pkiPromise;
  const id = parseEnclaveIdentity((await createSimCollateral(platform, pki)).qeIdentityBody);
  assert.equal(id.id, 'QE');
  assert.deepEqual(id.mrsigner, SIM_QE_MRSIGNER);
  assert.equal(id.isvProdId, qeIdentityOf(platform).isvProdId);
  assert.equal(id.tcbLevels[0]!.isvSvn, platform.config.qeSvn);
});

test('with the default (Intel) trust anchor a simulated quote is SGX_PCK_CERT_CHAIN_UNTRUSTED', async () => {
  const pki = await pkiPromise;
  const collateral = await createSimCollateral(platform, pki);
  await rejectsWith(new QuoteVerifier().verify(buildQuote(platform, body, { pki }), collateral), 'SGX_PCK_CERT_CHAIN_UNTRUSTED');
});

test('a tampered quote is refused: body → INVALID_QUOTE_SIGNATURE, QE report → INVALID_QE_REPORT_SIGNATURE', async () => {
  const pki = await pkiPromise;
  const collateral = await createSimCollateral(platform, pki);
  const v = simVerifier(pki);
  for (const version of [3, 4] as const) {
    const quote = buildQuote(platform, body, { pki, version });
    for (const offset of [48 + 320, 48 + 64, 48 + 256, 28]) {
      const t = new Uint8Array(quote);
      t[offset] = t[offset]! ^ 0x01;
      await rejectsWith(v.verify(t, collateral), 'INVALID_QUOTE_SIGNATURE');
    }
    const sig = new Uint8Array(quote);
    sig[436 + 10] = sig[436 + 10]! ^ 0x80;
    await rejectsWith(v.verify(sig, collateral), 'INVALID_QUOTE_SIGNATURE');
    // The QE report starts after quote sig (64) + attestation key (64) [+ type 6 header (6) in v4].
    const qeReportAt = 436 + 128 + (version === 4 ? 6 : 0);
    const qr = new Uint8Array(quote);
    qr[qeReportAt + 64] = qr[qeReportAt + 64]! ^ 0x01; // MRENCLAVE of the QE
    await rejectsWith(v.verify(qr, collateral), 'INVALID_QE_REPORT_SIGNATURE');
  }
});

test('buildQuote: argument checks', async () => {
  const pki = await pkiPromise;
  assert.throws(() => buildQuote(platform, new Uint8Array(383), { pki }), (e: unknown) => SimError.is(e) && e.code === 'INVALID_PARAMETER');
  assert.throws(
    () => buildQuote(platform, body, { pki, version: 5 as unknown as 3 }),
    (e: unknown) => SimError.is(e) && e.code === 'INVALID_PARAMETER',
  );
  const stranger = fixedPlatform({ secret: new Uint8Array(32).fill(3) });
  assert.throws(() => buildQuote(stranger, body, { pki }), (e: unknown) => SimError.is(e) && /not this platform/.test(e.message));
});

test('quote generation costs one ECDSA signature (well under 1 ms)', async () => {
  const pki = await pkiPromise;
  buildQuote(platform, body, { pki });
  const n = 500;
  const signatures = new Set<string>();
  for (let i = 0; i < n; i++) signatures.add(toHex(buildQuote(platform, body, { pki, version: i % 2 === 0 ? 3 : 4 }).subarray(436, 500)));
  assert.equal(signatures.size, n, 'every quote carries its own signature (no wall-clock assertion: bench/sim times it)');
  // Every quote is freshly signed (ECDSA is randomised), the rest is shared.
  const a = buildQuote(platform, body, { pki });
  const b = buildQuote(platform, body, { pki });
  assert.notDeepEqual(a.subarray(436, 500), b.subarray(436, 500));
  assert.deepEqual(a.subarray(500), b.subarray(500));
});
