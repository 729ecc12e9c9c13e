/**
 * examples/helloworld as shipped, on a simulated node: the image's CMD (from the Dockerfile) with the Job's environment
 * and mounts (from job.yaml), against a real quote helper serving a real AESM socket and the simulated platform it
 * owns — the paths the Job mounts are mapped to a temporary directory, nothing else changes. The enclave is built and
 * signed as the Dockerfile does (then its sources are removed, as in the image).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '@cloister/testkit';
import { bin, run } from './run-cli.js';

const example = join(repoRoot, 'examples', 'helloworld');

interface Container {
  image: string;
  args?: string[];
  command?: string[];
  env: { name: string; value: string }[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  resources: { limits: Record<string, string | number>; requests: Record<string, string | number> };
  securityContext: { runAsUser?: number };
}

function jobSpec(): { container: Container; volumes: { name: string; hostPath?: { path: string } }[] } {
  const job = parse(readFileSync(join(example, 'job.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: Container[]; volumes: { name: string; hostPath?: { path: string } }[] } } };
  };
  const spec = job.spec.template.spec;
  assert.equal(spec.containers.length, 1);
  return { container: spec.containers[0]!, volumes: spec.volumes };
}

/** The Dockerfile's exec-form CMD. */
function imageCommand(): string[] {
  const m = /^CMD (\[.*\])$/m.exec(readFileSync(join(example, 'Dockerfile'), 'utf8'));
  assert.ok(m !== null, 'the Dockerfile has an exec-form CMD');
  return JSON.parse(m[1]!) as string[];
}

test('the Job asks for EPC, mounts the AESM socket and the simulated platform, and sets SGX_AESM_ADDR', () => {
  const { container, volumes } = jobSpec();
  assert.equal(container.resources.limits['kubernetes.azure.com/sgx_epc_mem_in_MiB'], container.resources.requests['kubernetes.azure.com/sgx_epc_mem_in_MiB']);
  assert.equal(container.resources.limits['sgx.intel.com/provision'], undefined);
  assert.deepEqual(container.env, [{ name: 'SGX_AESM_ADDR', value: '1' }]);
  const host = (name: string): string | undefined => volumes.find((v) => v.name === name)?.hostPath?.path;
  const mounts = Object.fromEntries(container.volumeMounts.map((m) => [m.mountPath, m]));
  assert.equal(host(mounts['/var/run/aesmd']!.name), '/var/run/aesmd');
  assert.equal(host(mounts['/var/lib/cloister/sgx-sim']!.name), '/var/lib/cloister/sgx-sim');
  assert.equal(mounts['/var/lib/cloister/sgx-sim']!.readOnly, true);
  assert.equal(container.args, undefined, 'the Job runs the image as built');
  assert.equal(container.securityContext.runAsUser, 0, 'the simulated platform secret is root-only');
});

test('the image command succeeds on a simulated node: out-of-process quote through the quote helper, verified', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'cloister-job-'));
  const node = { platform: join(root, 'var-lib-cloister-sgx-sim'), aesm: join(root, 'var-run-aesmd') };
  const app = join(root, 'app-helloworld');
  let helper: ReturnType<typeof spawn> | undefined;
  t.after(async () => {
    if (helper !== undefined && helper.exitCode === null) {
      helper.kill('SIGTERM');
      await new Promise((resolve) => helper!.once('close', resolve));
    }
    rmSync(root, { recursive: true, force: true });
  });

  // The node: a simulated platform and the quote helper serving it (what deploy/node-agent/quote-helper.yaml runs).
  assert.equal((await run(['sim', 'init', node.platform])).code, 0);
  helper = spawn(
    process.execPath,
    [bin, 'node-agent', '--quote-helper', '--no-device-plugin', '--simulate', '--platform-dir', node.platform, '--aesm-socket', join(node.aesm, 'aesm.socket'), '--metrics-host', '127.0.0.1', '--metrics-port', '0'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`quote helper did not start:\n${log}`)), 20_000);
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (log.includes('quote helper serving')) {
        clearTimeout(timer);
        resolve();
      }
    };
    helper!.stdout!.on('data', onData);
    helper!.stderr!.on('data', onData);
  });

  // The image's /app/helloworld, built and signed as the Dockerfile does, sources removed.
  for (const f of ['enclave.json', 'src']) cpSync(join(example, f), join(app, f), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(app, 'node_modules'), 'dir');
  assert.equal((await run(['enclave', 'build', app])).code, 0);
  assert.equal((await run(['enclave', 'sign', app])).code, 0);
  rmSync(join(app, 'src'), { recursive: true });
  rmSync(join(app, 'enclave.key.pem'));
  assert.ok(existsSync(join(app, 'enclave.sigstruct')));

  // CMD with the container's paths mapped onto this node's temporary directories, and the Job's environment.
  const paths: Record<string, string> = { '/app/helloworld': app, '/var/lib/cloister/sgx-sim': node.platform };
  const args = imageCommand().map((a) => paths[a] ?? a);
  const { container } = jobSpec();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const e of container.env) env[e.name] = e.value;
  // The AESM socket path is fixed inside the container (/var/run/aesmd/aesm.socket); here it is the helper's.
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args, '--aesm-socket', join(node.aesm, 'aesm.socket')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; result: { greeting: string }; verified: { status: string; simulated: boolean } };
  assert.equal(out.ok, true);
  assert.equal(out.result.greeting, 'Hello, AKS, from inside an enclave!');
  assert.deepEqual([out.verified.status, out.verified.simulated], ['UpToDate', true]);
  assert.match(r.stderr, /enclave info: greeted \{"who":"AKS"\}/);
});
