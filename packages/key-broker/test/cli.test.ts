/**
 * The CLI end to end on real processes: `cloister key-broker serve` (plain HTTP on loopback, embedded storage,
 * members), then `cloister kb propose` / `vote` to create a key, `kb release` to release and open it with the
 * token's key, and `kb ledger verify` of the export (and of a tampered copy: exit 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK } from 'jose';
import { repoRoot } from '@cloister/testkit';
import { sgxClaims, startAuthority } from './helpers.js';

const BIN = join(repoRoot, 'packages', 'cli', 'dist', 'src', 'bin.js');
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

test('key-broker serve, kb propose/vote/release/ledger verify', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kb-cli-'));
  const authority = await startAuthority();
  const members = [0, 1].map(() => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
  members.forEach((m, i) => writeFileSync(join(root, `m${i}.pem`), m.privateKey.export({ format: 'pem', type: 'pkcs8' })));
  writeFileSync(join(root, 'members.json'), JSON.stringify({ members: await Promise.all(members.map((m) => exportJWK(m.publicKey))), threshold: 2 }));
  writeFileSync(join(root, 'admin'), 'admin-token-0123456789abcdef\n');
  const server = spawn(process.execPath, [BIN, 'key-broker', 'serve', '--host', '127.0.0.1', '--port', '0', '--data', join(root, 'data'), '--authority', authority.url, '--members', join(root, 'members.json'), '--admin-token-file', join(root, 'admin'), '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`no listening line: ${buf}`)), 90_000);
      server.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(buf);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      server.once('exit', (code) => reject(new Error(`server exited ${code}: ${buf}`)));
    });
    // Usage errors exit 2.
    assert.equal((await cli(['key-broker', 'serve', '--data', root, '--database-url', 'postgres://x', '--authority', authority.url])).code, 2);
    assert.equal((await cli(['kb', 'vote', 'nothex', '--url', url, '--key', join(root, 'm0.pem')])).code, 2);

    const policy = { version: '1.0.0', anyOf: [{ authority: authority.url, allOf: [{ claim: 'x-ms-sgx-is-debuggable', equals: false }] }] };
    const actions = JSON.stringify([{ type: 'create_key', name: 'tls-key', kty: 'EC-HSM', crv: 'P-256', release_policy: policy }]);
    const proposed = await cli(['kb', 'propose', '--url', url, '--key', join(root, 'm0.pem'), '--actions', actions, '--json']);
    assert.equal(proposed.code, 0, proposed.stderr + proposed.stdout);
    const id = (JSON.parse(proposed.stdout) as { proposal: { id: string } }).proposal.id;
    const v1 = await cli(['kb', 'vote', id, '--url', url, '--key', join(root, 'm0.pem')]);
    assert.equal(v1.code, 0, v1.stderr);
    assert.match(v1.stdout, /state\s+open/);
    const v2 = await cli(['kb', 'vote', id, '--url', url, '--key', join(root, 'm1.pem')]);
    assert.match(v2.stdout, /state\s+enacted/);
    const replay = await cli(['kb', 'vote', id, '--url', url, '--key', join(root, 'm1.pem'), '--json']);
    assert.equal(replay.code, 1);
    assert.equal((JSON.parse(replay.stdout) as { error: { code: string } }).error.code, 'ProposalNotOpen');

    const enclaveKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(root, 'enclave.pem'), enclaveKey.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(join(root, 'token.jwt'), await authority.mint(await sgxClaims(enclaveKey.publicKey)));
    const released = await cli(['kb', 'release', 'tls-key', '--url', url, '--token', join(root, 'token.jwt'), '--key', join(root, 'enclave.pem'), '--enc', 'RSA_AES_KEY_WRAP_256', '--out', join(root, 'released.pem'), '--json']);
    assert.equal(released.code, 0, released.stderr + released.stdout);
    assert.match(readFileSync(join(root, 'released.pem'), 'utf8'), /BEGIN PRIVATE KEY/);
    writeFileSync(join(root, 'debug.jwt'), await authority.mint(await sgxClaims(enclaveKey.publicKey, { debug: true })));
    const refused = await cli(['kb', 'release', 'tls-key', '--url', url, '--token', join(root, 'debug.jwt'), '--key', join(root, 'enclave.pem')]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ReleasePolicyNotSatisfied/);

    const exported = await cli(['kb', 'ledger', '--url', url, '--out', join(root, 'ledger.jsonl')]);
    assert.equal(exported.code, 0, exported.stderr);
    const verified = await cli(['kb', 'ledger', 'verify', join(root, 'ledger.jsonl'), '--url', url, '--json']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { entries: number }).entries, 5);
    const text = readFileSync(join(root, 'ledger.jsonl'), 'utf8');
    writeFileSync(join(root, 'tampered.jsonl'), text.replace('"vote\\":\\"accept', '"vote\\":\\"accepT'));
    const broken = await cli(['kb', 'ledger', 'verify', join(root, 'tampered.jsonl'), '--url', url]);
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /NOT verified/);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await authority.close();
    rmSync(root, { recursive: true, force: true });
  }
});
