/**
 * PEM (RFC 7468) decoding: every `-----BEGIN label-----` … `-----END label-----` block, in order. Text outside blocks
 * (a trailing NUL as Intel's QE appends to the certification data, whitespace, comments) is ignored.
 */
import { DcapError, type DcapErrorCode } from '../errors.js';
import { toBase64, tryFromBase64 } from './bytes.js';

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/** The PEM blocks of `text`; `code` is thrown when a block is malformed. Limits: 64 blocks. */
export function decodePemBlocks(text: string, code: DcapErrorCode = 'UNSUPPORTED_CERT_FORMAT'): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const [, label, body, endLabel] = m;
    if (label !== endLabel) throw new DcapError(code, `PEM block BEGIN ${label} ends with END ${endLabel}`);
    const der = tryFromBase64((body ?? '').replace(/[\s]/g, ''));
    if (der === undefined || der.length === 0) throw new DcapError(code, `PEM block ${label} has invalid base64`);
    out.push({ label: label!, der });
    if (out.length > 64) throw new DcapError(code, 'more than 64 PEM blocks');
  }
  return out;
}

/** The DER of every `CERTIFICATE` block, in order. */
export function decodePemCertificates(text: string, code: DcapErrorCode = 'UNSUPPORTED_CERT_FORMAT'): Uint8Array[] {
  return decodePemBlocks(text, code)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.der);
}

export function encodePem(label: string, der: Uint8Array): string {
  const body = toBase64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}
