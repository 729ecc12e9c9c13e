import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DcapError, type DcapErrorCode } from '../src/errors.js';
import { DerReader, MAX_DER_DEPTH, TAG, decodeOid, integerToBigInt, readDer } from '../src/asn1/der.js';
import * as oids from '../src/asn1/oids.js';
import { parseCertificate, findExtension } from '../src/x509/certificate.js';
import { parseCrl, decodeCrl } from '../src/x509/crl.js';
import { parseCertificateChainPem } from '../src/x509/chain.js';
import { parsePckExtension } from '../src/x509/sgx-extension.js';
import { ecdsaDerToP1363, p1363ToEcdsaDer } from '../src/x509/ecdsa-signature.js';
import { parseName } from '../src/x509/name.js';
import type { Certificate, Extension } from '../src/x509/types.js';
import { concatBytes, fromHex, toHex, utf8 } from '../src/util/bytes.js';
import { encodePem } from '../src/util/pem.js';
import { dcapDir, loadDcapCases, readBytes, testdataDir } from './corpus.js';

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** Minimal DER encoder for building test inputs. */
function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concatBytes(...parts);
  const n = body.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concatBytes(Uint8Array.from(header), body);
}
const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, ...parts);
const h = (hex: string): Uint8Array => fromHex(hex.replace(/\s+/g, ''));

function oidDer(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const vals = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const out: number[] = [];
  for (const v0 of vals) {
    const bytes: number[] = [];
    let v = v0;
    do {
      bytes.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < bytes.length - 1; i++) bytes[i]! |= 0x80;
    out.push(...bytes);
  }
  return tlv(0x06, Uint8Array.from(out));
}

function throwsCode(fn: () => unknown, code: DcapErrorCode, what?: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(DcapError.is(e), `${what ?? ''}: expected a DcapError, got ${String(e)}`);
      assert.equal(e.code, code, `${what ?? ''}: ${e.message}`);
      return true;
    },
    what,
  );
}

/** The elements of a constructed DER value (its raw children). */
function children(der: Uint8Array): Uint8Array[] {
  const r = new DerReader(der, 'UNSUPPORTED_CERT_FORMAT', 'test');
  const el = r.readAny('x');
  const c = new DerReader(el.contents, 'UNSUPPORTED_CERT_FORMAT', 'test');
  const out: Uint8Array[] = [];
  while (!c.done) out.push(c.readAny('child').raw);
  return out;
}

function pemChainsOfQuote(quote: Uint8Array): string {
  let s = '';
  for (let i = 0; i < quote.length; i++) s += String.fromCharCode(quote[i]!);
  return s;
}

interface Collateral {
  pck_crl_issuer_chain: string;
  root_ca_crl: string;
  pck_crl: string;
  tcb_info_issuer_chain: string;
  tcb_info: string;
  qe_identity_issuer_chain: string;
}

const cases = loadDcapCases();
const rootDer = readBytes(join(dcapDir, 'intel-sgx-root-ca.der'));
const rootPem = readFileSync(join(dcapDir, 'intel-sgx-root-ca.pem'), 'utf8');
const chains = cases.map((c) => ({ c, chain: parseCertificateChainPem(pemChainsOfQuote(c.quote)) }));
const processorPck = chains.find((x) => x.chain[1]!.subject.commonName === 'Intel SGX PCK Processor CA')!.chain[0]!;
const platformPck = chains.find((x) => x.chain[1]!.subject.commonName === 'Intel SGX PCK Platform CA')!.chain[0]!;

function ski(cert: Certificate): Uint8Array {
  const ext = findExtension(cert.extensions, oids.id_ce_subjectKeyIdentifier);
  assert.ok(ext);
  const r = new DerReader(ext.value, 'UNSUPPORTED_CERT_FORMAT', 'ski');
  return r.readOctetString('ski');
}

// ---------------------------------------------------------------------------------------------------------------

