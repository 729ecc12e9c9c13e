import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '@cloister/dcap';
import { reportKey, egetkey, DERIVATION_DATA_SIZE } from '../src/egetkey.js';
import { SimError, type SimErrorCode } from '../src/errors.js';
import { encodeAttributes, SGX_FLAGS, type EnclaveIdentity } from '../src/identity.js';
import {
  encodeKeyRequest,
  KEY_NAME,
  KEY_POLICY,
  KEY_REQUEST_SIZE,
  parseKeyRequest,
  type KeyRequestInit,
} from '../src/keyrequest.js';
import { Platform } from '../src/platform.js';

function expectCode(fn: () => unknown, code: SimErrorCode): void {
  assert.throws(fn, (e: unknown) => SimError.is(e) && e.code === code, `expected ${code}`);
}

const P = Platform.create({ secret: new Uint8Array(32).fill(7) });
const P_SAME = Platform.create({ secret: new Uint8Array(32).fill(7) });
const P_OTHER = Platform.create({ secret: new Uint8Array(32).fill(8) });

const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
const BASE_FLAGS = SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT;

function ident(o: Partial<EnclaveIdentity> = {}): EnclaveIdentity {
  return {
    mrEnclave: fill(32, 0xe1),
    mrSigner: fill(32, 0x51),
    flags: BASE_FLAGS,
    xfrm: 3n,
    miscSelect: 0,
    isvProdId: 1,
    isvSvn: 5,
    configId: new Uint8Array(64),
    configSvn: 0,
    isvExtProdId: new Uint8Array(16),
    isvFamilyId: new Uint8Array(16),
    ...o,
  };
}
const KSS = ident({ flags: BASE_FLAGS | SGX_FLAGS.KSS, configSvn: 2, configId: fill(64, 0xc0) });

const seal = (o: Partial<KeyRequestInit> = {}): KeyRequestInit => ({
  keyName: KEY_NAME.SEAL,
  keyPolicy: KEY_POLICY.MRSIGNER,
  isvSvn: 5,
  keyId: fill(32, 0x11),
  attributeMaskFlags: 0xff0000000000000bn,
  miscMask: 0xf0000000,
  ...o,
});
const hex = (b: Uint8Array): string => toHex(b);

describe('KEYREQUEST', () => {
  it('encodes at the sgx_key_request_t offsets and parses back', () => {
    const raw = encodeKeyRequest({
      keyName: 4,
      keyPolicy: 0x21,
      isvSvn: 0x0102,
      cpuSvn: fill(16, 9),
      attributeMaskFlags: 0x0b0a090807060504n,
      attributeMaskXfrm: 0x3n,
      keyId: fill(32, 0xaa),
      miscMask: 0xf0000000,
      configSvn: 0x0304,
    });
    assert.equal(raw.length, KEY_REQUEST_SIZE);
    assert.equal(hex(raw.subarray(0, 8)), '0400210002010000');
    assert.equal(hex(raw.subarray(8, 24)), '09'.repeat(16));
    assert.equal(hex(raw.subarray(24, 40)), '0405060708090a0b0300000000000000');
    assert.equal(hex(raw.subarray(40, 72)), 'aa'.repeat(32));
    assert.equal(hex(raw.subarray(72, 78)), '000000f00403');
    assert.ok(raw.subarray(78).every((b) => b === 0));
    const r = parseKeyRequest(raw);
    assert.equal(r.keyName, 4);
    assert.equal(r.keyPolicy, 0x21);
    assert.equal(r.isvSvn, 0x0102);
    assert.equal(r.attributeMaskFlags, 0x0b0a090807060504n);
    assert.equal(r.attributeMaskXfrm, 3n);
    assert.equal(r.miscMask, 0xf0000000);
    assert.equal(r.configSvn, 0x0304);
    assert.deepEqual(encodeKeyRequest(r), raw);
  });

  it('refuses wrong lengths, non-zero reserved fields and reserved policy bits (INVALID_PARAMETER)', () => {
    const raw = encodeKeyRequest({ keyName: 4 });
    expectCode(() => parseKeyRequest(raw.subarray(0, 511)), 'INVALID_PARAMETER');
    const r1 = raw.slice();
    r1[6] = 1;
    expectCode(() => parseKeyRequest(r1), 'INVALID_PARAMETER');
    const r2 = raw.slice();
    r2[511] = 1;
    expectCode(() => parseKeyRequest(r2), 'INVALID_PARAMETER');
    const r3 = raw.slice();
    r3[2] = 0x40;
    expectCode(() => parseKeyRequest(r3), 'INVALID_PARAMETER');
    expectCode(() => encodeKeyRequest({ keyName: 4, keyPolicy: 0x80 }), 'INVALID_PARAMETER');
    expectCode(() => encodeKeyRequest({ keyName: 4, keyId: new Uint8Array(31) }), 'INVALID_PARAMETER');
    expectCode(() => egetkey(P, ident(), r2), 'INVALID_PARAMETER');
  });
});

