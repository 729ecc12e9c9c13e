/**
 * X.509 v1/v2 CRL parsing (RFC 5280 §5.1) and CRL input decoding. Every failure is
 * DcapError('SGX_CRL_UNSUPPORTED_FORMAT'). Byte fields are views into the input.
 */
import { DerReader, TAG, integerHex, integerToBigInt } from '../asn1/der.js';
import * as oids from '../asn1/oids.js';
import { DcapError, type DcapErrorCode } from '../errors.js';
import { bytesEqual, tryFromHex } from '../util/bytes.js';
import { decodePemBlocks } from '../util/pem.js';
import { findExtension, readAlgorithmIdentifier, readExtensions } from './certificate.js';
import { readName } from './name.js';
import type { Crl, Extension, RevokedCertificate } from './types.js';

const CODE: DcapErrorCode = 'SGX_CRL_UNSUPPORTED_FORMAT';

function readSignatureAlgorithm(r: DerReader, field: string): { oid: string; raw: Uint8Array } {
  const alg = readAlgorithmIdentifier(r, field);
  return { oid: alg.oid, raw: r.lastRaw() };
}

/**
 * CRLNumber ::= INTEGER (0..MAX)   (RFC 5280 §5.2.3; at most 20 octets)
 */
function parseCrlNumber(ext: Extension): bigint {
  const r = new DerReader(ext.value, CODE, 'CRL');
  const n = r.readInteger('cRLNumber');
  r.assertEnd('cRLNumber');
  if (n[0]! >= 0x80) r.fail('negative cRLNumber');
  if (n.length > 21 || (n.length === 21 && n[0] !== 0)) r.fail('cRLNumber longer than 20 octets');
  return integerToBigInt(n);
}

/**
 * AuthorityKeyIdentifier ::= SEQUENCE {
 *     keyIdentifier             [0] KeyIdentifier           OPTIONAL,
 *     authorityCertIssuer       [1] GeneralNames            OPTIONAL,
 *     authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL  }
 * KeyIdentifier ::= OCTET STRING        (RFC 5280 §4.2.1.1; the module uses IMPLICIT tags)
 * Returns the keyIdentifier (undefined when only issuer/serial are given).
 */
function parseAuthorityKeyIdentifier(ext: Extension): Uint8Array | undefined {
  const r = new DerReader(ext.value, CODE, 'CRL');
  const seq = r.readSequence('authorityKeyIdentifier');
  r.assertEnd('authorityKeyIdentifier');
  const keyId = seq.readOptionalElement(0x80, 'authorityKeyIdentifier.keyIdentifier');
  seq.readOptionalElement(0xa1, 'authorityKeyIdentifier.authorityCertIssuer');
  const serial = seq.readOptionalElement(0x82, 'authorityKeyIdentifier.authorityCertSerialNumber');
  if (serial !== undefined && serial.contents.length === 0) seq.fail('empty authorityCertSerialNumber');
  seq.assertEnd('authorityKeyIdentifier');
  return keyId?.contents;
}

/**
 * CertificateList  ::=  SEQUENCE  {
 *      tbsCertList          TBSCertList,
 *      signatureAlgorithm   AlgorithmIdentifier,
 *      signatureValue       BIT STRING  }
 *
 * TBSCertList  ::=  SEQUENCE  {
 *      version                 Version OPTIONAL,
 *                                   -- if present, MUST be v2
 *      signature               AlgorithmIdentifier,
 *      issuer                  Name,
 *      thisUpdate              Time,
 *      nextUpdate              Time OPTIONAL,
 *      revokedCertificates     SEQUENCE OF SEQUENCE  {
 *           userCertificate         CertificateSerialNumber,
 *           revocationDate          Time,
 *           crlEntryExtensions      Extensions OPTIONAL
 *                                    -- if present, version MUST be v2
 *                                }  OPTIONAL,
 *      crlExtensions           [0]  EXPLICIT Extensions OPTIONAL
 *                                    -- if present, version MUST be v2
 *                                }
 *
 * `version` is 1 or 2. `revoked` is keyed by serial hex; a serial listed twice keeps its first entry; an empty
 * revokedCertificates SEQUENCE (RFC 5280 wants it absent) is accepted. Entry extensions
 * are checked for well-formedness and otherwise ignored. `crlNumber` and `authorityKeyIdentifier` (its keyIdentifier)
 * come from crlExtensions and are undefined when absent; their presence is a verification rule
 * (SGX_CRL_INVALID_EXTENSIONS), not a parse rule.
 */
