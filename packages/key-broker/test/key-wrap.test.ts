/** CKM_RSA_AES_KEY_WRAP and its OAEP variants; AES-KWP against RFC 5649 §6; Shamir shares; target keys from claims. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { exportJWK } from 'jose';
import { KeyBrokerError, RELEASE_ENCRYPTIONS, aesKwpUnwrap, aesKwpWrap, combineShares, rsaAesKeyUnwrap, rsaAesKeyWrap, splitSecret, targetKeyOf } from '../src/index.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));

test('AES-KWP matches RFC 5649 section 6', () => {
  const kek = hex('5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8');
  assert.deepEqual(aesKwpWrap(kek, hex('c37b7e6492584340 bed1220780894115 5068f738')), hex('138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a'));
  assert.deepEqual(aesKwpWrap(kek, hex('466f7250617369')), hex('afbeb0f07dfbf541 9200f2ccb50bb24f'));
  assert.deepEqual(aesKwpUnwrap(kek, hex('afbeb0f07dfbf541 9200f2ccb50bb24f')), hex('466f7250617369'));
  const tampered = hex('afbeb0f07dfbf541 9200f2ccb50bb24e');
  assert.throws(() => aesKwpUnwrap(kek, tampered));
});

test('RSA-AES key wrap: RSA-OAEP(ephemeral AES-256) then AES-KWP, for each enc; the OAEP hash is the named one', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = (await exportJWK(publicKey)) as JsonWebKey;
  const material = randomBytes(48);
  for (const enc of RELEASE_ENCRYPTIONS) {
    const ct = rsaAesKeyWrap(jwk, enc, material);
    assert.equal(ct.length, 256 + 48 + 8);
    assert.deepEqual(Buffer.from(rsaAesKeyUnwrap(privateKey, enc, ct)), material);
    const hash = { CKM_RSA_AES_KEY_WRAP: 'sha1', RSA_AES_KEY_WRAP_256: 'sha256', RSA_AES_KEY_WRAP_384: 'sha384' }[enc];
    const ephemeral = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ct.subarray(0, 256));
    assert.equal(ephemeral.length, 32);
    assert.deepEqual(Buffer.from(aesKwpUnwrap(ephemeral, ct.subarray(256))), material);
  }
  // The wrong OAEP hash does not open it.
  const ct = rsaAesKeyWrap(jwk, 'RSA_AES_KEY_WRAP_384', material);
  assert.throws(() => rsaAesKeyUnwrap(privateKey, 'RSA_AES_KEY_WRAP_256', ct));
  // Small or non-RSA targets are refused.
  const small = (await exportJWK(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)) as JsonWebKey;
  assert.throws(() => rsaAesKeyWrap(small, 'RSA_AES_KEY_WRAP_256', material), /2048-8192/);
});

test('Shamir over GF(256): any threshold of shares recover, fewer do not', () => {
  const secret = randomBytes(100);
  const shares = splitSecret(secret, 5, 3);
  assert.deepEqual(Buffer.from(combineShares([shares[0]!, shares[2]!, shares[4]!])), secret);
  assert.deepEqual(Buffer.from(combineShares([shares[3]!, shares[1]!, shares[0]!, shares[4]!])), secret);
  assert.notDeepEqual(Buffer.from(combineShares([shares[0]!, shares[1]!])), secret);
  assert.throws(() => combineShares([shares[0]!, shares[0]!]), RangeError);
  assert.throws(() => splitSecret(secret, 2, 3), RangeError);
});

test('the target key: x-ms-runtime.keys first, else a JWKS in x-ms-sgx-ehd; only RSA encryption keys', async () => {
  const jwk = { ...(await exportJWK(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey)), kid: 'k1' };
  const sig = { ...jwk, kid: 'sig', key_ops: ['verify'] };
  const runtime = targetKeyOf({ 'x-ms-runtime': { keys: [sig, { ...jwk, key_ops: ['encrypt'] }] } });
  assert.equal(runtime.source, 'x-ms-runtime');
  assert.equal(runtime.kid, 'k1');
  const ehd = Buffer.from(JSON.stringify({ keys: [{ ...jwk, use: 'enc', kid: undefined }] })).toString('base64url');
  const fromEhd = targetKeyOf({ 'x-ms-sgx-ehd': ehd });
  assert.equal(fromEhd.source, 'x-ms-sgx-ehd');
  assert.match(fromEhd.kid, /^[0-9a-f]{64}$/);
  const missing = (c: Record<string, unknown>): void => assert.throws(() => targetKeyOf(c), (e: unknown) => KeyBrokerError.is(e, 'TargetKeyMissing'));
  missing({});
  missing({ 'x-ms-runtime': { keys: [sig] } });
  missing({ 'x-ms-sgx-ehd': Buffer.from('raw bytes').toString('base64url') });
  missing({ 'x-ms-runtime': { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', key_ops: ['encrypt'] }] } });
});
