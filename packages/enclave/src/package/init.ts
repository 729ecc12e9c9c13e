/**
 * `initEnclaveProject(dir, { name })`: a minimal, working enclave project whose `npm install && npm start` works
 * outside this repository —
 *
 * - enclave.json (name, entry src/enclave.ts, 64 MiB heap, production (debug false), product 1, SVN 1);
 * - src/enclave.ts: a `greet` ecall (the one ecall name of the docs, the hello-world example and `cloister up`) that
 *   binds its greeting into a quote (REPORTDATA = SHA-256(greeting)), logs through `ctx.log` and seals the greeting,
 *   and an `unseal` ecall;
 * - src/build.ts: bundles and signs the enclave with the SDK (what `cloister enclave build && cloister enclave sign`
 *   do), so that `npm start` needs no CLI on the PATH;
 * - src/host.ts: finds or creates a simulated SGX platform (CLOISTER_PLATFORM, else .cloister/sgx-sim), starts the
 *   enclave on it with `ctx.log` printed, calls `greet`, verifies the quote with verifyEvidence against the platform's
 *   simulated root (pinned MRENCLAVE and REPORTDATA), unseals;
 * - package.json (the SDK packages as `file:` tarballs shipped with the installed CLI — never an unpublished registry
 *   name), tsconfig.json, .gitignore (which keeps enclave.key.pem and the simulated platform out of version control),
 *   README.md.
 *
 * Where the SDK comes from: the nearest `sdk/manifest.json` (the installed `cloister` package) or `dist/sdk/manifest.json`
 * (a checkout after `npm run pack`) above this module, written by scripts/pack.mjs; else the SDK packages' own
 * directories (a checkout without `npm run pack`: works where those packages' dependencies resolve). `options.sdk`
 * overrides either.
 *
 * Existing files are never overwritten (INVALID_MANIFEST names them) unless `force`.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnclaveError } from '../errors.js';
import { BUNDLE_PATH, KEY_FILE, MANIFEST_FILE, SIGSTRUCT_FILE, validateEnclaveJson } from './manifest.js';

export interface InitEnclaveOptions {
  /** The enclave's name (measured). Default: the directory's name. */
  readonly name?: string;
  /** Replace existing files. Default false. */
  readonly force?: boolean;
  /** npm specs of the SDK packages (`@cloister/enclave`, `@cloister/dcap`, `@cloister/sgx-sim`). Default: found. */
  readonly sdk?: Readonly<Record<string, string>>;
}

export interface InitEnclaveResult {
  readonly dir: string;
  /** Paths written, relative to `dir`. */
  readonly files: readonly string[];
  /** The SDK dependencies written into package.json. */
  readonly dependencies: Readonly<Record<string, string>>;
}

function findSdkOr(given: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (given === undefined) return findSdk();
  const missing = SDK_PACKAGES.filter((p) => typeof given[p] !== 'string');
  if (missing.length > 0) throw new EnclaveError('INVALID_MANIFEST', `options.sdk lacks ${missing.join(', ')}`);
  return Object.fromEntries(SDK_PACKAGES.map((p) => [p, given[p]!]));
}

/** The packages a scaffolded project imports. */
export const SDK_PACKAGES = ['@cloister/enclave', '@cloister/dcap', '@cloister/sgx-sim'] as const;

/** `file:` specs of the SDK tarballs from the nearest sdk/manifest.json, else of the packages' own directories. */
function findSdk(): Record<string, string> {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    for (const rel of ['sdk', join('dist', 'sdk')]) {
      const manifestPath = join(dir, rel, 'manifest.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { packages?: Record<string, string> };
      const packages = manifest.packages ?? {};
      if (SDK_PACKAGES.every((p) => typeof packages[p] === 'string')) {
        return Object.fromEntries(SDK_PACKAGES.map((p) => [p, `file:${join(dir, rel, packages[p]!)}`]));
      }
    }
    if (dirname(dir) === dir) break;
  }
  const require = createRequire(import.meta.url);
  return Object.fromEntries(
    SDK_PACKAGES.map((p) => [p, `file:${dirname(realpathSync(require.resolve(`${p}/package.json`)))}`]),
  );
}

function packageName(name: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[-]+$/g, '');
  return n.length > 0 ? n.slice(0, 214) : 'enclave-app';
}

