/**
 * A private CA and the in-cluster serving certificates it signs (ECDSA P-256, SHA-256; RFC 5280 profile:
 * CA with basicConstraints cA=TRUE pathLen 0 + keyCertSign/cRLSign; leaves with SAN dNSNames, serverAuth,
 * digitalSignature). The API server checks the webhook's certificate against caBundle and the service DNS name
 * `<service>.<namespace>.svc` (it does not accept the CN alone).
 */
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { WebhookError } from '../errors.js';
import type { CertificateAuthority } from './options.js';

const crypto = webcrypto as unknown as Crypto;
const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY = 86_400_000;
/** Serving certificates are re-issued at every `cloister install`; two years leaves room between upgrades. */
const LEAF_DAYS = 730;
const CA_DAYS = 3650;

export interface ServingCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
}

/** @peculiar/x509 (and its reflect-metadata polyfill) load only when certificates are made, not in the webhook server. */
async function x509lib(): Promise<typeof X509> {
  await import('reflect-metadata');
  return import('@peculiar/x509');
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function unpem(text: string, label: string): Uint8Array<ArrayBuffer> {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (m === null) throw new WebhookError('CERTIFICATE', `no ${label} PEM block`);
  const b = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

function serial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f; // positive INTEGER (RFC 5280 §4.1.2.2)
  return Buffer.from(b).toString('hex');
}

export async function createCa(now: Date, commonName = 'cloister-ca'): Promise<CertificateAuthority> {
  const x509 = await x509lib();
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=${commonName}, O=cloister`,
      notBefore: new Date(now.getTime() - 5 * 60_000),
      notAfter: new Date(now.getTime() + CA_DAYS * DAY),
      keys,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', pkcs8) };
}

export async function issueServing(ca: CertificateAuthority, dnsNames: readonly string[], now: Date): Promise<ServingCertificate> {
  const x509 = await x509lib();
  let caCert: X509.X509Certificate;
  let caKey: CryptoKey;
  try {
    caCert = new x509.X509Certificate(unpem(ca.certPem, 'CERTIFICATE'));
    caKey = await crypto.subtle.importKey('pkcs8', unpem(ca.keyPem, 'PRIVATE KEY'), ALG, false, ['sign']);
  } catch (e) {
    throw new WebhookError('CERTIFICATE', 'the CA certificate or key cannot be read (PEM CERTIFICATE + PKCS#8 P-256 PRIVATE KEY expected)', { cause: e });
  }
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=${dnsNames[0] ?? 'cloister'}`,
      issuer: caCert.subject,
      notBefore: new Date(now.getTime() - 5 * 60_000),
      notAfter: new Date(now.getTime() + LEAF_DAYS * DAY),
      signingKey: caKey,
      publicKey: keys.publicKey,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value })), false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
      ],
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem') + '\n', keyPem: pem('PRIVATE KEY', pkcs8), caPem: ca.certPem };
}

/** The DNS names a client inside the cluster may use for a Service. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
}
