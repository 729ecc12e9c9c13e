/**
 * `cloister enclave run DIR --ecall NAME [--args JSON]`: start a signed enclave on the sim backend, make one ecall,
 * print the result as JSON (bytes as hex). With `--verify`, a `quote` in the result is verified against this enclave's
 * MRENCLAVE on the simulated platform (its root trusted explicitly; the result says simulated).
 */
import { createHash } from 'node:crypto';
import { trustAnchorFromCertificate } from '@cloister/dcap';
import { createEnclave, loadEnclaveDir, verifyEvidence, type EcallHandler, type EnclaveDefinition } from '@cloister/enclave';
import { Platform, createSimCollateral, loadOrCreatePki } from '@cloister/sgx-sim';
import { CliError } from '../errors.js';
import { enclaveLogger, toJsonValue } from '../io.js';
import { printJson, reportFailure } from '../output.js';

export interface EnclaveRunOptions {
  readonly ecall: string;
  readonly args?: string;
  readonly platform?: string;
  readonly aesmSocket?: string;
  readonly verify?: boolean;
  readonly debug?: boolean;
}

type AnyEnclave = EnclaveDefinition<Record<string, EcallHandler<unknown, unknown>>>;

export async function enclaveRunCommand(dir: string, opts: EnclaveRunOptions): Promise<void> {
  let args: unknown;
  try {
    args = opts.args === undefined ? undefined : (JSON.parse(opts.args) as unknown);
  } catch {
    reportFailure(new CliError('INVALID_ARGUMENT', '--args must be JSON'), true);
    return;
  }
  const platformDir = opts.platform ?? '/var/lib/cloister/sgx-sim';
  let enclave: Awaited<ReturnType<typeof createEnclave<AnyEnclave>>> | undefined;
  try {
    enclave = await createEnclave<AnyEnclave>(dir, {
      platform: platformDir,
      // ctx.log records, one line each on stderr (stdout stays the JSON result).
      logger: enclaveLogger((line) => process.stderr.write(`${line}\n`)),
      ...(opts.aesmSocket !== undefined ? { aesmSocketPath: opts.aesmSocket } : {}),
      ...(opts.debug === true ? { debug: true } : {}),
    });
    const call = (enclave.ecalls as Record<string, ((a?: unknown) => Promise<unknown>) | undefined>)[opts.ecall];
    if (call === undefined) throw new CliError('INVALID_ARGUMENT', `the enclave has no ecall ${opts.ecall} (it has: ${enclave.ecallNames.join(', ')})`);
    const result = await call(args);
    const out: Record<string, unknown> = { ok: true, result: toJsonValue(result) };
    const quote = (result as { quote?: unknown } | undefined)?.quote;
    if (opts.verify === true) {
      if (!(quote instanceof Uint8Array)) throw new CliError('INVALID_ARGUMENT', '--verify: the ecall returned no quote');
      const platform = Platform.load(platformDir);
      const pki = await loadOrCreatePki(platform, platformDir);
      const greeting = (result as { greeting?: unknown }).greeting;
      const evidence = await verifyEvidence(
        quote,
        {
          mrenclave: loadEnclaveDir(dir).mrenclave,
          allowSimulated: true,
          ...(typeof greeting === 'string' ? { reportData: new Uint8Array(createHash('sha256').update(greeting).digest()) } : {}),
        },
        { collateral: await createSimCollateral(platform, pki), trustAnchors: [trustAnchorFromCertificate(pki.rootCertPem)] },
      );
      out['verified'] = { status: evidence.result.status, simulated: evidence.result.simulated, identity: evidence.identity };
    }
    printJson(out);
  } catch (e) {
    reportFailure(e, true);
  } finally {
    await enclave?.terminate().catch(() => undefined);
  }
}
