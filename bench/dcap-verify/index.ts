/**
 * dcap-verify: how fast @cloister/dcap verifies real SGX and TDX quotes on one core, against the peer
 * @phala/dcap-qvl and against the machine's P-256 ECDSA verification rate.
 *
 *   cold  a new QuoteVerifier and a freshly parsed collateral.json per verification (nothing memoised): ms/quote
 *   warm  one QuoteVerifier and one parsed bundle, repeated verifications: verifications/s
 *         (node:crypto provider, and the default WebCrypto provider)
 *   phala @phala/dcap-qvl verify() on the same quote, collateral and time: verifications/s
 *   limit crypto.verify('sha256', 432-byte message, P-256 KeyObject, ieee-p1363): verifications/s
 *
 * Everything runs sequentially on the main thread (one verification in flight at a time). Each measurement is a
 * time-bounded loop after a warm-up. Every verification's status is checked; a wrong one exits non-zero.
 * The last line is `dcap-verify: key=value …`.
 */
import { readFileSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify as nodeVerify } from 'node:crypto';
import { join } from 'node:path';
import { dcapDir } from '@cloister/testkit';
import { timeAsync, timeSync, type Measurement } from '../lib/measure.js';
import { performance } from 'node:perf_hooks';
import phala, { type Collateral as PhalaCollateral } from '@phala/dcap-qvl';
import {
  QuoteVerifier,
  createWebCryptoProvider,
  parseCollateralBundle,
  type CryptoProvider,
  type VerificationResult,
} from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';

const WARMUP_MS = Number(process.env.DCAP_BENCH_WARMUP_MS ?? 400);
const MEASURE_MS = Number(process.env.DCAP_BENCH_MEASURE_MS ?? 2000);
const MESSAGE_BYTES = 432;

// ---------------------------------------------------------------------------------------------------------------
// Corpus

interface BenchCase {
  readonly id: string;
  readonly label: 'sgx' | 'tdx';
  readonly quote: Uint8Array;
  readonly collateralText: string;
  readonly now: string;
  readonly nowMs: number;
  readonly status: string;
  readonly advisoryIds: readonly string[];
}