describe('DER reader', () => {
  const C: DcapErrorCode = 'UNSUPPORTED_CERT_FORMAT';
  const rd = (hex: string): DerReader => new DerReader(h(hex), C, 't');

  it('reads TLVs as views with header length', () => {
    const buf = h('3006 0201 05 0401 ff');
    const el = readDer(buf, C, 't');
    assert.equal(el.tag, 0x30);
    assert.equal(el.headerLength, 2);
    assert.equal(el.contents.buffer, buf.buffer);
    assert.equal(toHex(el.raw), toHex(buf));
    const s = new DerReader(buf, C, 't').readSequence('s');
    assert.equal(s.readSmallInteger('i', 10), 5);
    assert.equal(toHex(s.readOctetString('o')), 'ff');
    s.assertEnd('s');
  });

  it('enforces strict DER lengths and tags', () => {
    throwsCode(() => rd('1f0100').readAny('x'), C, 'high tag number');
    throwsCode(() => rd('3080 0000').readAny('x'), C, 'indefinite length');
    throwsCode(() => rd('0481 05 0102030405').readAny('x'), C, 'non-minimal long form');
    throwsCode(() => rd('0482 0080' + '00'.repeat(128)).readAny('x'), C, 'leading zero length octet');
    throwsCode(() => rd('0485 0100000000').readAny('x'), C, '5 length octets');
    throwsCode(() => rd('0405 0102').readAny('x'), C, 'length beyond input');
    throwsCode(() => rd('04').readAny('x'), C, 'no length');
    throwsCode(() => rd('0484 ffffffff').readAny('x'), C, 'huge length');
    throwsCode(() => rd('').readAny('x'), C, 'empty');
    throwsCode(() => readDer(h('0400 00'), C, 't'), C, 'trailing byte');
    throwsCode(() => rd('0400').readSequence('x'), C, 'wrong tag');
    assert.equal(readDer(h('0481 80' + '00'.repeat(128)), C, 't').contents.length, 128);
  });

  it('limits nesting depth', () => {
    let v = h('0500');
    for (let i = 0; i < MAX_DER_DEPTH + 2; i++) v = seq(v);
    let r = new DerReader(v, C, 't');
    assert.throws(
      () => {
        for (;;) r = r.readSequence('s');
      },
      (e: unknown) => DcapError.is(e) && /nesting/.test(e.message),
    );
  });

  it('reads INTEGERs strictly', () => {
    assert.equal(toHex(rd('0201 00').readInteger('i')), '00');
    assert.equal(toHex(rd('0202 0080').readInteger('i')), '0080');
    throwsCode(() => rd('0202 0001').readInteger('i'), C, 'non-minimal positive');
    throwsCode(() => rd('0202 ff80').readInteger('i'), C, 'non-minimal negative');
    throwsCode(() => rd('0200').readInteger('i'), C, 'empty');
    throwsCode(() => rd('0201 80').readSmallInteger('i', 1000), C, 'negative small');
    throwsCode(() => rd('0202 0100').readSmallInteger('i', 255), C, 'above max');
    assert.equal(rd('0203 00ffff').readSmallInteger('i', 0xffff), 0xffff);
    assert.equal(rd('0209 00ffffffffffffffff').readBigInteger('i'), 0xffffffffffffffffn);
    assert.equal(rd('0201 ff').readBigInteger('i'), -1n);
    assert.equal(integerToBigInt(h('ff00')), -256n);
    assert.equal(integerToBigInt(h('0102030405060708090a0b0c0d')), 0x0102030405060708090a0b0c0dn);
    assert.equal(rd('0a01 02').readEnumerated('e', 2), 2);
    throwsCode(() => rd('0a01 03').readEnumerated('e', 2), C, 'enumerated range');
  });

  it('decodes OBJECT IDENTIFIERs and rejects non-minimal arcs', () => {
    assert.equal(decodeOid(h('2a864886f84d010d01')), '1.2.840.113741.1.13.1');
    assert.equal(decodeOid(h('06092a864886f84d8a3906')), '0.6.9.42.840.113741.1337.6');
    assert.equal(decodeOid(h('678105050409')), '2.23.133.5.4.9');
    assert.equal(decodeOid(h('8837')), '2.999');
    const uuid = '2.25.329800735698586629295641978511506172918';
    assert.equal(new DerReader(oidDer(uuid), C, 't').readOid('o'), uuid);
    assert.equal(decodeOid(h('2a8048')), undefined, 'leading 0x80 in an arc');
    assert.equal(decodeOid(h('802a')), undefined, 'leading 0x80 in the first arc');
    assert.equal(decodeOid(h('2a86')), undefined, 'unterminated arc');
    assert.equal(decodeOid(h('')), undefined, 'empty');
    throwsCode(() => rd('0600').readOid('o'), C);
  });

  it('reads BIT STRING, BOOLEAN, NULL', () => {
    assert.equal(toHex(rd('0303 00abcd').readBitString('b')), 'abcd');
    throwsCode(() => rd('0302 01ff').readBitString('b'), C, 'unused bits for a key');
    throwsCode(() => rd('0302 01ff').readBitStringWithUnusedBits('b'), C, 'unused bits not zero');
    assert.equal(rd('0302 0180').readBitStringWithUnusedBits('b').unusedBits, 1);
    throwsCode(() => rd('0301 01').readBitStringWithUnusedBits('b'), C, 'unused bits without bits');
    throwsCode(() => rd('0302 08ff').readBitStringWithUnusedBits('b'), C, 'unused > 7');
    throwsCode(() => rd('0300').readBitString('b'), C, 'empty');
    assert.equal(rd('0101 ff').readBoolean('b'), true);
    assert.equal(rd('0101 00').readBoolean('b'), false);
    throwsCode(() => rd('0101 01').readBoolean('b'), C, 'BER true');
    throwsCode(() => rd('0102 0000').readBoolean('b'), C, 'two octets');
    rd('0500').readNull('n');
    throwsCode(() => rd('0501 00').readNull('n'), C);
  });

  it('reads times (RFC 5280 forms only)', () => {
    const t = (tag: number, s: string): number => new DerReader(tlv(tag, utf8(s)), C, 't').readTime('t');
    assert.equal(t(TAG.UTC_TIME, '180521104510Z'), Date.parse('2018-05-21T10:45:10Z'));
    assert.equal(t(TAG.UTC_TIME, '491231235959Z'), Date.parse('2049-12-31T23:59:59Z'));
    assert.equal(t(TAG.UTC_TIME, '500101000000Z'), Date.parse('1950-01-01T00:00:00Z'));
    assert.equal(t(TAG.UTC_TIME, '000229000000Z'), Date.parse('2000-02-29T00:00:00Z'));
    assert.equal(t(TAG.GENERALIZED_TIME, '20501231235959Z'), Date.parse('2050-12-31T23:59:59Z'));
    assert.equal(t(TAG.GENERALIZED_TIME, '99991231235959Z'), Date.parse('9999-12-31T23:59:59Z'));
    const year1 = new Date(0);
    year1.setUTCFullYear(1, 0, 1);
    assert.equal(t(TAG.GENERALIZED_TIME, '00010101000000Z'), year1.getTime());
    assert.equal(t(TAG.GENERALIZED_TIME, '16000229120000Z'), Date.parse('1600-02-29T12:00:00Z'));
    for (const bad of ['1805211045Z', '180521104510', '180521104510+0000', '181321104510Z', '180230104510Z',
      '190229000000Z', '180521244510Z', '180521106010Z', '180521104560Z', '18052110451aZ', '180521104510z',
      '1805211045100Z', ' 80521104510Z', '-80521104510Z']) {
      throwsCode(() => t(TAG.UTC_TIME, bad), C, `UTCTime ${bad}`);
    }
    for (const bad of ['20180521104510.5Z', '201805211045Z', '20180521104510', '21000229000000Z', '2018052110451Z']) {
      throwsCode(() => t(TAG.GENERALIZED_TIME, bad), C, `GeneralizedTime ${bad}`);
    }
    throwsCode(() => new DerReader(tlv(0x04, utf8('180521104510Z')), C, 't').readTime('t'), C, 'not a time tag');
  });

  it('reads strings', () => {
    const s = (tag: number, bytes: Uint8Array): string => new DerReader(tlv(tag, bytes), C, 't').readString('s');
    assert.equal(s(TAG.PRINTABLE_STRING, utf8('Intel SGX Root CA')), 'Intel SGX Root CA');
    assert.equal(s(TAG.UTF8_STRING, utf8('Zürich ✓')), 'Zürich ✓');
    assert.equal(s(TAG.IA5_STRING, utf8('a@b.example')), 'a@b.example');
    assert.equal(s(TAG.BMP_STRING, h('00480069')), 'Hi');
    assert.equal(s(TAG.TELETEX_STRING, h('43e9')), 'C\u00e9');
    assert.equal(s(TAG.TELETEX_STRING, h('80')), '\u0080', 'latin1, not windows-1252');
    throwsCode(() => s(TAG.PRINTABLE_STRING, utf8('a@b')), C, 'printable with @');
    throwsCode(() => s(TAG.IA5_STRING, h('80')), C, 'IA5 high byte');
    throwsCode(() => s(TAG.UTF8_STRING, h('c3')), C, 'truncated UTF-8');
    throwsCode(() => s(TAG.UTF8_STRING, h('efbbbf41')), C, 'UTF-8 BOM');
    throwsCode(() => s(TAG.BMP_STRING, h('004800')), C, 'odd BMP');
    throwsCode(() => s(TAG.BMP_STRING, h('d800')), C, 'BMP surrogate');
    throwsCode(() => s(0x04, h('41')), C, 'not a string type');
  });
});

