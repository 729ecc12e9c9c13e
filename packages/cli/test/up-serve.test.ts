/**
 * `cloister up --serve` keeps the stack up until Ctrl-C; SIGINT then stops every enclave and server (no process of
 * the run is left) and removes the temporary directory, and the command exits 0. A SIGINT in the middle of the steps
 * does the same and exits 130.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '@cloister/testkit';
import { bin } from './run-cli.js';

/** Every process below `pid` (children, grandchildren, …), from `ps`. */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of rows) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `cloister up ARGS`; `until(re)` waits for stdout to match (or the process to end). */
function start(args: string[]) {
  const p = spawn(process.execPath, [bin, 'up', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const io = { stdout: '', stderr: '' };
  p.stdout.on('data', (d: Buffer) => (io.stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (io.stderr += d.toString()));
  let ended = false;
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  void exited.then(() => (ended = true));
  const until = async (re: RegExp): Promise<void> => {
    while (!re.test(io.stdout) && !ended) await sleep(100);
    assert.equal(ended, false, `up ended before ${re}:\n${io.stdout}\n${io.stderr}`);
  };
  return { p, io, exited, until };
}

test('cloister up: SIGINT during the steps stops what has started, removes the directory and exits 130', { timeout: 280_000 }, async () => {
  const { p, io, exited, until } = start(['--once']);
  try {
    // Step 2 done: the node agent, the attestation service and the key broker's enclave build are under way.
    await until(/^ {2}2\/6 {2}attestation service/m);
    const dir = /^ {2}work dir (\S+)$/m.exec(io.stdout)?.[1];
    assert.ok(dir !== undefined && existsSync(dir));
    const children = descendants(p.pid!);
    p.kill('SIGINT');
    assert.equal(await exited, 130, io.stderr);
    assert.match(io.stderr, /interrupted during "\d\/6 [^"]+": stopping everything/);
    assert.doesNotMatch(io.stdout, /all 6 steps passed/);
    assert.equal(existsSync(dir), false, 'the temporary directory is removed');
    for (let i = 0; i < 100 && children.some(alive); i++) await sleep(100);
    assert.deepEqual(children.filter(alive), [], 'no process of the run is left');
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
  }
});

test('cloister up --serve: serves after the steps; SIGINT stops every process and removes the temporary directory', { timeout: 280_000 }, async () => {
  const { p, io, exited, until } = start(['--serve']);
  try {
    await until(/^ {2}serving — Ctrl-C/m);
    assert.match(io.stdout, /^ {2}all 6 steps passed in \d+\.\d s$/m);
    const dir = /^ {2}work dir (\S+)$/m.exec(io.stdout)?.[1];
    assert.ok(dir !== undefined && existsSync(dir));
    // The enclaves (hello-world, key broker, inference) run as processes of their own.
    const children = descendants(p.pid!);
    assert.ok(children.length >= 3, `expected the enclave processes, found ${children.length}`);
    // Still serving: the attestation service answers.
    const url = /^ {2}2\/6 {2}attestation service +(http:\/\/127\.0\.0\.1:\d+)/m.exec(io.stdout)?.[1];
    assert.ok(url !== undefined);
    assert.equal((await fetch(`${url}/simulated/certs`)).status, 200);

    p.kill('SIGINT');
    assert.equal(await exited, 0, io.stderr);
    assert.equal(existsSync(dir), false, 'the temporary directory is removed');
    // Processes may take a moment to be reaped after their parent exits; wait up to a bound, then require none.
    for (let i = 0; i < 100 && children.some(alive); i++) await sleep(100);
    assert.deepEqual(children.filter(alive), [], 'no process of the run is left');
    await assert.rejects(fetch(`${url}/simulated/certs`), 'the attestation service is stopped');
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
  }
});
