/**
 * End to end with Cloister's attestation service: a simulated enclave makes an RSA key inside, puts its public half
 * in JSON runtime data and quotes over it; the attestation service (MAA API) issues the token; @azure/keyvault-keys
 * asks the broker to release a key with that token; the released key is opened inside the enclave, with the private
 * key that never left it, and equals the imported key. A token of another enclave signer is refused by the policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyClient } from '@azure/keyvault-keys';
import { serializeCollateralBundle } from '@cloister/dcap';
import { buildEnclave, createEnclave, signEnclaveDir, type EcallHandler, type EnclaveDefinition } from '@cloister/enclave';
import { startAttestationService } from '@cloister/attestation-service';
import { prepareBrokerEnclave, startKeyBroker } from '../src/index.js';
import { makePlatform, platformCollateral, platformRootPem, signingKeyFile, silentLogger } from './helpers.js';

type ClientEnclave = EnclaveDefinition<{
  prepare: EcallHandler<undefined, { runtime: Uint8Array; quote: Uint8Array }>;
  open: EcallHandler<{ value: string }, string>;
}>;

// The workload enclave: its wrapping key is made and used inside; it reports only a hash of what it received.
const CLIENT_SOURCE = `import { defineEnclave } from '@cloister/enclave/runtime';
import { constants, createDecipheriv, createHash, createPublicKey, generateKeyPairSync, privateDecrypt } from 'node:crypto';
let key;
export default defineEnclave({ ecalls: {
  async prepare(_a, ctx) {
    key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    const runtime = new TextEncoder().encode(JSON.stringify({ keys: [{ ...jwk, kid: 'workload', key_ops: ['encrypt'] }] }));
    const rd = new Uint8Array(64);
    rd.set(createHash('sha256').update(runtime).digest());
    return { runtime, quote: await ctx.getQuote(rd) };
  },
  async open(args) {
    const payload = JSON.parse(Buffer.from(args.value.split('.')[1], 'base64url').toString());
    const hsm = JSON.parse(Buffer.from(payload.response.key.key.key_hsm, 'base64url').toString());
    const ct = Buffer.from(hsm.ciphertext, 'base64url');
    const hash = { CKM_RSA_AES_KEY_WRAP: 'sha1', RSA_AES_KEY_WRAP_256: 'sha256', RSA_AES_KEY_WRAP_384: 'sha384' }[hsm.header.enc];
    const aes = privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ct.subarray(0, 256));
    const d = createDecipheriv('id-aes256-wrap-pad', aes, Buffer.from('a65959a6', 'hex'));
    const material = Buffer.concat([d.update(ct.subarray(256)), d.final()]);
    return createHash('sha256').update(material).digest('hex');
  },
} });
`;

async function clientEnclave(root: string, name: string, keyPath: string): Promise<{ dir: string; mrsigner: string }> {
  const dir = join(root, name);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'enclave.json'), JSON.stringify({ name, entry: 'src/enclave.ts', heapSizeMiB: 32, debug: false, productId: 3, securityVersion: 1 }));
  writeFileSync(join(dir, 'src', 'enclave.ts'), CLIENT_SOURCE);
  await buildEnclave(dir);
  const signed = await signEnclaveDir(dir, { keyPath });
  return { dir, mrsigner: signed.mrsigner };
}

test('a token from the attestation service for a simulated enclave releases the key into that enclave', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kb-e2e-'));
  const platform = await makePlatform(join(root, 'platform'));
  const attestation = await startAttestationService({
    allowSimulated: true,
    trustRoots: [await platformRootPem(platform)],
    collateral: [serializeCollateralBundle((await platformCollateral(platform)) as Parameters<typeof serializeCollateralBundle>[0])],
    keyEncryptionKey: 'attestation-kek-0123456789abcdef',
    logLevel: 'silent',
  });
  const enclaves: { terminate(): Promise<void> }[] = [];
  let broker: Awaited<ReturnType<typeof startKeyBroker>> | undefined;
  try {
    const issuer = attestation.simulatedIssuer!;
    const workload = await clientEnclave(root, 'workload', signingKeyFile(join(root, 'workload.pem')));
    const intruder = await clientEnclave(root, 'intruder', signingKeyFile(join(root, 'intruder.pem')));
    const prepared = await prepareBrokerEnclave({ dir: join(root, 'broker'), keyPath: signingKeyFile(join(root, 'broker.pem')) });
    broker = await startKeyBroker({ port: 0, storage: { memory: true }, authorities: [issuer], adminToken: 'admin-token-0123456789abcdef', enclaveDir: prepared.dir, platform, logger: silentLogger() });

    const client = new KeyClient(broker.url, { getToken: async () => ({ token: 'admin-token-0123456789abcdef', expiresOnTimestamp: Date.now() + 3_600_000 }) }, {
      allowInsecureConnection: true,
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 0 },
    });
    const policy = {
      version: '1.0.0',
      anyOf: [{ authority: issuer, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sgx' }, { claim: 'x-ms-sgx-mrsigner', equals: workload.mrsigner }, { claim: 'x-ms-sgx-is-debuggable', equals: false }] }],
    };
    const secret = randomBytes(32);
    await client.importKey('workload-key', { kty: 'oct-HSM', k: new Uint8Array(secret) }, { exportable: true, releasePolicy: { encodedPolicy: new TextEncoder().encode(JSON.stringify(policy)) } });

    const tokenFor = async (dir: string): Promise<{ token: string; enclave: Awaited<ReturnType<typeof createEnclave<ClientEnclave>>> }> => {
      const enclave = await createEnclave<ClientEnclave>(dir, { platform });
      enclaves.push(enclave);
      const { runtime, quote } = await enclave.ecalls.prepare(undefined);
      const res = await fetch(`${issuer}/attest/SgxEnclave?api-version=2022-08-01`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ quote: Buffer.from(quote).toString('base64url'), runtimeData: { data: Buffer.from(runtime).toString('base64url'), dataType: 'JSON' } }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return { token: ((await res.json()) as { token: string }).token, enclave };
    };

    const { token, enclave } = await tokenFor(workload.dir);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.equal(claims['x-ms-sgx-mrsigner'], workload.mrsigner);
    assert.ok(Array.isArray((claims['x-ms-runtime'] as { keys?: unknown }).keys));
    const released = await client.releaseKey('workload-key', token, { algorithm: 'RSA_AES_KEY_WRAP_384' });
    assert.equal(await enclave.ecalls.open({ value: released.value }), createHash('sha256').update(secret).digest('hex'));

    const other = await tokenFor(intruder.dir);
    await assert.rejects(client.releaseKey('workload-key', other.token), (e: unknown) => (e as { code?: string }).code === 'ReleasePolicyNotSatisfied' && /x-ms-sgx-mrsigner/.test((e as Error).message));
  } finally {
    for (const e of enclaves) await e.terminate();
    await broker?.close();
    await attestation.close();
    rmSync(root, { recursive: true, force: true });
  }
});
