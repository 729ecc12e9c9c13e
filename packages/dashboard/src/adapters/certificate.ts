/** The public facts of an X.509 certificate (DER) for display: subject, issuer, serial, validity, SHA-256. */
import { X509Certificate } from 'node:crypto';
import type { CertificateView } from '../types.js';

export function certificateView(der: Uint8Array): CertificateView | undefined {
  try {
    const c = new X509Certificate(der);
    return {
      subject: c.subject.split('\n').join(', '),
      issuer: c.issuer.split('\n').join(', '),
      serialNumber: c.serialNumber.toLowerCase(),
      notBefore: new Date(c.validFrom).toISOString(),
      notAfter: new Date(c.validTo).toISOString(),
      sha256: c.fingerprint256.replace(/:/g, '').toLowerCase(),
    };
  } catch {
    return undefined;
  }
}
