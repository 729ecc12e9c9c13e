/**
 * Attested TLS on 127.0.0.1 with a simulated enclave: RA-TLS certificates made by createAttestedCertificate from
 * @cloister/sgx-sim quotes, verified in the handshake helpers against the simulation root and simulated collateral.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import { toHex, trustAnchorFromCertificate } from '@cloister/dcap';
import { Platform, SimQuotingEnclave, createSimCollateral, createSimPki, enclaveIdentity } from '@cloister/sgx-sim';
import { createAttestedCertificate } from '../src/create.js';
import { PolicyError } from '@cloister/policy';
import { RatlsError } from '../src/errors.js';
import type { AttestedPolicy, VerifyAttestedOptions } from '../src/verify.js';
import {
  attestedHttpsAgent,
  connectAttested,
  createAttestedHttpsServer,
  createAttestedServer,
  peerAttestation,
} from '../src/tls.js';

const platform = Platform.create({ secret: new Uint8Array(32).fill(9) });
const pki = await createSimPki(platform);
const qe = new SimQuotingEnclave(platform, pki);
const serverEnclave = enclaveIdentity({ mrEnclave: new Uint8Array(32).fill(0x5e), isvProdId: 3, isvSvn: 2 });
const clientEnclave = enclaveIdentity({ mrEnclave: new Uint8Array(32).fill(0xc1), isvProdId: 4, isvSvn: 1 });

const verifyOptions: VerifyAttestedOptions = {
  collateral: await createSimCollateral(platform, pki),
  trustRoots: [trustAnchorFromCertificate(pki.rootCertPem)],
};
const serverPolicy: AttestedPolicy = { mrenclave: toHex(serverEnclave.mrEnclave), allowSimulated: true };
const clientPolicy: AttestedPolicy = { mrenclave: toHex(clientEnclave.mrEnclave), allowSimulated: true };

const serverCert = await createAttestedCertificate({
  getQuote: async (reportData) => qe.quoteFor(serverEnclave, reportData),
  subject: 'CN=attested-server',
});
const clientCert = await createAttestedCertificate({
  getQuote: async (reportData) => qe.quoteFor(clientEnclave, reportData),
  subject: 'CN=attested-client',
});

// ---------------------------------------------------------------------------------------------------------------------
// A minimal DER walker, to swap the public key of a certificate while keeping every extension.

interface Tlv {
  readonly start: number;
  readonly headerLength: number;
  readonly end: number;
}

function tlvAt(der: Uint8Array, start: number): Tlv {
  const first = der[start + 1];
  if (first === undefined) throw new Error('truncated DER');
  if (first < 0x80) return { start, headerLength: 2, end: start + 2 + first };
  const n = first & 0x7f;
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + (der[start + 2 + i] ?? 0);
  return { start, headerLength: 2 + n, end: start + 2 + n + length };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start + parent.headerLength; at < parent.end; ) {
    const child = tlvAt(der, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

function encodeTlv(tag: number, content: Uint8Array): Uint8Array {
  const len = content.length;
  const header =
    len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : len < 0x10000 ? [tag, 0x82, len >> 8, len & 0xff] : [tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  return Buffer.concat([Buffer.from(header), content]);
}

/** The certificate with another key pair of the same curve: same TBS fields and extensions, re-signed by the new key. */
function withSwappedKey(certificateDer: Uint8Array, privateKeyPem: string): { certificatePem: string; privateKeyPem: string } {
  const curve = createPrivateKey(privateKeyPem).asymmetricKeyDetails?.namedCurve ?? 'prime256v1';
  const other = generateKeyPairSync('ec', { namedCurve: curve });
  const cert = tlvAt(certificateDer, 0);
  const [tbs, sigAlg] = children(certificateDer, cert);
  assert.ok(tbs !== undefined && sigAlg !== undefined);
  const fields = children(certificateDer, tbs);
  // [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, …, [3] extensions
  const spkiIndex = certificateDer[fields[0]?.start ?? 0] === 0xa0 ? 6 : 5;
  const spki = new Uint8Array(other.publicKey.export({ type: 'spki', format: 'der' }));
  const parts = fields.map((f, i) => (i === spkiIndex ? spki : certificateDer.subarray(f.start, f.end)));
  const newTbs = encodeTlv(0x30, Buffer.concat(parts));
  const sigAlgDer = certificateDer.subarray(sigAlg.start, sigAlg.end);
  const hash = Buffer.from(sigAlgDer).toString('hex').includes('2a8648ce3d040303') ? 'sha384' : 'sha256';
  const signature = sign(hash, newTbs, other.privateKey);
  const bitString = encodeTlv(0x03, Buffer.concat([Buffer.from([0]), signature]));
  const der = encodeTlv(0x30, Buffer.concat([newTbs, sigAlgDer, bitString]));
  assert.ok(verify(hash, newTbs, other.publicKey, signature), 'the forged certificate is self-signed by the new key');
  // Not X509Certificate(der): it reads PEM first, and finds the PCK certificates embedded in the quote.
  const certificatePem = `-----BEGIN CERTIFICATE-----\n${(Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;
  return { certificatePem, privateKeyPem: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

// ---------------------------------------------------------------------------------------------------------------------
// Helpers

function listen(server: tls.Server | https.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: tls.Server | https.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function readLine(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(buf)}`)));
  });
}

