#!/usr/bin/env node
/**
 * `npm run pack`: one npm tarball, dist/cloister-<version>.tgz, that installs the `cloister` command with the
 * Cloister packages it needs bundled — `npm install -g dist/cloister-<version>.tgz` and `cloister` works from any
 * directory; nothing is fetched under an unpublished `@cloister/*` name.
 *
 * Layout (a staging directory, then `npm pack`):
 *   package.json   name "cloister"; `dependencies` = every @cloister/* package the CLI needs (listed in
 *                  `bundleDependencies`, so their files are inside the tarball) + the union of their third-party
 *                  dependencies (installed from the registry as usual, at the versions the workspaces declare);
 *   node_modules/@cloister/<pkg>/  each package exactly as `npm pack` of its workspace would publish it (its `files`);
 *   bin/cloister.js                imports @cloister/cli's bin;
 *   examples/helloworld/           the enclave `cloister up` runs by default (sources only: no key, no build);
 *   examples/confidential-ocr/sample.png   the image `cloister up` recognises in its confidential OCR step;
 *   sdk/                           tarballs of the SDK packages a scaffolded project depends on —
 *                                  @cloister/enclave, @cloister/dcap, @cloister/sgx-sim — each with its own @cloister/*
 *                                  dependencies bundled the same way, and sdk/manifest.json naming them;
 *                                  `cloister enclave init` points the project's package.json at them with `file:`.
 * The SDK tarballs are also written to dist/sdk/ (an `enclave init` run from the checkout finds them there).
 *
 * Why a staging directory with bundleDependencies rather than one esbuild bundle: the packages keep their files
 * (protos, the enclave runtime that `enclave build` bundles into each enclave, .d.ts types for scaffolded projects)
 * and their module identity (the enclave SDK is imported by the user's code and by the CLI alike), and native or
 * platform-specific third-party packages (esbuild's binary, grpc-js) install the normal way.
 *
 * Requires a build (`npm run build`); uses only `npm pack` and `tar`.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = rootPkg.version;
const out = join(root, 'dist');
const stage = join(out, 'pack');
const quiet = process.argv.includes('--quiet');
const log = (s) => {
  if (!quiet) process.stdout.write(`${s}\n`);
};

/** Workspace packages by name. */
const workspaces = new Map();
for (const dir of rootPkg.workspaces) {
  const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  workspaces.set(pkg.name, { dir: join(root, dir), pkg });
}
const isOurs = (name) => workspaces.has(name);

/** `name` and every @cloister/* package it depends on at run time (not devDependencies). */
function closure(names) {
  const seen = new Set();
  const visit = (n) => {
    if (seen.has(n)) return;
    const w = workspaces.get(n);
    if (w === undefined) throw new Error(`${n} is not a workspace package`);
    seen.add(n);
    for (const dep of Object.keys(w.pkg.dependencies ?? {})) if (isOurs(dep)) visit(dep);
  };
  names.forEach(visit);
  return [...seen];
}

/** The union of the third-party dependencies of `names`; two different ranges for one package is an error. */
function thirdParty(names) {
  const deps = {};
  for (const n of names) {
    for (const [dep, range] of Object.entries(workspaces.get(n).pkg.dependencies ?? {})) {
      if (isOurs(dep)) continue;
      if (deps[dep] !== undefined && deps[dep] !== range) {
        throw new Error(`${dep}: ${n} wants ${range}, another package ${deps[dep]}; align the workspaces first`);
      }
      deps[dep] = range;
    }
  }
  return Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
}

function npmPack(dir, dest) {
  const json = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [info] = JSON.parse(json);
  return join(dest, info.filename);
}

/** Each workspace package as it would be published, unpacked once into stage/pkgs/<name>. */
const unpacked = new Map();
function unpack(name) {
  let dir = unpacked.get(name);
  if (dir !== undefined) return dir;
  const w = workspaces.get(name);
  for (const f of w.pkg.files ?? []) {
    if (f.startsWith('dist/') && !existsSync(join(w.dir, f))) {
      throw new Error(`${name}: ${f} is missing — run npm run build first`);
    }
  }
  const tarballs = join(stage, 'tarballs');
  mkdirSync(tarballs, { recursive: true });
  const tgz = npmPack(w.dir, tarballs);
  dir = join(stage, 'pkgs', name);
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', dir, '--strip-components=1']);
  unpacked.set(name, dir);
  return dir;
}