export function parseCrl(der: Uint8Array): Crl {
  const top = new DerReader(der, CODE, 'CRL');
  const list = top.readSequence('CertificateList');
  const raw = top.lastRaw();
  top.assertEnd('CertificateList');

  const tbsR = list.readSequence('tbsCertList');
  const tbs = list.lastRaw();
  const outerAlg = readSignatureAlgorithm(list, 'signatureAlgorithm');
  const signatureValue = list.readBitString('signatureValue');
  list.assertEnd('CertificateList');

  let version = 1;
  if (tbsR.peekTag() === TAG.INTEGER) {
    const v = tbsR.readSmallInteger('version', 1);
    if (v !== 1) tbsR.fail('CRL version present but not v2');
    version = 2;
  }

  const innerAlg = readSignatureAlgorithm(tbsR, 'signature');
  if (!bytesEqual(innerAlg.raw, outerAlg.raw)) {
    tbsR.fail('tbsCertList.signature differs from signatureAlgorithm (RFC 5280 §5.1.1.2)');
  }

  const issuer = readName(tbsR, 'issuer');
  const thisUpdate = tbsR.readTime('thisUpdate');
  let nextUpdate: number | undefined;
  const t = tbsR.peekTag();
  if (t === TAG.UTC_TIME || t === TAG.GENERALIZED_TIME) nextUpdate = tbsR.readTime('nextUpdate');

  const revoked = new Map<string, RevokedCertificate>();
  if (tbsR.peekTag() === TAG.SEQUENCE) {
    const entries = tbsR.readSequence('revokedCertificates');
    while (!entries.done) {
      const entry = entries.readSequence('revokedCertificates entry');
      const serial = entry.readInteger('userCertificate');
      if (serial.length > 21 || (serial.length === 21 && serial[0] !== 0)) {
        entry.fail('userCertificate serial longer than 20 octets');
      }
      const revocationDate = entry.readTime('revocationDate');
      if (!entry.done) {
        if (version !== 2) entry.fail('crlEntryExtensions in a v1 CRL');
        readExtensions(entry, 'crlEntryExtensions');
      }
      entry.assertEnd('revokedCertificates entry');
      const serialHex = integerHex(serial);
      if (!revoked.has(serialHex)) revoked.set(serialHex, { serialHex, revocationDate });
    }
  }

  let extensions: Extension[] = [];
  const extR = tbsR.readOptionalExplicit(0, 'crlExtensions');
  if (extR !== undefined) {
    if (version !== 2) tbsR.fail('crlExtensions in a v1 CRL');
    extensions = readExtensions(extR, 'crlExtensions');
    extR.assertEnd('crlExtensions');
  }
  tbsR.assertEnd('tbsCertList');

  const numberExt = findExtension(extensions, oids.id_ce_cRLNumber);
  const akiExt = findExtension(extensions, oids.id_ce_authorityKeyIdentifier);

  return {
    raw,
    tbs,
    version,
    signatureAlgorithm: outerAlg.oid,
    issuer,
    thisUpdate,
    nextUpdate,
    revoked,
    extensions,
    crlNumber: numberExt === undefined ? undefined : parseCrlNumber(numberExt),
    authorityKeyIdentifier: akiExt === undefined ? undefined : parseAuthorityKeyIdentifier(akiExt),
    signatureValue,
  };
}

function fail(message: string): never {
  throw new DcapError(CODE, `CRL: ${message}`);
}

/** ASCII bytes → string; undefined if any byte is ≥ 0x80. */
function asciiText(bytes: Uint8Array): string | undefined {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    const chunk = bytes.subarray(i, Math.min(bytes.length, i + 4096));
    for (let j = 0; j < chunk.length; j++) if (chunk[j]! >= 0x80) return undefined;
    out += String.fromCharCode.apply(null, chunk as unknown as number[]);
  }
  return out;
}

function decodeCrlText(text: string): Uint8Array {
  const t = text.trim();
  if (t.length === 0) fail('empty input');
  if (t.includes('-----BEGIN')) {
    const blocks = decodePemBlocks(t, CODE);
    let der: Uint8Array | undefined;
    for (const b of blocks) {
      if (b.label !== 'X509 CRL') continue;
      if (der !== undefined) fail('more than one X509 CRL PEM block');
      der = b.der;
    }
    if (der === undefined) fail('no X509 CRL PEM block');
    return der;
  }
  const der = tryFromHex(t);
  if (der === undefined) fail('input is neither DER, PEM nor hex');
  if (der[0] !== TAG.SEQUENCE) fail('hex input does not encode a DER SEQUENCE');
  return der;
}

/**
 * A CRL as DER from any of the forms it is served in: DER bytes (returned as is, not copied), PEM text or bytes with
 * one `X509 CRL` block, or hex text or bytes (PCCS `/rootcacrl` returns the DER as hex). Surrounding whitespace is
 * ignored. Only the encoding is decoded here; {@link parseCrl} validates the DER.
 */
export function decodeCrl(input: Uint8Array | string): Uint8Array {
  if (typeof input === 'string') return decodeCrlText(input);
  if (!(input instanceof Uint8Array)) fail('input is neither bytes nor text');
  if (input.length === 0) fail('empty input');
  if (input[0] === TAG.SEQUENCE) return input;
  const text = asciiText(input);
  if (text === undefined) fail('input is neither DER, PEM nor hex');
  return decodeCrlText(text);
}
