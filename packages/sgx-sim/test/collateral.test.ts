/**
 * Simulated collateral: formats as @cloister/dcap parses them, every TCB status reachable with its advisory IDs, QE
 * identity convergence, TCB_NOT_SUPPORTED, PCK revocation, expiry, and the bundle JSON round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TCB_STATUSES,
  parseCollateralBundle,
  parseCrl,
  parseEnclaveIdentity,
  parseTcbInfo,
  serializeCollateralBundle,
  toHex,
} from '@cloister/dcap';
import {
  SIM_TCB_STATUSES,
  createSimCollateral,
  defaultSimTcbLevels,
  type SimCollateralOptions,
} from '../src/collateral.js';
import { SimError } from '../src/errors.js';
import { createSimPki } from '../src/pki.js';
import { buildQuote } from '../src/quoting.js';
import { encodeReportBody } from '../src/report-body.js';
import { APP_IDENTITY, APP_REPORT_DATA, fixedPlatform, rejectsWith, simVerifier } from './pki-fixtures.js';

const platform = fixedPlatform();
const pkiPromise = createSimPki(platform);
const body = encodeReportBody(APP_IDENTITY, platform.cpuSvn, APP_REPORT_DATA);
const ADVISORIES = ['SIM-SA-00002', 'SIM-SA-00001'];
const DAY = 86_400_000;

async function verifyWith(options: SimCollateralOptions, version: 3 | 4 = 3) {
  const pki = await pkiPromise;
  const collateral = await createSimCollateral(platform, pki, options);
  return simVerifier(pki).verify(buildQuote(platform, body, { pki, version }), collateral);
}

test('TCB info v3 and QE identity v2: the shapes Intel serves, signed text compact, dates to the second', async () => {
  const pki = await pkiPromise;
  const now = Date.parse('2030-05-06T07:08:09.500Z');
  const c = await createSimCollateral(platform, pki, { now, validityDays: 10, tcbEvaluationDataNumber: 19 });
  assert.equal(c.tcbInfoBody, JSON.stringify(JSON.parse(c.tcbInfoBody)));
  assert.equal(c.qeIdentityBody, JSON.stringify(JSON.parse(c.qeIdentityBody)));
  assert.match(c.tcbInfoBody, /^\{"id":"SGX","version":3,"issueDate":"2030-05-06T06:08:09Z","nextUpdate":"2030-05-16T07:08:09Z","fmspc":"00906ED50000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":19,"tcbLevels":\[\{"tcb":\{"sgxtcbcomponents":\[\{"svn":7\},/);
  const info = parseTcbInfo(c.tcbInfoBody);
  assert.equal(info.id, 'SGX');
  assert.equal(info.version, 3);
  assert.equal(info.fmspc, platform.config.fmspc);
  assert.equal(info.pceId, platform.config.pceId);
  assert.equal(info.issueDate, Date.parse('2030-05-06T06:08:09Z'));
  assert.equal(info.nextUpdate, Date.parse('2030-05-16T07:08:09Z'));
  assert.equal(info.tcbEvaluationDataNumber, 19);
  // Default (UpToDate): the platform's own level, then a lower OutOfDate one; highest first.
  assert.deepEqual(
    info.tcbLevels.map((l) => [l.tcbStatus, l.pceSvn, l.sgxTcbComponents[0]]),
    [
      ['UpToDate', 13, 7],
      ['OutOfDate', 12, 6],
    ],
  );
  assert.ok(!c.tcbInfoBody.includes('advisoryIDs'));
  const qe = parseEnclaveIdentity(c.qeIdentityBody);
  assert.match(c.qeIdentityBody, /^\{"id":"QE","version":2,"issueDate":"2030-05-06T06:08:09Z","nextUpdate":"2030-05-16T07:08:09Z","tcbEvaluationDataNumber":19,"miscselect":"00000000","miscselectMask":"FFFFFFFF","attributes":"11000000000000000000000000000000","attributesMask":"FBFFFFFFFFFFFFFF0000000000000000","mrsigner":"[0-9A-F]{64}","isvprodid":1,"tcbLevels":/);
  assert.deepEqual(
    qe.tcbLevels.map((l) => [l.isvSvn, l.tcbStatus]),
    [
      [8, 'UpToDate'],
      [7, 'OutOfDate'],
    ],
  );
  // Chains and CRL window.
  assert.equal(c.tcbInfoIssuerChain, pki.tcbSigningChainPem);
  assert.equal(c.qeIdentityIssuerChain, pki.tcbSigningChainPem);
  assert.equal(c.pckCrlIssuerChain, pki.pckCrlIssuerChainPem);
  const crl = parseCrl(c.pckCrl);
  assert.equal(crl.thisUpdate, info.issueDate);
  assert.equal(crl.nextUpdate, info.nextUpdate);
  assert.equal(c.tcbInfoSignature.length, 64);
  assert.equal(c.qeIdentitySignature.length, 64);
});

test('every TCB status is reachable, with the configured advisory IDs (quote v3 and v4)', async () => {
  assert.deepEqual([...SIM_TCB_STATUSES], TCB_STATUSES.slice(0, 7));
  for (const status of SIM_TCB_STATUSES) {
    for (const version of [3, 4] as const) {
      const r = await verifyWith({ tcbStatus: status, advisoryIds: ADVISORIES }, version);
      assert.equal(r.status, status, `${status} v${version}`);
      assert.deepEqual(r.advisoryIds, [...ADVISORIES].sort());
    }
    const plain = await verifyWith({ tcbStatus: status });
    assert.equal(plain.status, status);
    assert.deepEqual(plain.advisoryIds, []);
  }
});

test('the QE identity status converges as Intel QVL does', async () => {
  const cases: [SimCollateralOptions, string][] = [
    [{ qeTcbStatus: 'OutOfDate' }, 'OutOfDate'],
    [{ tcbStatus: 'SWHardeningNeeded', qeTcbStatus: 'OutOfDate' }, 'OutOfDate'],
    [{ tcbStatus: 'ConfigurationNeeded', qeTcbStatus: 'OutOfDate' }, 'OutOfDateConfigurationNeeded'],
    [{ tcbStatus: 'ConfigurationAndSWHardeningNeeded', qeTcbStatus: 'OutOfDate' }, 'OutOfDateConfigurationNeeded'],
    [{ tcbStatus: 'ConfigurationNeeded', qeTcbStatus: 'Revoked' }, 'Revoked'],
    [{ qeTcbStatus: 'UpToDate' }, 'UpToDate'],
  ];
  for (const [options, want] of cases) {
    const r = await verifyWith(options);
    assert.equal(r.status, want, JSON.stringify(options));
    assert.equal(r.qeIdentity.status, options.qeTcbStatus ?? 'UpToDate');
  }
  // QE advisories join the TCB level's.
  const r = await verifyWith({ tcbStatus: 'SWHardeningNeeded', advisoryIds: ['SIM-SA-00010'], qeTcbStatus: 'OutOfDate', qeAdvisoryIds: ['SIM-SA-00020'] });
  assert.deepEqual(r.advisoryIds, ['SIM-SA-00010', 'SIM-SA-00020']);
  // A QE below every QE identity level.
  const pki = await pkiPromise;
  const low = await createSimCollateral(platform, pki, { qeTcbLevels: [{ isvSvn: platform.config.qeSvn + 1, tcbStatus: 'UpToDate' }] });
  await rejectsWith(simVerifier(pki).verify(buildQuote(platform, body, { pki }), low), 'TCB_NOT_SUPPORTED');
});

test('belowAllLevels → TCB_NOT_SUPPORTED; revokePck → SGX_PCK_REVOKED', async () => {
  const pki = await pkiPromise;
  const quote = buildQuote(platform, body, { pki });
  const below = await createSimCollateral(platform, pki, { belowAllLevels: true });
  assert.equal(parseTcbInfo(below.tcbInfoBody).tcbLevels.length, 2);
  await rejectsWith(simVerifier(pki).verify(quote, below), 'TCB_NOT_SUPPORTED');
  const revoked = await createSimCollateral(platform, pki, { revokePck: true });
  assert.ok(parseCrl(revoked.pckCrl).revoked.has(pki.pckSerialHex));
  await rejectsWith(simVerifier(pki).verify(quote, revoked), 'SGX_PCK_REVOKED');
});

test('custom TCB levels are written as given', async () => {
  const pki = await pkiPromise;
  const comps = [...platform.config.sgxTcbComponents];
  const collateral = await createSimCollateral(platform, pki, {
    tcbLevels: [
      { sgxTcbComponents: comps, pceSvn: platform.config.pceSvn + 5, tcbStatus: 'UpToDate' },
      { sgxTcbComponents: comps, pceSvn: 1, tcbStatus: 'SWHardeningNeeded', advisoryIds: ['SIM-SA-00099'], tcbDate: '2024-01-01T00:00:00Z' },
    ],
  });
  const r = await simVerifier(pki).verify(buildQuote(platform, body, { pki }), collateral);
  assert.equal(r.status, 'SWHardeningNeeded');
  assert.deepEqual(r.advisoryIds, ['SIM-SA-00099']);
  assert.equal(r.collateral.tcbLevelDate, '2024-01-01T00:00:00Z');
  const odd = await createSimCollateral(platform, pki, { tcbLevels: [{ sgxTcbComponents: comps, pceSvn: 0, tcbStatus: 'Mysterious' }] });
  await rejectsWith(simVerifier(pki).verify(buildQuote(platform, body, { pki }), odd), 'TCB_UNRECOGNIZED_STATUS');
});

test('collateral past nextUpdate is refused with expiry codes, accepted with allowExpiredCollateral', async () => {
  const pki = await pkiPromise;
  const quote = buildQuote(platform, body, { pki });
  const collateral = await createSimCollateral(platform, pki, { validityDays: 30 });
  const v = simVerifier(pki);
  const later = Date.now() + 31 * DAY;
  // The PCK chain step comes first: the CRLs expire with the rest of the collateral.
  await rejectsWith(v.verify(quote, collateral, { now: later }), 'SGX_CRL_EXPIRED');
  // Without the CRL windows, the TCB info is the first to expire.
  await rejectsWith(v.verify(quote, collateral, { now: later, skipRootCrlFreshness: true, skipPckCrlFreshness: true }), 'SGX_TCB_INFO_EXPIRED');
  const r = await v.verify(quote, collateral, { now: later, allowExpiredCollateral: true });
  assert.equal(r.status, 'UpToDate');
  assert.equal(r.collateral.expired, true);
  const codes = r.collateral.expiredItems.map((s) => s.split(':')[0]);
  for (const code of ['SGX_CRL_EXPIRED', 'SGX_TCB_INFO_EXPIRED', 'SGX_ENCLAVE_IDENTITY_EXPIRED']) assert.ok(codes.includes(code), code);
  // Collateral issued in the future is not yet valid either.
  const future = await createSimCollateral(platform, pki, { now: Date.now() + 2 * DAY });
  await rejectsWith(v.verify(quote, future), 'SGX_CRL_EXPIRED');
  // And within the window everything is fresh.
  const fresh = await v.verify(quote, collateral, { now: Date.now() + 29 * DAY });
  assert.equal(fresh.collateral.expired, false);
});

test('the bundle round trips through serializeCollateralBundle / parseCollateralBundle and still verifies', async () => {
  const pki = await pkiPromise;
  const collateral = await createSimCollateral(platform, pki, { tcbStatus: 'OutOfDate', advisoryIds: ADVISORIES });
  const text = serializeCollateralBundle(collateral);
  const parsed = parseCollateralBundle(text);
  assert.deepEqual(parsed, collateral);
  assert.equal(serializeCollateralBundle(parsed), text);
  const json = JSON.parse(text) as Record<string, string>;
  assert.equal(json['tcb_info'], collateral.tcbInfoBody);
  assert.equal(json['root_ca_crl'], toHex(collateral.rootCaCrl));
  for (const version of [3, 4] as const) {
    const quote = buildQuote(platform, body, { pki, version });
    for (const input of [text, parsed, json]) {
      const r = await simVerifier(pki).verify(quote, input);
      assert.equal(r.status, 'OutOfDate');
      assert.deepEqual(r.advisoryIds, [...ADVISORIES].sort());
    }
  }
});

test('default levels at the edges of the SVN ranges; option checks', async () => {
  const pki = await pkiPromise;
  // A platform whose every SVN is 0 has no lower level.
  const zero = fixedPlatform({ sgxTcbComponents: new Array<number>(16).fill(0), pceSvn: 0, qeSvn: 0 });
  assert.deepEqual(defaultSimTcbLevels(zero, 'UpToDate', []).length, 1);
  assert.deepEqual(defaultSimTcbLevels(zero, 'OutOfDate', []).map((l) => l.tcbStatus), ['UpToDate', 'OutOfDate']);
  const zpki = await createSimPki(zero);
  for (const status of ['UpToDate', 'ConfigurationNeeded'] as const) {
    const r = await simVerifier(zpki).verify(
      buildQuote(zero, encodeReportBody(APP_IDENTITY, zero.cpuSvn, APP_REPORT_DATA), { pki: zpki }),
      await createSimCollateral(zero, zpki, { tcbStatus: status, qeTcbStatus: 'OutOfDate' }),
    );
    assert.equal(r.status, status === 'UpToDate' ? 'OutOfDate' : 'OutOfDateConfigurationNeeded');
  }
  const bad = (o: SimCollateralOptions): Promise<unknown> => createSimCollateral(platform, pki, o);
  const isInvalid = (e: unknown): boolean => SimError.is(e) && e.code === 'INVALID_PARAMETER';
  await assert.rejects(bad({ tcbStatus: 'Fine' as 'UpToDate' }), isInvalid);
  await assert.rejects(bad({ qeTcbStatus: 'ConfigurationNeeded' as 'UpToDate' }), isInvalid);
  await assert.rejects(bad({ validityDays: 0 }), isInvalid);
  await assert.rejects(bad({ now: 'yesterday' }), isInvalid);
  await assert.rejects(bad({ advisoryIds: [''] }), isInvalid);
  await assert.rejects(bad({ tcbLevels: [] }), isInvalid);
});
