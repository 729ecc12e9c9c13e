/** Signing keys at rest: encrypted under the key-encryption secret, kept across restarts, refused under another secret. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptPrivateKey, encryptPrivateKey } from '../src/keys.js';
import { deriveKeyEncryptionKey, generateSigningKey, kidOf, startAttestationService } from '../src/index.js';

test('a signing key: RSA-2048, self-signed CN=<issuer>, kid = base64 SHA-256 of the certificate', async () => {
  const k = await generateSigningKey('https://attest.example');
  const cert = new X509Certificate(k.certificate);
  assert.equal(cert.subject, 'CN=https://attest.example');
  assert.equal(cert.issuer, cert.subject);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(cert.verify(cert.publicKey), true);
  assert.equal(k.kid, kidOf(k.certificate));
});

test('private keys are encrypted with the instance and kid bound; another key or binding fails closed', async () => {
  const k = await generateSigningKey('https://attest.example');
  const kek = deriveKeyEncryptionKey('operator secret 0123456789');
  const blob = encryptPrivateKey(kek, '', k.kid, k.privateKey);
  assert.equal(Buffer.from(blob).includes(Buffer.from(k.privateKey.subarray(40, 80))), false, 'no plaintext at rest');
  assert.equal(decryptPrivateKey(kek, '', k.kid, blob).asymmetricKeyType, 'rsa');
  const refused = (e: unknown) => (e as { code?: string }).code === 'KEY_DECRYPTION_FAILED';
  assert.throws(() => decryptPrivateKey(deriveKeyEncryptionKey('another secret 0123456789'), '', k.kid, blob), refused);
  assert.throws(() => decryptPrivateKey(kek, 'simulated', k.kid, blob), refused);
  assert.throws(() => decryptPrivateKey(kek, '', 'other-kid', blob), refused);
});

test('--data: the signing key survives a restart; a different key-encryption secret refuses to start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-as-keys-'));
  try {
    const o = { storage: { dataDir: dir }, keyEncryptionKey: 'first secret 0123456789', logLevel: 'silent' } as const;
    const a = await startAttestationService(o);
    const kid = a.instance('real').activeKey().kid;
    await a.close();
    const b = await startAttestationService(o);
    assert.equal(b.instance('real').activeKey().kid, kid);
    await b.close();
    await assert.rejects(startAttestationService({ ...o, keyEncryptionKey: 'second secret 0123456789' }), (e: unknown) => (e as { code?: string }).code === 'KEY_DECRYPTION_FAILED');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
