import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '@cloister/dcap';
import { aesCmac } from '../src/aes-cmac.js';

// RFC 4493 §4 test vectors (AES-128, K = 2b7e1516 28aed2a6 abf71588 09cf4f3c).
const K = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
const M64 = fromHex(
  '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
);

describe('AES-128-CMAC (RFC 4493 §4)', () => {
  it('Example 1: len = 0', () => {
    assert.equal(toHex(aesCmac(K, new Uint8Array(0))), 'bb1d6929e95937287fa37d129b756746');
  });
  it('Example 2: len = 16', () => {
    assert.equal(toHex(aesCmac(K, M64.subarray(0, 16))), '070a16b46b4d4144f79bdd9dd04a287c');
  });
  it('Example 3: len = 40', () => {
    assert.equal(toHex(aesCmac(K, M64.subarray(0, 40))), 'dfa66747de9ae63030ca32611497c827');
  });
  it('Example 4: len = 64', () => {
    assert.equal(toHex(aesCmac(K, M64)), '51f0bebf7e3b9d92fc49741779363cfe');
  });
  it('returns a fresh 16-byte Uint8Array and does not modify its inputs', () => {
    const msg = M64.slice(0, 40);
    const tag = aesCmac(K, msg);
    assert.equal(tag.length, 16);
    assert.equal(Object.getPrototypeOf(tag), Uint8Array.prototype);
    assert.deepEqual(msg, M64.subarray(0, 40));
  });
  it('refuses keys that are not 16 bytes', () => {
    assert.throws(() => aesCmac(new Uint8Array(32), new Uint8Array(1)), RangeError);
  });
});
