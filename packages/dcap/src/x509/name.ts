/**
 * X.509 Name (RFC 5280 §4.1.2.4):
 *
 *   Name ::= CHOICE { -- only one possibility for now --
 *     rdnSequence  RDNSequence }
 *   RDNSequence ::= SEQUENCE OF RelativeDistinguishedName
 *   RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 *   AttributeTypeAndValue ::= SEQUENCE {
 *     type     AttributeType,
 *     value    AttributeValue }
 *   AttributeType ::= OBJECT IDENTIFIER
 *   AttributeValue ::= ANY -- DEFINED BY AttributeType
 *
 * `attributes` lists every AttributeTypeAndValue in encoding order. `text` is RFC 4514-style (short names CN, C, L,
 * ST, O, OU, STREET, DC, UID, else the dotted OID; values escaped per RFC 4514 §2.4; values that are not a supported
 * character string are `#` + hex of their DER, RFC 4514 §2.4) but lists the RDNs in **encoding order**, not reversed:
 * `CN=Intel SGX PCK Platform CA,O=Intel Corporation,L=Santa Clara,ST=CA,C=US` (what `openssl -nameopt` and
 * Intel's QVL print). `commonName` is the first CN attribute that is a character string. Comparisons of names must
 * use `raw`, never `text`.
 */
import { DerReader, decodeString } from '../asn1/der.js';
import * as oids from '../asn1/oids.js';
import type { DcapErrorCode } from '../errors.js';
import { toHex } from '../util/bytes.js';
import type { Name, NameAttribute } from './types.js';

const SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  [oids.id_at_commonName, 'CN'],
  [oids.id_at_countryName, 'C'],
  [oids.id_at_localityName, 'L'],
  [oids.id_at_stateOrProvinceName, 'ST'],
  [oids.id_at_organizationName, 'O'],
  [oids.id_at_organizationalUnitName, 'OU'],
  [oids.id_at_streetAddress, 'STREET'],
  [oids.id_domainComponent, 'DC'],
  [oids.id_userId, 'UID'],
]);

/** RFC 4514 §2.4 escaping of an attribute value string. */
function escapeValue(value: string): string {
  let needs = false;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22 || c === 0x2b || c === 0x2c || c === 0x3b || c === 0x3c || c === 0x3e || c === 0x5c || c === 0) {
      needs = true;
      break;
    }
  }
  if (!needs && n > 0) {
    const f = value.charCodeAt(0);
    const l = value.charCodeAt(n - 1);
    if (f !== 0x20 && f !== 0x23 && l !== 0x20) return value;
  } else if (!needs) {
    return value;
  }
  let out = '';
  for (let i = 0; i < n; i++) {
    const ch = value[i]!;
    const c = value.charCodeAt(i);
    if (c === 0) out += '\\00';
    else if (c === 0x22 || c === 0x2b || c === 0x2c || c === 0x3b || c === 0x3c || c === 0x3e || c === 0x5c) {
      out += '\\' + ch;
    } else if ((i === 0 && (c === 0x20 || c === 0x23)) || (i === n - 1 && c === 0x20)) out += '\\' + ch;
    else out += ch;
  }
  return out;
}

/** Reads a Name (a SEQUENCE) from `r`. Errors carry `r`'s code. */
export function readName(r: DerReader, field: string): Name {
  const seq = r.readSequence(field);
  const raw = r.lastRaw();
  const code: DcapErrorCode = r.code;
  const attributes: NameAttribute[] = [];
  let commonName: string | undefined;
  let text = '';
  while (!seq.done) {
    const rdn = seq.readSet(`${field} RDN`);
    if (rdn.done) seq.fail(`${field}: empty RelativeDistinguishedName`);
    let first = true;
    if (text.length > 0) text += ',';
    while (!rdn.done) {
      const atv = rdn.readSequence(`${field} AttributeTypeAndValue`);
      const oid = atv.readOid(`${field} AttributeType`);
      const el = atv.readAny(`${field} AttributeValue`);
      atv.assertEnd(`${field} AttributeTypeAndValue`);
      const str = decodeString(el, code, `${field} ${oid}`);
      const value = str ?? '#' + toHex(el.raw);
      attributes.push({ oid, value });
      if (commonName === undefined && oid === oids.id_at_commonName && str !== undefined) commonName = str;
      if (!first) text += '+';
      first = false;
      text += (SHORT_NAMES.get(oid) ?? oid) + '=' + (str === undefined ? value : escapeValue(value));
    }
  }
  return { raw, attributes, commonName, text };
}

/** A Name from its complete DER encoding (nothing may follow it). */
export function parseName(der: Uint8Array, code: DcapErrorCode = 'UNSUPPORTED_CERT_FORMAT'): Name {
  const r = new DerReader(der, code, 'name');
  const name = readName(r, 'Name');
  r.assertEnd('Name');
  return name;
}
