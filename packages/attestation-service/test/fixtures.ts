/** Test fixtures: a simulated SGX platform (quotes + collateral), a test CA with a server certificate for 127.0.0.1. */
import { createHash, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { serializeCollateralBundle, type CollateralBundle } from '@cloister/dcap';
import { Platform, SGX_FLAGS, SimQuotingEnclave, createSimCollateral, createSimPki, enclaveIdentity, type SimCollateralOptions } from '@cloister/sgx-sim';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const MRENCLAVE = 'aa'.repeat(32);
export const MRSIGNER = 'bb'.repeat(32);

export interface SimFixture {
  readonly rootPem: string;
  readonly collateral: CollateralBundle;
  readonly collateralJson: string;
  /** A v3 quote whose REPORTDATA[0..32] = SHA-256(runtimeData). */
  quote(runtimeData?: Uint8Array, options?: { debug?: boolean; isvSvn?: number; isvProdId?: number }): Uint8Array;
  /** The same quote wrapped as an Open Enclave report (oe_report_header_t v1, type 2). */
  oeReport(runtimeData?: Uint8Array): Uint8Array;
}

export async function simFixture(options: SimCollateralOptions = {}): Promise<SimFixture> {
  const platform = Platform.create({});
  const pki = await createSimPki(platform);
  const collateral = await createSimCollateral(platform, pki, options);
  const qe = new SimQuotingEnclave(platform, pki);
  const quote = (runtimeData?: Uint8Array, o: { debug?: boolean; isvSvn?: number; isvProdId?: number } = {}): Uint8Array => {
    const id = enclaveIdentity({
      mrEnclave: Buffer.from(MRENCLAVE, 'hex'),
      mrSigner: Buffer.from(MRSIGNER, 'hex'),
      flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT | (o.debug === true ? SGX_FLAGS.DEBUG : 0n),
      isvProdId: o.isvProdId ?? 7,
      isvSvn: o.isvSvn ?? 3,
    });
    const rd = new Uint8Array(64);
    if (runtimeData !== undefined) rd.set(createHash('sha256').update(runtimeData).digest());
    return qe.quoteFor(id, rd);
  };
  return {
    rootPem: pki.rootCertPem,
    collateral,
    collateralJson: serializeCollateralBundle(collateral),
    quote,
    oeReport(runtimeData) {
      const q = quote(runtimeData);
      const out = new Uint8Array(16 + q.length);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, 1, true);
      dv.setUint32(4, 2, true);
      dv.setBigUint64(8, BigInt(q.length), true);
      out.set(q, 16);
      return out;
    },
  };
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;

export interface TestTls {
  readonly dir: string;
  readonly caPem: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
  cleanup(): void;
}

function pem(der: ArrayBuffer, label: string): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END ${label}-----\n`;
}

/** A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it, as files in a temp dir. */
export async function testTls(): Promise<TestTls> {
  const now = Date.now();
  const caKeys = (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Cloister attestation-service test CA',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    keys: caKeys,
    signingAlgorithm: RSA,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const leafKeys = (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=127.0.0.1',
    issuer: ca.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'localhost' }]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), 'cloister-as-tls-'));
  const caPem = pem(ca.rawData, 'CERTIFICATE');
  const cert = pem(leaf.rawData, 'CERTIFICATE');
  const key = pem(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey), 'PRIVATE KEY');
  writeFileSync(join(dir, 'ca.pem'), caPem);
  writeFileSync(join(dir, 'tls.crt'), cert);
  writeFileSync(join(dir, 'tls.key'), key, { mode: 0o600 });
  return { dir, caPem, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), cert, key, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A self-signed policy signer (RSA key + certificate) in the shapes @azure/attestation's setPolicy takes. */
export async function policySigner(): Promise<{ certificatePem: string; privateKeyPem: string; der: Uint8Array }> {
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '03',
    name: 'CN=Cloister test policy signer',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: RSA,
  });
  return {
    certificatePem: pem(cert.rawData, 'CERTIFICATE'),
    privateKeyPem: pem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'),
    der: new Uint8Array(cert.rawData),
  };
}
