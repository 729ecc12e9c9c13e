/** Certificate input handling shared by inspect and verify: PEM/DER/parsed input, self-signature, validity. */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { DcapError, decodePemCertificates, parseCertificate, type Certificate } from '@cloister/dcap';
import { RatlsError } from './errors.js';

function invalidCert(message: string, cause?: unknown): never {
  const dcapCode = DcapError.is(cause) ? cause.code : undefined;
  throw new RatlsError('INVALID_CERTIFICATE', message, { cause, ...(dcapCode !== undefined ? { dcapCode } : {}) });
}

function isCertificate(value: unknown): value is Certificate {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Uint8Array) &&
    (value as Certificate).tbs instanceof Uint8Array &&
    (value as Certificate).spki instanceof Uint8Array &&
    Array.isArray((value as Certificate).extensions)
  );
}

/** A certificate from PEM text, PEM bytes, DER, or an already parsed {@link Certificate} (the first PEM block). */
export function loadCertificate(input: string | Uint8Array | Certificate): Certificate {
  if (isCertificate(input)) return input;
  let der: Uint8Array | undefined;
  try {
    if (typeof input === 'string') der = decodePemCertificates(input)[0];
    else if (input instanceof Uint8Array) {
      der = input[0] === 0x30 ? input : decodePemCertificates(new TextDecoder().decode(input))[0];
    }
  } catch (e) {
    if (DcapError.is(e)) invalidCert(`not a PEM certificate: ${e.message}`, e);
    throw e;
  }
  if (der === undefined) invalidCert('no certificate (expected PEM or DER)');
  try {
    return parseCertificate(der);
  } catch (e) {
    if (DcapError.is(e)) invalidCert(`malformed certificate: ${e.message}`, e);
    throw e;
  }
}

const SIG_HASH: Readonly<Record<string, string>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

/** Whether the certificate's signature verifies with its own public key (ECDSA or RSA PKCS#1 v1.5). */
export function selfSignatureValid(cert: Certificate): boolean {
  const hash = SIG_HASH[cert.signatureAlgorithm];
  if (hash === undefined) return false;
  try {
    const key = createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
    const ecdsa = cert.signatureAlgorithm.startsWith('1.2.840.10045.');
    if (ecdsa !== (key.asymmetricKeyType === 'ec')) return false;
    return nodeVerify(hash, cert.tbs, ecdsa ? { key, dsaEncoding: 'der' } : key, cert.signatureValue);
  } catch {
    return false;
  }
}

export function toTime(now: Date | number | string | undefined): number {
  if (now === undefined) return Date.now();
  const t = now instanceof Date ? now.getTime() : typeof now === 'number' ? now : Date.parse(now);
  if (!Number.isFinite(t)) throw new TypeError(`invalid time: ${String(now)}`);
  return t;
}

/** INVALID_CERTIFICATE unless the certificate is self-signed (signature valid) and valid at `now` (ms). */
export function checkCertificate(cert: Certificate, now: number): void {
  if (!selfSignatureValid(cert)) invalidCert('the certificate self-signature does not verify with its own public key');
  if (now < cert.notBefore) invalidCert(`the certificate is not valid before ${new Date(cert.notBefore).toISOString()}`);
  if (now > cert.notAfter) invalidCert(`the certificate expired at ${new Date(cert.notAfter).toISOString()}`);
}
