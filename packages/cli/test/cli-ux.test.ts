/**
 * The CLI's conventions, as a user meets them (real processes): usage errors exit 2 and are JSON with --json, `-`
 * reads standard input, system errors (EADDRINUSE, ENOENT, …) are one coded line with a hint and no stack trace,
 * expired collateral explains --now / --allow-expired-collateral, and the two node-agent roles do not collide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@cloister/testkit';
import { bin, run, type Run } from './run-cli.js';

const SAMPLE = join(repoRoot, 'examples', 'dcap', 'sgx-v3');
const SAMPLE_NOW = '2025-07-01T00:00:00Z';

/** The CLI with `input` on standard input. */
function runWithStdin(args: string[], input: Uint8Array | string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    // The CLI may stop reading early (an input over its bound): EPIPE is then expected.
    p.stdin.on('error', () => undefined);
    p.stdin.end(input);
  });
}

const noStack = (r: Run): void => assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m, 'no stack trace');

test('usage errors exit 2; with --json they are JSON on stdout and nothing else', async () => {
  const missing = await run(['verify', 'q.bin']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /required option '--collateral <file>' not specified/);
  assert.match(missing.stderr, /run with --help for usage/);

  const json = await run(['verify', 'q.bin', '--json']);
  assert.equal(json.code, 2);
  assert.equal(json.stderr, '');
  assert.deepEqual(JSON.parse(json.stdout), {
    ok: false,
    error: { code: 'USAGE', message: "required option '--collateral <file>' not specified" },
  });

  const unknown = await run(['quote', 'inspect', 'x', '--bogus', '--json']);
  assert.equal(unknown.code, 2);
  assert.equal((JSON.parse(unknown.stdout) as { error: { code: string } }).error.code, 'USAGE');

  assert.equal((await run(['no-such-command'])).code, 2);
  assert.equal((await run([])).code, 2); // no subcommand: help on stderr, a usage error
  assert.equal((await run(['quote'])).code, 2);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: cloister/);
  assert.equal((await run(['--version'])).stdout.trim(), '0.1.0');

  // A value the command cannot use is a usage error too.
  const badTime = await run(['verify', join(SAMPLE, 'quote.bin'), '--collateral', join(SAMPLE, 'collateral.json'), '--now', 'yesterday', '--json']);
  assert.equal(badTime.code, 2);
  assert.equal((JSON.parse(badTime.stdout) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
});

test('- reads a file argument from standard input (once)', async () => {
  const quote = readFileSync(join(SAMPLE, 'quote.bin'));
  const inspected = await runWithStdin(['quote', 'inspect', '-', '--json'], quote);
  assert.equal(inspected.code, 0, inspected.stderr);
  const fromFile = await run(['quote', 'inspect', join(SAMPLE, 'quote.bin'), '--json']);
  assert.deepEqual(JSON.parse(inspected.stdout), JSON.parse(fromFile.stdout));

  const collateral = readFileSync(join(SAMPLE, 'collateral.json'));
  const verified = await runWithStdin(['verify', join(SAMPLE, 'quote.bin'), '--collateral', '-', '--now', SAMPLE_NOW, '--json'], collateral);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  assert.equal((JSON.parse(verified.stdout) as { ok: boolean }).ok, true);

  const twice = await runWithStdin(['verify', '-', '--collateral', '-', '--json'], quote);
  assert.equal(twice.code, 2);
  assert.equal((JSON.parse(twice.stdout) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
});

test('a text quote over the size bound is refused before it is decoded', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024, 'a');
  const r = await runWithStdin(['quote', 'inspect', '-', '--json'], big);
  assert.equal(r.code, 1);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'INPUT_TOO_LARGE');
});

test('verify on the bundled sample without --now explains --now and --allow-expired-collateral', async () => {
  const r = await run(['verify', join(SAMPLE, 'quote.bin'), '--collateral', join(SAMPLE, 'collateral.json')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error SGX_[A-Z_]*EXPIRED: /m);
  assert.match(r.stderr, /^hint: .*--now <ISO time>.*--allow-expired-collateral/m);
  noStack(r);
  const json = await run(['verify', join(SAMPLE, 'quote.bin'), '--collateral', join(SAMPLE, 'collateral.json'), '--json']);
  const out = JSON.parse(json.stdout) as { error: { code: string; hint: string } };
  assert.match(out.error.hint, /--allow-expired-collateral/);
  // And with a time inside the window it verifies.
  const ok = await run(['verify', join(SAMPLE, 'quote.bin'), '--collateral', join(SAMPLE, 'collateral.json'), '--now', SAMPLE_NOW]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('system errors are one coded line with a hint: EADDRINUSE, ENOENT', async () => {
  const busy: Server = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'cloister-ux-'));
  try {
    const r = await run([
      'node-agent',
      '--simulate',
      '--epc-mib',
      '16',
      '--plugin-dir',
      join(dir, 'plugins'),
      '--state-dir',
      join(dir, 'state'),
      '--kubelet-socket',
      join(dir, 'kubelet.sock'),
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      String(port),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error EADDRINUSE: listen 127\\.0\\.0\\.1:${port}: address already in use$`, 'm'));
    assert.match(r.stderr, /^hint: another process is listening/m);
    noStack(r);

    const json = await run(['sim', 'init', join(dir, 'p'), '--json']);
    assert.equal(json.code, 0, json.stderr);
    const out = await run(['sim', 'root', '--platform', join(dir, 'p'), '--out', join(dir, 'no', 'such', 'dir', 'root.pem')]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /^error [A-Z_]+: .*ENOENT/m);
    noStack(out);
  } finally {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('node-agent: a quote-helper-only agent takes metrics port 9311 unless told, so both roles run side by side', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-qh-'));
  try {
    assert.equal((await run(['sim', 'init', join(dir, 'p')])).code, 0);
    const p = spawn(
      process.execPath,
      [bin, 'node-agent', '--quote-helper', '--no-device-plugin', '--simulate', '--aesm-socket', join(dir, 'aesm.socket'), '--platform-dir', join(dir, 'p'), '--metrics-host', '127.0.0.1'],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const listening = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve(''), 15_000);
      const onData = (d: Buffer): void => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('metrics and probes listening') || l.includes('EADDRINUSE'));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(line);
        }
      };
      p.stdout.on('data', onData);
      p.stderr.on('data', onData);
    });
    p.kill('SIGTERM');
    await new Promise((resolve) => p.once('close', resolve));
    // Either it listens on 9311, or 9311 is taken on this machine — then the error names 9311, not 9310.
    assert.match(listening, /"port":9311|127\.0\.0\.1:9311/, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
