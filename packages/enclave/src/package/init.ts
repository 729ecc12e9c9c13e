/**
 * `initEnclaveProject(dir, { name })`: a minimal, working enclave project —
 *
 * - enclave.json (name, entry src/enclave.ts, 64 MiB heap, production (debug false), product 1, SVN 1);
 * - src/enclave.ts: a `hello` ecall that binds its greeting into a quote (REPORTDATA = SHA-256(greeting)) and seals
 *   it, and an `unseal` ecall;
 * - src/host.ts: createEnclave, call `hello`, verify the quote with verifyEvidence (pinned MRENCLAVE and REPORTDATA),
 *   unseal;
 * - package.json, tsconfig.json, .gitignore (which keeps enclave.key.pem out of version control), README.md.
 *
 * Existing files are never overwritten (INVALID_MANIFEST names them) unless `force`.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { EnclaveError } from '../errors.js';
import { BUNDLE_PATH, KEY_FILE, MANIFEST_FILE, SIGSTRUCT_FILE, validateEnclaveJson } from './manifest.js';

export interface InitEnclaveOptions {
  /** The enclave's name (measured). Default: the directory's name. */
  readonly name?: string;
  /** Replace existing files. Default false. */
  readonly force?: boolean;
}

export interface InitEnclaveResult {
  readonly dir: string;
  /** Paths written, relative to `dir`. */
  readonly files: readonly string[];
}

function packageName(name: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[-]+$/g, '');
  return n.length > 0 ? n.slice(0, 214) : 'enclave-app';
}

function enclaveSource(): string {
  return `/**
 * The trusted half: this code runs inside the enclave, bundled into ${BUNDLE_PATH} and measured into MRENCLAVE.
 * It can reach the outside world only through \`ctx\`.
 */
import { defineEnclave, type EnclaveContext } from '@cloister/enclave/runtime';

export default defineEnclave({
  ecalls: {
    async hello(args: { name: string }, ctx: EnclaveContext) {
      const greeting = \`Hello, \${args.name}, from inside the enclave!\`;
      // REPORTDATA[0..32] = SHA-256(greeting): whoever verifies the quote knows this enclave said exactly this.
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(greeting)));
      const quote = await ctx.getQuote(digest);
      // Sealed to this enclave's signer (MRSIGNER, the default): only enclaves signed with the same key unseal it.
      const sealed = await ctx.seal(new TextEncoder().encode(greeting));
      ctx.log.info('greeted', { name: args.name });
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

function hostSource(): string {
  return `/**
 * The untrusted half: starts the enclave, calls it, and verifies its quote as a relying party would.
 *
 * Verifying needs the quote's collateral; on a simulated platform also its root certificate:
 *   cloister sim collateral --platform <dir> --out collateral.json
 *   cloister sim root --platform <dir> --out sim-root.pem
 *   CLOISTER_COLLATERAL=collateral.json CLOISTER_TRUST_ROOT=sim-root.pem npm start
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { createEnclave, verifyEvidence } from '@cloister/enclave';
import type definition from './enclave.js';

const dir = fileURLToPath(new URL('..', import.meta.url));
const enclave = await createEnclave<typeof definition>(dir);
try {
  const { greeting, quote, sealed } = await enclave.ecalls.hello({ name: 'world' });
  console.log(greeting);

  const collateralFile = process.env['CLOISTER_COLLATERAL'];
  const rootFile = process.env['CLOISTER_TRUST_ROOT'];
  if (collateralFile === undefined) {
    console.log(\`got a \${quote.length}-byte quote; set CLOISTER_COLLATERAL (and CLOISTER_TRUST_ROOT) to verify it\`);
  } else {
    const { identity, result } = await verifyEvidence(
      quote,
      {
        mrenclave: enclave.self.mrenclave,
        reportData: createHash('sha256').update(greeting).digest(),
        // A simulated platform's quote chains to the simulation root, never to Intel's: accept it only on purpose.
        allowSimulated: rootFile !== undefined,
      },
      {
        collateral: readFileSync(collateralFile, 'utf8'),
        ...(rootFile !== undefined ? { trustAnchors: [trustAnchorFromCertificate(readFileSync(rootFile, 'utf8'))] } : {}),
      },
    );
    console.log(\`verified: MRENCLAVE \${identity.mrenclave}, TCB \${result.status}\${result.simulated ? ' (simulated platform)' : ''}\`);
  }

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
| \`src/host.ts\` | the code that starts it, calls it and verifies its quote |
| \`${BUNDLE_PATH}\` | the build output: one ES module, the measured code |
| \`${SIGSTRUCT_FILE}\` | the enclave's signature (SIGSTRUCT) |
| \`${KEY_FILE}\` | the signing key, generated on first sign (mode 0600; never commit it — a production key belongs in an HSM or a secret store) |

\`\`\`sh
npm install
npx cloister enclave build     # bundle src/enclave.ts into ${BUNDLE_PATH}
npx cloister enclave sign      # sign it; prints MRENCLAVE and MRSIGNER
npm start                      # run the host
\`\`\`

\`cloister enclave measure\` prints the MRENCLAVE of the current build without signing: a relying party that rebuilds
the same sources gets the same value and can pin it in its policy (\`verifyEvidence(quote, { mrenclave })\`).
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
  const pkg = {
    name: packageName(name),
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      build: 'cloister enclave build && cloister enclave sign',
      measure: 'cloister enclave measure',
      start: 'tsc -p . && node build/host.js',
    },
    dependencies: { '@cloister/enclave': '0.1.0', '@cloister/dcap': '0.1.0' },
    devDependencies: { '@cloister/cli': '0.1.0', '@types/node': '^20.0.0', typescript: '^5.0.0' },
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
    ['package.json', `${JSON.stringify(pkg, null, 2)}\n`],
    ['tsconfig.json', `${JSON.stringify(tsconfig, null, 2)}\n`],
    ['.gitignore', `node_modules/\nbuild/\ndist/\n${KEY_FILE}\n`],
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
  return { dir: root, files: files.map(([p]) => p) };
}
