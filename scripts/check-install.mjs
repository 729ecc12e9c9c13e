#!/usr/bin/env node
/**
 * The installed CLI as a new user gets it, outside this checkout (run by .ci/run after `npm test`):
 *   1. `npm run pack` → dist/cloister-<version>.tgz,
 *   2. `npm install -g --prefix TMP/prefix ./dist/cloister-<version>.tgz` (a temporary global prefix),
 *   3. from TMP (not the checkout): `cloister --version`, `cloister up --json` (the bundled hello-world on a simulated
 *      node), a usage error (exit 2, JSON error with --json),
 *   4. `cloister enclave init TMP/app`, then `npm install && npm start` there: the scaffolded project builds, signs
 *      and runs its enclave on a simulated platform it creates, and verifies the quote.
 * Each step's output is checked; the first failure exits 1 with the step's output. Temporary files are removed.
 * Needs the build (`npm run build`) and the npm registry for third-party dependencies.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const tmp = mkdtempSync(join(tmpdir(), 'cloister-install-'));
const prefix = join(tmp, 'prefix');
const env = { ...process.env, PATH: `${join(prefix, 'bin')}${delimiter}${process.env.PATH ?? ''}`, npm_config_fund: 'false', npm_config_audit: 'false' };
// Nothing of the checkout's npm workspace configuration may leak into the user's commands.
for (const k of Object.keys(env)) if (k.startsWith('npm_') && !['npm_config_fund', 'npm_config_audit'].includes(k) && k !== 'npm_config_cache') delete env[k];

let failed = false;
function step(what, cmd, args, cwd, check) {
  process.stdout.write(`check-install: ${what} ... `);
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  let problem = r.error !== undefined ? String(r.error) : undefined;
  if (problem === undefined) problem = check(r);
  if (problem !== undefined) {
    process.stdout.write(`FAILED: ${problem}\n${out}\n`);
    failed = true;
    throw new Error(what);
  }
  process.stdout.write('ok\n');
  return r;
}
const exit0 = (r) => (r.status === 0 ? undefined : `exit ${r.status}`);

try {
  step('npm run pack', 'node', [join(root, 'scripts', 'pack.mjs'), '--quiet'], root, exit0);
  const tarball = join(root, 'dist', `cloister-${version}.tgz`);
  step(`npm install -g --prefix ${prefix}`, 'npm', ['install', '-g', '--prefix', prefix, tarball], tmp, exit0);

  step('cloister --version (outside the checkout)', 'cloister', ['--version'], tmp, (r) =>
    exit0(r) ?? (r.stdout.trim() === version ? undefined : `printed ${JSON.stringify(r.stdout)}`),
  );
  step('cloister up --json', 'cloister', ['up', '--json', '--name', 'install'], tmp, (r) => {
    if (r.status !== 0) return `exit ${r.status}`;
    const out = JSON.parse(r.stdout);
    if (out.ok !== true || out.verified?.status !== 'UpToDate' || out.greeting !== 'Hello, install, from inside an enclave!') {
      return 'unexpected result';
    }
    // The whole stack ran from the installed package: six steps, the OCR text read inside the enclave.
    if (!Array.isArray(out.steps) || out.steps.length !== 6) return `expected 6 steps, got ${JSON.stringify(out.steps?.map((x) => x.step))}`;
    const ocr = out.steps.find((x) => x.step === 'ocr');
    if (typeof ocr?.text !== 'string' || !ocr.text.includes('Hello from an enclave')) return `OCR step read ${JSON.stringify(ocr?.text)}`;
    return undefined;
  });
  step('a usage error exits 2, as JSON with --json', 'cloister', ['verify', '--json'], tmp, (r) => {
    if (r.status !== 2) return `exit ${r.status}`;
    return JSON.parse(r.stdout).error?.code === 'USAGE' ? undefined : 'no USAGE error';
  });

  const app = join(tmp, 'app');
  step('cloister enclave init app', 'cloister', ['enclave', 'init', app], tmp, (r) => {
    if (r.status !== 0) return `exit ${r.status}`;
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    const specs = Object.values(pkg.dependencies);
    return specs.every((s) => s.startsWith('file:') && s.startsWith(`file:${prefix}`)) ? undefined : `dependencies ${specs.join(', ')}`;
  });
  step('npm install (the scaffolded project)', 'npm', ['install'], app, exit0);
  step('npm start (the scaffolded project)', 'npm', ['start'], app, (r) => {
    if (r.status !== 0) return `exit ${r.status}`;
    const want = [
      /created a simulated SGX platform in /,
      /^enclave info: greeted \{"who":"world"\}$/m,
      /^Hello, world, from inside the enclave!$/m,
      /^verified: MRENCLAVE [0-9a-f]{64}, TCB UpToDate \(simulated platform\)$/m,
      /^unsealed: Hello, world, from inside the enclave!$/m,
    ];
    const missing = want.filter((re) => !re.test(r.stdout));
    return missing.length === 0 ? undefined : `output lacks ${missing.join(', ')}`;
  });
  process.stdout.write('check-install: the packed CLI installs and works outside the checkout\n');
} catch (e) {
  if (!failed) process.stdout.write(`check-install: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