/**
 * A staging directory for a package that bundles `bundled` (@cloister/* names) in its node_modules. Each bundled
 * copy keeps only its @cloister/* dependencies: npm treats every dependency of a bundled package as part of the
 * bundle (it would expect esbuild inside the tarball), so the third-party ones are declared by the bundling package
 * instead, installed beside the bundled copies, and found by Node's resolution walking up.
 */
function stageWithBundled(dir, bundled) {
  for (const n of bundled) {
    const dest = join(dir, 'node_modules', ...n.split('/'));
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(unpack(n), dest, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(dest, 'package.json'), 'utf8'));
    pkg.dependencies = Object.fromEntries(Object.entries(pkg.dependencies ?? {}).filter(([d]) => isOurs(d)));
    delete pkg.devDependencies;
    delete pkg.scripts;
    writeJson(join(dest, 'package.json'), pkg);
  }
}

function writeJson(path, value) {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

// 1. SDK tarballs: the packages a scaffolded project imports, each self-contained.
const SDK = ['@cloister/enclave', '@cloister/dcap', '@cloister/sgx-sim'];
const sdkOut = join(out, 'sdk');
rmSync(sdkOut, { recursive: true, force: true });
mkdirSync(sdkOut, { recursive: true });
const sdkManifest = { version, packages: {} };
for (const name of SDK) {
  const dir = join(stage, 'sdk', name);
  cpSync(unpack(name), dir, { recursive: true });
  const bundled = closure([name]).filter((n) => n !== name);
  stageWithBundled(dir, bundled);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  delete pkg.devDependencies;
  pkg.dependencies = { ...Object.fromEntries(bundled.map((n) => [n, workspaces.get(n).pkg.version])), ...thirdParty(closure([name])) };
  if (bundled.length > 0) pkg.bundleDependencies = bundled;
  writeJson(join(dir, 'package.json'), pkg);
  const tgz = npmPack(dir, sdkOut);
  sdkManifest.packages[name] = tgz.slice(sdkOut.length + 1);
  log(`sdk  ${sdkManifest.packages[name]} (bundles ${bundled.join(', ') || 'nothing'})`);
}
writeJson(join(sdkOut, 'manifest.json'), sdkManifest);

// 2. The CLI package.
const cliDir = join(stage, 'cloister');
const needed = closure(['@cloister/cli']);
stageWithBundled(cliDir, needed);
mkdirSync(join(cliDir, 'bin'), { recursive: true });
writeFileSync(join(cliDir, 'bin', 'cloister.js'), "#!/usr/bin/env node\nimport '@cloister/cli/dist/src/bin.js';\n", { mode: 0o755 });
const example = join(root, 'examples', 'helloworld');
const exampleOut = join(cliDir, 'examples', 'helloworld');
mkdirSync(exampleOut, { recursive: true });
for (const f of ['enclave.json', 'README.md', 'src']) cpSync(join(example, f), join(exampleOut, f), { recursive: true });
// The image `cloister up` recognises in its confidential OCR step.
cpSync(join(root, 'examples', 'confidential-ocr', 'sample.png'), join(cliDir, 'examples', 'confidential-ocr', 'sample.png'));
cpSync(sdkOut, join(cliDir, 'sdk'), { recursive: true });
cpSync(join(root, 'LICENSE'), join(cliDir, 'LICENSE'));
writeFileSync(
  join(cliDir, 'README.md'),
  `# cloister ${version}\n\nThe \`cloister\` command with the Cloister packages it needs bundled. See the project's README.\n\n` +
    '`sdk/` holds the enclave SDK packages that `cloister enclave init` points new projects at.\n',
);
writeJson(join(cliDir, 'package.json'), {
  name: 'cloister',
  version,
  description: rootPkg.description,
  license: rootPkg.license,
  type: 'module',
  bin: { cloister: 'bin/cloister.js' },
  engines: rootPkg.engines,
  files: ['bin', 'examples', 'sdk', 'README.md', 'LICENSE'],
  dependencies: { ...Object.fromEntries(needed.map((n) => [n, workspaces.get(n).pkg.version])), ...thirdParty(needed) },
  bundleDependencies: needed,
});
const tgz = npmPack(cliDir, stage);
const final = join(out, `cloister-${version}.tgz`);
renameSync(tgz, final);
log(`cli  ${final.slice(root.length + 1)} (bundles ${needed.length} packages: ${needed.join(', ')})`);
if (!quiet) log(`install: npm install -g ${final.slice(root.length + 1)}`);
