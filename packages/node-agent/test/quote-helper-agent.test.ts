/**
 * The quote helper as the agent runs it, end to end on a real unix socket: a simulated node serves the AESM protocol
 * and an application gets a quote with Intel's out-of-process sequence (client library) that verifies with
 * @cloister/dcap against the simulation root; a node where another AESM service owns the socket is only probed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuoteVerifier, parseQuote, trustAnchorFromCertificate } from '@cloister/dcap';
import {
  Platform,
  createSimCollateral,
  enclaveIdentity,
  encodeTargetInfo,
  ereportFor,
  loadPki,
  verifyReportFor,
  type EnclaveIdentity,
} from '@cloister/sgx-sim';
import { AesmClient } from '@cloister/aesm';
import { NodeAgent, createLogger } from '../src/index.js';

const quiet = () => createLogger({ level: 'silent' });

const app: EnclaveIdentity = enclaveIdentity({
  mrEnclave: new Uint8Array(32).fill(0x42),
  mrSigner: new Uint8Array(32).fill(0x24),
  isvProdId: 3,
  isvSvn: 1,
});

test('a simulated node: InitQuoteEx → EREPORT → GetQuoteEx through the agent, verified by @cloister/dcap', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cloister-qh-'));
  const socketPath = join(root, 'aesmd', 'aesm.socket');
  const platformDir = join(root, 'platform');
  const agent = new NodeAgent({
    devicePlugin: false,
    quoteHelper: { socketPath, platformDir, simulate: true },
    logger: quiet(),
  });
  try {
    await agent.start();
    assert.equal(agent.quoteHelper?.mode, 'serving');
    assert.equal(agent.readiness().ok, true);
    const platform = Platform.load(platformDir); // created by the agent
    const client = new AesmClient({ socketPath, timeoutMs: 5000 });
    const { targetInfo } = await client.getTargetInfo();
    const reportData = new Uint8Array(64);
    reportData.set(createHash('sha256').update('hello from the enclave').digest());
    const report = ereportFor(platform, app, targetInfo, reportData);
    const nonce = randomBytes(16);
    // sgx_qe_report_info_t: nonce ‖ the app's TARGETINFO ‖ room for the QE's REPORT.
    const qeReportInfo = new Uint8Array(960);
    qeReportInfo.set(nonce, 0);
    qeReportInfo.set(encodeTargetInfo(app), 16);
    const { quote, qeReportInfo: info } = await client.getQuote(report, { qeReportInfo });
    const pki = await loadPki(platform, platformDir);
    const verifier = new QuoteVerifier({ trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] });
    const r = await verifier.verify(quote, await createSimCollateral(platform, pki));
    assert.equal(r.status, 'UpToDate');
    assert.equal(r.simulated, true);
    assert.equal(r.claims['mrenclave'], Buffer.from(app.mrEnclave).toString('hex'));
    assert.equal(r.claims['reportData'], Buffer.from(reportData).toString('hex'));
    assert.equal(parseQuote(quote).version, 3);
    // The QE report in qe_report_info is for the app and binds the quote: SHA-256(nonce ‖ quote).
    const qeReport = info!.subarray(16 + 512);
    const body = verifyReportFor(platform, app, qeReport);
    assert.deepEqual(
      Buffer.from(body.reportData.subarray(0, 32)),
      createHash('sha256').update(nonce).update(quote).digest(),
    );
  } finally {
    await agent.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('another AESM service owns the socket: the agent probes it instead of serving', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cloister-qh-'));
  const socketPath = join(root, 'aesmd', 'aesm.socket');
  const first = new NodeAgent({ devicePlugin: false, quoteHelper: { socketPath, platformDir: join(root, 'p'), simulate: true }, logger: quiet() });
  const second = new NodeAgent({ devicePlugin: false, quoteHelper: { socketPath, platformDir: join(root, 'none') }, logger: quiet() });
  try {
    await first.start();
    await second.start();
    assert.equal(second.quoteHelper?.mode, 'probing');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(second.readiness().ok, true, JSON.stringify(second.readiness()));
    await first.stop();
    const lonely = new NodeAgent({ devicePlugin: false, quoteHelper: { socketPath, platformDir: join(root, 'none'), probeIntervalMs: 50 }, logger: quiet() });
    await lonely.start();
    await new Promise((r) => setTimeout(r, 200));
    const ready = lonely.readiness();
    assert.equal(ready.ok, false);
    assert.match(ready.reasons.join(' '), /AESM service/);
    await lonely.stop();
  } finally {
    await first.stop();
    await second.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
