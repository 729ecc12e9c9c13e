/** `cloister quote inspect FILE`: every parsed field and claim, no verification. */
import {
  parseCertificateChainPem,
  parsePckExtension,
  parseQuote,
  sgxClaims,
  tdxClaims,
  unwrapEvidence,
  type Certificate,
  type Quote,
  type SgxClaims,
  type TdxClaims,
} from '@cloister/dcap';
import { readBinaryInput, toJsonValue } from '../io.js';
import { identityBlock, identityOf, printJson, reportFailure, row, type TdIdentity } from '../output.js';
import type { EnclaveIdentity } from '@cloister/policy';

function describeCert(c: Certificate) {
  return {
    subject: c.subject.text,
    issuer: c.issuer.text,
    serial: c.serialHex,
    notBefore: new Date(c.notBefore).toISOString(),
    notAfter: new Date(c.notAfter).toISOString(),
  };
}

export interface QuoteInspection {
  readonly format: string;
  readonly version: number;
  readonly teeType: string;
  readonly claims: SgxClaims | TdxClaims;
  /** The identity fields of the claims, in the one vocabulary (the same keys in every command). */
  readonly identity: EnclaveIdentity | TdIdentity;
  readonly header: unknown;
  readonly body: unknown;
  readonly signatureDataLength: number;
  readonly signature: unknown;
  readonly pckChain: unknown;
  readonly trailingBytes: number;
}

export function inspectQuote(bytes: Uint8Array): QuoteInspection {
  const evidence = unwrapEvidence(bytes);
  const q: Quote = parseQuote(evidence.quote);
  const certData = q.signature.qeReportCertificationData.certificationData;
  let pckChain: unknown;
  if (certData.type === 5) {
    const certs = parseCertificateChainPem(certData.pem);
    const leaf = certs[0];
    let sgxExtension: unknown;
    if (leaf !== undefined) {
      try {
        sgxExtension = toJsonValue(parsePckExtension(leaf));
      } catch (e) {
        sgxExtension = { error: (e as Error).message };
      }
    }
    pckChain = { certificates: certs.map(describeCert), sgxExtension };
  }
  const { header, body, signature } = q;
  const claims = body.kind === 'sgx' ? sgxClaims(body.report) : tdxClaims(body.report);
  return {
    format: evidence.format,
    version: q.version,
    teeType: q.teeType,
    claims,
    identity: identityOf(q.teeType, claims),
    header: toJsonValue(withoutRaw(header)),
    body: { type: body.type, kind: body.kind, report: toJsonValue(withoutRaw(body.report)) },
    signatureDataLength: q.signatureDataLength,
    signature: toJsonValue({
      quoteSignature: signature.quoteSignature,
      attestationKey: signature.attestationKey,
      outerCertificationType: signature.outerCertificationType,
      qeReport: withoutRaw(signature.qeReportCertificationData.qeReport),
      qeReportSignature: signature.qeReportCertificationData.qeReportSignature,
      qeAuthData: signature.qeReportCertificationData.qeAuthData,
      certificationData: { type: certData.type, size: certData.data.length },
    }),
    pckChain,
    trailingBytes: q.trailingBytes,
  };
}

function withoutRaw<T extends { raw: Uint8Array }>(o: T): Omit<T, 'raw'> {
  const { raw: _raw, ...rest } = o;
  return rest;
}

export async function quoteInspectCommand(file: string, opts: { json?: boolean; maaClaims?: boolean; runtimeData?: string }): Promise<void> {
  if (opts.maaClaims === true) return (await import('./attest.js')).maaClaimsCommand(file, opts);
  const json = opts.json === true;
  try {
    const info = inspectQuote(readBinaryInput(file, 'quote'));
    if (json) {
      printJson({ ok: true, ...info });
      return;
    }
    let out = `${info.teeType} quote v${info.version} (${info.format}), ${info.signatureDataLength} bytes of signature data`;
    out += info.trailingBytes > 0 ? `, ${info.trailingBytes} trailing bytes ignored\n` : '\n';
    out += identityBlock(info.identity);
    for (const [k, v] of Object.entries(info.claims)) if (!(k in info.identity)) out += row(k, v);
    const chain = info.pckChain as { certificates: { subject: string; notAfter: string }[] } | undefined;
    if (chain !== undefined) {
      for (const c of chain.certificates) out += row('pckChain', `${c.subject} (until ${c.notAfter})`);
    }
    process.stdout.write(out);
  } catch (e) {
    reportFailure(e, json);
  }
}
