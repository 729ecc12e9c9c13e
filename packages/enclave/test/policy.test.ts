/**
 * verifyEvidence: a quote from @cloister/sgx-sim's Quoting Enclave, verified by @cloister/dcap against the
 * simulated root, then held against policies — identity (MRENCLAVE; MRSIGNER + product + minimum SVN), debug,
 * simulated evidence, TCB status with advisories, REPORTDATA.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DcapError, QuoteVerifier, toHex, trustAnchorFromCertificate, type CollateralBundle } from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import {
  Platform,
  SGX_FLAGS,
  SimQuotingEnclave,
  createSimCollateral,
  createSimPki,
  enclaveIdentity,
  type SimCollateralOptions,
} from '@cloister/sgx-sim';
import { EnclaveError } from '../src/errors.js';
import { verifyEvidence, type VerifyEvidenceOptions } from '../src/attestation/verify-evidence.js';
import { PolicyError, type EnclavePolicy } from '@cloister/policy';
import { loadDcapCases } from '@cloister/testkit';

const platform = Platform.create({ secret: new Uint8Array(32).fill(7) });
const pkiPromise = createSimPki(platform);
const MRENCLAVE = new Uint8Array(32).fill(0xaa);
const MRSIGNER = new Uint8Array(32).fill(0xbb);
const REPORT_DATA = new Uint8Array(64).map((_, i) => i);
const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });

const production = enclaveIdentity({ mrEnclave: MRENCLAVE, mrSigner: MRSIGNER, isvProdId: 3, isvSvn: 5 });
const debug = enclaveIdentity({
  mrEnclave: MRENCLAVE,
  mrSigner: MRSIGNER,
  isvProdId: 3,
  isvSvn: 5,
  flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT | SGX_FLAGS.DEBUG,
});

async function evidence(identity = production, collateralOptions: SimCollateralOptions = {}) {
  const pki = await pkiPromise;
  const qe = new SimQuotingEnclave(platform, pki);
  const quote = qe.quoteFor(identity, REPORT_DATA);
  const collateral: CollateralBundle = await createSimCollateral(platform, pki, collateralOptions);
  const options: VerifyEvidenceOptions = { collateral, trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)], verifier };
  return { quote, options };
}

async function refused(promise: Promise<unknown>, rule: string): Promise<void> {
  await assert.rejects(promise, (e) => {
    assert.ok(PolicyError.is(e), `a PolicyError, got ${String(e)}`);
    assert.equal(e.code, 'POLICY_MISMATCH');
    assert.equal(e.rule, rule, e.message);
    return true;
  });
}

const hex = toHex;

test('MRENCLAVE policy: accepted (one value or a list), refused for another MRENCLAVE', async () => {
  const { quote, options } = await evidence();
  const ok = await verifyEvidence(quote, { mrenclave: hex(MRENCLAVE), allowSimulated: true }, options);
  assert.equal(ok.identity.mrenclave, hex(MRENCLAVE));
  assert.equal(ok.identity.mrsigner, hex(MRSIGNER));
  assert.equal(ok.identity.isvProdId, 3);
  assert.equal(ok.identity.isvSvn, 5);
  assert.equal(ok.identity.reportData, hex(REPORT_DATA));
  assert.deepEqual(ok.decision.optIns, [{ option: 'allowSimulated', value: 'true', used: true }]);
  assert.equal(ok.identity.debug, false);
  assert.deepEqual(ok.reportData, REPORT_DATA);
  assert.equal(ok.result.status, 'UpToDate');
  assert.equal(ok.result.simulated, true);
  await verifyEvidence(quote, { mrenclave: ['00'.repeat(32), hex(MRENCLAVE).toUpperCase()], allowSimulated: true }, options);
  await refused(verifyEvidence(quote, { mrenclave: '11'.repeat(32), allowSimulated: true }, options), 'mrenclave');
  await refused(verifyEvidence(quote, { mrenclave: ['11'.repeat(32), '22'.repeat(32)], allowSimulated: true }, options), 'mrenclave');
});

test('MRSIGNER policy: signer, product ID and minimum security version', async () => {
  const { quote, options } = await evidence();
  const base = { mrsigner: hex(MRSIGNER), isvProdId: 3, allowSimulated: true } as const;
  await verifyEvidence(quote, base, options);
  await verifyEvidence(quote, { ...base, minIsvSvn: 5 }, options);
  await refused(verifyEvidence(quote, { ...base, minIsvSvn: 6 }, options), 'isvSvn');
  await refused(verifyEvidence(quote, { ...base, isvProdId: 4 }, options), 'isvProdId');
  await refused(verifyEvidence(quote, { ...base, mrsigner: 'cc'.repeat(32) }, options), 'mrsigner');
  // Both identities at once must both match.
  await refused(verifyEvidence(quote, { ...base, mrenclave: '11'.repeat(32) }, options), 'mrenclave');
  // Malformed policies are the caller's bug, not a mismatch: POLICY_INVALID naming the key, the same as the CLI's.
  const invalid = (key: string) => (e: unknown) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === key;
  await assert.rejects(verifyEvidence(quote, { mrsigner: hex(MRSIGNER) } as unknown as EnclavePolicy, options), invalid('isvProdId'));
  await assert.rejects(verifyEvidence(quote, { allowSimulated: true } as unknown as EnclavePolicy, options), invalid('mrenclave'));
  await assert.rejects(verifyEvidence(quote, {} as unknown as EnclavePolicy, options), invalid('mrenclave'));
  await assert.rejects(
    verifyEvidence(quote, { mrenclaev: hex(MRENCLAVE), allowSimulated: true } as unknown as EnclavePolicy, options),
    invalid('mrenclaev'),
  );
  await assert.rejects(verifyEvidence(quote, { mrenclave: 'xyz' }, options), invalid('mrenclave'));
});

test('a debug enclave is refused unless allowDebug', async () => {
  const { quote, options } = await evidence(debug);
  await refused(verifyEvidence(quote, { mrenclave: hex(MRENCLAVE), allowSimulated: true }, options), 'debug');
  const ok = await verifyEvidence(quote, { mrenclave: hex(MRENCLAVE), allowSimulated: true, allowDebug: true }, options);
  assert.equal(ok.identity.debug, true);
});

test('simulated evidence is refused unless allowSimulated; without the simulated anchor dcap refuses it', async () => {
  const { quote, options } = await evidence();
  await refused(verifyEvidence(quote, { mrenclave: hex(MRENCLAVE) }, options), 'simulated');
  const { trustAnchors: _ignored, ...intelOnly } = options;
  await assert.rejects(verifyEvidence(quote, { mrenclave: hex(MRENCLAVE), allowSimulated: true }, intelOnly), (e) => DcapError.is(e));
});

test('OutOfDate is refused by default, accepted when listed with all its advisories', async () => {
  const { quote, options } = await evidence(production, { tcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-00001', 'INTEL-SA-00002'] });
  const policy = { mrenclave: hex(MRENCLAVE), allowSimulated: true } as const;
  await refused(verifyEvidence(quote, policy, options), 'tcbStatus');
  await refused(
    verifyEvidence(quote, { ...policy, acceptedTcbStatuses: ['UpToDate', 'OutOfDate'], acceptedAdvisories: ['INTEL-SA-00001'] }, options),
    'advisories',
  );
  const ok = await verifyEvidence(
    quote,
    { ...policy, acceptedTcbStatuses: ['UpToDate', 'OutOfDate'], acceptedAdvisories: ['INTEL-SA-00001', 'intel-sa-00002'] },
    options,
  );
  assert.equal(ok.result.status, 'OutOfDate');
  assert.deepEqual([...ok.result.advisoryIds].sort(), ['INTEL-SA-00001', 'INTEL-SA-00002']);

  const sw = await evidence(production, { tcbStatus: 'SWHardeningNeeded' });
  await refused(verifyEvidence(sw.quote, policy, sw.options), 'tcbStatus');
  await verifyEvidence(sw.quote, { ...policy, acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'] }, sw.options);
});

test('REPORTDATA must start with the policy bytes', async () => {
  const { quote, options } = await evidence();
  const policy = { mrenclave: hex(MRENCLAVE), allowSimulated: true } as const;
  await verifyEvidence(quote, { ...policy, reportData: REPORT_DATA.slice(0, 32) }, options);
  await verifyEvidence(quote, { ...policy, reportData: REPORT_DATA }, options);
  const wrong = REPORT_DATA.slice(0, 32);
  wrong[31] = (wrong[31] ?? 0) ^ 1;
  await refused(verifyEvidence(quote, { ...policy, reportData: wrong }, options), 'reportData');
});

test('collateral comes from a provider when not given; a tampered quote keeps its DcapError', async () => {
  const { quote, options } = await evidence();
  const { collateral, ...rest } = options;
  const requests: unknown[] = [];
  const ok = await verifyEvidence(quote, { mrenclave: hex(MRENCLAVE), allowSimulated: true }, {
    ...rest,
    collateralProvider: {
      getCollateral: async (req) => {
        requests.push(req);
        return collateral as CollateralBundle;
      },
    },
  });
  assert.equal(ok.result.status, 'UpToDate');
  assert.equal(requests.length, 1);
  await assert.rejects(verifyEvidence(quote, { mrenclave: hex(MRENCLAVE) }, rest), (e) => EnclaveError.is(e) && e.code === 'INVALID_ARGUMENT');
  const tampered = quote.slice();
  tampered[48 + 64] = (tampered[48 + 64] ?? 0) ^ 1; // inside the report body (MRENCLAVE)
  await assert.rejects(verifyEvidence(tampered, { mrenclave: hex(MRENCLAVE), allowSimulated: true }, options), (e) => DcapError.is(e));
});

test('a TDX quote fails the teeType rule before any collateral is asked for', async () => {
  const tdx = loadDcapCases().find((c) => c.json.id === 'dcapqvl-tdx-v4');
  assert.ok(tdx !== undefined);
  let asked = 0;
  const provider = { getCollateral: async () => (asked++, {} as CollateralBundle) };
  await refused(verifyEvidence(tdx.quote, { mrenclave: hex(MRENCLAVE), allowSimulated: true }, { collateralProvider: provider }), 'teeType');
  assert.equal(asked, 0);
});