describe('Intel SGX Root CA', () => {
  for (const [form, cert] of [
    ['der', parseCertificate(rootDer)],
    ['pem', parseCertificateChainPem(rootPem)[0]!],
  ] as const) {
    it(`parses (${form})`, () => {
      assert.equal(cert.subject.commonName, 'Intel SGX Root CA');
      assert.equal(cert.issuer.commonName, 'Intel SGX Root CA');
      assert.equal(cert.subject.text, 'CN=Intel SGX Root CA,O=Intel Corporation,L=Santa Clara,ST=CA,C=US');
      assert.deepEqual(
        cert.subject.attributes.map((a) => a.oid),
        [oids.id_at_commonName, oids.id_at_organizationName, oids.id_at_localityName, oids.id_at_stateOrProvinceName,
          oids.id_at_countryName],
      );
      assert.equal(toHex(cert.issuer.raw), toHex(cert.subject.raw));
      assert.equal(cert.serialHex, '22650cd65a9d3489f383b49552bf501b392706ac');
      assert.equal(toHex(cert.serialNumber), '22650cd65a9d3489f383b49552bf501b392706ac');
      assert.equal(cert.notBefore, Date.parse('2018-05-21T10:45:10Z'));
      assert.equal(cert.notAfter, Date.parse('2049-12-31T23:59:59Z'));
      assert.equal(cert.version, 3);
      assert.equal(cert.publicKeyAlgorithm, oids.id_ecPublicKey);
      assert.equal(cert.publicKeyCurve, '1.2.840.10045.3.1.7');
      assert.equal(cert.signatureAlgorithm, oids.ecdsa_with_SHA256);
      assert.equal(cert.publicKey.length, 65);
      assert.equal(cert.publicKey[0], 4);
      assert.equal(
        toHex(cert.spki),
        '3059301306072a8648ce3d020106082a8648ce3d030107034200040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b445' +
          '8561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394',
      );
      assert.equal(toHex(cert.raw), toHex(rootDer));
      assert.equal(
        createHash('sha256').update(cert.raw).digest('hex'),
        '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3',
      );
      // tbs is the exact second-level element; signature over it is the last BIT STRING
      assert.equal(toHex(cert.tbs), toHex(children(cert.raw)[0]!));
      assert.deepEqual(
        cert.extensions.map((e) => [e.oid, e.critical]),
        [
          [oids.id_ce_authorityKeyIdentifier, false],
          [oids.id_ce_cRLDistributionPoints, false],
          [oids.id_ce_subjectKeyIdentifier, false],
          [oids.id_ce_keyUsage, true],
          [oids.id_ce_basicConstraints, true],
        ],
      );
      assert.equal(toHex(ski(cert)), '22650cd65a9d3489f383b49552bf501b392706ac');
      throwsCode(() => parsePckExtension(cert), 'INVALID_PCK_CERT', 'root has no SGX extension');
    });
  }

  it('byte fields are views into the input', () => {
    const cert = parseCertificate(rootDer);
    for (const v of [cert.raw, cert.tbs, cert.spki, cert.publicKey, cert.signatureValue, cert.subject.raw]) {
      assert.equal(v.buffer, rootDer.buffer);
    }
  });

  it('the QVL sample root parses too (it is never trusted, that is the verifier\'s job)', () => {
    const [c] = parseCertificateChainPem(readFileSync(join(dcapDir, 'intel-qvl-sample-root-ca.pem'), 'utf8'));
    assert.equal(c!.subject.commonName, 'Intel SGX Root CA');
  });
});