function enclaveSource(): string {
  return `/**
 * The trusted half: this code runs inside the enclave, bundled into ${BUNDLE_PATH} and measured into MRENCLAVE.
 * It reaches the host only through \`ctx\` (quotes, sealing keys, logs, ocalls).
 */
import { defineEnclave, type EnclaveContext } from '@cloister/enclave/runtime';

export default defineEnclave({
  ecalls: {
    async greet(args: { name: string }, ctx: EnclaveContext) {
      const greeting = \`Hello, \${args.name}, from inside the enclave!\`;
      // REPORTDATA[0..32] = SHA-256(greeting): whoever verifies the quote knows this enclave said exactly this.
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(greeting)));
      const quote = await ctx.getQuote(digest);
      // Sealed to this enclave's signer (MRSIGNER, the default): only enclaves signed with the same key unseal it.
      const sealed = await ctx.seal(new TextEncoder().encode(greeting));
      // Printed by the host (npm start, cloister enclave run, cloister up).
      ctx.log.info('greeted', { who: args.name });
      return { greeting, quote, sealed };
    },
    async unseal(args: { sealed: Uint8Array }, ctx: EnclaveContext) {
      const { data } = await ctx.unseal(args.sealed);
      return new TextDecoder().decode(data);
    },
  },
});
`;
}

function buildSource(): string {
  return `/**
 * Bundle src/enclave.ts into ${BUNDLE_PATH} and sign it (${SIGSTRUCT_FILE}), as \`cloister enclave build\` and
 * \`cloister enclave sign\` do. The signing key is ${KEY_FILE}, generated (mode 0600) on first use: it defines
 * MRSIGNER — keep it, never commit it.
 */
import { fileURLToPath } from 'node:url';
import { buildEnclave, signEnclaveDir } from '@cloister/enclave';

const dir = fileURLToPath(new URL('..', import.meta.url));
const built = await buildEnclave(dir);
for (const w of built.warnings) console.warn(\`warning: \${w}\`);
const signed = signEnclaveDir(dir);
for (const w of signed.warnings) console.warn(\`warning: \${w}\`);
console.log(\`built and signed: MRENCLAVE \${signed.mrenclave}, MRSIGNER \${signed.mrsigner}\`);
`;
}

function hostSource(): string {
  return `/**
 * The untrusted half: starts the enclave on a simulated SGX platform, calls it, and verifies its quote as a relying
 * party would.
 *
 * The platform: CLOISTER_PLATFORM (a directory made by \`cloister sim init\`), else .cloister/sgx-sim, created on
 * first run. A simulated platform protects nothing: its quotes chain to its own simulation root, which the
 * verification below trusts explicitly; on SGX hardware a relying party verifies against Intel's root with collateral
 * from Intel PCS (\`cloister collateral fetch\`).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { createEnclave, verifyEvidence, type HostLogger } from '@cloister/enclave';
import { Platform, createSimCollateral, loadOrCreatePki } from '@cloister/sgx-sim';
import type definition from './enclave.js';

const dir = fileURLToPath(new URL('..', import.meta.url));

/** CLOISTER_PLATFORM, else a platform of this project, created on first use. */
function simulatedPlatform(): { platform: Platform; platformDir: string } {
  const platformDir = process.env['CLOISTER_PLATFORM'] ?? join(dir, '.cloister', 'sgx-sim');
  if (!existsSync(join(platformDir, 'platform.json'))) {
    Platform.create().save(platformDir);
    console.log(\`created a simulated SGX platform in \${platformDir}\`);
  }
  return { platform: Platform.load(platformDir), platformDir };
}

// The enclave's ctx.log records, one line each.
const line = (level: string) => (fields: Record<string, unknown>, message?: string) => {
  const { enclave: _marker, ...rest } = fields;
  console.log(\`enclave \${level}: \${message ?? ''} \${JSON.stringify(rest)}\`);
};
const logger: HostLogger = { info: line('info'), warn: line('warn'), error: line('error') };

const { platform, platformDir } = simulatedPlatform();
const enclave = await createEnclave<typeof definition>(dir, { platform: platformDir, logger });
try {
  const { greeting, quote, sealed } = await enclave.ecalls.greet({ name: 'world' });
  console.log(greeting);

  const pki = await loadOrCreatePki(platform, platformDir);
  const { identity, result } = await verifyEvidence(
    quote,
    {
      mrenclave: enclave.self.mrenclave,
      reportData: createHash('sha256').update(greeting).digest(),
      // A simulated platform's quote chains to the simulation root, never to Intel's: accepted only on purpose.
      allowSimulated: true,
    },
    { collateral: await createSimCollateral(platform, pki), trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] },
  );
  console.log(\`verified: MRENCLAVE \${identity.mrenclave}, TCB \${result.status}\${result.simulated ? ' (simulated platform)' : ''}\`);
  console.log('unsealed:', await enclave.ecalls.unseal({ sealed }));
} finally {
  await enclave.terminate();
}
`;
}

