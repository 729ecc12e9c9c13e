/**
 * The DER writer, deterministic P-256 keys, the SGX PCK extension (byte-identical re-encoding of a real Intel PCK's
 * extension; round trip through @cloister/dcap's parser) and the simulated PKI (every certificate and CRL parses with
 * @cloister/dcap, chains, names itself simulated, is stable per platform and across save/load).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bytesEqual,
  decodePemCertificates,
  fromHex,
  parseCertificate,
  parseCrl,
  parsePckExtension,
  parseQuote,
  toHex,
} from '@cloister/dcap';
import * as der from '../src/der-writer.js';
import { SimError } from '../src/errors.js';
import { p256FromSeed, signP256Der, signP256Raw } from '../src/keys.js';
import { SGX_EXTENSION_OID, encodePckExtension, pckExtensionFieldsOf } from '../src/pck-extension.js';
import {
  SIM_PCK_CN,
  SIM_PLATFORM_CA_CN,
  SIM_ROOT_CA_CN,
  SIM_TCB_SIGNING_CN,
  createSimCrl,
  createSimPki,
  loadOrCreatePki,
  loadPki,
  savePki,
} from '../src/pki.js';
import { Platform } from '../src/platform.js';
import { dcapDir } from '@cloister/testkit';
import { fixedPlatform } from './pki-fixtures.js';

const hex = (b: Uint8Array): string => toHex(b);
const REAL_QUOTE = join(dcapDir, 'dcapqvl-tdx-v4', 'quote.bin');

// ---------------------------------------------------------------------------------------------------------------------
// DER writer

test('der: INTEGER uses the minimal two’s-complement encoding', () => {
  const cases: [number | bigint | Uint8Array, string][] = [
    [0, '020100'],
    [1, '020101'],
    [127, '02017f'],
    [128, '02020080'],
    [255, '020200ff'],
    [256, '02020100'],
    [65535, '020300ffff'],
    [-1, '0201ff'],
    [-128, '020180'],
    [-129, '0202ff7f'],
    [2n ** 64n, '0209010000000000000000'],
    [Uint8Array.of(0, 0, 0x7f), '02017f'],
    [Uint8Array.of(0x80, 0x01), '0203008001'],
    [new Uint8Array(3), '020100'],
  ];
  for (const [v, want] of cases) assert.equal(hex(der.integer(v)), want, `INTEGER ${String(v)}`);
  assert.equal(hex(der.enumerated(1)), '0a0101');
});

test('der: OBJECT IDENTIFIER, BOOLEAN, NULL, OCTET/BIT STRING, strings', () => {
  assert.equal(hex(der.oid('1.2.840.113741.1.13.1')), '06092a864886f84d010d01');
  assert.equal(hex(der.oid('2.5.29.20')), '0603551d14');
  assert.equal(hex(der.oid('2.999.3')), '0603883703');
  assert.throws(() => der.oid('1.40'), RangeError);
  assert.throws(() => der.oid('1.2.03'), RangeError);
  assert.equal(hex(der.boolean(true)), '0101ff');
  assert.equal(hex(der.boolean(false)), '010100');
  assert.equal(hex(der.nullValue()), '0500');
  assert.equal(hex(der.octetString(Uint8Array.of(1, 2))), '04020102');
  assert.equal(hex(der.bitString(Uint8Array.of(0x06, 0xc7), 1)), '03030106c6');
  assert.equal(hex(der.utf8String('é')), '0c02c3a9');
  assert.equal(hex(der.printableString('US')), '13025553');
  assert.throws(() => der.printableString('a@b'), RangeError);
});

test('der: lengths in short and long form; SET OF sorted; context tags', () => {
  assert.equal(hex(der.octetString(new Uint8Array(127)).subarray(0, 2)), '047f');
  assert.equal(hex(der.octetString(new Uint8Array(128)).subarray(0, 3)), '048180');
  assert.equal(hex(der.octetString(new Uint8Array(300)).subarray(0, 4)), '0482012c');
  assert.equal(hex(der.octetString(new Uint8Array(70000)).subarray(0, 5)), '0483011170');
  assert.equal(hex(der.set(der.integer(2), der.integer(1), der.boolean(true))), '31090101ff020101020102');
  assert.equal(hex(der.set(der.integer(2), der.integer(1))), '3106020101020102');
  assert.equal(hex(der.sequence()), '3000');
  assert.equal(hex(der.explicitTag(0, der.integer(2))), 'a003020102');
  assert.equal(hex(der.implicitTag(0, der.octetString(Uint8Array.of(9)))), '800109');
  assert.equal(hex(der.implicitTag(1, der.sequence(der.nullValue()))), 'a1020500');
  assert.equal(der.raw(Uint8Array.of(5, 0))[0], 5);
});

test('der: RFC 5280 times — UTCTime through 2049, GeneralizedTime from 2050', () => {
  const text = (b: Uint8Array): string => new TextDecoder().decode(b.subarray(2));
  const t2049 = Date.UTC(2049, 11, 31, 23, 59, 59, 999);
  assert.equal(der.time(t2049)[0], der.DER_TAG.UTC_TIME);
  assert.equal(text(der.time(t2049)), '491231235959Z');
  assert.equal(der.time(Date.UTC(2050, 0, 1))[0], der.DER_TAG.GENERALIZED_TIME);
  assert.equal(text(der.time(Date.UTC(2050, 0, 1))), '20500101000000Z');
  assert.equal(text(der.utcTime('1999-02-03T04:05:06Z')), '990203040506Z');
  assert.throws(() => der.utcTime(Date.UTC(2050, 0, 1)), RangeError);
  assert.throws(() => der.utcTime(Date.UTC(1949, 0, 1)), RangeError);
});

// ---------------------------------------------------------------------------------------------------------------------
// Keys

test('keys: p256FromSeed is deterministic, in range, and signs in raw and DER form', () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  const a = p256FromSeed(seed);
  const b = p256FromSeed(seed);
  assert.deepEqual(a.raw, b.raw);
  assert.equal(a.raw.length, 64);
  assert.deepEqual(createPublicKey({ key: Buffer.from(a.spki), format: 'der', type: 'spki' }).export({ format: 'jwk' }), a.publicKey.export({ format: 'jwk' }));
  const msg = new TextEncoder().encode('hello');
  const sig = signP256Raw(a, msg);
  assert.equal(sig.length, 64);
  assert.ok(verify('sha256', msg, { key: a.publicKey, dsaEncoding: 'ieee-p1363' }, sig));
  assert.ok(verify('sha256', msg, a.publicKey, signP256Der(a.privateKey, msg)));
  // d = (seed mod (n−1)) + 1: seed 0 gives d = 1, whose public key is the generator G.
  const g = p256FromSeed(new Uint8Array(32));
  assert.equal(hex(g.raw.subarray(0, 32)), '6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296');
  // A seed ≥ n still yields a valid key.
  assert.equal(p256FromSeed(new Uint8Array(32).fill(0xff)).raw.length, 64);
  assert.throws(() => p256FromSeed(new Uint8Array(31)), RangeError);
});

// ---------------------------------------------------------------------------------------------------------------------
// SGX PCK extension

test('pck-extension: re-encoding a real Intel Platform-CA PCK extension gives Intel’s bytes exactly', () => {
  const quote = parseQuote(new Uint8Array(readFileSync(REAL_QUOTE)));
  const cd = quote.signature.qeReportCertificationData.certificationData;
  assert.equal(cd.type, 5);
  const leaf = parseCertificate(decodePemCertificates(cd.type === 5 ? cd.pem : '')[0]!);
  const intelValue = leaf.extensions.find((e) => e.oid === SGX_EXTENSION_OID)!.value;
  const parsed = parsePckExtension(leaf);
  const ours = encodePckExtension({
    ppid: parsed.ppid,
    sgxTcbComponents: parsed.tcb.sgxTcbComponents,
    pceSvn: parsed.tcb.pceSvn,
    cpuSvn: parsed.tcb.cpuSvn,
    pceId: parsed.pceId,
    fmspc: parsed.fmspc,
    sgxType: parsed.sgxType,
    ...(parsed.platformInstanceId !== undefined ? { platformInstanceId: parsed.platformInstanceId } : {}),
    ...(parsed.configuration !== undefined ? { configuration: parsed.configuration } : {}),
  });
  assert.equal(intelValue.length, 554);
  assert.equal(hex(ours), hex(intelValue));
});

test('pck-extension: the simulated PCK’s extension parses back to the platform’s every field', async () => {
  const platform = fixedPlatform({ sgxTcbComponents: [1, 2, 3, 4, 255, 128, 0, 9, 10, 11, 12, 13, 14, 15, 16, 17], pceSvn: 300 });
  const pki = await createSimPki(platform);
  const ext = parsePckExtension(parseCertificate(pki.pckCertDer));
  const c = platform.config;
  assert.equal(hex(ext.ppid), c.ppid);
  assert.deepEqual([...ext.tcb.sgxTcbComponents], [...c.sgxTcbComponents]);
  assert.equal(ext.tcb.pceSvn, 300);
  assert.deepEqual(ext.tcb.cpuSvn, platform.cpuSvn);
  assert.equal(hex(ext.pceId), c.pceId);
  assert.equal(hex(ext.fmspc), c.fmspc);
  assert.equal(ext.sgxType, 'Scalable');
  assert.equal(hex(ext.platformInstanceId!), c.platformInstanceId);
  assert.deepEqual(ext.configuration, { dynamicPlatform: true, cachedKeys: true, smtEnabled: true });
  const value = parseCertificate(pki.pckCertDer).extensions.find((e) => e.oid === SGX_EXTENSION_OID)!;
  assert.equal(value.critical, false);
  assert.deepEqual(value.value, encodePckExtension(pckExtensionFieldsOf(platform)));
});

test('pck-extension: a Processor-CA style extension (Standard, no instance ID / configuration) and bad sizes', () => {
  const v = encodePckExtension({
    ppid: new Uint8Array(16),
    sgxTcbComponents: new Array<number>(16).fill(0),
    pceSvn: 0,
    pceId: new Uint8Array(2),
    fmspc: fromHex('00906ea10000'),
    sgxType: 'Standard',
  });
  const h = hex(v);
  assert.ok(h.includes('060a2a864886f84d010d0105') && h.includes('0a0100')); // SGX Type: Standard
  assert.ok(!h.includes('060a2a864886f84d010d0106') && !h.includes('060a2a864886f84d010d0107'));
  const bad = { ppid: new Uint8Array(15), sgxTcbComponents: new Array<number>(16).fill(0), pceSvn: 0, pceId: new Uint8Array(2), fmspc: new Uint8Array(6), sgxType: 'Standard' as const };
  assert.throws(() => encodePckExtension(bad), RangeError);
  assert.throws(() => encodePckExtension({ ...bad, ppid: new Uint8Array(16), sgxTcbComponents: [256, ...new Array<number>(15).fill(0)] }), RangeError);
});

// ---------------------------------------------------------------------------------------------------------------------
// PKI

test('pki: every certificate and CRL parses, chains, and names itself simulated', async () => {
  const platform = fixedPlatform();
  const pki = await createSimPki(platform);
  const root = parseCertificate(pki.rootCertDer);
  const ca = parseCertificate(pki.platformCaCertDer);
  const pck = parseCertificate(pki.pckCertDer);
  const signer = parseCertificate(pki.tcbSigningCertDer);
  assert.equal(root.subject.commonName, SIM_ROOT_CA_CN);
  assert.equal(ca.subject.commonName, SIM_PLATFORM_CA_CN);
  assert.equal(pck.subject.commonName, SIM_PCK_CN);
  assert.equal(signer.subject.commonName, SIM_TCB_SIGNING_CN);
  for (const c of [root, ca, pck, signer]) {
    assert.match(c.subject.text, /Simulated/);
    assert.match(c.subject.text, /not Intel/);
    assert.equal(c.version, 3);
  }
  // The CN phrases Intel QVL requires.
  assert.ok(root.subject.commonName!.includes('SGX Root CA'));
  assert.ok(ca.subject.commonName!.includes('CA') && ca.subject.commonName!.includes('Platform'));
  assert.ok(pck.subject.commonName!.includes('SGX PCK Certificate'));
  assert.ok(signer.subject.commonName!.includes('SGX TCB Signing'));
  // Issuers and signatures (checked with node:crypto's X509Certificate, independent of @cloister/dcap).
  assert.deepEqual(root.issuer.raw, root.subject.raw);
  assert.deepEqual(ca.issuer.raw, root.subject.raw);
  assert.deepEqual(pck.issuer.raw, ca.subject.raw);
  assert.deepEqual(signer.issuer.raw, root.subject.raw);
  const x = (d: Uint8Array): X509Certificate => new X509Certificate(Buffer.from(d));
  const [xr, xc, xp, xs] = [x(pki.rootCertDer), x(pki.platformCaCertDer), x(pki.pckCertDer), x(pki.tcbSigningCertDer)];
  assert.ok(xr.verify(xr.publicKey));
  assert.ok(xc.verify(xr.publicKey));
  assert.ok(xp.verify(xc.publicKey));
  assert.ok(xs.verify(xr.publicKey));
  assert.ok(xr.ca && xc.ca && !xp.ca && !xs.ca);
  assert.ok(xp.checkIssued(xc) && xc.checkIssued(xr) && xs.checkIssued(xr));
  // Keys are the platform's derived keys.
  assert.deepEqual(pck.spki, pki.keys.pck.spki);
  assert.deepEqual(root.spki, pki.keys.root.spki);
  // Validity: from createdAt; root 30 years, CAs 15, PCK and TCB signing 7.
  const created = Date.parse(platform.config.createdAt);
  const years = (c: { notBefore: number; notAfter: number }): number =>
    new Date(c.notAfter).getUTCFullYear() - new Date(c.notBefore).getUTCFullYear();
  for (const c of [root, ca, pck, signer]) assert.equal(c.notBefore, created);
  assert.deepEqual([years(root), years(ca), years(pck), years(signer)], [30, 15, 7, 7]);
  // Extensions as on Intel's certificates: AKI, CRL DP, SKI, KeyUsage (critical), BasicConstraints (critical).
  const oids = (c: typeof pck): string[] => c.extensions.map((e) => e.oid);
  assert.deepEqual(oids(pck), ['2.5.29.35', '2.5.29.31', '2.5.29.14', '2.5.29.15', '2.5.29.19', SGX_EXTENSION_OID]);
  for (const c of [root, ca, signer]) assert.deepEqual(oids(c), ['2.5.29.35', '2.5.29.31', '2.5.29.14', '2.5.29.15', '2.5.29.19']);
  const ku = pck.extensions.find((e) => e.oid === '2.5.29.15')!;
  assert.ok(ku.critical);
  assert.equal(hex(ku.value), '030206c0'); // digitalSignature | nonRepudiation, as Intel's PCK
  assert.equal(hex(root.extensions.find((e) => e.oid === '2.5.29.15')!.value), '03020106'); // keyCertSign | cRLSign
  assert.equal(hex(root.extensions.find((e) => e.oid === '2.5.29.19')!.value), '30060101ff020101'); // CA, pathlen 1
  assert.equal(hex(pck.extensions.find((e) => e.oid === '2.5.29.19')!.value), '3000');
  // Chain PEMs.
  assert.deepEqual(decodePemCertificates(pki.pckChainPem), [pki.pckCertDer, pki.platformCaCertDer, pki.rootCertDer]);
  assert.deepEqual(decodePemCertificates(pki.pckCrlIssuerChainPem), [pki.platformCaCertDer, pki.rootCertDer]);
  assert.deepEqual(decodePemCertificates(pki.tcbSigningChainPem), [pki.tcbSigningCertDer, pki.rootCertDer]);
  assert.equal(pki.pckSerialHex, pck.serialHex);
  assert.equal(pki.pckSerialHex.length, 40);

  // CRLs: v2, issued by root / Platform CA, CRL number and AKI present, signed by the issuer.
  const rootCrl = parseCrl(pki.rootCaCrlDer);
  const pckCrl = parseCrl(pki.pckCrlDer);
  assert.equal(rootCrl.version, 2);
  assert.deepEqual(rootCrl.issuer.raw, root.subject.raw);
  assert.deepEqual(pckCrl.issuer.raw, ca.subject.raw);
  assert.equal(rootCrl.crlNumber, 1n);
  assert.equal(pckCrl.crlNumber, 1n);
  assert.deepEqual(rootCrl.authorityKeyIdentifier, root.extensions.find((e) => e.oid === '2.5.29.14')!.value.subarray(2));
  assert.deepEqual(pckCrl.authorityKeyIdentifier, ca.extensions.find((e) => e.oid === '2.5.29.14')!.value.subarray(2));
  assert.equal(rootCrl.revoked.size, 0);
  assert.equal(pckCrl.revoked.size, 0);
  assert.ok(verify('sha256', rootCrl.tbs, xr.publicKey, rootCrl.signatureValue));
  assert.ok(verify('sha256', pckCrl.tbs, xc.publicKey, pckCrl.signatureValue));
  const now = Date.now();
  assert.ok(rootCrl.thisUpdate <= now && now < rootCrl.nextUpdate!);
  assert.ok(Math.abs(rootCrl.nextUpdate! - (now + 30 * 86_400_000)) < 60_000);
  assert.ok(Math.abs(rootCrl.thisUpdate - (now - 3_600_000)) < 60_000);
});

test('pki: certificates are made once per Platform; CRL options are honoured', async () => {
  const platform = fixedPlatform();
  const a = await createSimPki(platform);
  const thisUpdate = new Date('2030-01-01T00:00:00Z');
  const nextUpdate = new Date('2030-02-01T00:00:00Z');
  const b = await createSimPki(platform, {
    revokedPckSerials: [a.pckSerialHex, '0abc'],
    crlThisUpdate: thisUpdate,
    crlNextUpdate: nextUpdate,
    crlNumber: 300n,
  });
  assert.equal(b.rootCertPem, a.rootCertPem);
  assert.equal(b.pckChainPem, a.pckChainPem);
  assert.equal(b.tcbSigningCertPem, a.tcbSigningCertPem);
  const crl = parseCrl(b.pckCrlDer);
  assert.deepEqual([...crl.revoked.keys()].sort(), [a.pckSerialHex, '0abc'].sort());
  // Each entry: serial, revocation date, reasonCode keyCompromise (as Intel's PCK CRL entries).
  assert.ok(hex(crl.tbs).includes('300a0603551d150403' + '0a0101'));
  assert.equal(hex(crl.tbs).split('0603551d15').length - 1, 2);
  assert.equal(crl.thisUpdate, thisUpdate.getTime());
  assert.equal(crl.nextUpdate, nextUpdate.getTime());
  assert.equal(crl.crlNumber, 300n);
  assert.equal(parseCrl(b.rootCaCrlDer).revoked.size, 0);
  // A CRL reaching past 2049 uses GeneralizedTime and still parses.
  const far = parseCrl(await createSimCrl(a, 'root', { thisUpdate: '2049-12-01T00:00:00Z', nextUpdate: '2050-06-01T00:00:00Z' }));
  assert.equal(far.nextUpdate, Date.parse('2050-06-01T00:00:00Z'));
  await assert.rejects(createSimCrl(a, 'pck', { thisUpdate: 2, nextUpdate: 1 }), (e: unknown) => SimError.is(e));
  await assert.rejects(createSimCrl(a, 'pck', { thisUpdate: 1, nextUpdate: 2, revokedSerials: ['xyz'] }), (e: unknown) => SimError.is(e));
  // Same secret and config, another Platform object: same keys and extension, fresh (different) signatures.
  const twin = fixedPlatform({ createdAt: platform.config.createdAt });
  const t = await createSimPki(twin);
  assert.deepEqual(t.keys.root.spki, a.keys.root.spki);
  assert.equal(t.pckSerialHex, a.pckSerialHex);
});

test('pki: savePki / loadPki keep the certificates stable across Platform objects; foreign files are refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sgx-sim-pki-'));
  try {
    const platform = fixedPlatform();
    platform.save(dir);
    const first = await loadOrCreatePki(platform, dir);
    const again = await loadOrCreatePki(Platform.load(dir), dir);
    assert.equal(again.rootCertPem, first.rootCertPem);
    assert.equal(again.pckChainPem, first.pckChainPem);
    assert.equal(readFileSync(join(dir, 'pki', 'root-ca.pem'), 'utf8'), first.rootCertPem);
    // loadPki makes the loaded certificates the platform's: createSimPki returns them afterwards.
    const reloaded = Platform.load(dir);
    await loadPki(reloaded, dir);
    assert.equal((await createSimPki(reloaded)).tcbSigningCertPem, first.tcbSigningCertPem);

    // Another platform (other secret) cannot load them.
    const other = Platform.create({ secret: new Uint8Array(32).fill(1) });
    await assert.rejects(loadPki(other, dir), (e: unknown) => SimError.is(e) && e.code === 'PLATFORM_INVALID');
    // Same keys but another TCB: the PCK's SGX extension no longer matches.
    const upgraded = fixedPlatform({ pceSvn: platform.config.pceSvn + 1 });
    await assert.rejects(loadPki(upgraded, dir), (e: unknown) => SimError.is(e) && /TCB/.test(e.message));
    // Missing directory.
    await assert.rejects(loadPki(platform, join(dir, 'nope')), (e: unknown) => SimError.is(e) && e.code === 'PLATFORM_INVALID');
    // savePki writes what loadPki reads.
    const dir2 = mkdtempSync(join(tmpdir(), 'sgx-sim-pki-'));
    try {
      savePki(first, dir2);
      assert.equal((await loadPki(fixedPlatform(), dir2)).pckCertPem, first.pckCertPem);
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pki: the root is not Intel’s', async () => {
  const pki = await createSimPki(fixedPlatform());
  const intelRootSpki = fromHex(
    '3059301306072a8648ce3d020106082a8648ce3d030107034200040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b445' +
      '8561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394',
  );
  assert.ok(!bytesEqual(parseCertificate(pki.rootCertDer).spki, intelRootSpki));
});
