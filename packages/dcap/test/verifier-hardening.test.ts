/**
 * The verifier's caches cannot go stale or be poisoned, the PCK CRL issuer chain is checked, and inputs are bounded
 * before they are decoded (issue "Harden the trust boundary", items 3 and 4). Real Intel collateral from the corpus;
 * every change below is genuine Intel-signed data put where it does not belong, or a tampered byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DcapError,
  QuoteVerifier,
  decodeBinaryInput,
  parseCollateralBundle,
  parseTcbInfo,
  MAX_TEXT_INPUT_CHARS,
  type CollateralBundle,
} from '../src/index.js';
import { createCachingProvider, nodeCryptoProvider, type CollateralProvider } from '../src/node/index.js';
import { loadDcapCases, type DcapCase } from './corpus.js';
import { caseOptions } from './verify-helpers.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const cases = loadDcapCases();
const byId = (id: string): DcapCase => {
  const c = cases.find((x) => x.json.id === id);
  assert.ok(c !== undefined, id);
  return c;
};
const SGX = byId('dcapqvl-sgx-v3');
const TDX = byId('dcapqvl-tdx-v4');

async function rejectsWith(p: Promise<unknown>, code: string): Promise<DcapError> {
  try {
    await p;
  } catch (e) {
    assert.ok(DcapError.is(e), `expected a DcapError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

function throwsWith(f: () => unknown, code: string): void {
  assert.throws(f, (e: unknown) => DcapError.is(e) && e.code === code);
}

// ---------------------------------------------------------------------------------------------------------------------
// Item 3: caches keyed by content

test('a bundle object updated in place is verified again: TCB info swapped for another (genuine) one', async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const bundle: Mutable<CollateralBundle> = { ...parseCollateralBundle(TDX.collateralText!) };
  const first = await verifier.verify(TDX.quote, bundle, caseOptions(TDX));
  assert.equal(first.status, 'UpToDate');
  // In place: the SGX platform's TCB info, validly signed by Intel, but for another TEE and FMSPC.
  const sgx = parseCollateralBundle(SGX.collateralText!);
  bundle.tcbInfoBody = sgx.tcbInfoBody;
  bundle.tcbInfoSignature = sgx.tcbInfoSignature;
  bundle.tcbInfoIssuerChain = sgx.tcbInfoIssuerChain;
  await rejectsWith(verifier.verify(TDX.quote, bundle, caseOptions(TDX)), 'TCB_INFO_MISMATCH');
  // And back: the original content verifies again.
  const original = parseCollateralBundle(TDX.collateralText!);
  Object.assign(bundle, original);
  assert.equal((await verifier.verify(TDX.quote, bundle, caseOptions(TDX))).status, 'UpToDate');
});

test("a byte of the PCK CRL changed inside the caller's array is seen (not served from the cache)", async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const bundle = parseCollateralBundle(SGX.collateralText!);
  assert.equal((await verifier.verify(SGX.quote, bundle, caseOptions(SGX))).status, SGX.json.expect!.status);
  const i = bundle.pckCrl.length - 10; // inside the signature value
  bundle.pckCrl[i]! ^= 0x01;
  await rejectsWith(verifier.verify(SGX.quote, bundle, caseOptions(SGX)), 'SGX_CRL_INVALID_SIGNATURE');
  bundle.pckCrl[i]! ^= 0x01;
  assert.equal((await verifier.verify(SGX.quote, bundle, caseOptions(SGX))).status, SGX.json.expect!.status);
});

test('a QuoteCollateralV3 object updated in place is verified again: QE identity swapped for the SGX one', async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const json = JSON.parse(TDX.collateralText!) as Record<string, string>;
  assert.equal((await verifier.verify(TDX.quote, json, caseOptions(TDX))).status, 'UpToDate');
  const sgx = JSON.parse(SGX.collateralText!) as Record<string, string>;
  json['qe_identity'] = sgx['qe_identity']!;
  json['qe_identity_signature'] = sgx['qe_identity_signature']!;
  json['qe_identity_issuer_chain'] = sgx['qe_identity_issuer_chain']!;
  await rejectsWith(verifier.verify(TDX.quote, json, caseOptions(TDX)), 'QE_IDENTITY_MISMATCH');
});

test('a tampered TCB info text in a reused object fails its signature instead of reusing the earlier verdict', async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const bundle: Mutable<CollateralBundle> = { ...parseCollateralBundle(SGX.collateralText!) };
  await verifier.verify(SGX.quote, bundle, caseOptions(SGX));
  // What an attacker would want: every level UpToDate.
  bundle.tcbInfoBody = bundle.tcbInfoBody.replace(/"tcbStatus":"[A-Za-z]+"/g, '"tcbStatus":"UpToDate"');
  await rejectsWith(verifier.verify(SGX.quote, bundle, caseOptions(SGX)), 'TCB_INFO_INVALID_SIGNATURE');
});

// ---------------------------------------------------------------------------------------------------------------------
// Item 3: pck_crl_issuer_chain

test('pck_crl_issuer_chain: a wrong chain is refused with QVL codes', async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const good = parseCollateralBundle(TDX.collateralText!);
  const sgx = parseCollateralBundle(SGX.collateralText!);
  const options = caseOptions(TDX);
  // The Processor CA chain of the SGX collateral for the TDX platform's Platform CA CRL: its leaf is not the issuer.
  await rejectsWith(verifier.verify(TDX.quote, { ...good, pckCrlIssuerChain: sgx.pckCrlIssuerChain }, options), 'SGX_CRL_UNKNOWN_ISSUER');
  // The TCB signing chain: no PCK CA at all.
  await rejectsWith(verifier.verify(TDX.quote, { ...good, pckCrlIssuerChain: good.tcbInfoIssuerChain }, options), 'SGX_CRL_UNKNOWN_ISSUER');
  // The root alone (QVL wants the CA and the root).
  const rootOnly = good.pckCrlIssuerChain.slice(good.pckCrlIssuerChain.indexOf('-----END CERTIFICATE-----') + 26);
  assert.ok(rootOnly.includes('BEGIN CERTIFICATE'));
  await rejectsWith(verifier.verify(TDX.quote, { ...good, pckCrlIssuerChain: rootOnly }, options), 'SGX_CA_CERT_UNSUPPORTED_FORMAT');
  // The CA alone: no root.
  const caOnly = good.pckCrlIssuerChain.slice(0, good.pckCrlIssuerChain.indexOf('-----END CERTIFICATE-----') + 25);
  await rejectsWith(verifier.verify(TDX.quote, { ...good, pckCrlIssuerChain: caOnly }, options), 'SGX_ROOT_CA_INVALID');
  // Not PEM.
  await rejectsWith(verifier.verify(TDX.quote, { ...good, pckCrlIssuerChain: 'garbage' }, options), 'SGX_CA_CERT_UNSUPPORTED_FORMAT');
  // A root that is not trusted: verifyCollateral against another anchor (the QVL sample root).
  const qvlSample = cases.find((c) => c.json.options?.trustedRootCaFile !== undefined);
  if (qvlSample !== undefined) {
    const other = caseOptions(qvlSample).trustAnchors!;
    await assert.rejects(verifier.verifyCollateral(good, { trustAnchors: other }), (e: unknown) => DcapError.is(e));
  }
  // And the genuine chain verifies.
  assert.equal((await verifier.verify(TDX.quote, good, options)).status, 'UpToDate');
});

test('verifyCollateral: genuine collateral verifies without a quote; one flipped signature byte does not', async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  for (const c of [SGX, TDX]) await verifier.verifyCollateral(c.collateralText!);
  const b = parseCollateralBundle(SGX.collateralText!);
  const sig = b.qeIdentitySignature.slice();
  sig[5]! ^= 0x80;
  await rejectsWith(verifier.verifyCollateral({ ...b, qeIdentitySignature: sig }), 'SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE');
  const rootCrl = b.rootCaCrl.slice();
  rootCrl[rootCrl.length - 5]! ^= 0x01;
  await rejectsWith(verifier.verifyCollateral({ ...b, rootCaCrl: rootCrl }), 'SGX_CRL_INVALID_SIGNATURE');
});

// ---------------------------------------------------------------------------------------------------------------------
// Item 3: the caching provider keeps only verified collateral

const SGX_REQ = { fmspc: '00a067110000', ca: 'processor', tee: 'SGX' } as const;

function countingProvider(answer: () => CollateralBundle): CollateralProvider & { calls: number } {
  const p = {
    calls: 0,
    async getCollateral() {
      p.calls++;
      return answer();
    },
  };
  return p;
}

test('caching provider: a tampered upstream answer with a far nextUpdate is refused and not cached', async () => {
  const genuine = parseCollateralBundle(SGX.collateralText!);
  // nextUpdate moved to 2099: would be served for 70 years if it were cached before being verified.
  const tcbInfoBody = genuine.tcbInfoBody.replace(/"nextUpdate":"[^"]+"/, '"nextUpdate":"2099-01-01T00:00:00Z"');
  assert.equal(parseTcbInfo(tcbInfoBody).nextUpdate, Date.UTC(2099, 0, 1));
  const upstream = countingProvider(() => ({ ...genuine, tcbInfoBody }));
  const cache = createCachingProvider(upstream, { now: () => Date.UTC(2025, 6, 1), crlNextUpdate: () => Date.UTC(2099, 0, 1) });
  await rejectsWith(cache.getCollateral(SGX_REQ), 'TCB_INFO_INVALID_SIGNATURE');
  assert.equal(cache.size, 0);
  await rejectsWith(cache.getCollateral(SGX_REQ), 'TCB_INFO_INVALID_SIGNATURE');
  assert.equal(upstream.calls, 2); // the next call re-fetched

  // A wrong PCK CRL issuer chain is not cached either.
  const sgxChainForTdx = countingProvider(() => ({
    ...genuine,
    pckCrlIssuerChain: genuine.tcbInfoIssuerChain,
  }));
  const cache2 = createCachingProvider(sgxChainForTdx, { now: () => Date.UTC(2025, 6, 1) });
  await rejectsWith(cache2.getCollateral(SGX_REQ), 'SGX_CRL_UNKNOWN_ISSUER');
  assert.equal(cache2.size, 0);

  // Genuine collateral is cached: two calls, one fetch.
  const good = countingProvider(() => parseCollateralBundle(SGX.collateralText!));
  const cache3 = createCachingProvider(good, { now: () => Date.UTC(2025, 6, 1) });
  await cache3.getCollateral(SGX_REQ);
  await cache3.getCollateral(SGX_REQ);
  assert.equal(good.calls, 1);
  assert.equal(cache3.size, 1);
});

// ---------------------------------------------------------------------------------------------------------------------
// Item 4: bounded inputs

test('text quotes are size-checked before decoding', () => {
  // Just over the bound: refused before a single character is decoded (the input is never copied to a string).
  const hex = new Uint8Array(MAX_TEXT_INPUT_CHARS + 2).fill(0x61 /* a */);
  throwsWith(() => decodeBinaryInput(hex), 'INPUT_TOO_LARGE');
  // Raw bytes over 1 MiB that look like a quote.
  const raw = new Uint8Array(1024 * 1024 + 1);
  raw.set([3, 0, 2, 0]);
  throwsWith(() => decodeBinaryInput(raw), 'INPUT_TOO_LARGE');
  // The real quote as hex still decodes.
  const text = new TextEncoder().encode(Buffer.from(SGX.quote).toString('hex'));
  assert.deepEqual(decodeBinaryInput(text), SGX.quote);
});

