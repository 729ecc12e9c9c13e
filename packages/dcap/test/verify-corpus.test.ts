/**
 * Every case of the real third-party corpus (testdata/dcap, FORMAT.md) through the library, with both
 * crypto providers: expected status and advisory IDs or error code, Intel QvE's outcome with expired collateral
 * accepted, and the expected claims.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DcapError,
  QuoteVerifier,
  createWebCryptoProvider,
  parseCollateralBundle,
  trustAnchorFromCertificate,
  type CryptoProvider,
} from '../src/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCryptoProvider } from '../src/node/index.js';
import { dcapDir, loadDcapCases } from './corpus.js';
import { acceptedCodes, caseOptions, sortedSet } from './verify-helpers.js';

const cases = loadDcapCases().filter((c) => c.collateralText !== undefined);
const providers: [string, CryptoProvider][] = [
  ['webcrypto', createWebCryptoProvider()],
  ['node:crypto', nodeCryptoProvider()],
];

test('the corpus has verifying cases', () => {
  assert.ok(cases.length >= 8, `only ${cases.length} cases with collateral`);
});

for (const [providerName, crypto] of providers) {
  for (const c of cases) {
    test(`${providerName}: ${c.json.id}`, async () => {
      const verifier = new QuoteVerifier({ crypto });
      const run = verifier.verify(c.quote, c.collateralText, caseOptions(c));
      if (c.json.expect !== undefined) {
        const r = await run;
        assert.equal(r.status, c.json.expect.status);
        assert.deepEqual(sortedSet(r.advisoryIds), sortedSet(c.json.expect.advisoryIds));
        assert.equal(r.teeType, c.json.teeType);
        assert.equal(r.quoteVersion, c.json.quoteVersion);
        assert.equal(r.collateral.expired, false);
        assert.equal(r.trustAnchor.intel, c.json.options?.trustedRootCaFile === undefined);
        assert.equal(r.simulated, !r.trustAnchor.intel);
      } else {
        await assert.rejects(run, (e: unknown) => {
          assert.ok(DcapError.is(e), `not a DcapError: ${String(e)}`);
          assert.ok(acceptedCodes(c).includes(e.code), `${e.code}: ${e.message}`);
          return true;
        });
      }
    });

    const qve = c.json.qveExpect;
    if (qve !== undefined) {
      test(`${providerName}: ${c.json.id} with expired collateral accepted (Intel QvE)`, async () => {
        const verifier = new QuoteVerifier({ crypto });
        const run = verifier.verify(c.quote, c.collateralText, caseOptions(c, { allowExpiredCollateral: true }));
        if ('error' in qve) {
          await assert.rejects(run, (e: unknown) => DcapError.is(e) && e.code === qve.error);
        } else {
          const r = await run;
          assert.equal(r.status, qve.status);
          assert.deepEqual(sortedSet(r.advisoryIds), sortedSet(qve.advisoryIds));
          assert.equal(r.collateral.expired, qve.collateralExpired);
          assert.ok(r.relaxations.includes('allowExpiredCollateral'));
          if (qve.collateralExpired) assert.ok(r.collateral.expiredItems.length > 0);
        }
      });
    }
  }
}

test('claims of verified quotes match expectClaims', async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  for (const c of cases.filter((x) => x.json.expect !== undefined && x.json.expectClaims !== undefined)) {
    const r = await verifier.verify(c.quote, c.collateralText, caseOptions(c));
    const claims = r.claims;
    const want = c.json.expectClaims!;
    const pairs: [string, string][] = [
      ['mrenclave', 'mrenclave'],
      ['mrsigner', 'mrsigner'],
      ['isvProdId', 'isvProdId'],
      ['isvSvn', 'isvSvn'],
      ['debug', 'debug'],
      ['reportDataHex', 'reportData'],
      ['attributesHex', 'attributes'],
      ['mrtd', 'mrtd'],
      ['rtmr0', 'rtmr0'],
      ['rtmr1', 'rtmr1'],
      ['rtmr2', 'rtmr2'],
      ['rtmr3', 'rtmr3'],
      ['mrConfigId', 'mrconfigid'],
      ['mrOwner', 'mrowner'],
      ['mrOwnerConfig', 'mrownerconfig'],
      ['mrSeam', 'mrseam'],
      ['tdAttributesHex', 'tdAttributes'],
      ['xfamHex', 'xfam'],
      ['teeTcbSvnHex', 'teeTcbSvn'],
      ['teeTcbSvn2Hex', 'teeTcbSvn2'],
      ['mrServiceTd', 'mrservicetd'],
    ];
    for (const [caseKey, claimKey] of pairs) {
      if (want[caseKey] === undefined) continue;
      assert.equal(claims[claimKey], want[caseKey], `${c.json.id}: ${caseKey}`);
    }
  }
});

test('a warm verifier gives the same answer as a cold one, with parsed or textual collateral', async () => {
  const c = cases.find((x) => x.json.id === 'dcapqvl-sgx-v3')!;
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const bundle = parseCollateralBundle(c.collateralText!);
  const first = await verifier.verify(c.quote, bundle, caseOptions(c));
  for (let i = 0; i < 3; i++) {
    const again = await verifier.verify(c.quote, bundle, caseOptions(c));
    assert.deepEqual(again, first);
  }
  const fromText = await verifier.verify(c.quote, c.collateralText, caseOptions(c));
  assert.deepEqual(fromText, first);
});

test('collateral outside its validity is refused by default and names the step', async () => {
  const c = cases.find((x) => x.json.id === 'dcapqvl-sgx-v3')!;
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  await assert.rejects(verifier.verify(c.quote, c.collateralText, { now: '2030-01-01T00:00:00Z' }), (e: unknown) => {
    return DcapError.is(e) && e.code === 'SGX_CRL_EXPIRED';
  });
  // 10:30: the PCK CRL (10:23) and the QE identity (10:01) have expired, the TCB info (10:56) has not. With the PCK
  // CRL's window ignored, the next expired item in QVL order is the QE identity.
  await assert.rejects(
    verifier.verify(c.quote, c.collateralText, { now: '2025-07-19T10:30:00Z' }),
    (e: unknown) => DcapError.is(e) && e.code === 'SGX_CRL_EXPIRED',
  );
  await assert.rejects(
    verifier.verify(c.quote, c.collateralText, { now: '2025-07-19T10:30:00Z', skipPckCrlFreshness: true }),
    (e: unknown) => DcapError.is(e) && e.code === 'SGX_ENCLAVE_IDENTITY_EXPIRED',
  );
  const accepted = await verifier.verify(c.quote, c.collateralText, {
    now: '2025-07-19T10:30:00Z',
    skipPckCrlFreshness: true,
    allowExpiredCollateral: true,
  });
  assert.equal(accepted.collateral.expired, true);
  assert.deepEqual(accepted.relaxations, ['allowExpiredCollateral', 'skipPckCrlFreshness']);
  assert.match(accepted.collateral.expiredItems.join('\n'), /^SGX_ENCLAVE_IDENTITY_EXPIRED/m);
});

test('missing collateral is MISSING_PARAMETERS; a wrong trust anchor is untrusted', async () => {
  const c = cases.find((x) => x.json.id === 'dcapqvl-sgx-v3')!;
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  await assert.rejects(verifier.verify(c.quote, undefined, { now: c.json.now }), (e: unknown) => {
    return DcapError.is(e) && e.code === 'MISSING_PARAMETERS';
  });
  const sampleRoot = trustAnchorFromCertificate(readFileSync(join(dcapDir, 'intel-qvl-sample-root-ca.pem'), 'utf8'));
  assert.equal(sampleRoot.intel, false);
  await assert.rejects(
    verifier.verify(c.quote, c.collateralText, { now: c.json.now, trustAnchors: [sampleRoot] }),
    (e: unknown) => DcapError.is(e) && e.code === 'SGX_PCK_CERT_CHAIN_UNTRUSTED',
  );
  const intelDer = trustAnchorFromCertificate(readFileSync(join(dcapDir, 'intel-sgx-root-ca.der')));
  assert.equal(intelDer.intel, true);
});

test('provenance without collateral: every corpus quote chains to the Intel root key and is signed', async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  for (const c of loadDcapCases()) {
    if (c.json.expectSignaturesValid === false) {
      await assert.rejects(verifier.verifySignatures(c.quote), (e: unknown) => DcapError.is(e), c.json.id);
      continue;
    }
    const r = await verifier.verifySignatures(c.quote);
    assert.equal(r.trustAnchor.intel, true, c.json.id);
    assert.equal(r.quote.teeType, c.json.teeType);
  }
  const c = cases.find((x) => x.json.id === 'dcapqvl-tdx-v4')!;
  const bad = new Uint8Array(c.quote);
  bad[100]! ^= 0x80; // inside the TD report: the quote signature no longer verifies
  await assert.rejects(verifier.verifySignatures(bad), (e: unknown) => DcapError.is(e) && e.code === 'INVALID_QUOTE_SIGNATURE');
});
