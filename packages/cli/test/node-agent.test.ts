/** `cloister node-agent` as a process: simulated node, probes, graceful stop on SIGTERM (sockets removed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@cloister/testkit';
import { bin, run } from './run-cli.js';

test('cloister node-agent --simulate serves sockets and probes, and stops cleanly on SIGTERM', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cloister-node-agent-'));
  const plugins = join(root, 'device-plugins');
  const p = spawn(
    process.execPath,
    [bin, 'node-agent', '--simulate', '--epc-mib', '16', '--plugin-dir', plugins, '--state-dir', join(root, 'state'),
      '--metrics-port', '0', '--metrics-host', '127.0.0.1'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no metrics port logged: ${out}`)), 10_000);
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        for (const line of out.split('\n')) {
          try {
            const rec = JSON.parse(line) as { port?: number; component?: string };
            if (rec.component === 'cloister-node-agent' && typeof rec.port === 'number') {
              clearTimeout(timer);
              resolve(rec.port);
            }
          } catch {
            // a partial line
          }
        }
      });
    });
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    // The metrics port can be logged before the plugin directory exists: wait for the sockets (a loaded machine can
    // take a while), treating a missing directory as "not yet".
    const sockets = (): string[] => (existsSync(plugins) ? readdirSync(plugins).filter((f) => f.endsWith('.sock')) : []);
    for (let i = 0; i < 600 && sockets().length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(readdirSync(plugins).filter((f) => f.startsWith('cloister-')).length, 3);
    // Serving, but no kubelet here: not ready, and it says why.
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /not registered/);
    const exit = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    p.kill('SIGTERM');
    assert.equal(await exit, 0);
    assert.deepEqual(readdirSync(plugins).filter((f) => f.startsWith('cloister-')), []);
    assert.ok(existsSync(join(root, 'state', 'dev', 'sgx_enclave.simulated')));
  } finally {
    p.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});

test('cloister node-agent refuses bad flags with a code', async () => {
  const r = await run(['node-agent', '--simulate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /INVALID_ARGUMENT: --simulate needs --epc-mib/);
  const bad = await run(['node-agent', '--simulate', '--epc-mib', '4', '--resources', 'epc,gpu']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown gpu/);
});
