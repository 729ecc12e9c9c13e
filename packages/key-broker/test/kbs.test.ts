/**
 * Trustee KBS protocol over the broker's keys: auth (version, tee, cookie), attest (nonce, SGX quote verified with
 * collateral, REPORTDATA = SHA-384 of the canonical runtime data), resource as a flattened JWE to tee-pubkey that
 * jose decrypts to the stored key; with the cookie or the attestation token as bearer; policy deny, unknown
 * resource, unauthenticated, wrong nonce and unbound runtime data refused with RFC 7807-style types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, flattenedDecrypt, type FlattenedJWE } from 'jose';
import { Platform, SGX_FLAGS, SimQuotingEnclave, enclaveIdentity, loadPki } from '@cloister/sgx-sim';
import { canonicalJson, prepareBrokerEnclave, startKeyBroker } from '../src/index.js';
import { makePlatform, platformCollateral, platformRootPem, signingKeyFile, silentLogger } from './helpers.js';

const MRSIGNER = 'cd'.repeat(32);

test('KBS: auth, attest, resource as a JWE; refusals', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kb-kbs-'));
  let handle: Awaited<ReturnType<typeof startKeyBroker>> | undefined;
  try {
    const platformDir = await makePlatform(join(root, 'platform'));
    const collateral = await platformCollateral(platformDir);
    const platform = Platform.load(platformDir);
    const qe = new SimQuotingEnclave(platform, await loadPki(platform, platformDir));
    const quoteOver = (reportData: Uint8Array, mrSigner = MRSIGNER): Uint8Array =>
      qe.quoteFor(
        enclaveIdentity({ mrEnclave: Buffer.from('ab'.repeat(32), 'hex'), mrSigner: Buffer.from(mrSigner, 'hex'), flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT, isvProdId: 4, isvSvn: 2 }),
        reportData,
      );
    const prepared = await prepareBrokerEnclave({ dir: join(root, 'enclave'), keyPath: signingKeyFile(join(root, 'signer.pem')) });
    handle = await startKeyBroker({
      port: 0,
      storage: { memory: true },
      authorities: ['https://unused.example'],
      adminToken: 'admin-token-0123456789abcdef',
      enclaveDir: prepared.dir,
      platform: platformDir,
      kbs: { collateral: async () => collateral, trustRootsPem: [await platformRootPem(platformDir)], evidenceRules: { allowSimulated: true } },
      logger: silentLogger(),
    });
    const url = handle.url;
    const policy = { version: '1.0.0', anyOf: [{ authority: 'kbs', allOf: [{ claim: 'x-ms-sgx-mrsigner', equals: MRSIGNER }, { claim: 'x-ms-sgx-is-debuggable', equals: false }] }] };
    const secret = randomBytes(32);
    await handle.broker.importKey(url, 'default-key-db', { key: { kty: 'oct', k: secret.toString('base64url') }, attributes: { exportable: true }, release_policy: { data: Buffer.from(JSON.stringify(policy)).toString('base64url') } });
    const strict = { version: '1.0.0', anyOf: [{ authority: 'kbs', allOf: [{ claim: 'x-ms-sgx-svn', equals: 9 }] }] };
    await handle.broker.importKey(url, 'default-key-other', { key: { kty: 'oct', k: randomBytes(16).toString('base64url') }, attributes: { exportable: true }, release_policy: { data: Buffer.from(JSON.stringify(strict)).toString('base64url') } });

    const post = (path: string, body: unknown, cookie?: string): Promise<Response> =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie !== undefined ? { cookie } : {}) }, body: JSON.stringify(body) });
    const typeOf = async (r: Response): Promise<string> => ((await r.json()) as { type: string }).type.replace(/.*\//, '');

    // Version and tee are checked.
    assert.equal(await typeOf(await post('/kbs/v0/auth', { version: '0.1.0', tee: 'sgx', 'extra-params': '' })), 'ProtocolVersion');
    assert.equal((await post('/kbs/v0/auth', { version: '0.4.0', tee: 'tdx', 'extra-params': '' })).status, 400);

    const tee = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const teeJwk = await exportJWK(tee.publicKey);
    const attestSession = async (bind: (rd: Buffer) => Uint8Array, nonceOverride?: string): Promise<{ cookie: string; res: Response }> => {
      const auth = await post('/kbs/v0/auth', { version: '0.4.0', tee: 'sgx', 'extra-params': '' });
      assert.equal(auth.status, 200);
      const cookie = auth.headers.get('set-cookie')!.split(';')[0]!;
      const { nonce } = (await auth.json()) as { nonce: string };
      assert.equal(Buffer.from(nonce, 'base64').length, 32);
      const runtime = { nonce: nonceOverride ?? nonce, 'tee-pubkey': { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: teeJwk.x, y: teeJwk.y } };
      const rd = Buffer.from(canonicalJson(runtime));
      const quote = bind(rd);
      const res = await post('/kbs/v0/attest', { 'runtime-data': runtime, 'tee-evidence': { quote: Buffer.from(quote).toString('base64') } }, cookie);
      return { cookie, res };
    };
    const sha384 = (rd: Buffer): Uint8Array => {
      const out = new Uint8Array(64);
      out.set(createHash('sha384').update(rd).digest());
      return quoteOver(out);
    };

    const ok = await attestSession(sha384);
    assert.equal(ok.res.status, 200);
    const { token } = (await ok.res.json()) as { token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.equal(claims['iss'], 'kbs');
    assert.equal(claims['x-ms-sgx-mrsigner'], MRSIGNER);

    const resource = await fetch(`${url}/kbs/v0/resource/default/key/db`, { headers: { cookie: ok.cookie } });
    assert.equal(resource.status, 200);
    const jwe = (await resource.json()) as FlattenedJWE;
    assert.deepEqual(Object.keys(jwe).sort(), ['ciphertext', 'encrypted_key', 'iv', 'protected', 'tag']);
    assert.deepEqual(JSON.parse(Buffer.from(jwe.protected!, 'base64url').toString('utf8')).enc, 'A256GCM');
    const opened = await flattenedDecrypt(jwe, tee.privateKey);
    assert.deepEqual(Buffer.from(opened.plaintext), secret);
    // The attestation-results token as bearer works without the cookie.
    const viaToken = await fetch(`${url}/kbs/v0/resource/default/key/db`, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(Buffer.from((await flattenedDecrypt((await viaToken.json()) as FlattenedJWE, tee.privateKey)).plaintext), secret);

    // Refusals.
    const denied = await fetch(`${url}/kbs/v0/resource/default/key/other`, { headers: { cookie: ok.cookie } });
    assert.equal(denied.status, 403);
    assert.equal(await typeOf(denied), 'PolicyDeny');
    const missing = await fetch(`${url}/kbs/v0/resource/default/key/none`, { headers: { cookie: ok.cookie } });
    assert.equal(missing.status, 404);
    const anonymous = await fetch(`${url}/kbs/v0/resource/default/key/db`);
    assert.equal(anonymous.status, 401);
    const forgedToken = `${token.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, 'x-ms-sgx-svn': 9 })).toString('base64url')}.${token.split('.')[2]}`;
    assert.equal((await fetch(`${url}/kbs/v0/resource/default/key/other`, { headers: { authorization: `Bearer ${forgedToken}` } })).status, 401);
    const wrongNonce = await attestSession(sha384, Buffer.from(randomBytes(32)).toString('base64'));
    assert.equal(wrongNonce.res.status, 401);
    const unbound = await attestSession(() => quoteOver(new Uint8Array(64)));
    assert.equal(unbound.res.status, 401);
    assert.equal(await typeOf(unbound.res), 'AttestationFailed');
    // Attested with another signer: the policy refuses the resource.
    const other = await attestSession((rd) => {
      const out = new Uint8Array(64);
      out.set(createHash('sha256').update(rd).digest());
      return quoteOver(out, 'ef'.repeat(32));
    });
    assert.equal(other.res.status, 200);
    assert.equal((await fetch(`${url}/kbs/v0/resource/default/key/db`, { headers: { cookie: other.cookie } })).status, 403);
    // Every decision was audited.
    const audit = (await handle.broker.auditLog()) as { granted: boolean; detail: { via?: string } }[];
    assert.equal(audit.filter((a) => a.detail.via === 'kbs' && a.granted).length, 2);
    assert.equal(audit.filter((a) => a.detail.via === 'kbs' && !a.granted).length, 3);
  } finally {
    await handle?.close();
    rmSync(root, { recursive: true, force: true });
  }
});
