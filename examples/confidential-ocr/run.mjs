// The confidential OCR example, end to end on a simulated SGX platform (docs/developers/confidential-inference.md):
//
//  1. the model owner encrypts the PP-OCRv4 model (AES-256-GCM blob) and registers its key with the key broker under
//     a release policy naming the inference enclave (MRENCLAVE, MRSIGNER, not debuggable);
//  2. the server starts: the enclave attests to the attestation service with its runtime data (wrapping key, RA-TLS
//     key hash, HPKE key, model hash), the broker releases the key wrapped to the enclave, the enclave decrypts the
//     model and serves Open Inference Protocol v2 over attested TLS that ends inside it;
//  3. the Node client verifies the enclave (RA-TLS) and recognises sample.png;
//  4. the verifying web page is built as one static file (web/dist/index.html) for the browser path.
//
// Run from the repository root after `npm run build`:  node examples/confidential-ocr/run.mjs [--keep]
// With --keep the services stay up (Ctrl-C to stop) so that the page can be opened; the policy and the simulation
// root to paste into it are printed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeCollateralBundle, trustAnchorFromCertificate } from '@cloister/dcap';
import { startAttestationService } from '@cloister/attestation-service';
import { prepareBrokerEnclave, startKeyBroker } from '@cloister/key-broker';
import { connectNodeClient, deployConfidentialOcr } from '@cloister/inference';
import { createLogger } from '@cloister/service-kit';
import { Platform, createSimCollateral, createSimPki, generateSigningKey, savePki } from '@cloister/sgx-sim';
import { buildPage } from './build-page.mjs';

const keep = process.argv.includes('--keep');
const root = mkdtempSync(join(tmpdir(), 'cloister-confidential-ocr-'));
const logger = createLogger({ component: 'confidential-ocr', level: 'warn' });
const ADMIN = `admin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
const closers = [];

try {
  // A simulated SGX platform: its PKI, collateral and root (on SGX hardware: Intel's, from the PCS or a PCCS).
  const platformDir = join(root, 'platform');
  const platform = Platform.create();
  platform.save(platformDir);
  const pki = await createSimPki(platform);
  savePki(pki, platformDir);
  const collateral = await createSimCollateral(platform, pki);
  const signer = join(root, 'signer.pem');
  writeFileSync(signer, generateSigningKey(), { mode: 0o600 });

  // The services.
  const as = await startAttestationService({ allowSimulated: true, trustRoots: [pki.rootCertPem], collateral: [serializeCollateralBundle(collateral)], keyEncryptionKey: ADMIN, logger });
  closers.push(() => as.close());
  const authority = as.simulatedIssuer;
  const brokerEnclave = await prepareBrokerEnclave({ dir: join(root, 'broker-enclave'), keyPath: signer });
  const broker = await startKeyBroker({ port: 0, storage: { dataDir: join(root, 'broker-data') }, authorities: [authority], adminToken: ADMIN, enclaveDir: brokerEnclave.dir, platform: platformDir, logger });
  closers.push(() => broker.close());

  // 1. The model owner encrypts the model and registers its key under a release policy naming the enclave (its
  //    MRENCLAVE, MRSIGNER, not debuggable, this blob's hash); 2. the server starts: its enclave attests to the
  //    attestation service, the broker releases the key by that policy, the enclave decrypts the model.
  const ocr = await deployConfidentialOcr({
    dir: root,
    platform: platformDir,
    collateral: serializeCollateralBundle(collateral),
    attestationUrl: authority.replace(as.issuer, as.url),
    authority,
    brokerUrl: broker.url,
    brokerAdminToken: ADMIN,
    signingKeyPath: signer,
    port: keep ? 8443 : 0,
  });
  closers.push(() => ocr.close());
  const { server, enclave, model } = ocr;
  console.log(`model encrypted: ${model.blobBytes} bytes, hash ${model.hash}; key registered as ${ocr.keyName}`);
  const t = server.timings;
  console.log(`server ready at ${server.url} (enclave ${Math.round(t.enclaveStartMs)} ms, attestation ${Math.round(t.attestMs)} ms, key release ${Math.round(t.keyReleaseMs)} ms, model ${Math.round(t.modelLoadMs)} ms)`);

  // 3. The Node client: attested TLS against the policy of the relying party.
  const policy = { mrenclave: enclave.mrenclave, allowSimulated: true };
  const client = await connectNodeClient({ url: server.url, policy, verifyOptions: { collateral, trustRoots: [trustAnchorFromCertificate(pki.rootCertPem)] }, expectedModelHash: model.hash });
  try {
    const id = client.attestation.identity;
    console.log(`verified enclave: mrenclave ${id.mrenclave} mrsigner ${id.mrsigner} isvProdId ${id.isvProdId} isvSvn ${id.isvSvn} debug ${id.debug}`);
    const result = await client.recognize(new Uint8Array(readFileSync(new URL('./sample.png', import.meta.url))));
    console.log(`recognised:\n${result.text}`);
  } finally {
    client.close();
  }

  // 4. The page, as one static file.
  const { outFile } = await buildPage();
  console.log(`verifying page: ${outFile}`);
  if (keep) {
    writeFileSync(join(root, 'sim-root.pem'), pki.rootCertPem);
    console.log(`open it, accept the server's self-signed certificate once at ${server.url}/v2/health/live (the page does not trust TLS: it verifies the enclave), then enter:`);
    console.log(`  server  ${server.url}\n  policy  ${JSON.stringify(policy)}\n  root    ${join(root, 'sim-root.pem')} (paste its PEM)`);
    console.log('Ctrl-C to stop');
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
} finally {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}
