import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SimEnclave, signEnclave, parseTargetInfo } from '../src/enclave.js';
import { SimError, type SimErrorCode } from '../src/errors.js';
import { KEY_NAME, KEY_POLICY, parseKeyRequest } from '../src/keyrequest.js';
import type { EnclaveImage, EnclaveManifest } from '../src/measurement.js';
import { Platform } from '../src/platform.js';
import { parseSealedData, SEALED_DATA_HEADER_SIZE, sealedDataSize, TSEAL_DEFAULT_FLAGSMASK } from '../src/seal.js';
import { generateSigningKey, parseSigstruct, verifySigstruct } from '../src/sigstruct.js';

function expectCode(fn: () => unknown, code: SimErrorCode): void {
  assert.throws(fn, (e: unknown) => SimError.is(e) && e.code === code, `expected ${code}`);
}

const KEY = generateSigningKey();
const OTHER_KEY = generateSigningKey();
const P = Platform.create();
const P2 = Platform.create();
const enc = new TextEncoder();

function image(m: Partial<EnclaveManifest> = {}, code = 'export default 1;\n'): EnclaveImage {
  return {
    code: enc.encode(code),
    manifest: { name: 'vault', entry: 'main.js', heapSizeMiB: 1, debug: false, productId: 1, securityVersion: 2, ...m },
  };
}
function load(img: EnclaveImage, key = KEY, platform: Platform = P): SimEnclave {
  return SimEnclave.load(platform, img, signEnclave(img, key).sigstruct);
}

const V2 = load(image());
const V1 = load(image({ securityVersion: 1 }));
const V3 = load(image({ securityVersion: 3 }));
const OTHER_CODE = load(image({}, 'export default 2;\n'));
const OTHER_SIGNER = load(image(), OTHER_KEY);
const DEBUG = load(image({ debug: true }));
const V2_ON_P2 = load(image(), KEY, P2);
const SECRET = enc.encode('the secret of the vault');
const AAD = enc.encode('header: v1');

describe('seal / unseal round trip', () => {
  it('without additional MAC text', () => {
    const blob = V2.seal(SECRET);
    const out = V2.unseal(blob);
    assert.deepEqual(out.plaintext, SECRET);
    assert.equal(out.additionalMacText.length, 0);
    assert.equal(Object.getPrototypeOf(out.plaintext), Uint8Array.prototype);
  });

  it('with additional MAC text, returned as sealed', () => {
    const out = V2.unseal(V2.seal(SECRET, { additionalMacText: AAD }));
    assert.deepEqual(out.plaintext, SECRET);
    assert.deepEqual(out.additionalMacText, AAD);
  });

  it('with an empty plaintext', () => {
    assert.equal(V2.unseal(V2.seal(new Uint8Array(0), { additionalMacText: AAD })).plaintext.length, 0);
  });

  it('every seal draws a new KEYID', () => {
    const a = V2.seal(SECRET);
    const b = V2.seal(SECRET);
    assert.notDeepEqual(a.subarray(40, 72), b.subarray(40, 72));
    assert.notDeepEqual(a.subarray(SEALED_DATA_HEADER_SIZE), b.subarray(SEALED_DATA_HEADER_SIZE));
  });
});

