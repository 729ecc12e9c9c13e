import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { toHex } from '@cloister/dcap';
import { SimError, type SimErrorCode } from '../src/errors.js';
import {
  generateSigningKey,
  loadSigningKey,
  mrSignerOf,
  parseSigstruct,
  SIGSTRUCT_SIZE,
  signSigstruct,
  sigstructDate,
  verifySigstruct,
  type SigstructFields,
} from '../src/sigstruct.js';

const KEY = generateSigningKey();

function expectCode(fn: () => unknown, code: SimErrorCode): void {
  assert.throws(fn, (e: unknown) => SimError.is(e) && e.code === code);
}

function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}
function u16(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(off, true);
}
function u64(b: Uint8Array, off: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}
function reversed(b: Uint8Array): Uint8Array {
  return Uint8Array.from(b).reverse();
}
function bigLE(b: Uint8Array): bigint {
  return BigInt(`0x${toHex(reversed(b)) || '0'}`);
}

const HASH = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const FAMILY = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const EXTPROD = Uint8Array.from({ length: 16 }, (_, i) => 0xb0 + i);
const FIELDS: SigstructFields = {
  enclaveHash: HASH,
  isvProdId: 0x1234,
  isvSvn: 0x0506,
  debug: true,
  moduleVendor: 0,
  date: new Date(Date.UTC(2024, 0, 15)),
  hwVersion: 0,
  miscSelect: 0x1,
  miscMask: 0xffffffff,
  attributeFlags: 0x6n,
  attributeXfrm: 0x3n,
  attributeMaskFlags: 0xfffffffffffffffen,
  attributeMaskXfrm: 0x3n,
  isvFamilyId: FAMILY,
  isvExtProdId: EXTPROD,
};
const SIG = signSigstruct(FIELDS, KEY);

describe('SIGSTRUCT layout', () => {
  it('is 1808 bytes with the SDK header constants', () => {
    assert.equal(SIG.length, SIGSTRUCT_SIZE);
    assert.equal(toHex(SIG.subarray(0, 12)), '06000000e100000000000100');
    assert.equal(toHex(SIG.subarray(24, 40)), '01010000600000006000000001000000');
    assert.equal(u32(SIG, 12), 0x80000000, 'type bit 31 = debug');
    assert.equal(u32(SIG, 16), 0);
    assert.equal(u32(SIG, 20), 0x20240115, 'date is BCD yyyymmdd');
    assert.equal(u32(SIG, 40), 0);
    assert.ok(SIG.subarray(44, 128).every((b) => b === 0));
  });

  it('puts the body fields at their offsets', () => {
    assert.equal(u32(SIG, 900), 1);
    assert.equal(u32(SIG, 904), 0xffffffff);
    assert.deepEqual(SIG.subarray(912, 928), FAMILY);
    assert.equal(u64(SIG, 928), 0x6n);
    assert.equal(u64(SIG, 936), 0x3n);
    assert.equal(u64(SIG, 944), 0xfffffffffffffffen);
    assert.equal(u64(SIG, 952), 0x3n);
    assert.deepEqual(SIG.subarray(960, 992), HASH);
    assert.deepEqual(SIG.subarray(1008, 1024), EXTPROD);
    assert.equal(u16(SIG, 1024), 0x1234);
    assert.equal(u16(SIG, 1026), 0x0506);
    assert.ok(SIG.subarray(1028, 1040).every((b) => b === 0));
  });

  it('stores the modulus and the signature little-endian, exponent 3', () => {
    const jwk = createPrivateKey(KEY).export({ format: 'jwk' });
    const nBE = new Uint8Array(Buffer.from(jwk.n!, 'base64url'));
    assert.deepEqual(SIG.subarray(128, 512), reversed(nBE));
    assert.equal(u32(SIG, 512), 3);
    const signed = new Uint8Array(256);
    signed.set(SIG.subarray(0, 128), 0);
    signed.set(SIG.subarray(900, 1028), 128);
    assert.ok(verify('sha256', signed, createPrivateKey(KEY), reversed(SIG.subarray(516, 900))), 'PKCS#1 v1.5 SHA-256 over header ‖ body');
  });

  it('stores q1 = floor(s²/n) and q2 = floor((s³ − q1·s·n)/n)', () => {
    const n = bigLE(SIG.subarray(128, 512));
    const s = bigLE(SIG.subarray(516, 900));
    const q1 = (s * s) / n;
    const q2 = (s * s * s - q1 * s * n) / n;
    assert.equal(bigLE(SIG.subarray(1040, 1424)), q1);
    assert.equal(bigLE(SIG.subarray(1424, 1808)), q2);
  });

  it('writes the date as the SDK does (decimal digits read as hex)', () => {
    assert.equal(sigstructDate(new Date(Date.UTC(2031, 11, 9, 23, 59))), 0x20311209);
  });
});

