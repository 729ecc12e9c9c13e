/**
 * The KEK's life on one platform: created and sealed (MRSIGNER) in the enclave; a stopped and restarted broker
 * unseals it and serves the same keys; an enclave of another signer cannot unseal it (the broker waits for
 * recovery and refuses releases); a same-signer upgrade (another MRENCLAVE) can. The host stores keys only wrapped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEnclave, signEnclaveDir } from '@cloister/enclave';
import { KeyBrokerError, openReleasedKey, prepareBrokerEnclave, startKeyBroker, type StartKeyBrokerOptions } from '../src/index.js';
import { makePlatform, sgxClaims, signingKeyFile, silentLogger, startAuthority } from './helpers.js';

test('restart unseals the same KEK; another signer cannot; a same-signer upgrade can', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kb-kek-'));
  const authority = await startAuthority();
  const handles: { close(): Promise<void> }[] = [];
  try {
    const platform = await makePlatform(join(root, 'platform'));
    const signer = signingKeyFile(join(root, 'signer.pem'));
    const v1 = await prepareBrokerEnclave({ dir: join(root, 'v1'), keyPath: signer });
    const base = (enclaveDir: string): StartKeyBrokerOptions => ({
      port: 0,
      storage: { dataDir: join(root, 'data') },
      authorities: [authority.url],
      adminToken: 'admin-token-0123456789abcdef',
      enclaveDir,
      platform,
      logger: silentLogger(),
    });
    const policy = { version: '1.0.0', anyOf: [{ authority: authority.url, allOf: [{ claim: 'x-ms-sgx-is-debuggable', equals: false }] }] };
    const enclaveKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await authority.mint(await sgxClaims(enclaveKey.publicKey));
    const releaseWith = async (h: Awaited<ReturnType<typeof startKeyBroker>>): Promise<Buffer> =>
      Buffer.from((await openReleasedKey((await h.broker.release(h.url, 'k', undefined, { target: token }, '7.4')).value, enclaveKey.privateKey)).material);

    const first = await startKeyBroker(base(v1.dir));
    handles.push(first);
    await first.broker.createKey(first.url, 'k', { kty: 'oct-HSM', key_size: 256, attributes: { exportable: true }, release_policy: { data: Buffer.from(JSON.stringify(policy)).toString('base64url') } });
    const released = await releaseWith(first);
    const kid = first.broker.signingJwk.kid;
    // What the host stores: the key only wrapped (AES-GCM under the KEK), never the released bytes.
    const stored = (await first.storage.query<{ wrapped: Uint8Array }>('SELECT wrapped FROM kb_keys')).rows[0]!.wrapped;
    assert.equal(Buffer.from(stored).indexOf(released), -1);
    assert.equal(stored.length, 12 + 32 + 16);
    await first.close();
    handles.pop();

    // Restarted (a new enclave process, the same platform and signer): the same KEK, the same key.
    const again = await startKeyBroker(base(v1.dir));
    handles.push(again);
    assert.equal(again.broker.state, 'ready');
    assert.equal(again.broker.signingJwk.kid, kid);
    assert.deepEqual(await releaseWith(again), released);
    const sealed = (await again.storage.query<{ blob: Uint8Array }>('SELECT blob FROM kb_sealed')).rows.map((r) => r.blob);
    assert.equal(sealed.length, 1);
    await again.close();
    handles.pop();

    // Another signer: the same code, another MRSIGNER — the sealed KEK does not open.
    const other = await prepareBrokerEnclave({ dir: join(root, 'other'), keyPath: signingKeyFile(join(root, 'other.pem')) });
    assert.notEqual(other.mrsigner, v1.mrsigner);
    assert.equal(other.mrenclave, v1.mrenclave);
    const foreign = await startKeyBroker(base(other.dir));
    handles.push(foreign);
    assert.equal(foreign.broker.state, 'awaiting-recovery');
    await assert.rejects(foreign.enclave.ecalls.open({ sealed: sealed[0]! }), (e: unknown) => typeof (e as { code?: unknown }).code === 'string');
    await assert.rejects(foreign.broker.release(foreign.url, 'k', undefined, { target: token }, '7.4'), (e: unknown) => KeyBrokerError.is(e, 'KekUnavailable'));
    assert.equal((await fetch(`${foreign.url}/readyz`)).status, 503);
    await foreign.close();
    handles.pop();

    // A same-signer upgrade (another MRENCLAVE, a higher SVN) unseals it: the MRSIGNER policy's design.
    const manifest = JSON.parse(readFileSync(join(v1.dir, 'enclave.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(v1.dir, 'enclave.json'), JSON.stringify({ ...manifest, heapSizeMiB: 112, securityVersion: 2 }));
    await buildEnclave(v1.dir);
    const upgraded = await signEnclaveDir(v1.dir, { keyPath: signer });
    assert.notEqual(upgraded.mrenclave, v1.mrenclave);
    assert.equal(upgraded.mrsigner, v1.mrsigner);
    const v2 = await startKeyBroker(base(v1.dir));
    handles.push(v2);
    assert.equal(v2.broker.state, 'ready');
    assert.equal(v2.broker.signingJwk.kid, kid);
    assert.deepEqual(await releaseWith(v2), released);
  } finally {
    for (const h of handles) await h.close();
    await authority.close();
    rmSync(root, { recursive: true, force: true });
  }
});
