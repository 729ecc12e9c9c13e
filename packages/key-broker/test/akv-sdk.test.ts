/**
 * Microsoft's client as the peer: @azure/keyvault-keys KeyClient against the broker over HTTPS (a test CA), with the
 * challenge flow, createKey with a release policy, import, get, and releaseKey with tokens of a loopback authority
 * whose runtime data carries the enclave's RSA key. The released key opens with that private key and equals the
 * stored key; tokens failing the policy, expired, of an unconfigured authority or tampered are refused with their code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyClient } from '@azure/keyvault-keys';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { brokerRequest, openReleasedKey, prepareBrokerEnclave, startKeyBroker, verifyLedger } from '../src/index.js';
import { makePlatform, sgxClaims, signingKeyFile, silentLogger, startAuthority, testCa } from './helpers.js';

const ADMIN = 'admin-token-0123456789abcdef';

class FixedCredential implements TokenCredential {
  readonly #token: string;
  scopes: string[][] = [];
  constructor(token: string) {
    this.#token = token;
  }
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(Array.isArray(scopes) ? scopes : [scopes]);
    return { token: this.#token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

function errorCode(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

test('KeyClient creates, imports, gets and releases keys; refusals carry their code', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kb-sdk-'));
  const authority = await startAuthority();
  const stranger = await startAuthority();
  let handle: Awaited<ReturnType<typeof startKeyBroker>> | undefined;
  try {
    const platformDir = await makePlatform(join(root, 'platform'));
    const prepared = await prepareBrokerEnclave({ dir: join(root, 'enclave'), keyPath: signingKeyFile(join(root, 'signer.pem')) });
    const ca = testCa(join(root, 'ca'));
    handle = await startKeyBroker({
      port: 0,
      tls: { certFile: ca.certFile, keyFile: ca.keyFile, watch: false },
      storage: { dataDir: join(root, 'data') },
      authorities: [authority.url],
      adminToken: ADMIN,
      enclaveDir: prepared.dir,
      platform: platformDir,
      logger: silentLogger(),
    });
    const agent = new Agent({ ca: ca.caPem, keepAlive: false });
    const credential = new FixedCredential(ADMIN);
    const client = new KeyClient(handle.url, credential, { disableChallengeResourceVerification: true, agent, retryOptions: { maxRetries: 0 } });

    const policy = {
      version: '1.0.0',
      anyOf: [{ authority: authority.url, allOf: [{ claim: 'x-ms-sgx-mrsigner', equals: 'bb'.repeat(32) }, { claim: 'x-ms-sgx-is-debuggable', equals: false }] }],
    };
    const created = await client.createKey('model-key', 'RSA-HSM', {
      exportable: true,
      keySize: 2048,
      releasePolicy: { encodedPolicy: new TextEncoder().encode(JSON.stringify(policy)) },
    });
    // The challenge happened: the credential was asked for Key Vault's scope.
    assert.deepEqual(credential.scopes[0], ['https://vault.azure.net/.default']);
    assert.equal(created.name, 'model-key');
    assert.equal(created.keyType, 'RSA-HSM');
    assert.equal(created.properties.exportable, true);
    assert.ok(created.key?.n !== undefined && created.key.n.length === 256);
    assert.equal((created.key as { d?: unknown }).d, undefined);
    const got = await client.getKey('model-key');
    assert.equal(got.properties.version, created.properties.version);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(got.properties.releasePolicy!.encodedPolicy!)), policy);

    // An oct key imported in the clear (AES-256), released later and compared byte for byte.
    const aes = randomBytes(32);
    await client.importKey('aes-key', { kty: 'oct-HSM', k: new Uint8Array(aes), keyOps: ['wrapKey', 'unwrapKey'] }, {
      exportable: true,
      releasePolicy: { encodedPolicy: new TextEncoder().encode(JSON.stringify(policy)) },
    });

    // The enclave's wrapping key: its public half in the token's runtime data.
    const enclaveKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await authority.mint(await sgxClaims(enclaveKey.publicKey));
    const released = await client.releaseKey('aes-key', token, { algorithm: 'RSA_AES_KEY_WRAP_384', nonce: 'n-1' });
    const opened = await openReleasedKey(released.value, enclaveKey.privateKey, handle.broker.signingJwk);
    assert.deepEqual(Buffer.from(opened.material), aes);
    assert.equal(opened.enc, 'RSA_AES_KEY_WRAP_384');
    const payload = opened.payload as { request: { nonce: string; enc: string } };
    assert.equal(payload.request.nonce, 'n-1');

    // The RSA key: default enc (CKM_RSA_AES_KEY_WRAP, OAEP SHA-1), PKCS#8 whose public half is the key's n.
    const rsa = await client.releaseKey('model-key', token);
    const openedRsa = await openReleasedKey(rsa.value, enclaveKey.privateKey);
    assert.equal(openedRsa.enc, 'CKM_RSA_AES_KEY_WRAP');
    const priv = createPrivateKey({ key: Buffer.from(openedRsa.material), format: 'der', type: 'pkcs8' });
    assert.equal(createPublicKey(priv).export({ format: 'jwk' }).n, Buffer.from(created.key!.n!).toString('base64url'));
    // A specific version by name.
    const byVersion = await client.releaseKey('model-key', token, { version: created.properties.version!, algorithm: 'RSA_AES_KEY_WRAP_256' });
    assert.equal((await openReleasedKey(byVersion.value, enclaveKey.privateKey)).kid, created.id);

    // Refusals, each with its code.
    const debugToken = await authority.mint(await sgxClaims(enclaveKey.publicKey, { debug: true }));
    await assert.rejects(client.releaseKey('aes-key', debugToken), (e: unknown) => errorCode(e) === 'ReleasePolicyNotSatisfied' && /x-ms-sgx-is-debuggable/.test((e as Error).message));
    const otherSigner = await authority.mint(await sgxClaims(enclaveKey.publicKey, { mrsigner: 'cc'.repeat(32) }));
    await assert.rejects(client.releaseKey('aes-key', otherSigner), (e: unknown) => errorCode(e) === 'ReleasePolicyNotSatisfied' && /x-ms-sgx-mrsigner/.test((e as Error).message));
    const expired = await authority.mint(await sgxClaims(enclaveKey.publicKey), { expiresIn: -3600 });
    await assert.rejects(client.releaseKey('aes-key', expired), (e: unknown) => errorCode(e) === 'TokenExpired');
    const foreign = await stranger.mint(await sgxClaims(enclaveKey.publicKey));
    await assert.rejects(client.releaseKey('aes-key', foreign), (e: unknown) => errorCode(e) === 'AuthorityNotConfigured');
    // Signed by a key that is not the authority's, under the authority's iss and kid.
    const forged = await authority.mint(await sgxClaims(enclaveKey.publicKey), { key: stranger.key });
    await assert.rejects(client.releaseKey('aes-key', forged), (e: unknown) => errorCode(e) === 'TokenSignatureInvalid');
    // One claim changed after signing.
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims['x-ms-sgx-mrsigner'] = 'bb'.repeat(31) + 'bc';
    const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await assert.rejects(client.releaseKey('aes-key', tampered), (e: unknown) => errorCode(e) === 'TokenSignatureInvalid');
    const noKey = await authority.mint({ ...(await sgxClaims(enclaveKey.publicKey)), 'x-ms-runtime': {} });
    await assert.rejects(client.releaseKey('aes-key', noKey), (e: unknown) => errorCode(e) === 'TargetKeyMissing');
    await assert.rejects(client.releaseKey('missing', token), (e: unknown) => errorCode(e) === 'KeyNotFound');

    // Management needs the admin token; release does not.
    const wrongAdmin = new KeyClient(handle.url, new FixedCredential('not-the-admin-token'), { disableChallengeResourceVerification: true, agent, retryOptions: { maxRetries: 0 } });
    await assert.rejects(wrongAdmin.getKey('model-key'), (e: unknown) => errorCode(e) === 'Forbidden');
    const viaOther = await wrongAdmin.releaseKey('aes-key', token);
    assert.deepEqual(Buffer.from((await openReleasedKey(viaOther.value, enclaveKey.privateKey)).material), aes);

    // The wire details the SDK relies on, checked directly.
    const anonymous = await brokerRequest(`${handle.url}/keys/model-key/release?api%2Dversion=7.4`, { ca: ca.caPem, body: {} });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer authorization="https://login.microsoftonline.com/cloister", resource="https://vault.azure.net"');
    assert.equal((JSON.parse(anonymous.text) as { error: { code: string } }).error.code, 'Unauthorized');
    const noVersion = await brokerRequest(`${handle.url}/keys/model-key`, { ca: ca.caPem, bearer: ADMIN });
    assert.equal(noVersion.status, 400);
    assert.deepEqual(Object.keys((JSON.parse(noVersion.text) as { error: object }).error).sort(), ['code', 'message']);
    assert.equal((await brokerRequest(`${handle.url}/keys/model-key?api-version=1.0`, { ca: ca.caPem, bearer: ADMIN })).status, 400);
    const big = await brokerRequest(`${handle.url}/keys/model-key/release?api-version=7.4`, { ca: ca.caPem, bearer: 'x', body: { target: 'a'.repeat(70_000) } });
    assert.equal(big.status, 413);
    const malformed = await brokerRequest(`${handle.url}/keys/model-key/release?api-version=7.4`, { ca: ca.caPem, bearer: 'x', body: { target: 'not-a-jwt' } });
    assert.equal((JSON.parse(malformed.text) as { error: { code: string } }).error.code, 'TokenInvalid');

    // Every decision is in the audit log, with the token's identity claims.
    const audit = (await handle.broker.auditLog(100)) as { granted: boolean; code: string; detail: { mrsigner?: string } }[];
    assert.equal(audit.filter((a) => a.granted).length, 4);
    assert.deepEqual(
      audit.filter((a) => !a.granted).map((a) => a.code).sort(),
      ['AuthorityNotConfigured', 'KeyNotFound', 'ReleasePolicyNotSatisfied', 'ReleasePolicyNotSatisfied', 'TargetKeyMissing', 'TokenExpired', 'TokenInvalid', 'TokenSignatureInvalid', 'TokenSignatureInvalid'].sort(),
    );
    assert.ok(audit.some((a) => !a.granted && a.detail.mrsigner === 'cc'.repeat(32)));
    // Genesis (the signing key) and the two creates are ledger entries; the ledger verifies with the broker's key.
    const ledger = (await handle.broker.ledger()).map((l) => JSON.stringify(l)).join('\n');
    assert.equal(verifyLedger(ledger, handle.broker.signingJwk).entries, 3);
    agent.destroy();
  } finally {
    await handle?.close();
    await authority.close();
    await stranger.close();
    rmSync(root, { recursive: true, force: true });
  }
});
