/** What an RA-TLS certificate carries, without verifying the quote (the key binding is checked). */
import { sgxClaims, toHex, type Certificate } from '@cloister/dcap';
import { loadCertificate, selfSignatureValid } from './certificate.js';
import { checkEvidenceBinding, extractEvidence, parseSgxQuote, sha256, type EvidenceFormat } from './formats.js';

export interface QuoteSummary {
  readonly version: number;
  readonly teeType: string;
  readonly mrenclave: string;
  readonly mrsigner: string;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly debug: boolean;
  /** 64 bytes, hex. */
  readonly reportData: string;
}

export interface EvidenceInspection {
  readonly format: EvidenceFormat;
  readonly oid: string;
  readonly claims: Record<string, unknown> | undefined;
  readonly quote: QuoteSummary;
  readonly binding: { readonly description: string; readonly ok: boolean; readonly reason?: string };
}

export interface CertificateInspection {
  readonly subject: string;
  readonly issuer: string;
  readonly validity: { readonly notBefore: string; readonly notAfter: string };
  readonly spkiSha256: string;
  readonly selfSignatureValid: boolean;
  readonly extensions: ReadonlyArray<{ readonly oid: string; readonly critical: boolean; readonly length: number }>;
  readonly evidence: readonly EvidenceInspection[];
}

export function inspectCertificate(cert: Certificate): CertificateInspection {
  const evidence = extractEvidence(cert).map((e): EvidenceInspection => {
    const q = parseSgxQuote(e.quote, `${e.format} quote`);
    const c = sgxClaims(q.body.report);
    const b = checkEvidenceBinding(e);
    return {
      format: e.format,
      oid: e.oid,
      claims: e.claims,
      quote: {
        version: q.version,
        teeType: q.teeType,
        mrenclave: c.mrenclave,
        mrsigner: c.mrsigner,
        isvProdId: c.isvProdId,
        isvSvn: c.isvSvn,
        debug: c.debug,
        reportData: c.reportData,
      },
      binding: { description: e.bindingDescription, ok: b.ok, ...(b.reason !== undefined ? { reason: b.reason } : {}) },
    };
  });
  return {
    subject: cert.subject.text,
    issuer: cert.issuer.text,
    validity: { notBefore: new Date(cert.notBefore).toISOString(), notAfter: new Date(cert.notAfter).toISOString() },
    spkiSha256: toHex(sha256(cert.spki)),
    selfSignatureValid: selfSignatureValid(cert),
    extensions: cert.extensions.map((x) => ({ oid: x.oid, critical: x.critical, length: x.value.length })),
    evidence,
  };
}

/**
 * Parses an RA-TLS certificate (PEM or DER) and lists its evidence with the quote identity and whether the quote binds
 * the certificate key. The quote is not verified. Throws RatlsError (INVALID_CERTIFICATE, INVALID_EVIDENCE).
 */
export async function inspectAttestedCertificate(pemOrDer: string | Uint8Array): Promise<CertificateInspection> {
  return inspectCertificate(loadCertificate(pemOrDer));
}