describe('PCK certificate chains of the corpus quotes', () => {
  for (const { c, chain } of chains) {
    it(`${c.json.id}: 3 certificates, PCK extension matches the collateral`, () => {
      assert.equal(chain.length, 3);
      const [leaf, inter, root] = chain as [Certificate, Certificate, Certificate];
      assert.equal(leaf.subject.commonName, 'Intel SGX PCK Certificate');
      assert.match(inter.subject.commonName!, /^Intel SGX PCK (Processor|Platform) CA$/);
      assert.equal(root.subject.commonName, 'Intel SGX Root CA');
      assert.equal(toHex(leaf.issuer.raw), toHex(inter.subject.raw));
      assert.equal(toHex(inter.issuer.raw), toHex(root.subject.raw));
      assert.equal(toHex(root.spki), toHex(parseCertificate(rootDer).spki));
      for (const cert of chain) {
        assert.equal(cert.version, 3);
        assert.equal(cert.signatureAlgorithm, oids.ecdsa_with_SHA256);
        assert.equal(cert.publicKeyCurve, oids.secp256r1);
        assert.ok(cert.notBefore < cert.notAfter);
      }
      const pck = parsePckExtension(leaf);
      const collateral = JSON.parse(c.collateralText!) as Collateral;
      const tcbInfo = JSON.parse(collateral.tcb_info) as { fmspc: string; pceId: string };
      if (c.json.expectError === 'TCB_INFO_MISMATCH') {
        // wrong-collateral pairing: the TCB info belongs to another platform
        assert.notEqual(toHex(pck.fmspc), tcbInfo.fmspc.toLowerCase());
      } else {
        assert.equal(toHex(pck.fmspc), tcbInfo.fmspc.toLowerCase());
      }
      assert.equal(toHex(pck.pceId), tcbInfo.pceId.toLowerCase());
      assert.equal(pck.ppid.length, 16);
      assert.equal(pck.tcb.cpuSvn.length, 16);
      assert.equal(pck.tcb.sgxTcbComponents.length, 16);
      // Intel issues CPUSVN equal to the comp01..16 SVNs
      assert.deepEqual([...pck.tcb.cpuSvn], pck.tcb.sgxTcbComponents);
      const extLen = findExtension(leaf.extensions, oids.sgx_Extensions)!.value.length;
      if (inter.subject.commonName === 'Intel SGX PCK Platform CA') {
        assert.equal(pck.sgxType, 'Scalable');
        assert.equal(pck.platformInstanceId?.length, 16);
        assert.ok(pck.configuration);
        assert.equal(typeof pck.configuration.dynamicPlatform, 'boolean');
        assert.equal(typeof pck.configuration.cachedKeys, 'boolean');
        assert.equal(typeof pck.configuration.smtEnabled, 'boolean');
        assert.ok(extLen === 554 || extLen === 555, `extension length ${extLen}`);
      } else {
        assert.equal(pck.sgxType, 'Standard');
        assert.equal(pck.platformInstanceId, undefined);
        assert.equal(pck.configuration, undefined);
        assert.equal(extLen, 453);
      }
      // the collateral's issuer chains parse as well
      for (const key of ['pck_crl_issuer_chain', 'tcb_info_issuer_chain', 'qe_identity_issuer_chain'] as const) {
        const ch = parseCertificateChainPem(collateral[key]);
        assert.ok(ch.length >= 2);
        assert.equal(ch[1]!.subject.commonName, 'Intel SGX Root CA');
      }
    });
  }

  it('a chain with a broken certificate is UNSUPPORTED_CERT_FORMAT', () => {
    const pem = encodePem('CERTIFICATE', rootDer.subarray(0, 100));
    throwsCode(() => parseCertificateChainPem(pem), 'UNSUPPORTED_CERT_FORMAT');
    throwsCode(() => parseCertificateChainPem('no pem here'), 'UNSUPPORTED_CERT_FORMAT');
    throwsCode(() => parseCertificateChainPem('-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----'),
      'UNSUPPORTED_CERT_FORMAT');
  });
});

