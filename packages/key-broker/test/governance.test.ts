/**
 * M-of-N governance on a running broker: below threshold nothing changes, at threshold it does; forged, replayed,
 * misdirected and removed-member ballots are refused; the AKV write path is closed while governance is on; the
 * ledger and each receipt verify offline, and flipping any byte of any exported entry breaks verification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import {
  KeyBrokerError,
  LedgerVerificationError,
  memberOf,
  openReleasedKey,
  prepareBrokerEnclave,
  signBallot,
  signProposal,
  startKeyBroker,
  verifyLedger,
  verifyReceipt,
  type Action,
} from '../src/index.js';
import { makePlatform, sgxClaims, signingKeyFile, silentLogger, startAuthority } from './helpers.js';

function code(c: string): (e: unknown) => boolean {
  return (e: unknown) => KeyBrokerError.is(e) && e.code === c;
}

test('governance: threshold, forged/replayed/removed ballots, ledger verification and byte flips', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kb-gov-'));
  const authority = await startAuthority();
  let handle: Awaited<ReturnType<typeof startKeyBroker>> | undefined;
  try {
    const members = [0, 1, 2].map(() => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
    const [a, b, c] = members as [(typeof members)[0], (typeof members)[0], (typeof members)[0]];
    const outsider = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwks = await Promise.all(members.map(async (m) => exportJWK(m.publicKey)));
    const kids = await Promise.all(jwks.map(async (j) => (await memberOf(j)).kid));
    const prepared = await prepareBrokerEnclave({ dir: join(root, 'enclave'), keyPath: signingKeyFile(join(root, 'signer.pem')) });
    handle = await startKeyBroker({
      port: 0,
      storage: { memory: true },
      authorities: [authority.url],
      adminToken: 'admin-token-0123456789abcdef',
      enclaveDir: prepared.dir,
      platform: await makePlatform(join(root, 'platform')),
      governance: { members: jwks, threshold: 2 },
      logger: silentLogger(),
    });
    const broker = handle.broker;
    const vault = handle.url;

    // The AKV write path is closed.
    await assert.rejects(broker.createKey(vault, 'direct', { kty: 'oct-HSM' }), code('GovernanceEnabled'));

    const policy = { version: '1.0.0', anyOf: [{ authority: authority.url, allOf: [{ claim: 'x-ms-sgx-mrsigner', equals: 'bb'.repeat(32) }] }] };
    const create: Action[] = [{ type: 'create_key', name: 'db-password', kty: 'oct-HSM', key_size: 256, release_policy: policy }];
    const p1 = await broker.propose(await signProposal(create, a.privateKey));
    assert.equal(p1.state, 'open');
    // The same signed proposal again is a replay.
    const p1Jws = await signProposal(create, a.privateKey, 'fixed-nonce-1');
    await broker.propose(p1Jws);
    await assert.rejects(broker.propose(p1Jws), code('Conflict'));
    // An outsider cannot propose.
    await assert.rejects(broker.propose(await signProposal(create, outsider.privateKey)), code('MemberUnknown'));

    // Below threshold: nothing changes.
    let v = await broker.vote(p1.id, await signBallot(p1.id, 'accept', a.privateKey));
    assert.equal(v.state, 'open');
    await assert.rejects(broker.getKey(vault, 'db-password'), code('KeyNotFound'));
    // Replayed ballot (the same member again, even re-signed).
    await assert.rejects(broker.vote(p1.id, await signBallot(p1.id, 'accept', a.privateKey)), code('BallotReplayed'));
    // Forged: the outsider signs under member b's kid.
    const forged = await signBallot(p1.id, 'accept', outsider.privateKey);
    const [fh, fp, fs] = forged.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(fh, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forgedB = `${Buffer.from(JSON.stringify({ ...header, kid: kids[1] })).toString('base64url')}.${fp}.${fs}`;
    await assert.rejects(broker.vote(p1.id, forgedB), code('BallotSignatureInvalid'));
    // A ballot for another proposal does not count here.
    await assert.rejects(broker.vote(p1.id, await signBallot('00'.repeat(32), 'accept', b.privateKey)), code('BallotInvalid'));
    assert.equal((await broker.proposal(p1.id)).ballots.length, 1);

    // At threshold it is enacted.
    v = await broker.vote(p1.id, await signBallot(p1.id, 'accept', b.privateKey));
    assert.equal(v.state, 'enacted');
    const key = await broker.getKey(vault, 'db-password');
    assert.equal(key.attributes['exportable'], true);
    await assert.rejects(broker.vote(p1.id, await signBallot(p1.id, 'accept', c.privateKey)), code('ProposalNotOpen'));

    // The governed key releases like any other.
    const enclaveKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await authority.mint(await sgxClaims(enclaveKey.publicKey));
    const r1 = await broker.release(vault, 'db-password', undefined, { target: token }, '7.4');
    const m1 = (await openReleasedKey(r1.value, enclaveKey.privateKey, broker.signingJwk)).material;
    assert.equal(m1.length, 32);

    // Rotate: a new version, a different key.
    const rot = await broker.propose(await signProposal([{ type: 'rotate_key', name: 'db-password' }], b.privateKey));
    await broker.vote(rot.id, await signBallot(rot.id, 'accept', b.privateKey));
    await broker.vote(rot.id, await signBallot(rot.id, 'accept', c.privateKey));
    const m2 = (await openReleasedKey((await broker.release(vault, 'db-password', undefined, { target: token }, '7.4')).value, enclaveKey.privateKey)).material;
    assert.notDeepEqual(Buffer.from(m2), Buffer.from(m1));

    // c signs a ballot for a pending proposal, then is removed: its ballot no longer counts.
    const pending = await broker.propose(await signProposal([{ type: 'delete_key', name: 'db-password' }], a.privateKey));
    const cBallot = await signBallot(pending.id, 'accept', c.privateKey);
    const rm = await broker.propose(await signProposal([{ type: 'remove_member', kid: kids[2]! }], a.privateKey));
    await broker.vote(rm.id, await signBallot(rm.id, 'accept', a.privateKey));
    assert.equal((await broker.vote(rm.id, await signBallot(rm.id, 'accept', b.privateKey))).state, 'enacted');
    assert.deepEqual((await broker.members()).members.map((m) => m.kid).sort(), [kids[0], kids[1]].sort());
    await assert.rejects(broker.vote(pending.id, cBallot), code('MemberUnknown'));
    assert.equal((await broker.proposal(pending.id)).state, 'open');
    await assert.rejects(broker.recoveryShare(kids[2]!), code('MemberUnknown'));
    assert.equal((await broker.recoveryShare(kids[0]!)).threshold, 2);
    // A threshold above the member count is refused at enactment (nothing changes).
    const bad = await broker.propose(await signProposal([{ type: 'set_threshold', threshold: 3 }], a.privateKey));
    await broker.vote(bad.id, await signBallot(bad.id, 'accept', a.privateKey));
    await assert.rejects(broker.vote(bad.id, await signBallot(bad.id, 'accept', b.privateKey)), code('ProposalInvalid'));
    assert.equal((await broker.members()).threshold, 2);

    // The ledger over HTTP verifies offline with the broker's key; every receipt alone too.
    const res = await fetch(`${handle.url}/governance/ledger`);
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const text = await res.text();
    const summary = verifyLedger(text, broker.signingJwk);
    const lines = text.trimEnd().split('\n');
    assert.equal(summary.entries, lines.length);
    const types = lines.map((l) => (JSON.parse((JSON.parse(l) as { entry: string }).entry) as { type: string }).type);
    assert.equal(types[0], 'genesis');
    assert.ok(types.includes('enacted') && types.includes('ballot') && types.includes('proposal'));
    const receipt = (await (await fetch(`${handle.url}/governance/ledger/3`)).json()) as { entry: string; hash: string; sig: string };
    assert.equal(verifyReceipt(receipt, broker.signingJwk).seq, 3);
    // Another key does not verify it.
    const otherKey = (await exportJWK(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey)) as JsonWebKey;
    assert.throws(() => verifyReceipt(receipt, otherKey), (e: unknown) => e instanceof LedgerVerificationError && e.rule === 'signature');

    // Flip every byte of every entry line (first 3 entries in full, then a sample of each later line): each breaks it.
    const bytes = Buffer.from(text);
    const offsets: number[] = [];
    let pos = 0;
    lines.forEach((l, i) => {
      const len = Buffer.byteLength(l);
      const step = i < 3 ? 1 : Math.max(1, Math.floor(len / 64));
      for (let k = 0; k < len; k += step) offsets.push(pos + k);
      pos += len + 1;
    });
    for (const off of offsets) {
      const copy = Buffer.from(bytes);
      copy[off] = copy[off]! ^ 0x01;
      assert.throws(() => verifyLedger(copy.toString('latin1'), broker.signingJwk), (e: unknown) => e instanceof LedgerVerificationError, `flip at ${off}`);
    }
    // Dropping or reordering entries breaks the chain.
    assert.throws(() => verifyLedger(lines.slice(1).join('\n'), broker.signingJwk), LedgerVerificationError);
    assert.throws(() => verifyLedger([lines[0], lines[2], lines[1], ...lines.slice(3)].join('\n'), broker.signingJwk), LedgerVerificationError);
  } finally {
    await handle?.close();
    await authority.close();
    rmSync(root, { recursive: true, force: true });
  }
});
