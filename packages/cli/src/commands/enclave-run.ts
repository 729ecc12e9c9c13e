/**
 * `cloister enclave run DIR --ecall NAME [--args JSON]`: start a signed enclave on the sim backend, make one ecall,
 * print the result as JSON (bytes as hex). With `--verify`, a `quote` in the result is verified against this enclave's
 * MRENCLAVE on the simulated platform (its root trusted explicitly; the result says simulated).
 *
 * `--timeout <duration>` bounds the ecall (default 60s; `500ms`, `30s`, `2m`, a bare number is seconds; 0 = none):
 * over it, ENCLAVE_TIMEOUT and a spinning enclave is ended. SIGINT / SIGTERM end the enclave before the command
 * exits (and the sandbox's parent-death signal ends it if the command is killed outright). The JSON result carries
 * `isolation` (what the OS sandbox guarantees here, docs/security.md); when the enclave is not in a network
 * namespace, a warning on stderr says that it can open sockets itself (ctx.connect is then not its only way out).
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
  readonly timeout?: string;
}

/** `--timeout` as milliseconds: `500ms`, `30s`, `2m`, or a bare number of seconds; 0 = none. */
export function durationMs(value: string, flag = '--timeout'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (m === null) throw new CliError('INVALID_ARGUMENT', `${flag} ${value} is not a duration (e.g. 500ms, 30s, 2m)`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (!Number.isFinite(ms) || ms > 2 ** 31 - 1) throw new CliError('INVALID_ARGUMENT', `${flag} ${value} is too long`);
  return Math.round(ms);
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
  let callTimeoutMs: number;
  try {
    callTimeoutMs = opts.timeout === undefined ? 60_000 : durationMs(opts.timeout);
  } catch (e) {
    reportFailure(e, true);
    return;
  }
  const platformDir = opts.platform ?? '/var/lib/cloister/sgx-sim';
  let enclave: Awaited<ReturnType<typeof createEnclave<AnyEnclave>>> | undefined;
  // A signal ends the enclave first, then the command (128 + signal number, as a shell reports it).
  const onSignal = (signal: NodeJS.Signals): void => {
    const code = signal === 'SIGINT' ? 130 : 143;
    void (enclave?.terminate() ?? Promise.resolve()).finally(() => process.exit(code));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    enclave = await createEnclave<AnyEnclave>(dir, {
      callTimeoutMs,
      platform: platformDir,
      // ctx.log records, one line each on stderr (stdout stays the JSON result).
      logger: enclaveLogger((line) => process.stderr.write(`${line}\n`)),
      ...(opts.aesmSocket !== undefined ? { aesmSocketPath: opts.aesmSocket } : {}),
      ...(opts.debug === true ? { debug: true } : {}),
    });
    const isolation = enclave.isolation;
    if (isolation !== undefined && !isolation.networkNamespace) {
      process.stderr.write(
        'warning: this sim enclave can open network sockets itself (no network namespace: needs root, or user namespaces, and unshare); ' +
          'ctx.connect is not its only way out\n',
      );
    }
    const call = (enclave.ecalls as Record<string, ((a?: unknown) => Promise<unknown>) | undefined>)[opts.ecall];
    if (call === undefined) throw new CliError('INVALID_ARGUMENT', `the enclave has no ecall ${opts.ecall} (it has: ${enclave.ecallNames.join(', ')})`);
    const result = await call(args);
    const out: Record<string, unknown> = { ok: true, result: toJsonValue(result), ...(isolation !== undefined ? { isolation } : {}) };
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
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await enclave?.terminate().catch(() => undefined);
  }
}
