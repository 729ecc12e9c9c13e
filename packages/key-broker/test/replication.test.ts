/**
 * A KEK bound to one platform reaches other replicas two ways, on one PostgreSQL database:
 * - over mutually attested TLS ending in both enclaves: a replica on another platform joins a running broker and
 *   serves the same keys; a replica of another signer is refused by the running broker's identity policy;
 * - from the members' M-of-N recovery shares when no replica runs: re-encrypted by the members to the recovering
 *   enclave's attested key; fewer than the threshold recover nothing.
 * A client verifies the broker itself on its attested TLS port (RA-TLS certificate made in the enclave).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { execFile } from 'node:child_process';
import { get } from 'node:https';
import { promisify } from 'node:util';
import { repoRoot } from '@cloister/testkit';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import { serializeCollateralBundle, trustAnchorFromCertificate } from '@cloister/dcap';
import { buildEnclave, signEnclaveDir, verifyEvidence } from '@cloister/enclave';
import { attestedHttpsAgent } from '@cloister/ratls';
import { createLogger } from '@cloister/service-kit';
import { startTestPostgres } from '@cloister/storage/testing';
import { KeyBrokerError, verifyLedger, memberOf, openReleasedKey, prepareBrokerEnclave, reencryptShare, signBallot, signProposal, startKeyBroker, type KeyBrokerHandle, type StartKeyBrokerOptions } from '../src/index.js';
import { makePlatform, platformCollateral, platformRootPem, sgxClaims, signingKeyFile, silentLogger, startAuthority } from './helpers.js';

const BIN = join(repoRoot, 'packages', 'cli', 'dist', 'src', 'bin.js');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

function httpsGet(url: string, agent: import('node:https').Agent, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

test('KEK to a replica over mutually attested TLS; recovery from member shares; attested API', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kb-repl-'));
  const authority = await startAuthority();
  const pg = await startTestPostgres();
  const handles: KeyBrokerHandle[] = [];
  try {
    const [p1, p2, p3, p4] = await Promise.all([1, 2, 3, 4].map((i) => makePlatform(join(root, `platform${i}`))));
    const signer = signingKeyFile(join(root, 'signer.pem'));
    const prepared = await prepareBrokerEnclave({ dir: join(root, 'enclave'), keyPath: signer });
    const members = [0, 1, 2].map(() => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
    const jwks = await Promise.all(members.map((m) => exportJWK(m.publicKey)));
    const kids = await Promise.all(jwks.map(async (j) => (await memberOf(j)).kid));
    // Every broker trusts the simulated roots of the three platforms and fetches a peer's collateral by its root.
    const roots = await Promise.all([p1!, p2!, p3!, p4!].map((p) => platformRootPem(p)));
    const collaterals = await Promise.all([p1!, p2!, p3!, p4!].map((p) => platformCollateral(p)));
    const peer = { trustRootsPem: roots, evidenceRules: { allowSimulated: true } };
    let collateralFor = 0;
    const options = (platform: string, enclaveDir: string, extra: Partial<StartKeyBrokerOptions> = {}): StartKeyBrokerOptions => ({
      port: 0,
      attestedPort: 0,
      storage: { databaseUrl: pg.url },
      authorities: [authority.url],
      adminToken: 'admin-token-0123456789abcdef',
      enclaveDir,
      platform,
      peer,
      collateral: async () => collaterals[collateralFor]!,
      governance: { members: jwks, threshold: 2 },
      logger: silentLogger(),
      ...extra,
    });

    const b1Log: string[] = [];
    const b1 = await startKeyBroker(options(p1!, prepared.dir, { logger: createLogger({ component: 'kb-test', level: 'info', destination: { write: (line: string) => void b1Log.push(line) } }) }));
    handles.push(b1);
    const policy = { version: '1.0.0', anyOf: [{ authority: authority.url, allOf: [{ claim: 'x-ms-sgx-product-id', equals: 1 }] }] };
    const p = await b1.broker.propose(await signProposal([{ type: 'create_key', name: 'shared', kty: 'RSA-HSM', key_size: 2048, release_policy: policy }], members[0]!.privateKey));
    await b1.broker.vote(p.id, await signBallot(p.id, 'accept', members[0]!.privateKey));
    assert.equal((await b1.broker.vote(p.id, await signBallot(p.id, 'accept', members[1]!.privateKey))).state, 'enacted');
    const enclaveKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await authority.mint(await sgxClaims(enclaveKey.publicKey));
    const releaseFrom = async (h: KeyBrokerHandle): Promise<Buffer> =>
      Buffer.from((await openReleasedKey((await h.broker.release(h.url, 'shared', undefined, { target: token }, '7.4')).value, enclaveKey.privateKey)).material);
    const material = await releaseFrom(b1);

    // A client verifies the broker's enclave on the attested port, then uses the API through it.
    const verifyOptions = { trustRoots: [trustAnchorFromCertificate(roots[0]!)], collateral: collaterals[0]! };
    const agent = attestedHttpsAgent({ policy: { mrsigner: prepared.mrsigner, isvProdId: 13, allowSimulated: true }, verifyOptions });
    const attestedUrl = `https://127.0.0.1:${b1.attested!.port}`;
    const members1 = await httpsGet(`${attestedUrl}/governance/members`, agent);
    assert.equal(members1.status, 200);
    assert.equal((JSON.parse(members1.body) as { threshold: number }).threshold, 2);
    const key = await httpsGet(`${attestedUrl}/keys/shared?api-version=7.4`, agent, { authorization: 'Bearer admin-token-0123456789abcdef' });
    assert.equal(key.status, 200);
    assert.match((JSON.parse(key.body) as { key: { kid: string } }).key.kid, /^https:\/\/127\.0\.0\.1:\d+\/keys\/shared\//);
    const wrongPolicy = attestedHttpsAgent({ policy: { mrsigner: 'ab'.repeat(32), isvProdId: 13, allowSimulated: true }, verifyOptions });
    await assert.rejects(httpsGet(`${attestedUrl}/healthz`, wrongPolicy), (e: unknown) => (e as { code?: string }).code === 'POLICY_MISMATCH');
    agent.destroy();
    wrongPolicy.destroy();

    // A replica on platform 2 joins b1 over mutually attested TLS: the same KEK, sealed on its own platform.
    // b1's enclave verifies the platform-2 enclave (b1's host answers with platform 2's collateral); b2's enclave
    // verifies b1's (platform 1).
    collateralFor = 1;
    const b2 = await startKeyBroker(
      options(p2!, prepared.dir, {
        join: { host: '127.0.0.1', port: b1.attested!.port },
        collateral: async () => collaterals[0]!,
      }),
    );
    handles.push(b2);
    assert.equal(b2.broker.signingJwk.kid, b1.broker.signingJwk.kid);
    assert.deepEqual(await releaseFrom(b2), material);
    assert.equal((await b2.storage.query('SELECT 1 FROM kb_sealed')).rows.length, 2);

    collateralFor = 2;
    const otherSigner = await prepareBrokerEnclave({ dir: join(root, 'other'), keyPath: signingKeyFile(join(root, 'other.pem')) });
    // A replica of another signer gets nothing: the identity policy (same MRSIGNER) holds on both ends, and the
    // joining enclave refuses b1 first (b1's signer is not its own). It waits (not ready), retrying.
    const joinerLog: string[] = [];
    const logTo = (lines: string[]) => createLogger({ component: 'kb-test', level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    const foreign = await startKeyBroker(options(p3!, otherSigner.dir, { join: { host: '127.0.0.1', port: b1.attested!.port }, joinRetryMs: 60_000, collateral: async () => collaterals[0]!, logger: logTo(joinerLog) }));
    assert.equal(foreign.broker.state, 'awaiting-recovery');
    await foreign.close();
    const foreignWarn = joinerLog.map((l) => JSON.parse(l) as { msg?: string; code?: string; reason?: string }).find((l) => /could not take the key-encryption key/.test(l.msg ?? ''));
    assert.equal(foreignWarn?.code, 'POLICY_MISMATCH');
    assert.match(foreignWarn?.reason ?? '', /mrsigner/);
    assert.equal(b1Log.filter((l) => l.includes('KEK sent to a replica')).length, 1);
    // A same-signer enclave with a lower SVN accepts b1, but b1's enclave refuses it (minIsvSvn is b1's own SVN).
    const old = await prepareBrokerEnclave({ dir: join(root, 'old'), keyPath: signer });
    const manifest = JSON.parse(readFileSync(join(old.dir, 'enclave.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(old.dir, 'enclave.json'), JSON.stringify({ ...manifest, securityVersion: 0 }));
    await buildEnclave(old.dir);
    await signEnclaveDir(old.dir, { keyPath: signer });
    const oldLog: string[] = [];
    const older = await startKeyBroker(options(p3!, old.dir, { join: { host: '127.0.0.1', port: b1.attested!.port }, joinRetryMs: 60_000, collateral: async () => collaterals[0]!, logger: logTo(oldLog) }));
    assert.equal(older.broker.state, 'awaiting-recovery');
    await older.close();
    assert.ok(oldLog.some((l) => l.includes('"code":"TRANSFER_FAILED"')));
    const refusal = b1Log.map((l) => JSON.parse(l) as { msg?: string; code?: string; rule?: string }).filter((l) => l.msg === 'KEK transfer refused').at(-1);
    assert.equal(refusal?.code, 'POLICY_MISMATCH');
    assert.equal(refusal?.rule, 'isvSvn');

    // No replica running: a broker on platform 3 waits for recovery.
    for (const h of handles.splice(0)) await h.close();
    const b3 = await startKeyBroker(options(p3!, prepared.dir));
    handles.push(b3);
    assert.equal(b3.broker.state, 'awaiting-recovery');
    // A replica on platform 4 asks b3 for the KEK while b3 has none: it waits and retries.
    collateralFor = 3;
    const b4Log: string[] = [];
    const b4 = await startKeyBroker(options(p4!, prepared.dir, { join: { host: '127.0.0.1', port: b3.attested!.port }, joinRetryMs: 300, collateral: async () => collaterals[2]!, logger: logTo(b4Log) }));
    handles.push(b4);
    assert.equal(b4.broker.state, 'awaiting-recovery');
    // The operator starts the recovery with the CLI.
    writeFileSync(join(root, 'admin'), 'admin-token-0123456789abcdef\n');
    const started = await cli(['kb', 'recovery', 'start', '--url', b3.url, '--admin-token-file', join(root, 'admin'), '--json']);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    const rk = b3.broker.currentRecoveryKey();
    assert.equal((JSON.parse(started.stdout) as { recoveryKey: string }).recoveryKey, rk.jwk.kid);
    // Each member verifies the recovery key's quote: the broker's signer, REPORTDATA = SHA-256(thumbprint).
    const evidence = await verifyEvidence(rk.quote, { mrsigner: prepared.mrsigner, isvProdId: 13, allowSimulated: true, reportData: createHash('sha256').update(rk.jwk.kid).digest('hex') }, {
      collateral: collaterals[2]!,
      trustAnchors: [trustAnchorFromCertificate(roots[2]!)],
    });
    assert.equal(evidence.identity.mrsigner, prepared.mrsigner);
    const shareOf = async (i: number): Promise<string> => reencryptShare((await b3.broker.recoveryShare(kids[i]!)).share, members[i]!.privateKey, rk.jwk);
    // One share (below the threshold of 2) recovers nothing.
    await assert.rejects(b3.broker.recover([await shareOf(0)]), (e: unknown) => KeyBrokerError.is(e, 'BadParameter') && /SHARES_INSUFFICIENT/.test(e.message));
    assert.equal(b3.broker.state, 'awaiting-recovery');
    // A member's share not re-encrypted to the recovery key is refused.
    await assert.rejects(b3.broker.recover([(await b3.broker.recoveryShare(kids[0]!)).share, await shareOf(1)]), (e: unknown) => KeyBrokerError.is(e, 'BadParameter') && /SHARE_INVALID/.test(e.message));
    // Member 0 uses the CLI: it verifies the recovery key's quote, then re-encrypts its share; a wrong MRSIGNER stops it.
    writeFileSync(join(root, 'm0.pem'), members[0]!.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(join(root, 'collateral3.json'), serializeCollateralBundle(collaterals[2] as Parameters<typeof serializeCollateralBundle>[0]));
    writeFileSync(join(root, 'root3.pem'), roots[2]!);
    const shareArgs = ['kb', 'recovery', 'share', '--url', b3.url, '--key', join(root, 'm0.pem'), '--collateral', join(root, 'collateral3.json'), '--trust-root', join(root, 'root3.pem'), '--allow-simulated'];
    const wrongSigner = await cli([...shareArgs, '--mrsigner', 'ab'.repeat(32), '--out', join(root, 'share0'), '--json']);
    assert.equal(wrongSigner.code, 1);
    assert.equal((JSON.parse(wrongSigner.stdout) as { error: { code: string } }).error.code, 'POLICY_MISMATCH');
    const shared = await cli([...shareArgs, '--mrsigner', prepared.mrsigner, '--out', join(root, 'share0'), '--json']);
    assert.equal(shared.code, 0, shared.stdout + shared.stderr);
    writeFileSync(join(root, 'share2'), await shareOf(2));
    const submitted = await cli(['kb', 'recovery', 'submit', join(root, 'share0'), join(root, 'share2'), '--url', b3.url, '--admin-token-file', join(root, 'admin'), '--json']);
    assert.equal(submitted.code, 0, submitted.stdout + submitted.stderr);
    assert.equal(b3.broker.state, 'ready');
    assert.deepEqual(await releaseFrom(b3), material);
    // b4's next attempt gets the recovered KEK from b3.
    const stateOf = (h: KeyBrokerHandle): string => h.broker.state;
    for (let i = 0; i < 100 && stateOf(b4) !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
    if (stateOf(b4) !== 'ready') console.error(b4Log.slice(-3).join(''));
    assert.equal(stateOf(b4), 'ready');
    assert.deepEqual(await releaseFrom(b4), material);
    // The KEK's arrivals are in the ledger, which still verifies end to end.
    const ledger = (await b4.broker.ledger()).map((l) => JSON.stringify(l)).join('\n');
    verifyLedger(ledger, b4.broker.signingJwk);
    const types = (await b4.broker.ledger()).map((l) => (JSON.parse(l.entry) as { type: string }).type);
    assert.deepEqual(types.filter((t) => t.startsWith('kek_')), ['kek_joined', 'kek_recovered', 'kek_joined']);
  } finally {
    for (const h of handles) await h.close();
    await authority.close();
    await pg.destroy();
    rmSync(root, { recursive: true, force: true });
  }
});