describe('parseSigstruct / verifySigstruct', () => {
  it('round-trips every field', () => {
    const s = verifySigstruct(SIG);
    assert.equal(s.debug, true);
    assert.equal(s.date, 0x20240115);
    assert.equal(s.exponent, 3);
    assert.equal(s.miscSelect, 1);
    assert.equal(s.miscMask, 0xffffffff);
    assert.deepEqual(s.isvFamilyId, FAMILY);
    assert.deepEqual(s.isvExtProdId, EXTPROD);
    assert.equal(s.attributeFlags, 0x6n);
    assert.equal(s.attributeXfrm, 0x3n);
    assert.equal(s.attributeMaskFlags, 0xfffffffffffffffen);
    assert.equal(s.attributeMaskXfrm, 0x3n);
    assert.deepEqual(s.enclaveHash, HASH);
    assert.equal(s.isvProdId, 0x1234);
    assert.equal(s.isvSvn, 0x0506);
  });

  it('MRSIGNER = SHA-256 of the little-endian modulus', () => {
    const s = parseSigstruct(SIG);
    const expected = new Uint8Array(createHash('sha256').update(SIG.subarray(128, 512)).digest());
    assert.deepEqual(s.mrSigner, expected);
    assert.deepEqual(mrSignerOf(SIG.subarray(128, 512)), expected);
  });

  it('is deterministic for the same fields and key (PKCS#1 v1.5)', () => {
    assert.deepEqual(signSigstruct(FIELDS, KEY), SIG);
  });

  it('defaults: production type, misc mask all ones, zero IDs', () => {
    const s = verifySigstruct(signSigstruct({ enclaveHash: HASH, isvProdId: 1, isvSvn: 2 }, KEY));
    assert.equal(s.type, 0);
    assert.equal(s.debug, false);
    assert.equal(s.miscMask, 0xffffffff);
    assert.ok(s.isvFamilyId.every((b) => b === 0));
  });

  const tamper: [string, number][] = [
    ['header date', 20],
    ['header reserved', 60],
    ['modulus', 200],
    ['exponent', 512],
    ['signature', 600],
    ['misc_select', 900],
    ['attributes', 928],
    ['enclave_hash', 970],
    ['isv_svn', 1026],
    ['buffer reserved', 1030],
    ['q1', 1100],
    ['q2', 1500],
  ];
  for (const [what, off] of tamper) {
    it(`a tampered ${what} byte fails INVALID_SIGNATURE`, () => {
      const bad = SIG.slice();
      bad[off] = bad[off]! ^ 0x01;
      expectCode(() => verifySigstruct(bad), 'INVALID_SIGNATURE');
    });
  }

  it('wrong length or header constants fail INVALID_SIGNATURE', () => {
    expectCode(() => parseSigstruct(SIG.subarray(0, 1807)), 'INVALID_SIGNATURE');
    expectCode(() => parseSigstruct(new Uint8Array(1809)), 'INVALID_SIGNATURE');
    const bad = SIG.slice();
    bad[4] = 0xe2;
    expectCode(() => parseSigstruct(bad), 'INVALID_SIGNATURE');
  });

  it('a signature by another key under this modulus fails', () => {
    const other = signSigstruct(FIELDS, generateSigningKey());
    const mixed = SIG.slice();
    mixed.set(other.subarray(516, 900), 516);
    expectCode(() => verifySigstruct(mixed), 'INVALID_SIGNATURE');
  });
});

describe('signing keys', () => {
  it('generateSigningKey returns an RSA-3072, e = 3, PKCS#8 PEM', () => {
    assert.match(KEY, /^-----BEGIN PRIVATE KEY-----\n/);
    const k = loadSigningKey(KEY);
    assert.equal(k.asymmetricKeyDetails?.modulusLength, 3072);
    assert.equal(k.asymmetricKeyDetails?.publicExponent, 3n);
    assert.deepEqual(signSigstruct(FIELDS, k), SIG, 'a KeyObject works too');
  });

  it('refuses keys that are not RSA-3072 with e = 3', () => {
    const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey;
    const rsa3072e65537 = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    for (const k of [rsa2048, rsa3072e65537, ec]) {
      expectCode(() => loadSigningKey(k), 'INVALID_PARAMETER');
      expectCode(() => loadSigningKey(k.export({ type: 'pkcs8', format: 'pem' }) as string), 'INVALID_PARAMETER');
      expectCode(() => signSigstruct(FIELDS, k), 'INVALID_PARAMETER');
    }
    expectCode(() => loadSigningKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), 'INVALID_PARAMETER');
    expectCode(() => loadSigningKey(createPublicKey(KEY).export({ type: 'spki', format: 'pem' }) as string), 'INVALID_PARAMETER');
    expectCode(() => loadSigningKey(createPublicKey(KEY)), 'INVALID_PARAMETER');
  });

  it('refuses out-of-range fields with INVALID_PARAMETER', () => {
    expectCode(() => signSigstruct({ ...FIELDS, isvSvn: 0x10000 }, KEY), 'INVALID_PARAMETER');
    expectCode(() => signSigstruct({ ...FIELDS, enclaveHash: new Uint8Array(31) }, KEY), 'INVALID_PARAMETER');
    expectCode(() => signSigstruct({ ...FIELDS, isvFamilyId: new Uint8Array(15) }, KEY), 'INVALID_PARAMETER');
    expectCode(() => signSigstruct({ ...FIELDS, attributeFlags: -1n }, KEY), 'INVALID_PARAMETER');
  });
});
