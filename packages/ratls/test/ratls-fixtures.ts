/** Shared fixtures of the RA-TLS tests: the two real certificates and a re-signer for tampering. */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { parseCertificate, decodePemCertificates } from '@cloister/dcap';
import { testdataDir } from '@cloister/testkit';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface RealCert {
  readonly name: string;
  readonly pem: string;
  readonly der: Uint8Array;
  readonly expect: {
    verifyAt: string;
    subject: string;
    issuer: string;
    spkiSha256: string;
    validity: { notBefore: string; notAfter: string };
    extensions: Array<{ oid: string; critical: boolean; valueLength: number }>;
    evidence: {
      legacy: { kind: string; oid: string; quote: { reportDataHex: string; mrenclave: string } };
      tcgDice: { oid: string; claimsBufferHex: string; claims: Record<string, unknown> };
    };
    claims: { mrenclave: string; mrsigner: string; isvProdId: number; isvSvn: number; debug: boolean };
  };
}

const dir = join(testdataDir, 'ratls');

export function realCert(name: 'gramine-cert' | 'intel-sgxsdk-cert'): RealCert {
  const pem = readFileSync(join(dir, `${name}.pem`), 'utf8');
  const der = decodePemCertificates(pem)[0]!;
  return { name, pem, der, expect: JSON.parse(readFileSync(join(dir, `${name}.expect.json`), 'utf8')) as RealCert['expect'] };
}

export const REAL_CERTS = [realCert('gramine-cert'), realCert('intel-sgxsdk-cert')] as const;

/** The same extensions (and validity) under a fresh P-384 key, self-signed: evidence that does not bind the key. */
export async function resignWithOtherKey(der: Uint8Array): Promise<Uint8Array> {
  const c = parseCertificate(der);
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Impostor',
    notBefore: new Date(c.notBefore),
    notAfter: new Date(c.notAfter),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: c.extensions.map((e) => new x509.Extension(e.oid, e.critical, new Uint8Array(e.value))),
  });
  return new Uint8Array(cert.rawData);
}