describe('CRLs of the corpus', () => {
  const seen = new Set<string>();
  for (const { c, chain } of chains) {
    const collateral = JSON.parse(c.collateralText!) as Collateral;
    for (const key of ['root_ca_crl', 'pck_crl'] as const) {
      if (seen.has(collateral[key])) continue;
      seen.add(collateral[key]);
      it(`${c.json.id} ${key}`, () => {
        const der = fromHex(collateral[key]);
        const crl = parseCrl(der);
        const issuerCert = key === 'root_ca_crl' ? chain[2]! : parseCertificateChainPem(collateral.pck_crl_issuer_chain)[0]!;
        assert.equal(crl.version, 2);
        assert.equal(crl.signatureAlgorithm, oids.ecdsa_with_SHA256);
        assert.equal(crl.issuer.commonName, issuerCert.subject.commonName);
        assert.equal(toHex(crl.issuer.raw), toHex(issuerCert.subject.raw));
        if (key === 'pck_crl') assert.equal(toHex(crl.issuer.raw), toHex(chain[0]!.issuer.raw));
        assert.ok(crl.nextUpdate !== undefined && crl.thisUpdate < crl.nextUpdate);
        assert.equal(crl.crlNumber, 1n);
        assert.ok(crl.authorityKeyIdentifier);
        assert.equal(toHex(crl.authorityKeyIdentifier), toHex(ski(issuerCert)));
        assert.deepEqual(crl.extensions.map((e) => e.oid), [oids.id_ce_cRLNumber, oids.id_ce_authorityKeyIdentifier]);
        assert.equal(toHex(crl.tbs), toHex(children(der)[0]!));
        if (crl.issuer.commonName === 'Intel SGX PCK Platform CA') {
          assert.equal(crl.revoked.size, 44);
          const r = crl.revoked.get('6fc34e5023e728923435d61aa4b83c618166ad35');
          assert.ok(r);
          assert.equal(r.revocationDate, crl.thisUpdate);
          assert.ok(crl.revoked.has('efae6e9715fca13b87e333e8261ed6d990a926ad'), 'leading 00 sign octet stripped');
        } else {
          assert.equal(crl.revoked.size, 0);
        }
        // the PCK leaf is not revoked
        assert.equal(crl.revoked.has(chain[0]!.serialHex), false);

        // decodeCrl: DER, hex (both cases, text and bytes), PEM (text and bytes) all give the same DER
        assert.equal(decodeCrl(der), der, 'DER is returned as is');
        const pem = encodePem('X509 CRL', der);
        for (const form of [
          collateral[key],
          collateral[key].toUpperCase(),
          `  ${collateral[key]}\n`,
          utf8(collateral[key]),
          pem,
          utf8(pem),
          `some text\r\n${pem.replace(/\n/g, '\r\n')}trailer`,
          encodePem('CERTIFICATE', rootDer) + pem,
        ]) {
          assert.equal(toHex(decodeCrl(form)), toHex(der));
        }
      });
    }
  }

  it('decodeCrl rejects other input', () => {
    const der = fromHex(JSON.parse(chains[0]!.c.collateralText!).root_ca_crl as string);
    for (const bad of ['', '   ', 'zz', '3', '0102', encodePem('CERTIFICATE', rootDer),
      encodePem('X509 CRL', der) + encodePem('X509 CRL', der), new Uint8Array(0), h('ff00'), utf8('hello')]) {
      throwsCode(() => decodeCrl(bad), 'SGX_CRL_UNSUPPORTED_FORMAT', `decodeCrl(${String(bad).slice(0, 20)})`);
    }
  });

  it('parseCrl rejects a certificate and truncations', () => {
    throwsCode(() => parseCrl(rootDer), 'SGX_CRL_UNSUPPORTED_FORMAT');
    const der = fromHex(JSON.parse(chains[0]!.c.collateralText!).root_ca_crl as string);
    for (let n = 0; n < der.length; n++) throwsCode(() => parseCrl(der.subarray(0, n)), 'SGX_CRL_UNSUPPORTED_FORMAT');
    throwsCode(() => parseCrl(concatBytes(der, h('00'))), 'SGX_CRL_UNSUPPORTED_FORMAT', 'trailing byte');
  });

  it('parses a v1 CRL without nextUpdate, entries or extensions, and rejects v1 with extensions', () => {
    const der = fromHex(JSON.parse(chains[0]!.c.collateralText!).root_ca_crl as string);
    const [tbs, alg, sig] = children(der) as [Uint8Array, Uint8Array, Uint8Array];
    const [, innerAlg, issuer, thisUpdate, , crlExt] = children(tbs) as Uint8Array[];
    const v1 = seq(seq(innerAlg!, issuer!, thisUpdate!), alg, sig);
    const crl = parseCrl(v1);
    assert.equal(crl.version, 1);
    assert.equal(crl.nextUpdate, undefined);
    assert.equal(crl.crlNumber, undefined);
    assert.equal(crl.authorityKeyIdentifier, undefined);
    assert.equal(crl.revoked.size, 0);
    throwsCode(() => parseCrl(seq(seq(innerAlg!, issuer!, thisUpdate!, crlExt!), alg, sig)), 'SGX_CRL_UNSUPPORTED_FORMAT');
    throwsCode(() => parseCrl(seq(seq(h('020100'), innerAlg!, issuer!, thisUpdate!), alg, sig)),
      'SGX_CRL_UNSUPPORTED_FORMAT', 'explicit v1');
    // revoked entries with a duplicate serial keep the first; entry extensions in v2
    const entry = (serial: string, time: string, ...ext: Uint8Array[]): Uint8Array =>
      seq(tlv(0x02, h(serial)), tlv(TAG.UTC_TIME, utf8(time)), ...ext);
    const reason = seq(seq(oidDer(oids.id_ce_cRLReasons), tlv(0x04, h('0a0101'))));
    const v2 = seq(
      seq(h('020101'), innerAlg!, issuer!, thisUpdate!,
        seq(entry('00ff', '250101000000Z', reason), entry('00ff', '260101000000Z'), entry('01', '250101000000Z')),
        crlExt!),
      alg, sig);
    const parsed = parseCrl(v2);
    assert.equal(parsed.revoked.size, 2);
    assert.equal(parsed.revoked.get('ff')!.revocationDate, Date.parse('2025-01-01T00:00:00Z'));
    assert.ok(parsed.revoked.has('01'));
    const badEntry = seq(seq(h('020101'), innerAlg!, issuer!, thisUpdate!, seq(entry('0001', '250101000000Z')), crlExt!),
      alg, sig);
    throwsCode(() => parseCrl(badEntry), 'SGX_CRL_UNSUPPORTED_FORMAT', 'non-minimal serial');
  });
});