describe('EGETKEY refusals', () => {
  it('unknown key name → INVALID_KEYNAME', () => {
    expectCode(() => egetkey(P, ident(), { keyName: 5 }), 'INVALID_KEYNAME');
    expectCode(() => egetkey(P, ident(), { keyName: 0xffff }), 'INVALID_KEYNAME');
  });

  it('EINITTOKEN without EINITTOKEN_KEY → INVALID_ATTRIBUTE', () => {
    expectCode(() => egetkey(P, ident(), { keyName: KEY_NAME.EINITTOKEN }), 'INVALID_ATTRIBUTE');
    assert.equal(egetkey(P, ident({ flags: BASE_FLAGS | SGX_FLAGS.EINITTOKEN_KEY }), { keyName: KEY_NAME.EINITTOKEN }).length, 16);
  });

  it('PROVISION / PROVISION_SEAL without PROVISION_KEY → INVALID_ATTRIBUTE', () => {
    for (const keyName of [KEY_NAME.PROVISION, KEY_NAME.PROVISION_SEAL]) {
      expectCode(() => egetkey(P, ident(), { keyName }), 'INVALID_ATTRIBUTE');
      assert.equal(egetkey(P, ident({ flags: BASE_FLAGS | SGX_FLAGS.PROVISION_KEY }), { keyName }).length, 16);
    }
  });

  it('KSS policy bits or CONFIGSVN without KSS → INVALID_ATTRIBUTE', () => {
    for (const bit of [KEY_POLICY.NOISVPRODID, KEY_POLICY.CONFIGID, KEY_POLICY.ISVFAMILYID, KEY_POLICY.ISVEXTPRODID]) {
      expectCode(() => egetkey(P, ident(), seal({ keyPolicy: KEY_POLICY.MRSIGNER | bit })), 'INVALID_ATTRIBUTE');
      assert.equal(egetkey(P, KSS, seal({ keyPolicy: KEY_POLICY.MRSIGNER | bit })).length, 16);
    }
    expectCode(() => egetkey(P, ident(), seal({ configSvn: 1 })), 'INVALID_ATTRIBUTE');
  });

  it('request ISVSVN above the enclave → INVALID_ISVSVN', () => {
    expectCode(() => egetkey(P, ident(), seal({ isvSvn: 6 })), 'INVALID_ISVSVN');
  });

  it('any request CPUSVN component above the platform → INVALID_CPUSVN', () => {
    const cpu = P.cpuSvn;
    cpu[15] = cpu[15]! + 1;
    expectCode(() => egetkey(P, ident(), seal({ cpuSvn: cpu })), 'INVALID_CPUSVN');
    const cpu2 = P.cpuSvn;
    cpu2[0] = cpu2[0]! + 1;
    cpu2[1] = 0;
    expectCode(() => egetkey(P, ident(), seal({ cpuSvn: cpu2 })), 'INVALID_CPUSVN');
  });

  it('request CONFIGSVN above the enclave → INVALID_CONFIGSVN', () => {
    expectCode(() => egetkey(P, KSS, seal({ configSvn: 3 })), 'INVALID_CONFIGSVN');
    assert.equal(egetkey(P, KSS, seal({ configSvn: 2 })).length, 16);
  });
});