describe('sgx_sealed_data_t layout', () => {
  const blob = V2.seal(SECRET, { additionalMacText: AAD });
  const v = new DataView(blob.buffer);

  it('has the exact SDK size', () => {
    assert.equal(SEALED_DATA_HEADER_SIZE, 560);
    assert.equal(blob.length, 560 + SECRET.length + AAD.length);
    assert.equal(sealedDataSize(SECRET.length, AAD.length), blob.length);
    assert.equal(sealedDataSize(0, 0), 560);
    expectCode(() => sealedDataSize(2 ** 32, 0), 'INVALID_PARAMETER');
  });

  it('stores the key request the SDK writes', () => {
    const req = parseKeyRequest(blob.subarray(0, 512));
    assert.equal(req.keyName, KEY_NAME.SEAL);
    assert.equal(req.keyPolicy, KEY_POLICY.MRSIGNER);
    assert.equal(req.isvSvn, 2);
    assert.deepEqual(req.cpuSvn, P.cpuSvn);
    assert.equal(req.attributeMaskFlags, 0xff0000000000000bn);
    assert.equal(TSEAL_DEFAULT_FLAGSMASK, 0xff0000000000000bn);
    assert.equal(req.attributeMaskXfrm, 0n);
    assert.equal(req.miscMask, 0xf0000000);
    assert.equal(req.configSvn, 0);
    assert.ok(req.keyId.some((b) => b !== 0));
  });

  it('stores plain_text_offset, payload_size, tag, ciphertext ‖ MAC text', () => {
    assert.equal(v.getUint32(512, true), SECRET.length);
    assert.ok(blob.subarray(516, 528).every((b) => b === 0));
    assert.equal(v.getUint32(528, true), SECRET.length + AAD.length);
    assert.ok(blob.subarray(532, 544).every((b) => b === 0));
    assert.notDeepEqual(blob.subarray(560, 560 + SECRET.length), SECRET);
    assert.deepEqual(blob.subarray(560 + SECRET.length), AAD);
    const parsed = parseSealedData(blob);
    assert.equal(parsed.plainTextOffset, SECRET.length);
    assert.equal(parsed.payloadSize, SECRET.length + AAD.length);
    assert.deepEqual(parsed.tag, blob.subarray(544, 560));
  });

  it('MRENCLAVE policy is recorded; KSS enclaves add CONFIGID | ISVFAMILYID | ISVEXTPRODID', () => {
    assert.equal(parseKeyRequest(V2.seal(SECRET, { policy: 'MRENCLAVE' }).subarray(0, 512)).keyPolicy, KEY_POLICY.MRENCLAVE);
    const kss = load(image({ kss: true, configSvn: 3 }));
    const req = parseKeyRequest(kss.seal(SECRET).subarray(0, 512));
    assert.equal(req.keyPolicy, KEY_POLICY.MRSIGNER | KEY_POLICY.CONFIGID | KEY_POLICY.ISVFAMILYID | KEY_POLICY.ISVEXTPRODID);
    assert.equal(req.configSvn, 3);
    assert.deepEqual(kss.unseal(kss.seal(SECRET, { keyPolicyExtra: KEY_POLICY.NOISVPRODID })).plaintext, SECRET);
  });

  it('refuses bad options', () => {
    expectCode(() => V2.seal(SECRET, { keyPolicyExtra: KEY_POLICY.NOISVPRODID }), 'INVALID_ATTRIBUTE');
    expectCode(() => V2.seal(SECRET, { keyPolicyExtra: KEY_POLICY.MRENCLAVE }), 'INVALID_PARAMETER');
    expectCode(() => V2.seal(SECRET, { policy: 'MRWHATEVER' as 'MRSIGNER' }), 'INVALID_PARAMETER');
    expectCode(() => V2.seal('text' as unknown as Uint8Array), 'INVALID_PARAMETER');
  });
});

describe('who can unseal', () => {
  it('MRENCLAVE policy: only the same enclave, not another enclave of the same signer', () => {
    const blob = V2.seal(SECRET, { policy: 'MRENCLAVE' });
    assert.deepEqual(load(image()).unseal(blob).plaintext, SECRET, 'a reload of the same image');
    expectCode(() => OTHER_CODE.unseal(blob), 'MAC_MISMATCH');
    expectCode(() => V3.unseal(blob), 'MAC_MISMATCH');
  });

  it('MRSIGNER policy: a newer-SVN enclave of the same signer unseals; another signer does not', () => {
    const blob = V2.seal(SECRET);
    assert.deepEqual(V3.unseal(blob).plaintext, SECRET);
    assert.deepEqual(OTHER_CODE.unseal(blob).plaintext, SECRET);
    expectCode(() => OTHER_SIGNER.unseal(blob), 'MAC_MISMATCH');
  });

  it('a blob sealed at a newer SVN → INVALID_ISVSVN', () => {
    expectCode(() => V1.unseal(V2.seal(SECRET)), 'INVALID_ISVSVN');
  });

  it('debug and production enclaves cannot read each other’s data', () => {
    expectCode(() => DEBUG.unseal(V2.seal(SECRET)), 'MAC_MISMATCH');
    expectCode(() => V2.unseal(DEBUG.seal(SECRET)), 'MAC_MISMATCH');
  });

  it('another platform cannot unseal', () => {
    expectCode(() => V2_ON_P2.unseal(V2.seal(SECRET)), 'MAC_MISMATCH');
    expectCode(() => V2.unseal(V2_ON_P2.seal(SECRET)), 'MAC_MISMATCH');
  });
});