describe('certificate strictness (synthetic variants of the Intel root)', () => {
  const [tbs, alg, sig] = children(rootDer) as [Uint8Array, Uint8Array, Uint8Array];
  const parts = children(tbs);
  const [version, serial, innerAlg, issuer, validity, subject, spki, extField] = parts as Uint8Array[];
  const exts = children(children(extField!)[0]!);
  const build = (tbsParts: Uint8Array[], outerAlg = alg, signature = sig): Uint8Array =>
    seq(seq(...tbsParts), outerAlg, signature);
  const extsField = (...e: Uint8Array[]): Uint8Array => tlv(0xa3, seq(...e));
  const C: DcapErrorCode = 'UNSUPPORTED_CERT_FORMAT';

  it('rebuilding gives back the same certificate', () => {
    assert.equal(toHex(build([version!, serial!, innerAlg!, issuer!, validity!, subject!, spki!, extField!])),
      toHex(rootDer));
  });

  it('rejects duplicate extensions, extensions outside v3, empty extensions, trailing data', () => {
    throwsCode(() => parseCertificate(build([version!, serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      extsField(...exts, exts[0]!)])), C, 'duplicate extension');
    throwsCode(() => parseCertificate(build([serial!, innerAlg!, issuer!, validity!, subject!, spki!, extField!])),
      C, 'v1 with extensions');
    throwsCode(() => parseCertificate(build([h('a003020101'), serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      extField!])), C, 'v2 with extensions');
    throwsCode(() => parseCertificate(build([version!, serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      tlv(0xa3, seq())])), C, 'empty extensions');
    throwsCode(() => parseCertificate(build([version!, serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      extField!, h('0500')])), C, 'trailing element in tbs');
    throwsCode(() => parseCertificate(concatBytes(rootDer, h('00'))), C, 'trailing byte');
    throwsCode(() => parseCertificate(build([h('a003020103'), serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      extField!])), C, 'version 4');
    throwsCode(() => parseCertificate(build([version!, tlv(0x02, h('01' + '00'.repeat(20))), innerAlg!, issuer!,
      validity!, subject!, spki!, extField!])), C, '21-octet serial');
  });

  it('accepts v1 without extensions, explicit v1, explicit critical FALSE, unique IDs in v3, negative serials', () => {
    const v1 = parseCertificate(build([serial!, innerAlg!, issuer!, validity!, subject!, spki!]));
    assert.equal(v1.version, 1);
    assert.deepEqual(v1.extensions, []);
    assert.equal(parseCertificate(build([h('a003020100'), serial!, innerAlg!, issuer!, validity!, subject!, spki!]))
      .version, 1);
    const ext = seq(oidDer('1.2.3.4'), h('010100'), tlv(0x04, h('0500')));
    const c = parseCertificate(build([version!, serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      extsField(ext)]));
    assert.deepEqual(c.extensions.map((e) => [e.oid, e.critical, toHex(e.value)]), [['1.2.3.4', false, '0500']]);
    const u = parseCertificate(build([version!, serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      h('8102 00ff'), h('8202 00aa'), extField!]));
    assert.equal(u.extensions.length, 5);
    throwsCode(() => parseCertificate(build([version!, serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      h('8102 00ff'), h('8102 00aa'), extField!])), C, 'two issuerUniqueIDs');
    throwsCode(() => parseCertificate(build([serial!, innerAlg!, issuer!, validity!, subject!, spki!, h('8102 00ff')])),
      C, 'unique ID in v1');
    assert.equal(parseCertificate(build([version!, h('0201ff'), innerAlg!, issuer!, validity!, subject!, spki!]))
      .serialHex, 'ff');
    assert.equal(parseCertificate(build([version!, h('020100'), innerAlg!, issuer!, validity!, subject!, spki!]))
      .serialHex, '00');
  });

  it('signature algorithm: inner must equal outer; explicit NULL accepted; ECDSA with other parameters rejected', () => {
    const sha384 = seq(oidDer(oids.ecdsa_with_SHA384));
    throwsCode(() => parseCertificate(build([version!, serial!, sha384, issuer!, validity!, subject!, spki!,
      extField!])), C, 'inner differs');
    const withNull = seq(oidDer(oids.ecdsa_with_SHA256), h('0500'));
    const c = parseCertificate(build([version!, serial!, withNull, issuer!, validity!, subject!, spki!, extField!],
      withNull));
    assert.equal(c.signatureAlgorithm, oids.ecdsa_with_SHA256);
    throwsCode(() => parseCertificate(build([version!, serial!, innerAlg!, issuer!, validity!, subject!, spki!,
      extField!], withNull)), C, 'NULL only outside');
    const withOid = seq(oidDer(oids.ecdsa_with_SHA256), oidDer('1.2.3'));
    throwsCode(() => parseCertificate(build([version!, serial!, withOid, issuer!, validity!, subject!, spki!,
      extField!], withOid)), C, 'ECDSA with parameters');
  });

  it('names: multi-valued RDNs, escaping, non-string values, empty names', () => {
    const atv = (oid: string, tag: number, v: Uint8Array): Uint8Array => seq(oidDer(oid), tlv(tag, v));
    const name = seq(
      tlv(0x31, atv(oids.id_at_commonName, TAG.UTF8_STRING, utf8(' a,b+c"d\\e<f>g;h ')),
        atv(oids.id_at_organizationalUnitName, TAG.PRINTABLE_STRING, utf8('x'))),
      tlv(0x31, atv('1.2.3.4', 0x04, h('abcd'))),
      tlv(0x31, atv(oids.id_at_countryName, TAG.UTF8_STRING, utf8('#1'))),
    );
    const n = parseName(name);
    assert.equal(n.text, 'CN=\\ a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\ +OU=x,1.2.3.4=#0402abcd,C=\\#1');
    assert.equal(n.commonName, ' a,b+c"d\\e<f>g;h ');
    assert.equal(n.attributes.length, 4);
    assert.equal(n.attributes[2]!.value, '#0402abcd');
    assert.equal(parseName(seq()).text, '');
    assert.equal(parseName(seq()).commonName, undefined);
    throwsCode(() => parseName(seq(tlv(0x31))), C, 'empty RDN');
    throwsCode(() => parseName(seq(tlv(0x31, seq(oidDer('2.5.4.3'))))), C, 'ATV without value');
    throwsCode(() => parseName(seq(tlv(0x31, seq(oidDer('2.5.4.3'), h('0c00'), h('0c00'))))), C, 'ATV with 2 values');
    throwsCode(() => parseName(seq(tlv(0x31, atv('2.5.4.3', TAG.PRINTABLE_STRING, utf8('a@b'))))), C, 'bad printable');
  });
});

