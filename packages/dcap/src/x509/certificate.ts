/**
 * X.509 v1–v3 certificate parsing (RFC 5280 §4.1) with the strict DER reader of ../asn1/der.ts. All byte fields are
 * views into the input; `tbs` is the exact tbsCertificate encoding the signature covers. Every failure is
 * DcapError('UNSUPPORTED_CERT_FORMAT').
 *
 * Deliberate leniencies (each harmless to the meaning of the signed bytes, and common in real certificates):
 * - an AlgorithmIdentifier may carry explicit NULL parameters (RFC 5758 says absent for ECDSA; Gramine's RA-TLS
 *   certificates encode NULL);
 * - an explicitly encoded DEFAULT (version v1, Extension critical FALSE) is accepted;
 * - a negative serial number is accepted (RFC 5280 §4.1.2.2 asks users to handle it gracefully); its length is
 *   limited to 20 value octets.
 * Everything else is strict: minimal lengths and INTEGERs, no trailing bytes at any level, the inner signature
 * algorithm byte-equal to the outer one, unique IDs only in v2/v3, extensions only in v3, non-empty and free of
 * duplicate extension OIDs.
 */
import { DerReader, TAG, CONTEXT, CONSTRUCTED, integerHex } from '../asn1/der.js';
import * as oids from '../asn1/oids.js';
import type { DcapErrorCode } from '../errors.js';
import { bytesEqual } from '../util/bytes.js';
import { readName } from './name.js';
import type { Certificate, Extension } from './types.js';

const CODE: DcapErrorCode = 'UNSUPPORTED_CERT_FORMAT';

/** Serial numbers: at most 20 value octets (RFC 5280 §4.1.2.2), plus a 0x00 sign octet. */
const MAX_SERIAL_OCTETS = 21;

export interface AlgorithmIdentifier {
  readonly oid: string;
  /** 'absent', 'null' (explicit NULL), or the parameters element's full DER. */
  readonly parameters: 'absent' | 'null' | Uint8Array;
  /** When the parameters are an OBJECT IDENTIFIER (e.g. an EC namedCurve), that OID. */
  readonly parametersOid: string | undefined;
}

/**
 *   AlgorithmIdentifier  ::=  SEQUENCE  {
 *        algorithm               OBJECT IDENTIFIER,
 *        parameters              ANY DEFINED BY algorithm OPTIONAL  }
 */
export function readAlgorithmIdentifier(r: DerReader, field: string): AlgorithmIdentifier {
  const seq = r.readSequence(field);
  const oid = seq.readOid(`${field}.algorithm`);
  let parameters: AlgorithmIdentifier['parameters'] = 'absent';
  let parametersOid: string | undefined;
  const tag = seq.peekTag();
  if (tag === TAG.NULL) {
    seq.readNull(`${field}.parameters`);
    parameters = 'null';
  } else if (tag === TAG.OBJECT_IDENTIFIER) {
    parametersOid = seq.readOid(`${field}.parameters`);
    parameters = seq.lastRaw();
  } else if (tag >= 0) {
    parameters = seq.readAny(`${field}.parameters`).raw;
  }
  seq.assertEnd(field);
  return { oid, parameters, parametersOid };
}

function isEcdsa(oid: string): boolean {
  return oid === oids.ecdsa_with_SHA256 || oid === oids.ecdsa_with_SHA384 || oid === oids.ecdsa_with_SHA512;
}

/** Signature AlgorithmIdentifier: ECDSA algorithms must have absent (or, leniently, NULL) parameters. */
function readSignatureAlgorithm(r: DerReader, field: string): { oid: string; raw: Uint8Array } {
  const alg = readAlgorithmIdentifier(r, field);
  const raw = r.lastRaw();
  if (isEcdsa(alg.oid) && alg.parameters !== 'absent' && alg.parameters !== 'null') {
    r.fail(`${field}: ECDSA algorithm with parameters`);
  }
  return { oid: alg.oid, raw };
}

/**
 *   Extensions  ::=  SEQUENCE SIZE (1..MAX) OF Extension
 *   Extension  ::=  SEQUENCE  {
 *        extnID      OBJECT IDENTIFIER,
 *        critical    BOOLEAN DEFAULT FALSE,
 *        extnValue   OCTET STRING
 *                    -- contains the DER encoding of an ASN.1 value
 *                    -- corresponding to the extension type identified
 *                    -- by extnID
 *        }
 * Reads the Extensions SEQUENCE from `r`; duplicate extnIDs are rejected (RFC 5280 §4.2).
 */
export function readExtensions(r: DerReader, field: string): Extension[] {
  const seq = r.readSequence(field);
  if (seq.done) seq.fail(`${field}: empty Extensions`);
  const out: Extension[] = [];
  while (!seq.done) {
    const ext = seq.readSequence(`${field} Extension`);
    const oid = ext.readOid(`${field} extnID`);
    const critical = ext.peekTag() === TAG.BOOLEAN ? ext.readBoolean(`${field} ${oid} critical`) : false;
    const value = ext.readOctetString(`${field} ${oid} extnValue`);
    ext.assertEnd(`${field} ${oid}`);
    for (let i = 0; i < out.length; i++) {
      if (out[i]!.oid === oid) seq.fail(`${field}: duplicate extension ${oid}`);
    }
    out.push({ oid, critical, value });
  }
  return out;
}

