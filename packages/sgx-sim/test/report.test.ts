import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseReportBody, toHex } from '@cloister/dcap';
import { reportKey, reportKeyId } from '../src/egetkey.js';
import {
  encodeTargetInfo,
  ereportFor,
  parseTargetInfo,
  REPORT_SIZE,
  signEnclave,
  SimEnclave,
  TARGET_INFO_SIZE,
  verifyReportFor,
} from '../src/enclave.js';
import { SimError, type SimErrorCode } from '../src/errors.js';
import { encodeAttributes, SGX_FLAGS } from '../src/identity.js';
import type { EnclaveImage, EnclaveManifest } from '../src/measurement.js';
import { Platform } from '../src/platform.js';
import { generateSigningKey, signSigstruct } from '../src/sigstruct.js';
import { aesCmac } from '../src/aes-cmac.js';

function expectCode(fn: () => unknown, code: SimErrorCode): void {
  assert.throws(fn, (e: unknown) => SimError.is(e) && e.code === code, `expected ${code}`);
}

const KEY = generateSigningKey();
const P = Platform.create();
const P2 = Platform.create();

function image(name: string, m: Partial<EnclaveManifest> = {}): EnclaveImage {
  return {
    code: new TextEncoder().encode(`// ${name}\nexport default 1;\n`),
    manifest: { name, entry: 'main.js', heapSizeMiB: 1, debug: false, productId: 3, securityVersion: 7, ...m },
  };
}
function load(img: EnclaveImage, platform: Platform = P, configId?: Uint8Array): SimEnclave {
  return SimEnclave.load(platform, img, signEnclave(img, KEY).sigstruct, configId === undefined ? {} : { configId });
}

const IMG_A = image('a');
const IMG_B = image('b');
const A = load(IMG_A);
const B = load(IMG_B);
const C = load(image('c'));
const DATA = Uint8Array.from({ length: 64 }, (_, i) => i);

describe('SimEnclave.load', () => {
  it('builds the identity from the manifest and the SIGSTRUCT', () => {
    const signed = signEnclave(IMG_A, KEY);
    assert.deepEqual(A.identity.mrEnclave, signed.mrEnclave);
    assert.deepEqual(A.identity.mrSigner, signed.mrSigner);
    assert.equal(A.identity.flags, SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT);
    assert.equal(A.identity.xfrm, 3n);
    assert.equal(A.identity.isvProdId, 3);
    assert.equal(A.identity.isvSvn, 7);
    const d = load(image('d', { debug: true, provisionKey: true, kss: true, configSvn: 4, miscSelect: 1 }), P, new Uint8Array(64).fill(9));
    assert.equal(
      d.identity.flags,
      SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT | SGX_FLAGS.DEBUG | SGX_FLAGS.PROVISION_KEY | SGX_FLAGS.KSS,
    );
    assert.equal(d.identity.configSvn, 4);
    assert.equal(d.identity.miscSelect, 1);
    assert.deepEqual(d.identity.configId, new Uint8Array(64).fill(9));
  });

  it('refuses a SIGSTRUCT for another image, or a tampered one (INVALID_SIGNATURE)', () => {
    const sig = signEnclave(IMG_A, KEY).sigstruct;
    expectCode(() => SimEnclave.load(P, IMG_B, sig), 'INVALID_SIGNATURE');
    const bad = sig.slice();
    bad[1026] = bad[1026]! ^ 1;
    expectCode(() => SimEnclave.load(P, IMG_A, bad), 'INVALID_SIGNATURE');
  });

  it('refuses a validly signed SIGSTRUCT that contradicts the measured manifest', () => {
    const sig = signEnclave(IMG_A, KEY);
    const base = {
      enclaveHash: sig.mrEnclave,
      isvProdId: 3,
      isvSvn: 7,
      attributeFlags: SGX_FLAGS.MODE64BIT,
      attributeXfrm: 3n,
      attributeMaskFlags: 0xfffffffffffffffen,
      attributeMaskXfrm: 3n,
    };
    assert.ok(SimEnclave.load(P, IMG_A, signSigstruct(base, KEY)));
    expectCode(() => SimEnclave.load(P, IMG_A, signSigstruct({ ...base, isvSvn: 8 }, KEY)), 'INVALID_SIGNATURE');
    expectCode(
      () => SimEnclave.load(P, IMG_A, signSigstruct({ ...base, attributeFlags: SGX_FLAGS.MODE64BIT | SGX_FLAGS.DEBUG }, KEY)),
      'INVALID_ATTRIBUTE',
    );
  });

  it('accepts a CONFIGID only for KSS enclaves', () => {
    expectCode(() => load(IMG_A, P, new Uint8Array(64).fill(1)), 'INVALID_PARAMETER');
    expectCode(() => load(image('k', { kss: true }), P, new Uint8Array(63)), 'INVALID_PARAMETER');
  });

  it('refuses an invalid manifest (INVALID_ENCLAVE)', () => {
    const sig = signEnclave(IMG_A, KEY).sigstruct;
    expectCode(() => SimEnclave.load(P, { ...IMG_A, manifest: { ...IMG_A.manifest, heapSizeMiB: -1 } }, sig), 'INVALID_ENCLAVE');
  });
});