describe('PCK SGX extension rules (synthetic variants of real PCKs)', () => {
  const members = (cert: Certificate): Uint8Array[] => children(findExtension(cert.extensions, oids.sgx_Extensions)!.value);
  const withSgx = (cert: Certificate, value: Uint8Array): Certificate => ({
    ...cert,
    extensions: [
      ...cert.extensions.filter((e) => e.oid !== oids.sgx_Extensions),
      { oid: oids.sgx_Extensions, critical: false, value } satisfies Extension,
    ],
  });
  const oidOf = (member: Uint8Array): string => new DerReader(member, 'INVALID_PCK_CERT', 't').readSequence('m').readOid('o');
  const replace = (ms: Uint8Array[], oid: string, m: Uint8Array | undefined): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (const x of ms) {
      if (oidOf(x) !== oid) out.push(x);
      else if (m !== undefined) out.push(m);
    }
    return out;
  };
  const P: DcapErrorCode = 'INVALID_PCK_CERT';

  it('rebuilt extensions parse the same', () => {
    assert.deepEqual(parsePckExtension(withSgx(platformPck, seq(...members(platformPck)))),
      parsePckExtension(platformPck));
  });

  it('required members', () => {
    for (const oid of [oids.sgx_PPID, oids.sgx_TCB, oids.sgx_PCEID, oids.sgx_FMSPC, oids.sgx_SGXType]) {
      for (const cert of [processorPck, platformPck]) {
        throwsCode(() => parsePckExtension(withSgx(cert, seq(...replace(members(cert), oid, undefined)))), P,
          `without ${oid}`);
      }
    }
    for (const oid of [oids.sgx_PlatformInstanceID, oids.sgx_Configuration]) {
      throwsCode(() => parsePckExtension(withSgx(platformPck, seq(...replace(members(platformPck), oid, undefined)))),
        P, `Platform PCK without ${oid}`);
    }
    // a Standard-type PCK from the Platform CA need not carry them
    const standard = seq(...replace(replace(replace(members(platformPck), oids.sgx_PlatformInstanceID, undefined),
      oids.sgx_Configuration, undefined), oids.sgx_SGXType, seq(oidDer(oids.sgx_SGXType), h('0a0100'))));
    assert.equal(parsePckExtension(withSgx(platformPck, standard)).sgxType, 'Standard');
    throwsCode(() => parsePckExtension({ ...processorPck, extensions: [] }), P, 'no extension');
  });

  it('types and sizes', () => {
    const bad: [string, Uint8Array][] = [
      [oids.sgx_PPID, seq(oidDer(oids.sgx_PPID), tlv(0x04, new Uint8Array(15)))],
      [oids.sgx_PPID, seq(oidDer(oids.sgx_PPID), tlv(0x0c, new Uint8Array(16)))],
      [oids.sgx_PCEID, seq(oidDer(oids.sgx_PCEID), tlv(0x04, new Uint8Array(3)))],
      [oids.sgx_FMSPC, seq(oidDer(oids.sgx_FMSPC), tlv(0x04, new Uint8Array(5)))],
      [oids.sgx_FMSPC, seq(oidDer(oids.sgx_FMSPC), tlv(0x04, new Uint8Array(6)), h('0500'))],
      [oids.sgx_SGXType, seq(oidDer(oids.sgx_SGXType), h('0a0103'))],
      [oids.sgx_SGXType, seq(oidDer(oids.sgx_SGXType), h('020101'))],
      [oids.sgx_PlatformInstanceID, seq(oidDer(oids.sgx_PlatformInstanceID), tlv(0x04, new Uint8Array(17)))],
      [oids.sgx_Configuration, seq(oidDer(oids.sgx_Configuration), seq(seq(oidDer(oids.sgx_CachedKeys), h('010101'))))],
      [oids.sgx_Configuration, seq(oidDer(oids.sgx_Configuration),
        seq(seq(oidDer(oids.sgx_CachedKeys), h('0101ff')), seq(oidDer(oids.sgx_CachedKeys), h('0101ff'))))],
    ];
    for (const [oid, m] of bad) {
      throwsCode(() => parsePckExtension(withSgx(platformPck, seq(...replace(members(platformPck), oid, m)))), P,
        `bad ${oid}`);
    }
    const config = seq(oidDer(oids.sgx_Configuration), seq(seq(oidDer(oids.sgx_SMTEnabled), h('010100')),
      seq(oidDer('1.2.840.113741.1.13.1.7.9'), h('020105'))));
    assert.deepEqual(
      parsePckExtension(withSgx(platformPck, seq(...replace(members(platformPck), oids.sgx_Configuration, config))))
        .configuration,
      { smtEnabled: false },
    );
  });

  it('TCB: exactly the 18 members, in range', () => {
    const tcb = members(processorPck).find((m) => oidOf(m) === oids.sgx_TCB)!;
    const tcbMembers = children(children(tcb)[1]!);
    assert.equal(tcbMembers.length, 18);
    const withTcb = (ms: Uint8Array[]): Certificate =>
      withSgx(processorPck, seq(...replace(members(processorPck), oids.sgx_TCB, seq(oidDer(oids.sgx_TCB), seq(...ms)))));
    assert.deepEqual(parsePckExtension(withTcb([...tcbMembers].reverse())).tcb, parsePckExtension(processorPck).tcb);
    throwsCode(() => parsePckExtension(withTcb(tcbMembers.slice(1))), P, '17 members');
    throwsCode(() => parsePckExtension(withTcb([...tcbMembers, tcbMembers[0]!])), P, 'duplicate member');
    throwsCode(() => parsePckExtension(withTcb([...tcbMembers.slice(1), tcbMembers[1]!])), P, '18 with a duplicate');
    throwsCode(() => parsePckExtension(withTcb([...tcbMembers, seq(oidDer(oids.sgx_TCB_prefix + '19'), h('020100'))])),
      P, 'unknown TCB member');
    const comp = (n: number, v: Uint8Array): Uint8Array[] =>
      tcbMembers.map((m, i) => (i === n ? seq(oidDer(oids.sgx_TCB_prefix + (n + 1)), v) : m));
    assert.equal(parsePckExtension(withTcb(comp(3, h('020200ff')))).tcb.sgxTcbComponents[3], 255);
    throwsCode(() => parsePckExtension(withTcb(comp(3, h('02020100')))), P, 'comp 256');
    throwsCode(() => parsePckExtension(withTcb(comp(3, h('0201ff')))), P, 'comp -1');
    assert.equal(parsePckExtension(withTcb(comp(16, h('020300ffff')))).tcb.pceSvn, 65535);
    throwsCode(() => parsePckExtension(withTcb(comp(16, h('0203010000')))), P, 'pcesvn 65536');
    throwsCode(() => parsePckExtension(withTcb(comp(17, tlv(0x04, new Uint8Array(15))))), P, 'cpusvn 15');
    throwsCode(() => parsePckExtension(withTcb(comp(0, tlv(0x04, new Uint8Array(1))))), P, 'comp as octets');
  });

  it('unknown members are ignored, duplicates rejected, trailing data rejected', () => {
    const ms = members(processorPck);
    const extra = seq(oidDer('1.2.840.113741.1.13.1.20'), h('0500'), h('0101ff'));
    assert.deepEqual(parsePckExtension(withSgx(processorPck, seq(...ms, extra))), parsePckExtension(processorPck));
    throwsCode(() => parsePckExtension(withSgx(processorPck, seq(...ms, ms[0]!))), P, 'duplicate PPID');
    throwsCode(() => parsePckExtension(withSgx(processorPck, concatBytes(seq(...ms), h('00')))), P, 'trailing');
    throwsCode(() => parsePckExtension(withSgx(processorPck, seq(...ms, h('0500')))), P, 'non-SEQUENCE member');
  });

  it('the Intel SGX SDK RA-TLS certificate reuses the OID for a raw quote: INVALID_PCK_CERT', () => {
    const [c] = parseCertificateChainPem(readFileSync(join(testdataDir, 'ratls', 'intel-sgxsdk-cert.pem'), 'utf8'));
    throwsCode(() => parsePckExtension(c!), P);
  });
});