/**
 * Certificate  ::=  SEQUENCE  {
 *      tbsCertificate       TBSCertificate,
 *      signatureAlgorithm   AlgorithmIdentifier,
 *      signatureValue       BIT STRING  }
 *
 * TBSCertificate  ::=  SEQUENCE  {
 *      version         [0]  EXPLICIT Version DEFAULT v1,
 *      serialNumber         CertificateSerialNumber,
 *      signature            AlgorithmIdentifier,
 *      issuer               Name,
 *      validity             Validity,
 *      subject              Name,
 *      subjectPublicKeyInfo SubjectPublicKeyInfo,
 *      issuerUniqueID  [1]  IMPLICIT UniqueIdentifier OPTIONAL,
 *                           -- If present, version MUST be v2 or v3
 *      subjectUniqueID [2]  IMPLICIT UniqueIdentifier OPTIONAL,
 *                           -- If present, version MUST be v2 or v3
 *      extensions      [3]  EXPLICIT Extensions OPTIONAL
 *                           -- If present, version MUST be v3
 *      }
 *
 * Version  ::=  INTEGER  {  v1(0), v2(1), v3(2)  }
 * CertificateSerialNumber  ::=  INTEGER
 * Validity ::= SEQUENCE {
 *      notBefore      Time,
 *      notAfter       Time }
 * Time ::= CHOICE {
 *      utcTime        UTCTime,
 *      generalTime    GeneralizedTime }
 * UniqueIdentifier  ::=  BIT STRING
 * SubjectPublicKeyInfo  ::=  SEQUENCE  {
 *      algorithm            AlgorithmIdentifier,
 *      subjectPublicKey     BIT STRING  }
 *
 * `version` in the result is the X.509 version number 1, 2 or 3 (the encoded value + 1).
 */
export function parseCertificate(der: Uint8Array): Certificate {
  const top = new DerReader(der, CODE, 'certificate');
  const cert = top.readSequence('Certificate');
  const raw = top.lastRaw();
  top.assertEnd('Certificate');

  const tbsR = cert.readSequence('tbsCertificate');
  const tbs = cert.lastRaw();
  const outerAlg = readSignatureAlgorithm(cert, 'signatureAlgorithm');
  const signatureValue = cert.readBitString('signatureValue');
  cert.assertEnd('Certificate');

  // version [0] EXPLICIT Version DEFAULT v1
  let version = 1;
  const versionR = tbsR.readOptionalExplicit(0, 'version');
  if (versionR !== undefined) {
    version = versionR.readSmallInteger('version', 2) + 1;
    versionR.assertEnd('version');
  }

  const serialNumber = tbsR.readInteger('serialNumber');
  if (serialNumber.length > MAX_SERIAL_OCTETS || (serialNumber.length === MAX_SERIAL_OCTETS && serialNumber[0] !== 0)) {
    tbsR.fail('serialNumber longer than 20 octets');
  }

  const innerAlg = readSignatureAlgorithm(tbsR, 'signature');
  if (!bytesEqual(innerAlg.raw, outerAlg.raw)) {
    tbsR.fail('tbsCertificate.signature differs from signatureAlgorithm (RFC 5280 §4.1.1.2)');
  }

  const issuer = readName(tbsR, 'issuer');

  const validity = tbsR.readSequence('validity');
  const notBefore = validity.readTime('notBefore');
  const notAfter = validity.readTime('notAfter');
  validity.assertEnd('validity');

  const subject = readName(tbsR, 'subject');

  const spkiR = tbsR.readSequence('subjectPublicKeyInfo');
  const spki = tbsR.lastRaw();
  const keyAlg = readAlgorithmIdentifier(spkiR, 'subjectPublicKeyInfo.algorithm');
  const publicKey = spkiR.readBitString('subjectPublicKey');
  spkiR.assertEnd('subjectPublicKeyInfo');
  const publicKeyCurve = keyAlg.oid === oids.id_ecPublicKey ? keyAlg.parametersOid : undefined;

  // issuerUniqueID [1] IMPLICIT, subjectUniqueID [2] IMPLICIT: primitive BIT STRINGs
  for (const n of [1, 2]) {
    const el = tbsR.readOptionalElement(CONTEXT | n, n === 1 ? 'issuerUniqueID' : 'subjectUniqueID');
    if (el !== undefined) {
      if (version < 2) tbsR.fail('unique identifier in a v1 certificate');
      if (el.contents.length === 0 || el.contents[0]! > 7) tbsR.fail('malformed unique identifier');
    }
  }

  let extensions: Extension[] = [];
  const extR = tbsR.readOptionalExplicit(3, 'extensions');
  if (extR !== undefined) {
    if (version !== 3) tbsR.fail('extensions in a certificate that is not v3');
    extensions = readExtensions(extR, 'extensions');
    extR.assertEnd('extensions');
  }
  if (!tbsR.done) {
    const t = tbsR.peekTag();
    tbsR.fail(
      t === (CONTEXT | CONSTRUCTED | 3) ? 'duplicate extensions field' : 'unexpected data at the end of tbsCertificate',
    );
  }

  return {
    raw,
    tbs,
    version,
    serialNumber,
    serialHex: integerHex(serialNumber),
    signatureAlgorithm: outerAlg.oid,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki,
    publicKeyAlgorithm: keyAlg.oid,
    publicKeyCurve,
    publicKey,
    extensions,
    signatureValue,
  };
}

/** The extension with `oid`, if present (extension OIDs are unique in a parsed certificate). */
export function findExtension(extensions: readonly Extension[], oid: string): Extension | undefined {
  for (let i = 0; i < extensions.length; i++) if (extensions[i]!.oid === oid) return extensions[i];
  return undefined;
}
