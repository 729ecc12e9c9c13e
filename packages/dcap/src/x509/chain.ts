/** PEM certificate chains (a quote's certification data type 5, collateral `*_issuer_chain` fields). */
import { DcapError } from '../errors.js';
import { decodePemCertificates } from '../util/pem.js';
import { parseCertificate } from './certificate.js';
import type { Certificate } from './types.js';

/**
 * Every `CERTIFICATE` PEM block of `pem`, parsed, in the given order (no reordering, no chain building). Text outside
 * the blocks (a trailing NUL, other blocks) is ignored. Throws DcapError('UNSUPPORTED_CERT_FORMAT') for malformed PEM,
 * an unparsable certificate, or text without any certificate.
 */
export function parseCertificateChainPem(pem: string): Certificate[] {
  if (typeof pem !== 'string') throw new DcapError('UNSUPPORTED_CERT_FORMAT', 'certificate chain is not text');
  const ders = decodePemCertificates(pem, 'UNSUPPORTED_CERT_FORMAT');
  if (ders.length === 0) throw new DcapError('UNSUPPORTED_CERT_FORMAT', 'no PEM CERTIFICATE block');
  const out: Certificate[] = [];
  for (let i = 0; i < ders.length; i++) {
    try {
      out.push(parseCertificate(ders[i]!));
    } catch (e) {
      if (DcapError.is(e)) throw new DcapError('UNSUPPORTED_CERT_FORMAT', `certificate ${i}: ${e.message}`, { cause: e });
      throw e;
    }
  }
  return out;
}