function loadCase(id: string, label: 'sgx' | 'tdx'): BenchCase {
  const dir = join(dcapDir, id);
  const json = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as {
    now: string;
    expect?: { status: string; advisoryIds: string[] };
  };
  if (json.expect === undefined) throw new Error(`${id}: case.json has no "expect" (not a verifying case)`);
  const q = readFileSync(join(dir, 'quote.bin'));
  return {
    id,
    label,
    quote: new Uint8Array(q.buffer, q.byteOffset, q.byteLength),
    collateralText: readFileSync(join(dir, 'collateral.json'), 'utf8'),
    now: json.now,
    nowMs: Date.parse(json.now),
    status: json.expect.status,
    advisoryIds: json.expect.advisoryIds,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Checks and timing

class WrongResult extends Error {
  override name = 'WrongResult';
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

/** Full check (status and advisory IDs as a set). */
function check(what: string, c: BenchCase, status: string, advisoryIds: readonly string[]): void {
  if (status !== c.status || !sameSet(advisoryIds, c.advisoryIds)) {
    throw new WrongResult(
      `${what} on ${c.id}: got ${status} [${advisoryIds.join(', ')}], expected ${c.status} [${c.advisoryIds.join(', ')}]`,
    );
  }
}

const BUDGET = { warmupMs: WARMUP_MS, measureMs: MEASURE_MS };

// ---------------------------------------------------------------------------------------------------------------
// The measurements

async function cold(c: BenchCase, crypto: CryptoProvider): Promise<Measurement> {
  const first = await new QuoteVerifier({ crypto }).verify(c.quote, parseCollateralBundle(c.collateralText), { now: c.now });
  check('cold', c, first.status, first.advisoryIds);
  return timeAsync(async () => {
    const bundle = parseCollateralBundle(c.collateralText);
    const r = await new QuoteVerifier({ crypto }).verify(c.quote, bundle, { now: c.now });
    if (r.status !== c.status) check('cold', c, r.status, r.advisoryIds);
  }, BUDGET);
}

async function warm(c: BenchCase, crypto: CryptoProvider, what: string): Promise<Measurement> {
  const verifier = new QuoteVerifier({ crypto });
  const bundle = parseCollateralBundle(c.collateralText);
  const options = { now: c.now };
  const first: VerificationResult = await verifier.verify(c.quote, bundle, options);
  check(what, c, first.status, first.advisoryIds);
  return timeAsync(async () => {
    const r = await verifier.verify(c.quote, bundle, options);
    if (r.status !== c.status) check(what, c, r.status, r.advisoryIds);
  }, BUDGET);
}

/** The peer takes the same QuoteCollateralV3 shape (hex CRLs and signatures), the quote as a Buffer, and seconds. */
function phalaCollateral(text: string): PhalaCollateral {
  const o = JSON.parse(text) as Record<string, unknown>;
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') throw new Error(`collateral.json: ${k} is not a string`);
    return v;
  };
  const hexBytes = (k: string): number[] => Array.from(Buffer.from(str(k), 'hex'));
  return {
    pck_crl_issuer_chain: str('pck_crl_issuer_chain'),
    root_ca_crl: hexBytes('root_ca_crl'),
    pck_crl: hexBytes('pck_crl'),
    tcb_info_issuer_chain: str('tcb_info_issuer_chain'),
    tcb_info: str('tcb_info'),
    tcb_info_signature: hexBytes('tcb_info_signature'),
    qe_identity_issuer_chain: str('qe_identity_issuer_chain'),
    qe_identity: str('qe_identity'),
    qe_identity_signature: hexBytes('qe_identity_signature'),
    ...(typeof o.pck_certificate_chain === 'string' ? { pck_certificate_chain: o.pck_certificate_chain } : {}),
  };
}

async function peer(c: BenchCase): Promise<{ m: Measurement; status: string; advisoryIds: readonly string[] }> {
  const collateral = phalaCollateral(c.collateralText);
  const quote = Buffer.from(c.quote);
  const nowSecs = Math.floor(c.nowMs / 1000);
  const first = phala.verify(quote, collateral, nowSecs);
  check('@phala/dcap-qvl', c, first.status, first.advisory_ids);
  const m = await timeAsync(async () => {
    const r = phala.verify(quote, collateral, nowSecs);
    if (r.status !== c.status) check('@phala/dcap-qvl', c, r.status, r.advisory_ids);
  }, BUDGET);
  return { m, status: first.status, advisoryIds: first.advisory_ids };
}

function p256Limit(): Measurement {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // A KeyObject created once from the SPKI DER, as the node:crypto provider imports keys.
  const key = createPublicKey({ key: publicKey.export({ format: 'der', type: 'spki' }), format: 'der', type: 'spki' });
  const data = randomBytes(MESSAGE_BYTES);
  const signature = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const opts = { key, dsaEncoding: 'ieee-p1363' as const };
  if (!nodeVerify('sha256', data, opts, signature)) throw new WrongResult('P-256 self-test signature does not verify');
  let bad = 0;
  const m = timeSync(() => {
    if (!nodeVerify('sha256', data, opts, signature)) bad++;
  }, BUDGET);
  if (bad !== 0) throw new WrongResult(`${bad} P-256 verifications failed`);
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// Main

interface Row {
  readonly what: string;
  readonly quote: string;
  readonly crypto: string;
  readonly m: Measurement;
}

function table(rows: readonly Row[]): string {
  const head = ['measurement', 'quote', 'crypto', 'iterations', 'time s', 'per s', 'mean ms'];
  const body = rows.map((r) => [
    r.what,
    r.quote,
    r.crypto,
    String(r.m.iterations),
    (r.m.ms / 1000).toFixed(2),
    Math.round(r.m.perSecond).toLocaleString('en-US'),
    r.m.meanMs < 0.1 ? r.m.meanMs.toFixed(4) : r.m.meanMs.toFixed(3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const sgx = loadCase('dcapqvl-sgx-v3', 'sgx');
  const tdx = loadCase('dcapqvl-tdx-v4', 'tdx');
  const node = nodeCryptoProvider();
  const web = createWebCryptoProvider();
  const tee = (c: BenchCase): string => `${c.label.toUpperCase()} ${c.id}`;

  console.log(`dcap-verify on ${process.version} (${process.platform}/${process.arch}), one verification at a time`);
  console.log(`SGX ${sgx.id} at ${sgx.now}: expect ${sgx.status} [${sgx.advisoryIds.join(', ')}]`);
  console.log(`TDX ${tdx.id} at ${tdx.now}: expect ${tdx.status} [${tdx.advisoryIds.join(', ')}]`);
  console.log(`each measurement: ${WARMUP_MS} ms warm-up, then ${MEASURE_MS} ms\n`);

  const rows: Row[] = [];
  const run = async (what: string, quote: string, crypto: string, f: () => Promise<Measurement> | Measurement) => {
    const m = await f();
    rows.push({ what, quote, crypto, m });
    return m;
  };

  const sgxCold = await run('cold (new verifier + parse)', tee(sgx), node.name, () => cold(sgx, node));
  const tdxCold = await run('cold (new verifier + parse)', tee(tdx), node.name, () => cold(tdx, node));
  const sgxWarm = await run('warm (one verifier, one bundle)', tee(sgx), node.name, () => warm(sgx, node, 'warm'));
  const tdxWarm = await run('warm (one verifier, one bundle)', tee(tdx), node.name, () => warm(tdx, node, 'warm'));
  const sgxWeb = await run('warm (one verifier, one bundle)', tee(sgx), web.name, () => warm(sgx, web, 'warm webcrypto'));
  await run('warm (one verifier, one bundle)', tee(tdx), web.name, () => warm(tdx, web, 'warm webcrypto'));
  const phalaSgx = await peer(sgx);
  rows.push({ what: '@phala/dcap-qvl 0.3.9 verify()', quote: tee(sgx), crypto: 'node:crypto (compat)', m: phalaSgx.m });
  const phalaTdx = await peer(tdx);
  rows.push({ what: '@phala/dcap-qvl 0.3.9 verify()', quote: tee(tdx), crypto: 'node:crypto (compat)', m: phalaTdx.m });
  const limit = await run(`P-256 ECDSA-SHA256 verify, ${MESSAGE_BYTES} B`, '-', 'node:crypto', () => p256Limit());

  console.log(table(rows));
  console.log();
  console.log(`@phala/dcap-qvl status: SGX ${phalaSgx.status} [${phalaSgx.advisoryIds.join(', ')}], TDX ${phalaTdx.status} [${phalaTdx.advisoryIds.join(', ')}]`);
  console.log(`total ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);

  const rate = (m: Measurement): string => String(Math.round(m.perSecond));
  const ratio = (a: Measurement, b: Measurement): string => (a.perSecond / b.perSecond).toFixed(2);
  const fields: Array<[string, string]> = [
    ['sgx_warm_per_s', rate(sgxWarm)],
    ['tdx_warm_per_s', rate(tdxWarm)],
    ['sgx_warm_webcrypto_per_s', rate(sgxWeb)],
    ['sgx_cold_ms', sgxCold.meanMs.toFixed(2)],
    ['tdx_cold_ms', tdxCold.meanMs.toFixed(2)],
    ['phala_sgx_per_s', rate(phalaSgx.m)],
    ['phala_tdx_per_s', rate(phalaTdx.m)],
    ['p256_verify_limit_per_s', rate(limit)],
    ['sgx_warm_vs_limit', ratio(sgxWarm, limit)],
    ['sgx_vs_phala', ratio(sgxWarm, phalaSgx.m)],
    ['tdx_vs_phala', ratio(tdxWarm, phalaTdx.m)],
  ];
  console.log(`dcap-verify: ${fields.map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

try {
  await main();
} catch (e) {
  console.error(`dcap-verify FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
}
