/**
 * The untrusted half of the hello-world enclave-aware container: start the signed enclave, ask it to greet, verify
 * the quote it returns and print the verified identity. In the Job (job.yaml) the quote comes from the node's quote
 * helper through /var/run/aesmd (SGX_AESM_ADDR=1); `cloister up` runs the same flow on a local simulated node.
 *
 * Run (after `cloister enclave build . && cloister enclave sign .`):
 *   node --experimental-strip-types src/host.ts   (Node ≥ 22.6)   or compile it with tsc first.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { createPcsProvider } from '@cloister/dcap/node';
import { createEnclave, verifyEvidence, type EcallHandler, type EnclaveDefinition } from '@cloister/enclave';

type Greeter = EnclaveDefinition<{
  greet: EcallHandler<{ name: string }, { greeting: string; quote: Uint8Array; mrenclave: string }>;
}>;

const dir = new URL('..', import.meta.url).pathname;
const platformDir = process.env['CLOISTER_SIM_PLATFORM'] ?? '/var/lib/cloister/sgx-sim';
const enclave = await createEnclave<Greeter>(dir, { platform: platformDir });
try {
  const { greeting, quote, mrenclave } = await enclave.ecalls.greet({ name: process.env['GREET'] ?? 'world' });
  console.log(greeting);
  // Simulated nodes: trust the simulation root explicitly (cloister sim root); hardware: Intel's root (the default).
  const simRoot = process.env['CLOISTER_TRUST_ROOT'];
  const evidence = await verifyEvidence(
    quote,
    {
      mrenclave,
      reportData: new Uint8Array(createHash('sha256').update(greeting).digest()),
      allowSimulated: simRoot !== undefined,
    },
    {
      collateralProvider: createPcsProvider(),
      ...(simRoot !== undefined ? { trustAnchors: [trustAnchorFromCertificate(readFileSync(simRoot))] } : {}),
    },
  );
  console.log(JSON.stringify({ verified: evidence.identity, status: evidence.result.status }, null, 2));
} finally {
  await enclave.terminate();
}