describe('tampering', () => {
  const blob = V2.seal(SECRET, { additionalMacText: AAD });
  const REFUSALS = new Set<string>([
    'MAC_MISMATCH',
    'INVALID_SEALED_DATA',
    // a tampered stored key request may also ask for what the enclave may not have:
    'INVALID_ISVSVN',
    'INVALID_CPUSVN',
    'INVALID_CONFIGSVN',
    'INVALID_ATTRIBUTE',
  ]);

  it('a flipped bit in any byte is refused', () => {
    for (let i = 0; i < blob.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = blob.slice();
        bad[i] = bad[i]! ^ bit;
        assert.throws(
          () => V2.unseal(bad),
          (e: unknown) => SimError.is(e) && REFUSALS.has(e.code),
          `byte ${i} bit ${bit}`,
        );
      }
    }
  });

  it('ciphertext, tag and MAC text tampering is MAC_MISMATCH; reserved and sizes are INVALID_SEALED_DATA', () => {
    for (const off of [40, 544, 559, 560, 560 + SECRET.length - 1, 560 + SECRET.length, blob.length - 1]) {
      const bad = blob.slice();
      bad[off] = bad[off]! ^ 1;
      expectCode(() => V2.unseal(bad), 'MAC_MISMATCH');
    }
    for (const off of [0, 6, 100, 511, 512, 516, 528, 532]) {
      const bad = blob.slice();
      bad[off] = bad[off]! ^ 0x40;
      expectCode(() => V2.unseal(bad), 'INVALID_SEALED_DATA');
    }
  });

  it('a truncated or extended blob is INVALID_SEALED_DATA', () => {
    expectCode(() => V2.unseal(blob.subarray(0, blob.length - 1)), 'INVALID_SEALED_DATA');
    expectCode(() => V2.unseal(Uint8Array.of(...blob, 0)), 'INVALID_SEALED_DATA');
    expectCode(() => V2.unseal(blob.subarray(0, 559)), 'INVALID_SEALED_DATA');
    expectCode(() => V2.unseal(new Uint8Array(0)), 'INVALID_SEALED_DATA');
  });
});

describe('fuzz: parsers and unseal only throw SimError', () => {
  const onlySimError = (fn: () => unknown): void => {
    try {
      fn();
    } catch (e) {
      if (!SimError.is(e)) throw e;
    }
  };
  const valid = V2.seal(SECRET, { additionalMacText: AAD });
  const validSig = signEnclave(image(), KEY).sigstruct;

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        onlySimError(() => V2.unseal(bytes));
        onlySimError(() => parseSealedData(bytes));
        onlySimError(() => parseKeyRequest(bytes));
        onlySimError(() => V2.egetkey(bytes));
        onlySimError(() => parseSigstruct(bytes));
        onlySimError(() => V2.verifyReport(bytes));
        onlySimError(() => parseTargetInfo(bytes));
        onlySimError(() => V2.ereport(bytes, new Uint8Array(0)));
      }),
      { numRuns: 300 },
    );
  });

  it('random structured bytes at the right lengths', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 512, maxLength: 512 }),
        fc.uint8Array({ minLength: 432, maxLength: 432 }),
        fc.uint8Array({ minLength: 1808, maxLength: 1808 }),
        (kr, report, sig) => {
          kr.fill(0, 78);
          kr[6] = 0;
          kr[7] = 0;
          onlySimError(() => V2.egetkey(kr));
          onlySimError(() => V2.verifyReport(report));
          onlySimError(() => verifySigstruct(sig));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('mutations of a valid blob and SIGSTRUCT', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (muts) => {
        const bad = valid.slice();
        const badSig = validSig.slice();
        for (const [pos, x] of muts) {
          bad[pos % bad.length] = bad[pos % bad.length]! ^ x;
          badSig[pos % badSig.length] = badSig[pos % badSig.length]! ^ x;
        }
        // Mutations may cancel each other out; only a changed input must be refused.
        if (!bad.every((b, i) => b === valid[i])) assert.throws(() => V2.unseal(bad), (e: unknown) => SimError.is(e));
        if (!badSig.every((b, i) => b === validSig[i])) assert.throws(() => verifySigstruct(badSig), (e: unknown) => SimError.is(e));
      }),
      { numRuns: 200 },
    );
  });
});

it('seals and unseals a 1 MiB payload (throughput is measured by bench/sim, not asserted here)', () => {
  const data = new Uint8Array(1 << 20).fill(0x42);
  const blob = V2.seal(data);
  assert.equal(blob.length, sealedDataSize(data.length, 0));
  assert.deepEqual(V2.unseal(blob).plaintext, data);
});

it('the SIGSTRUCT of a signed enclave verifies and names the signer', () => {
  const s = signEnclave(image(), KEY);
  assert.deepEqual(parseSigstruct(s.sigstruct).mrSigner, s.mrSigner);
  assert.deepEqual(V2.identity.mrSigner, s.mrSigner);
});