test('collateral JSON has a depth and an element budget (INPUT_TOO_LARGE), checked before JSON.parse', async () => {
  const deep = `{"tcbInfo":${'['.repeat(40)}${']'.repeat(40)}}`;
  throwsWith(() => parseTcbInfo(deep), 'INPUT_TOO_LARGE');
  const wide = `{"id":"SGX","x":[${Array.from({ length: 100_001 }, () => '0').join(',')}]}`;
  throwsWith(() => parseTcbInfo(wide), 'INPUT_TOO_LARGE');
  // Brackets inside strings do not count.
  assert.throws(
    () => parseTcbInfo(`{"a":"${'['.repeat(100)}"}`),
    (e: unknown) => DcapError.is(e) && e.code !== 'INPUT_TOO_LARGE' && e.message.includes('version'),
  );
  // A bundle text that would make JSON.parse allocate a million values.
  const bundleText = `{"pck_crl":[${'1,'.repeat(200_000)}1]}`;
  throwsWith(() => parseCollateralBundle(bundleText), 'INPUT_TOO_LARGE');
  await rejectsWith(new QuoteVerifier().verify(SGX.quote, bundleText), 'INPUT_TOO_LARGE');
  // The TCB info of the bundle too: an element bomb inside the signed text is refused before it is parsed.
  const b = parseCollateralBundle(SGX.collateralText!);
  const bomb = b.tcbInfoBody.replace('"tcbLevels":[', `"pad":[${'0,'.repeat(100_000)}0],"tcbLevels":[`);
  await rejectsWith(new QuoteVerifier({ crypto: nodeCryptoProvider() }).verify(SGX.quote, { ...b, tcbInfoBody: bomb }, caseOptions(SGX)), 'INPUT_TOO_LARGE');
});

test("what verifySignatures returns is the caller's copy: changing it does not change a later verification", async () => {
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const bundle = parseCollateralBundle(SGX.collateralText!);
  const before = await verifier.verify(SGX.quote, bundle, caseOptions(SGX));
  const { pck } = await verifier.verifySignatures(SGX.quote);
  (pck.tcb.sgxTcbComponents as number[]).fill(255);
  (pck as { fmspc: Uint8Array }).fmspc.fill(0);
  const after = await verifier.verify(SGX.quote, bundle, caseOptions(SGX));
  assert.equal(after.status, before.status);
  assert.deepEqual(after.platform, before.platform);
});
