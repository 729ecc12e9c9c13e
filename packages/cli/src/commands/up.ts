/**
 * `cloister up` — the main job: a local, simulated SGX node running an enclave-aware container with remote
 * attestation, end to end, with the production code paths:
 *   1. a simulated SGX platform (@cloister/sgx-sim) in a temporary directory,
 *   2. the quote helper serving the AESM protocol on a temporary /var/run/aesmd-style socket (@cloister/node-agent),
 *   3. the enclave: by default the bundled hello-world, copied to the temporary directory, built and signed there with
 *      a throwaway key (deleted with the directory); with `--enclave DIR` the user's enclave exactly as built and
 *      signed (`cloister enclave build && cloister enclave sign`) — never rebuilt, never re-signed,
 *   4. start it on the sim backend (its own permission-restricted process); its `ctx.log` records are printed,
 *   5. make one ecall (`--ecall`, default `greet`; a user's enclave with exactly one ecall needs no flag): the
 *      enclave quotes OUT OF PROCESS (SGX_AESM_ADDR),
 *   6. verify the `quote` it returns with @cloister/dcap (trusting the simulation root only) and the policy (its
 *      MRENCLAVE; REPORTDATA = SHA-256(greeting) when it returns a `greeting`), print the identity.
 * Exits non-zero, naming the failed step, if anything fails.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import {
  buildEnclave,
  createEnclave,
  loadEnclaveDir,
  signEnclaveDir,
  verifyEvidence,
  type EnclaveDefinition,
  type EcallHandler,
} from '@cloister/enclave';
import { QuoteHelperService, createLogger } from '@cloister/node-agent';
import { Platform, createSimCollateral, loadPki } from '@cloister/sgx-sim';
import { Registry } from 'prom-client';
import { CliError, exitCodeFor } from '../errors.js';
import { enclaveLogger } from '../io.js';
import { printJson } from '../output.js';

export interface UpOptions {
  readonly enclave?: string;
  readonly ecall?: string;
  readonly args?: string;
  readonly keep?: boolean;
  readonly json?: boolean;
  readonly name?: string;
}

type AnyEnclave = EnclaveDefinition<Record<string, EcallHandler<unknown, unknown>>>;

const here = dirname(fileURLToPath(import.meta.url));
const EXAMPLE = join('examples', 'helloworld');

/** The nearest ancestor of this module holding `rel` (the repository, or the installed `cloister` package). */
function findUp(rel: string): string | undefined {
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The bundled hello-world copied into `dest`, with a `node_modules` link to where @cloister/enclave is installed
 * (the enclave's code imports @cloister/enclave/runtime), so that the copy builds outside the repository.
 */
function copyExample(dest: string): string {
  const example = findUp(join(EXAMPLE, 'enclave.json'));
  const modules = findUp(join('node_modules', '@cloister', 'enclave'));
  if (example === undefined || modules === undefined) {
    throw new CliError('INPUT_UNREADABLE', 'the bundled hello-world enclave is missing from this installation');
  }
  for (const f of ['enclave.json', 'src']) cpSync(join(dirname(example), f), join(dest, f), { recursive: true });
  symlinkSync(resolve(modules, '..', '..'), join(dest, 'node_modules'), 'dir');
  return dest;
}

export async function upCommand(opts: UpOptions): Promise<void> {
  const json = opts.json === true;
  const say = (s: string): void => {
    if (!json) process.stdout.write(s);
  };
  const steps: Record<string, unknown> = {};
  const root = mkdtempSync(join(tmpdir(), 'cloister-up-'));
  const platformDir = join(root, 'platform');
  const socketPath = join(root, 'aesmd', 'aesm.socket');
  const userEnclave = opts.enclave !== undefined ? resolve(opts.enclave) : undefined;
  let step = '';
  const begin = (n: number, what: string): void => {
    step = what;
    say(`  [${n}/6] ${what.padEnd(38, '.')} `);
  };
  let helper: QuoteHelperService | undefined;
  let enclave: Awaited<ReturnType<typeof createEnclave<AnyEnclave>>> | undefined;
  const logs: unknown[] = [];
  say(`cloister up: a simulated SGX node running ${userEnclave ?? 'the hello-world enclave-aware container'} (SIMULATED: no protection)\n`);
  try {
    step = 'arguments';
    let args: unknown = { name: opts.name ?? 'world' };
    if (opts.args !== undefined) {
      try {
        args = JSON.parse(opts.args) as unknown;
      } catch {
        throw new CliError('INVALID_ARGUMENT', '--args must be JSON');
      }
    }

    begin(1, 'simulated SGX platform');
    const platform = Platform.create();
    platform.save(platformDir);
    steps['platform'] = { dir: platformDir, fmspc: platform.config.fmspc };
    say(`${platformDir} (FMSPC ${platform.config.fmspc})\n`);

    begin(2, 'quote helper (AESM protocol)');
    helper = new QuoteHelperService({
      socketPath,
      platformDir,
      simulate: true,
      logger: createLogger({ level: 'silent' }),
      registry: new Registry(),
    });
    await helper.start();
    const pki = await loadPki(platform, platformDir);
    steps['quoteHelper'] = { socket: socketPath };
    say(`${socketPath}\n`);

    let enclaveDir: string;
    let identity: { mrenclave: string; mrsigner: string };
    if (userEnclave === undefined) {
      begin(3, 'build + sign hello-world (throwaway key)');
      enclaveDir = copyExample(join(root, 'helloworld'));
      await buildEnclave(enclaveDir);
      // The copy's own key, generated in the temporary directory for this run only: it signs the bundled example,
      // nothing of the user's, and is deleted with the directory.
      identity = signEnclaveDir(enclaveDir);
    } else {
      begin(3, 'load your signed enclave');
      enclaveDir = userEnclave;
      // Exactly as the user built and signed it: MRENCLAVE and MRSIGNER from its own SIGSTRUCT.
      identity = loadEnclaveDir(enclaveDir);
    }
    steps['enclave'] = { dir: enclaveDir, mrenclave: identity.mrenclave, mrsigner: identity.mrsigner, signedHere: userEnclave === undefined };
    say(`MRENCLAVE ${identity.mrenclave}\n${' '.repeat(47)}MRSIGNER  ${identity.mrsigner}\n`);

    begin(4, 'start the enclave (sim backend)');
    enclave = await createEnclave<AnyEnclave>(enclaveDir, {
      platform: platformDir,
      aesmSocketPath: socketPath,
      hostEnv: { SGX_AESM_ADDR: '1' },
      logger: enclaveLogger((line, record) => (json ? logs.push(record) : process.stderr.write(`${line}\n`))),
    });
    const names = enclave.ecallNames;
    say(`running, ecalls: ${names.join(', ')}\n`);
    const ecall = opts.ecall ?? (userEnclave === undefined ? 'greet' : names.length === 1 ? names[0] : undefined);
    if (ecall === undefined) {
      throw new CliError('INVALID_ARGUMENT', `the enclave has ${names.length} ecalls (${names.join(', ')}): choose one with --ecall`);
    }
    const call = (enclave.ecalls as Record<string, ((a?: unknown) => Promise<unknown>) | undefined>)[ecall];
    if (!names.includes(ecall) || call === undefined) {
      throw new CliError('INVALID_ARGUMENT', `the enclave has no ecall ${ecall} (it has: ${names.join(', ')})`);
    }

    begin(5, `${ecall} + quote out of process`);
    const result = (await call(args)) as { quote?: unknown; greeting?: unknown } | undefined;
    const quote = result?.quote;
    const greeting = typeof result?.greeting === 'string' ? result.greeting : undefined;
    if (!(quote instanceof Uint8Array)) {
      throw new CliError('INVALID_ARGUMENT', `the ecall ${ecall} returned no \`quote\` (bytes from ctx.getQuote) to verify`);
    }
    if (greeting !== undefined) steps['greeting'] = greeting;
    say(`${greeting !== undefined ? `"${greeting}" ` : ''}(quote ${quote.length} bytes)\n`);

    begin(6, 'verify the quote (@cloister/dcap)');
    const reportData = greeting !== undefined ? new Uint8Array(createHash('sha256').update(greeting).digest()) : undefined;
    const evidence = await verifyEvidence(
      quote,
      { mrenclave: identity.mrenclave, allowSimulated: true, ...(reportData !== undefined ? { reportData } : {}) },
      { collateral: await createSimCollateral(platform, pki), trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] },
    );
    const id = evidence.identity;
    steps['verified'] = { status: evidence.result.status, simulated: evidence.result.simulated, identity: id };
    say(`${evidence.result.status}, simulated${reportData !== undefined ? ', report data = SHA-256(greeting)' : ''}\n`);
    if (json) printJson({ ok: true, ...steps, ...(logs.length > 0 ? { enclaveLog: logs } : {}) });
    else {
      process.stdout.write(
        `\nVerified enclave identity\n` +
          `  mrenclave        ${id.mrenclave}\n  mrsigner         ${id.mrsigner}\n` +
          `  isvProdId        ${id.isvProdId}\n  isvSvn           ${id.isvSvn}\n  debug            ${id.debug}\n` +
          `  TCB status       ${evidence.result.status} (simulated platform: trusted only because we asked)\n` +
          (greeting !== undefined ? `  says             "${greeting}"\n` : ''),
      );
    }
  } catch (e) {
    const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'UNEXPECTED';
    const message = (e as Error).message;
    if (json) printJson({ ok: false, step, error: { code, message }, ...steps });
    else process.stderr.write(`\nFAILED at "${step}": ${code}: ${message}\n`);
    process.exitCode = exitCodeFor(code);
  } finally {
    await enclave?.terminate().catch(() => undefined);
    await helper?.stop().catch(() => undefined);
    if (opts.keep !== true) rmSync(root, { recursive: true, force: true });
    else if (!json) process.stdout.write(`(kept ${root})\n`);
  }
}
