/**
 * Token signing keys: RSA-2048 (as MAA uses) with a self-signed certificate whose subject and issuer are
 * `CN=<issuer URL>` (reference §1.4: Azure-Samples validators check `signingCertificate.Issuer == "CN=" + iss`).
 * Private keys are stored encrypted: AES-256-GCM (NIST SP 800-38D) under a key derived with HKDF-SHA256 (RFC 5869)
 * from the key-encryption secret, the key's instance and kid as additional data, so a row cannot be moved to another
 * key or instance undetected.
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, hkdfSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { ServiceError } from '@cloister/service-kit';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** Validity of a signing certificate. Keys are rotated well before (see rotation in docs/attestation/service.md). */
export const SIGNING_CERT_VALIDITY_DAYS = 825;

export interface SigningKeyMaterial {
  readonly kid: string;
  readonly certificate: Uint8Array;
  /** PKCS #8 DER (plaintext: only ever in memory). */
  readonly privateKey: Uint8Array;
  readonly notAfter: Date;
}

const ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;

/** kid: standard base64 of SHA-256 of the certificate DER (the form of real MAA kids, reference §1.4). */
export function kidOf(certificate: Uint8Array): string {
  return createHash('sha256').update(certificate).digest('base64');
}

export async function generateSigningKey(issuer: string, now = new Date()): Promise<SigningKeyMaterial> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notAfter = new Date(now.getTime() + SIGNING_CERT_VALIDITY_DAYS * 86_400_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
    name: new x509.Name([{ CN: [{ utf8String: issuer }] }]),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certificate = new Uint8Array(cert.rawData);
  const privateKey = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { kid: kidOf(certificate), certificate, privateKey, notAfter };
}

/** The 32-byte key-encryption key derived from the operator's secret (a file of at least 16 characters). */
export function deriveKeyEncryptionKey(secret: string | Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, 'cloister-attestation-service', 'signing-key-encryption v1', 32));
}

function aad(instance: string, kid: string): Buffer {
  return Buffer.from(`${instance}\u0000${kid}`, 'utf8');
}

/** version(1) ‖ iv(12) ‖ ciphertext ‖ tag(16). */
export function encryptPrivateKey(kek: Uint8Array, instance: string, kid: string, pkcs8: Uint8Array): Uint8Array {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  c.setAAD(aad(instance, kid));
  const ct = Buffer.concat([c.update(pkcs8), c.final()]);
  return new Uint8Array(Buffer.concat([Buffer.of(1), iv, ct, c.getAuthTag()]));
}

export function decryptPrivateKey(kek: Uint8Array, instance: string, kid: string, blob: Uint8Array): KeyObject {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  try {
    if (b[0] !== 1 || b.length < 1 + 12 + 16 + 1) throw new Error('format');
    const d = createDecipheriv('aes-256-gcm', kek, b.subarray(1, 13));
    d.setAAD(aad(instance, kid));
    d.setAuthTag(b.subarray(b.length - 16));
    const pkcs8 = Buffer.concat([d.update(b.subarray(13, b.length - 16)), d.final()]);
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch {
    throw new ServiceError(
      'KEY_DECRYPTION_FAILED',
      500,
      `the signing key ${kid} cannot be decrypted: the key-encryption key differs from the one it was stored with`,
    );
  }
}