/** An echo server that records what it received. */
function echoServer(options: Parameters<typeof createAttestedServer>[0]): { server: tls.Server; received: string[]; errors: Error[] } {
  const received: string[] = [];
  const errors: Error[] = [];
  const server = createAttestedServer(options, (socket) => {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      received.push(d);
      socket.write(`echo:${d}`);
    });
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', (e: Error) => errors.push(e));
  return { server, received, errors };
}

function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  return assert.rejects(promise, (e: unknown) => {
    assert.ok(RatlsError.is(e), `expected a RatlsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** A policy refusal is @cloister/policy's PolicyError, the same error verifyEvidence and the CLI give. */
function refusedBy(promise: Promise<unknown>, rule: string): Promise<void> {
  return assert.rejects(promise, (e: unknown) => {
    assert.ok(PolicyError.is(e), `expected a PolicyError, got ${String(e)}`);
    assert.equal(e.code, 'POLICY_MISMATCH', e.message);
    assert.equal(e.rule, rule, e.message);
    return true;
  });
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------------

test('server-only attested TLS: the handshake verifies the enclave and data flows', async () => {
  const { server, received } = echoServer({ certificatePem: serverCert.certificatePem, privateKeyPem: serverCert.privateKeyPem });
  const port = await listen(server);
  try {
    const socket = await connectAttested({ host: '127.0.0.1', port, policy: serverPolicy, verifyOptions });
    const attestation = peerAttestation(socket);
    assert.ok(attestation !== undefined);
    assert.equal(attestation.claims['mrenclave'], toHex(serverEnclave.mrEnclave));
    const line = readLine(socket);
    socket.write('hello\n');
    assert.equal(await line, 'echo:hello');
    assert.deepEqual(received, ['hello\n']);
    socket.destroy();
  } finally {
    await close(server);
  }
});

test('mutual attested TLS: both enclaves verify each other', async () => {
  const clientAttestations: unknown[] = [];
  const { server, received, errors } = echoServer({
    certificatePem: serverCert.certificatePem,
    privateKeyPem: serverCert.privateKeyPem,
    requestClientCertificate: { policy: clientPolicy, verifyOptions },
  });
  server.on('secureConnection', (s: tls.TLSSocket) => clientAttestations.push(peerAttestation(s)?.claims['mrenclave']));
  const port = await listen(server);
  try {
    const socket = await connectAttested({
      host: '127.0.0.1',
      port,
      policy: serverPolicy,
      verifyOptions,
      certificatePem: clientCert.certificatePem,
      privateKeyPem: clientCert.privateKeyPem,
    });
    const line = readLine(socket);
    socket.write('mutual\n');
    assert.equal(await line, 'echo:mutual');
    assert.deepEqual(received, ['mutual\n']);
    assert.deepEqual(clientAttestations, [toHex(clientEnclave.mrEnclave)]);
    assert.deepEqual(errors, []);
    socket.destroy();
  } finally {
    await close(server);
  }
});

test('a client policy with the wrong MRENCLAVE aborts with POLICY_MISMATCH before any data', async () => {
  const { server, received } = echoServer({ certificatePem: serverCert.certificatePem, privateKeyPem: serverCert.privateKeyPem });
  const port = await listen(server);
  try {
    const wrong: AttestedPolicy = { mrenclave: 'ab'.repeat(32), allowSimulated: true };
    await refusedBy(connectAttested({ host: '127.0.0.1', port, policy: wrong, verifyOptions }), 'mrenclave');
    await settle(50);
    assert.deepEqual(received, [], 'the server never received application data');
  } finally {
    await close(server);
  }
});

test('a server that rejects the client attestation never delivers its data to the application', async () => {
  const { server, received, errors } = echoServer({
    certificatePem: serverCert.certificatePem,
    privateKeyPem: serverCert.privateKeyPem,
    // The server expects another client enclave.
    requestClientCertificate: { policy: { mrenclave: 'cd'.repeat(32), allowSimulated: true }, verifyOptions },
  });
  const port = await listen(server);
  try {
    const socket = await connectAttested({
      host: '127.0.0.1',
      port,
      policy: serverPolicy,
      verifyOptions,
      certificatePem: clientCert.certificatePem,
      privateKeyPem: clientCert.privateKeyPem,
    });
    socket.on('error', () => undefined);
    socket.write('secret\n');
    await new Promise((r) => socket.once('close', r));
    assert.deepEqual(received, []);
    assert.equal(errors.length, 1);
    assert.ok(PolicyError.is(errors[0]));
    assert.equal(errors[0].code, 'POLICY_MISMATCH');
    assert.equal(errors[0].rule, 'mrenclave');
  } finally {
    await close(server);
  }
});

test('a certificate whose key does not match its evidence aborts with BINDING_MISMATCH', async () => {
  const forged = withSwappedKey(serverCert.certificateDer, serverCert.privateKeyPem);
  const { server, received } = echoServer(forged);
  const port = await listen(server);
  try {
    await rejectsWithCode(connectAttested({ host: '127.0.0.1', port, policy: serverPolicy, verifyOptions }), 'BINDING_MISMATCH');
    await settle(50);
    assert.deepEqual(received, []);
  } finally {
    await close(server);
  }
});

test('a plain TLS client without a certificate is refused by a mutual attested server', async () => {
  const { server, received, errors } = echoServer({
    certificatePem: serverCert.certificatePem,
    privateKeyPem: serverCert.privateKeyPem,
    requestClientCertificate: { policy: clientPolicy, verifyOptions },
  });
  const port = await listen(server);
  try {
    const socket = await connectAttested({ host: '127.0.0.1', port, policy: serverPolicy, verifyOptions });
    socket.on('error', () => undefined);
    socket.write('anonymous\n');
    await new Promise((r) => socket.once('close', r));
    assert.deepEqual(received, []);
    assert.ok(RatlsError.is(errors[0]));
    assert.equal(errors[0].code, 'NO_EVIDENCE');
  } finally {
    await close(server);
  }
});

function get(url: string, agent: https.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('attestedHttpsAgent fetches from an attested https server, and refuses the wrong enclave', async () => {
  let requests = 0;
  const server = createAttestedHttpsServer(
    { certificatePem: serverCert.certificatePem, privateKeyPem: serverCert.privateKeyPem },
    (req, res) => {
      requests++;
      res.end(`hello ${req.url ?? ''}`);
    },
  );
  const port = await listen(server);
  const agent = attestedHttpsAgent({ policy: serverPolicy, verifyOptions });
  const wrongAgent = attestedHttpsAgent({ policy: { mrenclave: 'ab'.repeat(32), allowSimulated: true }, verifyOptions });
  try {
    const r = await get(`https://127.0.0.1:${port}/attested`, agent);
    assert.deepEqual(r, { status: 200, body: 'hello /attested' });
    await refusedBy(get(`https://127.0.0.1:${port}/nope`, wrongAgent), 'mrenclave');
    assert.equal(requests, 1);
  } finally {
    agent.destroy();
    wrongAgent.destroy();
    server.closeAllConnections();
    await close(server);
  }
});

test('a malformed policy is refused when the server, agent or connection is made, not at the first handshake', async () => {
  const invalid = (key: string) => (e: unknown) => PolicyError.is(e) && e.code === 'POLICY_INVALID' && e.key === key;
  assert.throws(
    () => createAttestedServer({ ...serverCert, requestClientCertificate: { policy: { allowSimulated: true } as never, verifyOptions } }),
    invalid('mrenclave'),
  );
  assert.throws(() => attestedHttpsAgent({ policy: { mrenclaev: 'ab'.repeat(32) } as never, verifyOptions }), invalid('mrenclaev'));
  // Port 9 (discard) is never connected: the policy is refused first.
  await assert.rejects(connectAttested({ host: '127.0.0.1', port: 9, policy: {} as never, verifyOptions }), invalid('mrenclave'));
});
