/**
 * `cloister up` — the main job: a local, simulated SGX node running the hello-world enclave-aware container with
 * remote attestation, end to end, with the production code paths:
 *   1. a simulated SGX platform (@cloister/sgx-sim) in a temporary directory,
 *   2. the quote helper serving the AESM protocol on a temporary /var/run/aesmd-style socket (@cloister/node-agent),
 *   3. build and sign the hello-world enclave (examples/helloworld),
 *   4. start it on the sim backend (its own permission-restricted process),
 *   5. call `greet`: the enclave binds its greeting into REPORTDATA and quotes OUT OF PROCESS (SGX_AESM_ADDR),
 *   6. verify the quote with @cloister/dcap (trusting the simulation root only) and the policy, print the identity.
 * Exits non-zero, naming the failed step, if anything fails.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { buildEnclave, createEnclave, signEnclaveDir, verifyEvidence, type EnclaveDefinition, type EcallHandler } from '@cloister/enclave';
import { QuoteHelperService, createLogger } from '@cloister/node-agent';
import { Platform, createSimCollateral, loadPki } from '@cloister/sgx-sim';
import { Registry } from 'prom-client';
import { printJson } from '../output.js';

export interface UpOptions {
  readonly enclave?: string;
  readonly keep?: boolean;
  readonly json?: boolean;
  readonly name?: string;
}

type Greeter = EnclaveDefinition<{
  greet: EcallHandler<{ name: string }, { greeting: string; quote: Uint8Array; mrenclave: string }>;
}>;

const here = dirname(fileURLToPath(import.meta.url));
/** examples/helloworld of this repository (packages/cli/dist/src/commands → repository root). */
const DEFAULT_ENCLAVE = resolve(here, '..', '..', '..', '..', '..', 'examples', 'helloworld');

export async function upCommand(opts: UpOptions): Promise<void> {
  const json = opts.json === true;
  const say = (s: string): void => {
    if (!json) process.stdout.write(s);
  };
  const steps: Record<string, unknown> = {};
  const root = mkdtempSync(join(tmpdir(), 'cloister-up-'));
  const platformDir = join(root, 'platform');
  const socketPath = join(root, 'aesmd', 'aesm.socket');
  const enclaveDir = resolve(opts.enclave ?? DEFAULT_ENCLAVE);
  let step = '';
  const begin = (n: number, what: string): void => {
    step = what;
    say(`  [${n}/6] ${what.padEnd(38, '.')} `);
  };
  let helper: QuoteHelperService | undefined;
  let enclave: Awaited<ReturnType<typeof createEnclave<Greeter>>> | undefined;
  say('cloister up: a simulated SGX node running the hello-world enclave-aware container (SIMULATED: no protection)\n');
  try {
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

    begin(3, 'build + sign the enclave');
    await buildEnclave(enclaveDir);
    const signed = await signEnclaveDir(enclaveDir);
    steps['enclave'] = { dir: enclaveDir, mrenclave: signed.mrenclave, mrsigner: signed.mrsigner };
    say(`MRENCLAVE ${signed.mrenclave}\n${' '.repeat(47)}MRSIGNER  ${signed.mrsigner}\n`);

    begin(4, 'start the enclave (sim backend)');
    enclave = await createEnclave<Greeter>(enclaveDir, {
      platform: platformDir,
      aesmSocketPath: socketPath,
      hostEnv: { SGX_AESM_ADDR: '1' },
    });
    say(`running, ecalls: ${enclave.ecallNames.join(', ')}\n`);

    begin(5, 'greet + quote out of process');
    const { greeting, quote } = await enclave.ecalls.greet({ name: opts.name ?? 'world' });
    steps['greeting'] = greeting;
    say(`"${greeting}" (quote ${quote.length} bytes)\n`);

    begin(6, 'verify the quote (@cloister/dcap)');
    const reportData = createHash('sha256').update(greeting).digest();
    const evidence = await verifyEvidence(
      quote,
      { mrenclave: signed.mrenclave, allowSimulated: true, reportData: new Uint8Array(reportData) },
      { collateral: await createSimCollateral(platform, pki), trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] },
    );
    const id = evidence.identity;
    steps['verified'] = { status: evidence.result.status, simulated: evidence.result.simulated, identity: id };
    say(`${evidence.result.status}, simulated, report data = SHA-256(greeting)\n`);
    if (json) printJson({ ok: true, ...steps });
    else {
      process.stdout.write(
        `\nVerified enclave identity\n` +
          `  mrenclave        ${id.mrenclave}\n  mrsigner         ${id.mrsigner}\n` +
          `  isvProdId        ${id.isvProdId}\n  isvSvn           ${id.isvSvn}\n  debug            ${id.debug}\n` +
          `  TCB status       ${evidence.result.status} (simulated platform: trusted only because we asked)\n` +
          `  says             "${greeting}"\n`,
      );
    }
  } catch (e) {
    const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'UNEXPECTED';
    const message = (e as Error).message;
    if (json) printJson({ ok: false, step, error: { code, message }, ...steps });
    else process.stderr.write(`\nFAILED at "${step}": ${code}: ${message}\n`);
    process.exitCode = 1;
  } finally {
    await enclave?.terminate().catch(() => undefined);
    await helper?.stop().catch(() => undefined);
    if (opts.keep !== true) rmSync(root, { recursive: true, force: true });
    else if (!json) process.stdout.write(`(kept ${root})\n`);
  }
}