describe('EGETKEY derivation', () => {
  const key = (id: EnclaveIdentity, req: KeyRequestInit, p: Platform = P): string => hex(egetkey(p, id, req));

  it('uses a documented 274-byte derivation data', () => {
    assert.equal(DERIVATION_DATA_SIZE, 274);
  });

  it('MRSIGNER policy: shared by enclaves of one signer, not across signers', () => {
    const a = ident();
    const b = ident({ mrEnclave: fill(32, 0xe2) });
    const c = ident({ mrSigner: fill(32, 0x52) });
    assert.equal(key(a, seal()), key(b, seal()));
    assert.notEqual(key(a, seal()), key(c, seal()));
  });

  it('MRENCLAVE policy: bound to the measurement only', () => {
    const pol = seal({ keyPolicy: KEY_POLICY.MRENCLAVE });
    const a = ident();
    const b = ident({ mrEnclave: fill(32, 0xe2) });
    const c = ident({ mrSigner: fill(32, 0x52) });
    assert.notEqual(key(a, pol), key(b, pol));
    assert.equal(key(a, pol), key(c, pol));
    assert.notEqual(key(a, pol), key(a, seal()));
  });

  it('SVN downgrade gives the old key; upgrade is refused', () => {
    const v1 = ident({ isvSvn: 1 });
    const v2 = ident({ isvSvn: 2, mrEnclave: fill(32, 0xe2) });
    assert.equal(key(v2, seal({ isvSvn: 1 })), key(v1, seal({ isvSvn: 1 })));
    assert.notEqual(key(v2, seal({ isvSvn: 2 })), key(v1, seal({ isvSvn: 1 })));
    expectCode(() => egetkey(P, v1, seal({ isvSvn: 2 })), 'INVALID_ISVSVN');
  });

  it('an all-zero CPUSVN means the platform CPUSVN; an older CPUSVN is allowed and differs', () => {
    assert.equal(key(ident(), seal()), key(ident(), seal({ cpuSvn: P.cpuSvn })));
    const older = P.cpuSvn;
    older[0] = older[0]! - 1;
    assert.notEqual(key(ident(), seal({ cpuSvn: older })), key(ident(), seal()));
  });

  it('debug and production enclaves differ even when the request masks DEBUG out', () => {
    const prod = ident();
    const dbg = ident({ flags: BASE_FLAGS | SGX_FLAGS.DEBUG });
    assert.notEqual(key(prod, seal()), key(dbg, seal()));
    assert.notEqual(key(prod, seal({ attributeMaskFlags: 0n })), key(dbg, seal({ attributeMaskFlags: 0n })));
  });

  it('attributes outside the mask do not matter; inside they do', () => {
    const a = ident();
    const b = ident({ flags: BASE_FLAGS | SGX_FLAGS.PROVISION_KEY });
    assert.equal(key(a, seal({ attributeMaskFlags: 0x3n })), key(b, seal({ attributeMaskFlags: 0x3n })));
    assert.notEqual(key(a, seal({ attributeMaskFlags: 0x13n })), key(b, seal({ attributeMaskFlags: 0x13n })));
  });

  it('MISCSELECT counts under misc_mask only', () => {
    const a = ident();
    const b = ident({ miscSelect: 1 });
    assert.equal(key(a, seal({ miscMask: 0xf0000000 })), key(b, seal({ miscMask: 0xf0000000 })));
    assert.notEqual(key(a, seal({ miscMask: 0xffffffff })), key(b, seal({ miscMask: 0xffffffff })));
  });

  it('is bound to the platform', () => {
    assert.equal(key(ident(), seal(), P), key(ident(), seal(), P_SAME));
    assert.notEqual(key(ident(), seal(), P), key(ident(), seal(), P_OTHER));
  });

  it('KEYID changes the key', () => {
    assert.notEqual(key(ident(), seal()), key(ident(), seal({ keyId: fill(32, 0x12) })));
  });

  it('ISVPRODID counts unless NOISVPRODID (KSS)', () => {
    const a = ident({ flags: KSS.flags });
    const b = ident({ flags: KSS.flags, isvProdId: 2 });
    assert.notEqual(key(a, seal()), key(b, seal()));
    const np = seal({ keyPolicy: KEY_POLICY.MRSIGNER | KEY_POLICY.NOISVPRODID });
    assert.equal(key(a, np), key(b, np));
  });

  it('CONFIGID, ISVFAMILYID, ISVEXTPRODID count only with their policy bits', () => {
    const a = KSS;
    const cases: [Partial<EnclaveIdentity>, number][] = [
      [{ configId: fill(64, 0xc1) }, KEY_POLICY.CONFIGID],
      [{ isvFamilyId: fill(16, 1) }, KEY_POLICY.ISVFAMILYID],
      [{ isvExtProdId: fill(16, 1) }, KEY_POLICY.ISVEXTPRODID],
    ];
    for (const [change, bit] of cases) {
      const b = { ...a, ...change };
      assert.equal(key(a, seal()), key(b, seal()));
      assert.notEqual(key(a, seal({ keyPolicy: KEY_POLICY.MRSIGNER | bit })), key(b, seal({ keyPolicy: KEY_POLICY.MRSIGNER | bit })));
    }
    const withSvn = seal({ keyPolicy: KEY_POLICY.MRSIGNER | KEY_POLICY.CONFIGID, configSvn: 1 });
    assert.notEqual(key(a, withSvn), key(a, seal({ keyPolicy: KEY_POLICY.MRSIGNER | KEY_POLICY.CONFIGID, configSvn: 2 })));
  });

  it('PROVISION keys exist only with PROVISION_KEY, follow MRSIGNER, ignore MRENCLAVE and differ by key name', () => {
    const a = ident({ flags: BASE_FLAGS | SGX_FLAGS.PROVISION_KEY });
    const b = { ...a, mrEnclave: fill(32, 0xe2) };
    const c = { ...a, mrSigner: fill(32, 0x52) };
    const prov = { keyName: KEY_NAME.PROVISION, keyPolicy: KEY_POLICY.MRENCLAVE, isvSvn: 5 };
    assert.equal(key(a, prov), key(b, prov));
    assert.notEqual(key(a, prov), key(c, prov));
    const ps = { ...prov, keyName: KEY_NAME.PROVISION_SEAL };
    const names = new Set([key(a, prov), key(a, ps), key(a, seal({ keyPolicy: KEY_POLICY.MRSIGNER }))]);
    assert.equal(names.size, 3);
    expectCode(() => egetkey(P, ident(), prov), 'INVALID_ATTRIBUTE');
  });

  it('the REPORT key ignores policy and SVN fields, uses KEYID, and equals reportKey() from TARGETINFO fields', () => {
    const a = KSS;
    const keyId = fill(32, 0x77);
    const plain = key(a, { keyName: KEY_NAME.REPORT, keyId });
    assert.equal(plain, key(a, { keyName: KEY_NAME.REPORT, keyId, keyPolicy: 3, isvSvn: 0xffff, cpuSvn: fill(16, 0xff), configSvn: 9 }));
    assert.notEqual(plain, key(a, { keyName: KEY_NAME.REPORT, keyId: fill(32, 0x78) }));
    assert.notEqual(plain, key({ ...a, mrEnclave: fill(32, 0xe2) }, { keyName: KEY_NAME.REPORT, keyId }));
    assert.equal(plain, key({ ...a, mrSigner: fill(32, 0x52) }, { keyName: KEY_NAME.REPORT, keyId }), 'MRSIGNER is not in the report key');
    assert.equal(
      hex(reportKey(P, a.mrEnclave, encodeAttributes(a.flags, a.xfrm), a.miscSelect, a.configId, a.configSvn, keyId)),
      plain,
    );
    assert.notEqual(key(a, { keyName: KEY_NAME.REPORT, keyId }, P_OTHER), plain);
  });
});