function readme(name: string): string {
  return `# ${name}

An enclave application made with \`cloister enclave init\`.

| file | what |
|---|---|
| \`${MANIFEST_FILE}\` | the enclave manifest: name, entry, heap, debug, product ID, security version, declared files, environment — every field is measured |
| \`src/enclave.ts\` | the code that runs inside the enclave |
| \`src/host.ts\` | the code that starts it on a simulated SGX platform, calls it and verifies its quote |
| \`src/build.ts\` | bundles and signs the enclave (what \`cloister enclave build\` and \`cloister enclave sign\` do) |
| \`${BUNDLE_PATH}\` | the build output: one ES module, the measured code |
| \`${SIGSTRUCT_FILE}\` | the enclave's signature (SIGSTRUCT) |
| \`${KEY_FILE}\` | the signing key, generated on first build (mode 0600; never commit it — a production key belongs in an HSM or a secret store) |
| \`.cloister/sgx-sim/\` | the simulated SGX platform \`npm start\` creates on first run (or set \`CLOISTER_PLATFORM\`) |

\`\`\`sh
npm install
npm start          # build + sign the enclave, start it on a simulated platform, call greet, verify its quote
\`\`\`

With the \`cloister\` command: \`cloister enclave build && cloister enclave sign\` (the same as \`npm run build\`),
\`cloister enclave run . --ecall greet --args '{"name":"you"}' --platform .cloister/sgx-sim --verify\`, and
\`cloister up --enclave .\` (a simulated node with the out-of-process quote helper).

\`cloister enclave measure\` prints the MRENCLAVE of the current build without signing: a relying party that rebuilds
the same sources gets the same value and can pin it in its policy (\`verifyEvidence(quote, { mrenclave })\`).

The simulated platform protects nothing: a quote from it chains to its own simulation root, which \`src/host.ts\`
trusts on purpose (\`allowSimulated\`). On SGX hardware the same host code runs the enclave under Gramine, and a relying
party verifies against Intel's root with collateral from Intel PCS (\`cloister collateral fetch\`).
`;
}

/** Scaffold an enclave project in `dir` (created if missing). */
export function initEnclaveProject(dir: string, options: InitEnclaveOptions = {}): InitEnclaveResult {
  const root = resolve(dir);
  const name = options.name ?? basename(root);
  const manifest = {
    name,
    entry: 'src/enclave.ts',
    heapSizeMiB: 64,
    debug: false,
    productId: 1,
    securityVersion: 1,
    files: [],
    env: [],
  };
  validateEnclaveJson(manifest, 'the enclave name');
  const dependencies = { ...findSdkOr(options.sdk) };
  const pkg = {
    name: packageName(name),
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      build: 'tsc -p . && node build/build.js',
      start: 'npm run build && node build/host.js',
    },
    dependencies,
    devDependencies: { '@types/node': '^20.0.0', typescript: '^5.9.3' },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      types: ['node'],
      rootDir: 'src',
      outDir: 'build',
    },
    include: ['src/**/*.ts'],
  };
  const files: [string, string][] = [
    [MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`],
    ['src/enclave.ts', enclaveSource()],
    ['src/host.ts', hostSource()],
    ['src/build.ts', buildSource()],
    ['package.json', `${JSON.stringify(pkg, null, 2)}\n`],
    ['tsconfig.json', `${JSON.stringify(tsconfig, null, 2)}\n`],
    ['.gitignore', `node_modules/\nbuild/\ndist/\n.cloister/\n${KEY_FILE}\n`],
    ['README.md', readme(name)],
  ];
  if (options.force !== true) {
    const existing = files.map(([p]) => p).filter((p) => existsSync(join(root, p)));
    if (existing.length > 0) {
      throw new EnclaveError('INVALID_MANIFEST', `${root} already has ${existing.join(', ')} (use force to replace)`);
    }
  }
  for (const [rel, text] of files) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return { dir: root, files: files.map(([p]) => p), dependencies };
}