describe('RA-TLS certificates', () => {
  interface RatlsExpect {
    subject: string;
    issuer: string;
    publicKey: { curve: string };
    signatureAlgorithm: { derHex: string; hasNullParameters: boolean };
    validity: { notBeforeEpoch: number; notAfterEpoch: number };
    spkiSha256: string;
    extensions: { oid: string; oidDerHex: string; critical: boolean; valueLength: number }[];
  }
  for (const name of ['gramine-cert', 'intel-sgxsdk-cert']) {
    it(`${name} parses and matches expect.json`, () => {
      const expect = JSON.parse(readFileSync(join(testdataDir, 'ratls', `${name}.expect.json`), 'utf8')) as RatlsExpect;
      const chain = parseCertificateChainPem(readFileSync(join(testdataDir, 'ratls', `${name}.pem`), 'utf8'));
      assert.equal(chain.length, 1);
      const c = chain[0]!;
      assert.deepEqual(
        c.extensions.map((e) => ({ oid: e.oid, critical: e.critical, valueLength: e.value.length })),
        expect.extensions.map((e) => ({ oid: e.oid, critical: e.critical, valueLength: e.valueLength })),
      );
      for (const e of expect.extensions) assert.equal(decodeOid(fromHex(e.oidDerHex)), e.oid);
      assert.equal(c.signatureAlgorithm, oids.ecdsa_with_SHA256);
      const [, outerAlg] = children(c.raw);
      assert.equal(toHex(outerAlg!), expect.signatureAlgorithm.derHex);
      assert.equal(expect.publicKey.curve, 'P-384');
      assert.equal(c.publicKeyCurve, oids.secp384r1);
      assert.equal(c.notBefore, expect.validity.notBeforeEpoch * 1000);
      assert.equal(c.notAfter, expect.validity.notAfterEpoch * 1000);
      assert.equal(createHash('sha256').update(c.spki).digest('hex'), expect.spkiSha256);
      // expect.json writes names RFC 4514 style (last RDN first); `text` keeps encoding order
      const rfc4514 = (n: Certificate['subject']): string =>
        n.attributes.map((a) => `${({ '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.6': 'C' } as Record<string, string>)[a.oid]}=${a.value}`)
          .reverse().join(',');
      assert.equal(rfc4514(c.subject), expect.subject);
      assert.equal(rfc4514(c.issuer), expect.issuer);
      assert.equal(toHex(c.subject.raw), toHex(c.issuer.raw));
    });
  }
});

describe('ECDSA signature encodings', () => {
  const certs: Certificate[] = [parseCertificate(rootDer)];
  for (const { chain } of chains) certs.push(...chain);
  for (const name of ['gramine-cert', 'intel-sgxsdk-cert']) {
    certs.push(...parseCertificateChainPem(readFileSync(join(testdataDir, 'ratls', `${name}.pem`), 'utf8')));
  }

  it('round trips every certificate and CRL signature', () => {
    const sigs: { sig: Uint8Array; size: number }[] = certs.map((c) => ({
      sig: c.signatureValue,
      // self-signed RA-TLS certificates are signed with their own P-384 key; Intel's with P-256 keys
      size: c.publicKeyCurve === oids.secp384r1 && toHex(c.issuer.raw) === toHex(c.subject.raw) ? 48 : 32,
    }));
    for (const { c } of chains) {
      const col = JSON.parse(c.collateralText!) as Collateral;
      sigs.push({ sig: parseCrl(fromHex(col.root_ca_crl)).signatureValue, size: 32 });
      sigs.push({ sig: parseCrl(fromHex(col.pck_crl)).signatureValue, size: 32 });
    }
    let count = 0;
    for (const { sig, size } of sigs) {
      const p = ecdsaDerToP1363(sig, size);
      assert.ok(p, toHex(sig));
      assert.equal(p.length, 2 * size);
      assert.equal(toHex(p1363ToEcdsaDer(p)!), toHex(sig));
      count++;
    }
    assert.ok(count > 40);
  });

  it('rejects malformed DER', () => {
    const ok = '3006 020101 020102';
    assert.equal(toHex(ecdsaDerToP1363(h(ok))!), '00'.repeat(31) + '01' + '00'.repeat(31) + '02');
    const big = '00' + 'ff'.repeat(32);
    assert.ok(ecdsaDerToP1363(h(`3046 0221${big} 0221${big}`)));
    for (const bad of [
      '', '30', '3000', '3100', '3006 020101 020102 00', '3007 020101 020102', '3005 020101 020102',
      '3006 020181 020102', '3007 02020001 020102', '3006 020100 020102', '3006 020101 020200',
      '3006 030101 020102', '3080 020101 020102 0000', '308106 020101 020102', '3008 020101 020102 0500',
      '3003 020101', '3004 020101 02',
    ]) {
      assert.equal(ecdsaDerToP1363(h(bad)), undefined, bad);
    }
    const one = tlv(0x02, h('01'));
    assert.equal(ecdsaDerToP1363(seq(tlv(0x02, h('00' + 'ff'.repeat(33))), one)), undefined, 'r of 33 bytes');
    assert.equal(ecdsaDerToP1363(seq(tlv(0x02, h('11'.repeat(33))), one)), undefined, 'r of 33 bytes, no sign octet');
    assert.ok(ecdsaDerToP1363(seq(tlv(0x02, h('11'.repeat(33))), one), 33));
    assert.equal(ecdsaDerToP1363(h(ok), 0), undefined);
    assert.equal(ecdsaDerToP1363(h(ok), 1.5), undefined);
    assert.equal(p1363ToEcdsaDer(new Uint8Array(0)), undefined);
    assert.equal(p1363ToEcdsaDer(new Uint8Array(63)), undefined);
    assert.equal(p1363ToEcdsaDer(new Uint8Array(64)), undefined, 'zero r and s');
    const p = new Uint8Array(64).fill(0x80);
    assert.equal(toHex(ecdsaDerToP1363(p1363ToEcdsaDer(p)!)!), toHex(p));
  });
});
// Parsing speed is measured by bench/dcap-verify (sgx_cold_ms, tdx_cold_ms), not asserted here: no wall-clock
// assertions in tests (they fail on a busy machine, not on a slow parser).
