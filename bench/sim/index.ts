/**
 * bench/sim — the simulated SGX platform (@cloister/sgx-sim), one operation at a time on one core:
 *  - quotes: EREPORT by an application enclave for the Quoting Enclave, MAC check, DCAP quote v3 (one ECDSA signature);
 *  - EREPORT+verify: local attestation (EREPORT by A targeted at B, B recomputes the MAC);
 *  - sealing / unsealing 1 MiB payloads (AES-128-GCM with an EGETKEY seal key, Intel sgx_sealed_data_t).
 * Every result is checked (a quote verifies with @cloister/dcap against the simulation root; every unseal round trips).
 * Target: sealing ≥ 500 MB/s. Last line: `sim: key=value …`.
 */
import { performance } from 'node:perf_hooks';
import { QuoteVerifier, bytesEqual, trustAnchorFromCertificate } from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import {
  Platform,
  SimEnclave,
  SimQuotingEnclave,
  createSimCollateral,
  createSimPki,
  generateSigningKey,
  signEnclave,
  type EnclaveManifest,
} from '@cloister/sgx-sim';
import { timeSync, type Measurement } from '../lib/measure.js';

const BUDGET = {
  warmupMs: Number(process.env.SIM_BENCH_WARMUP_MS ?? 300),
  measureMs: Number(process.env.SIM_BENCH_MEASURE_MS ?? 2000),
};
const MIB = 1 << 20;

function enclave(platform: Platform, key: string, name: string): SimEnclave {
  const manifest: EnclaveManifest = { name, entry: 'main.js', heapSizeMiB: 64, debug: false, productId: 1, securityVersion: 1 };
  const code = new TextEncoder().encode(`export const name = ${JSON.stringify(name)};\n`);
  const signed = signEnclave({ code, manifest }, key);
  return SimEnclave.load(platform, { code, manifest }, signed.sigstruct);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const platform = Platform.create();
  const pki = await createSimPki(platform);
  const key = generateSigningKey();
  const a = enclave(platform, key, 'bench-a');
  const b = enclave(platform, key, 'bench-b');
  const qe = new SimQuotingEnclave(platform, pki);
  const reportData = new Uint8Array(64).fill(7);

  // Quotes: check one with the production verifier, trusting only the simulation root.
  const sample = qe.quoteFor(a.identity, reportData);
  const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider(), trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] });
  const verified = await verifier.verify(sample, await createSimCollateral(platform, pki));
  if (verified.status !== 'UpToDate' || !verified.simulated) throw new Error(`simulated quote gave ${verified.status}`);
  const quotes = timeSync(() => {
    qe.quoteFor(a.identity, reportData);
  }, BUDGET, 16);

  // Local attestation: A reports to B, B checks the MAC.
  const targetB = b.targetInfo();
  const ereport = timeSync(() => {
    b.verifyReport(a.ereport(targetB, reportData));
  }, BUDGET, 64);

  // Sealing 1 MiB.
  const payload = new Uint8Array(MIB).map((_, i) => i & 0xff);
  const blob = a.seal(payload);
  if (!bytesEqual(a.unseal(blob).plaintext, payload)) throw new Error('unseal did not round trip');
  const seal = timeSync(() => {
    a.seal(payload);
  }, BUDGET, 4);
  const unseal = timeSync(() => {
    a.unseal(blob);
  }, BUDGET, 4);

  const mbps = (m: Measurement) => (m.perSecond * MIB) / 1e6;
  const rows: [string, string][] = [
    ['quote v3 (EREPORT → QE MAC check → ECDSA)', `${Math.round(quotes.perSecond).toLocaleString('en-US')} /s (${(quotes.meanMs * 1000).toFixed(1)} µs)`],
    ['EREPORT + local verify', `${Math.round(ereport.perSecond).toLocaleString('en-US')} /s (${(ereport.meanMs * 1000).toFixed(1)} µs)`],
    ['seal 1 MiB', `${mbps(seal).toFixed(0)} MB/s`],
    ['unseal 1 MiB', `${mbps(unseal).toFixed(0)} MB/s`],
  ];
  console.log(`sim on ${process.version} (${process.platform}/${process.arch}), one operation at a time`);
  for (const [what, value] of rows) console.log(`  ${what.padEnd(44)}${value}`);
  console.log(`  simulated quote verified: ${verified.status}, simulated=${verified.simulated}`);
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(
    `sim: quotes_per_s=${Math.round(quotes.perSecond)} ereport_verify_per_s=${Math.round(ereport.perSecond)} ` +
      `seal_mb_per_s=${mbps(seal).toFixed(0)} unseal_mb_per_s=${mbps(unseal).toFixed(0)} seal_target_mb_per_s=500 ` +
      `seal_vs_target=${(mbps(seal) / 500).toFixed(2)}`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