describe('TARGETINFO', () => {
  it('is 512 bytes at the sgx_target_info_t offsets', () => {
    const k = load(image('k', { kss: true, configSvn: 0x0102, miscSelect: 1 }), P, Uint8Array.from({ length: 64 }, (_, i) => i + 1));
    const ti = k.targetInfo();
    assert.equal(ti.length, TARGET_INFO_SIZE);
    const v = new DataView(ti.buffer);
    assert.deepEqual(ti.subarray(0, 32), k.identity.mrEnclave);
    assert.deepEqual(ti.subarray(32, 48), encodeAttributes(k.identity.flags, k.identity.xfrm));
    assert.equal(v.getUint16(48, true), 0);
    assert.equal(v.getUint16(50, true), 0x0102);
    assert.equal(v.getUint32(52, true), 1);
    assert.deepEqual(ti.subarray(64, 128), k.identity.configId);
    assert.ok(ti.subarray(128).every((b) => b === 0));
    const parsed = parseTargetInfo(ti);
    assert.equal(parsed.configSvn, 0x0102);
    assert.equal(parsed.flags, k.identity.flags);
  });

  it('refuses wrong lengths and non-zero reserved bytes (INVALID_PARAMETER)', () => {
    expectCode(() => parseTargetInfo(new Uint8Array(511)), 'INVALID_PARAMETER');
    const ti = B.targetInfo();
    ti[300] = 1;
    expectCode(() => A.ereport(ti, DATA), 'INVALID_PARAMETER');
  });
});

describe('EREPORT and local attestation', () => {
  const report = A.ereport(B.targetInfo(), DATA);

  it('is 432 bytes: body ‖ KEYID ‖ CMAC(report key of the target, body)', () => {
    assert.equal(report.length, REPORT_SIZE);
    assert.deepEqual(report.subarray(384, 416), reportKeyId(P));
    const ti = parseTargetInfo(B.targetInfo());
    const key = reportKey(P, ti.mrEnclave, ti.attributes, ti.miscSelect, ti.configId, ti.configSvn, reportKeyId(P));
    assert.deepEqual(report.subarray(416), aesCmac(key, report.subarray(0, 384)));
  });

  it('the body parses with @cloister/dcap and carries the identity of A', () => {
    const body = parseReportBody(report.subarray(0, 384));
    assert.deepEqual(body.cpuSvn, P.cpuSvn);
    assert.deepEqual(body.mrEnclave, A.identity.mrEnclave);
    assert.deepEqual(body.mrSigner, A.identity.mrSigner);
    assert.deepEqual(body.attributes, encodeAttributes(A.identity.flags, A.identity.xfrm));
    assert.equal(body.isvProdId, 3);
    assert.equal(body.isvSvn, 7);
    assert.equal(body.miscSelect, 0);
    assert.deepEqual(body.reportData, DATA);
  });

  it('B verifies the report A made for it', () => {
    const body = B.verifyReport(report);
    assert.equal(toHex(body.mrEnclave), toHex(A.identity.mrEnclave));
    assert.deepEqual(body.reportData, DATA);
  });

  it('C (and A itself) cannot verify it: MAC_MISMATCH', () => {
    expectCode(() => C.verifyReport(report), 'MAC_MISMATCH');
    expectCode(() => A.verifyReport(report), 'MAC_MISMATCH');
  });

  it('the same enclave B on another platform cannot verify it', () => {
    const b2 = load(IMG_B, P2);
    expectCode(() => b2.verifyReport(report), 'MAC_MISMATCH');
  });

  it('any tampered byte (body, KEYID, MAC) → MAC_MISMATCH', () => {
    for (const off of [0, 16, 48, 64, 128, 256, 258, 320, 383, 384, 415, 416, 431]) {
      const bad = report.slice();
      bad[off] = bad[off]! ^ 0x01;
      expectCode(() => B.verifyReport(bad), 'MAC_MISMATCH');
    }
  });

  it('malformed reports → INVALID_REPORT', () => {
    expectCode(() => B.verifyReport(report.subarray(0, 431)), 'INVALID_REPORT');
    expectCode(() => B.verifyReport(new Uint8Array(433)), 'INVALID_REPORT');
  });

  it('REPORTDATA is at most 64 bytes, zero padded', () => {
    expectCode(() => A.ereport(B.targetInfo(), new Uint8Array(65)), 'INVALID_PARAMETER');
    const short = A.ereport(B.targetInfo(), Uint8Array.of(1, 2, 3));
    const body = B.verifyReport(short);
    assert.deepEqual(body.reportData, Uint8Array.of(1, 2, 3, ...new Uint8Array(61)));
  });

  it('a report to self verifies', () => {
    assert.ok(A.verifyReport(A.ereport(A.targetInfo(), DATA)));
  });

  it('is bound to the target CONFIGID of a KSS enclave', () => {
    const kImg = image('k', { kss: true });
    const k1 = load(kImg, P, new Uint8Array(64).fill(1));
    const k2 = load(kImg, P, new Uint8Array(64).fill(2));
    const r = A.ereport(k1.targetInfo(), DATA);
    assert.ok(k1.verifyReport(r));
    expectCode(() => k2.verifyReport(r), 'MAC_MISMATCH');
  });

  it('the standalone ereportFor / verifyReportFor work from an identity (for a simulated QE)', () => {
    const r = ereportFor(P, A.identity, encodeTargetInfo(B.identity), DATA);
    assert.deepEqual(r, report, 'EREPORT is deterministic for the same inputs');
    assert.deepEqual(verifyReportFor(P, B.identity, r).reportData, DATA);
    expectCode(() => verifyReportFor(P, C.identity, r), 'MAC_MISMATCH');
  });
});
