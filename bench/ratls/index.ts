/**
 * bench/ratls — attested TLS handshakes on 127.0.0.1, one at a time, each a full handshake (no session resumption):
 *  - attested: the client verifies the server's RA-TLS certificate (evidence parsing, key binding, full DCAP quote
 *    verification against simulated collateral and the simulation root, policy) before the socket is handed over;
 *  - mutual: the server verifies the client's RA-TLS certificate as well, before its `secureConnection`;
 *  - plain: the same certificate and key (same key type), `rejectUnauthorized: false`, no verification.
 * Certificates come from createAttestedCertificate with quotes of a simulated enclave (@cloister/sgx-sim).
 * The helpers keep one warm QuoteVerifier (Node crypto) per verifyOptions object: parsed PCK chains, collateral and
 * verified collateral signatures are memoised across handshakes; each handshake still parses the certificate and its
 * evidence, checks the binding and verifies the quote and QE report signatures of that certificate.
 * Last line: `ratls: attested_per_s=… mutual_per_s=… plain_per_s=… attested_vs_plain=… mutual_vs_plain=…`.
 */
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { toHex, trustAnchorFromCertificate } from '@cloister/dcap';
import { Platform, SimQuotingEnclave, createSimCollateral, createSimPki, enclaveIdentity } from '@cloister/sgx-sim';
import { connectAttested, createAttestedCertificate, createAttestedServer, type AttestedPolicy } from '@cloister/ratls';
import { timeAsync, type Measurement } from '../lib/measure.js';

const BUDGET = {
  warmupMs: Number(process.env.RATLS_BENCH_WARMUP_MS ?? 300),
  measureMs: Number(process.env.RATLS_BENCH_MEASURE_MS ?? 2500),
};

function listen(server: tls.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: tls.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Servers end every connection as soon as it is delivered to them: one handshake per connection. */
function endOnConnect(server: tls.Server): void {
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    socket.on('error', () => undefined);
    socket.end();
  });
  // A client that closes right after its handshake may reset the server side first: only attestation failures count.
  server.on('tlsClientError', (e: Error) => {
    if (e.name === 'RatlsError') throw e;
  });
}

function plainHandshake(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

function fmt(m: Measurement): string {
  return `${m.perSecond.toFixed(1)}/s (${m.meanMs.toFixed(2)} ms, ${m.iterations} handshakes)`;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const platform = Platform.create();
  const pki = await createSimPki(platform);
  const qe = new SimQuotingEnclave(platform, pki);
  const serverEnclave = enclaveIdentity({ mrEnclave: new Uint8Array(32).fill(0x5e) });
  const clientEnclave = enclaveIdentity({ mrEnclave: new Uint8Array(32).fill(0xc1) });
  const serverCert = await createAttestedCertificate({ getQuote: async (rd) => qe.quoteFor(serverEnclave, rd) });
  const clientCert = await createAttestedCertificate({ getQuote: async (rd) => qe.quoteFor(clientEnclave, rd) });
  const verifyOptions = {
    collateral: await createSimCollateral(platform, pki),
    trustRoots: [trustAnchorFromCertificate(pki.rootCertPem)],
  };
  const serverPolicy: AttestedPolicy = { mrenclave: toHex(serverEnclave.mrEnclave), allowSimulated: true };
  const clientPolicy: AttestedPolicy = { mrenclave: toHex(clientEnclave.mrEnclave), allowSimulated: true };

  const plainServer = tls.createServer({ cert: serverCert.certificatePem, key: serverCert.privateKeyPem });
  const attestedServer = createAttestedServer({ certificatePem: serverCert.certificatePem, privateKeyPem: serverCert.privateKeyPem });
  const mutualServer = createAttestedServer({
    certificatePem: serverCert.certificatePem,
    privateKeyPem: serverCert.privateKeyPem,
    requestClientCertificate: { policy: clientPolicy, verifyOptions },
  });
  for (const s of [plainServer, attestedServer, mutualServer]) endOnConnect(s);
  const [plainPort, attestedPort, mutualPort] = await Promise.all([listen(plainServer), listen(attestedServer), listen(mutualServer)]);

  const attestedOnce = async (): Promise<void> => {
    const socket = await connectAttested({ host: '127.0.0.1', port: attestedPort, policy: serverPolicy, verifyOptions });
    socket.destroy();
  };
  // Mutual: the client's handshake is done when the server's verification has delivered the connection, i.e. when
  // the server ends it (the client sees 'end').
  const mutualOnce = async (): Promise<void> => {
    const socket = await connectAttested({
      host: '127.0.0.1',
      port: mutualPort,
      policy: serverPolicy,
      verifyOptions,
      certificatePem: clientCert.certificatePem,
      privateKeyPem: clientCert.privateKeyPem,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('end', resolve);
      socket.once('error', reject);
      socket.resume();
    });
    socket.destroy();
  };

  const plain = await timeAsync(() => plainHandshake(plainPort!), BUDGET);
  const attested = await timeAsync(attestedOnce, BUDGET);
  const mutual = await timeAsync(mutualOnce, BUDGET);
  await Promise.all([close(plainServer), close(attestedServer), close(mutualServer)]);

  console.log(`plain TLS handshakes     ${fmt(plain)}`);
  console.log(`attested (server-only)   ${fmt(attested)}`);
  console.log(`mutual attested          ${fmt(mutual)}`);
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(
    `ratls: attested_per_s=${attested.perSecond.toFixed(1)} mutual_per_s=${mutual.perSecond.toFixed(1)} ` +
      `plain_per_s=${plain.perSecond.toFixed(1)} attested_vs_plain=${(attested.perSecond / plain.perSecond).toFixed(3)} ` +
      `mutual_vs_plain=${(mutual.perSecond / plain.perSecond).toFixed(3)}`,
  );
}

await main();
