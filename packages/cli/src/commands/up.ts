/**
 * `cloister up` — the main job: the whole system on one simulated SGX node, with the production code paths, in six
 * steps, each shown with its timing (docs: README.md, "What `cloister up` does"):
 *   1. simulated SGX node: a platform (@cloister/sgx-sim) in a temporary directory; the node agent's device plugin
 *      registered with an in-process kubelet (the node agent's kubelet double: real gRPC on unix sockets) and its
 *      quote helper serving the AESM protocol on a temporary /var/run/aesmd-style socket;
 *   2. attestation service (@cloister/attestation-service) on loopback: in-memory storage, the simulated instance
 *      trusting this platform's simulation root only;
 *   3. key broker (@cloister/key-broker): its enclave built and signed with a throwaway key, the KEK created and
 *      sealed inside it; it trusts tokens of the attestation service's simulated instance;
 *   4. the hello-world enclave-aware container — or, with `--enclave DIR`, the user's enclave exactly as built and
 *      signed (never rebuilt, never re-signed): one ecall; the enclave quotes OUT OF PROCESS (SGX_AESM_ADDR); the
 *      quote and its runtime data (the greeting: REPORTDATA = SHA-256(greeting)) are posted to the attestation
 *      service, and its token is verified against the service's JWKS and checked against the enclave's identity;
 *   5. the confidential OCR example (@cloister/inference deployConfidentialOcr): model encrypted, its key registered
 *      with the broker under a release policy naming the enclave, the server's enclave attests and gets the key
 *      released by that policy; one sample image recognised through the Node client (attested TLS);
 *   6. the dashboard URL (served by the attestation service and the key broker at /ui/).
 * Then it keeps serving until Ctrl-C when stdout is a terminal (`--serve` forces it), otherwise it exits (`--once`).
 * Any failure names the step and exits non-zero. SIGINT/SIGTERM stop every enclave and server and remove the
 * temporary directory (`--keep` keeps it).
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { attest, fetchJwks, startAttestationService, verifyAttestationToken, type AttestationServiceHandle } from '@cloister/attestation-service';
import { serializeCollateralBundle, trustAnchorFromCertificate } from '@cloister/dcap';
import { buildEnclave, createEnclave, loadEnclaveDir, signEnclaveDir, type EnclaveDefinition, type EcallHandler } from '@cloister/enclave';
import { connectNodeClient, deployConfidentialOcr } from '@cloister/inference';
import { prepareBrokerEnclave, startKeyBroker } from '@cloister/key-broker';
import { NodeAgent, createLogger as createAgentLogger } from '@cloister/node-agent';
import { KubeletDouble } from '@cloister/node-agent/testing';
import { createLogger } from '@cloister/service-kit';
import { Platform, createSimCollateral, generateSigningKey, loadPki } from '@cloister/sgx-sim';
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
  readonly once?: boolean;
  readonly serve?: boolean;
}

type AnyEnclave = EnclaveDefinition<Record<string, EcallHandler<unknown, unknown>>>;

const here = dirname(fileURLToPath(import.meta.url));
const HELLO = join('examples', 'helloworld', 'enclave.json');
const SAMPLE = join('examples', 'confidential-ocr', 'sample.png');
const STEPS = 6;
const EPC_MIB = 64;
const RESOURCES = ['kubernetes.azure.com/sgx_epc_mem_in_MiB', 'sgx.intel.com/enclave', 'sgx.intel.com/provision'] as const;
/** Generous: the first start of each enclave bundles and measures it, and the machine may be busy. */
const REGISTRATION_TIMEOUT_MS = 60_000;

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
  const example = findUp(HELLO);
  const modules = findUp(join('node_modules', '@cloister', 'enclave'));
  if (example === undefined || modules === undefined) {
    throw new CliError('INPUT_UNREADABLE', 'the bundled hello-world enclave is missing from this installation');
  }
  for (const f of ['enclave.json', 'src']) cpSync(join(dirname(example), f), join(dest, f), { recursive: true });
  symlinkSync(resolve(modules, '..', '..'), join(dest, 'node_modules'), 'dir');
  return dest;
}

/** A failure of the stack itself (not the user's input), with a stable code. */
class UpError extends Error {
  readonly code: 'TOKEN_MISMATCH' | 'KEY_BROKER_NOT_READY';

  constructor(code: UpError['code'], message: string) {
    super(message);
    this.code = code;
    this.name = 'UpError';
  }
}

const short = (hex: string): string => `${hex.slice(0, 8)}…`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const shortToken = (t: string): string => `${t.slice(0, 12)}…${t.slice(-6)}`;

/** Answers 200 at `url` within 5 s (the dashboard's HTML shell)? */
async function serves(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await r.body?.cancel().catch(() => undefined);
    return r.status === 200;
  } catch {
    return false;
  }
}

/** One step's line: `  3/6  key broker            KEK sealed in enclave 3f2a…     0.8 s`. */
function stepLine(n: number, title: string, detail: string, ms: number): string {
  return `  ${n}/${STEPS}  ${title.padEnd(21)} ${detail.padEnd(50)} ${seconds(ms).padStart(7)}`;
}
const more = (text: string): string => `        ${text}`;

export async function upCommand(opts: UpOptions): Promise<void> {
  const json = opts.json === true;
  const tty = !json && process.stdout.isTTY === true;
  const out = (s: string): void => {
    if (!json) process.stdout.write(s);
  };
  const report: Record<string, unknown> = {};
  const stepsDone: Record<string, unknown>[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const logs: unknown[] = [];
  // In a terminal, a step's progress line is rewritten when it ends: enclave log lines wait until then.
  const pendingLog: string[] = [];
  const flushLog = (): void => {
    for (const line of pendingLog.splice(0)) process.stderr.write(`${line}\n`);
  };
  const started = performance.now();
  let current = 'arguments';
  let root: string | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      if (root !== undefined) {
        if (opts.keep !== true) rmSync(root, { recursive: true, force: true });
        else out(`(kept ${root})\n`);
      }
    })());

  // Ctrl-C: while serving, it is the way to stop (exit 0); during the steps it interrupts them (exit 130/143).
  let serving: (() => void) | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
    if (serving !== undefined) {
      serving();
      return;
    }
    process.stderr.write(`\ninterrupted during "${current}": stopping everything\n`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let stepStart = 0;
  let stepN = 0;
  let stepTitle = '';
  const begin = (n: number, title: string): void => {
    stepN = n;
    stepTitle = title;
    current = `${n}/${STEPS} ${title}`;
    stepStart = performance.now();
    if (tty) out(`  ${n}/${STEPS}  ${title.padEnd(21)} …`);
  };
  const sub = (what: string): void => {
    current = `${stepN}/${STEPS} ${stepTitle}: ${what}`;
  };
  const done = (key: string, detail: string, data: Record<string, unknown>, extra: readonly string[] = []): void => {
    const ms = performance.now() - stepStart;
    stepsDone.push({ n: stepN, step: key, title: stepTitle, ms: Math.round(ms), ...data });
    out(`${tty ? '\r\x1b[K' : ''}${stepLine(stepN, stepTitle, detail, ms)}\n`);
    for (const line of extra) out(`${more(line)}\n`);
    flushLog();
  };

  try {
    if (opts.once === true && opts.serve === true) throw new CliError('INVALID_ARGUMENT', '--once and --serve exclude each other');
    // Serving is the default only for a person at a terminal (not with --json, not when stdout is a pipe or file).
    const serve = opts.serve === true || (opts.once !== true && tty);
    let args: unknown = { name: opts.name ?? 'world' };
    if (opts.args !== undefined) {
      try {
        args = JSON.parse(opts.args) as unknown;
      } catch {
        throw new CliError('INVALID_ARGUMENT', '--args must be JSON');
      }
    }
    let user: { dir: string; mrenclave: string; mrsigner: string } | undefined;
    if (opts.enclave !== undefined) {
      // Checked first, so that a wrong directory fails in a moment rather than after the services have started.
      // Exactly as the user built and signed it: MRENCLAVE and MRSIGNER from its own SIGSTRUCT.
      current = `4/${STEPS} your enclave: load your signed enclave`;
      const dir = resolve(opts.enclave);
      const loaded = loadEnclaveDir(dir);
      user = { dir, mrenclave: loaded.mrenclave, mrsigner: loaded.mrsigner };
    }
    const userEnclave = user?.dir;
    const workDir = mkdtempSync(join(tmpdir(), 'cloister-up-'));
    root = workDir;
    const platformDir = join(workDir, 'platform');
    const socketPath = join(workDir, 'aesmd', 'aesm.socket');
    const quiet = createLogger({ component: 'cloister-up', level: 'silent' });
    out(`cloister up: the whole system on a simulated SGX node (SIMULATED: no hardware protection)\n  work dir ${workDir}\n\n`);

    // 1. The node: platform, device plugin registered with kubelet, quote helper on the AESM socket.
    begin(1, 'simulated SGX node');
    sub('platform');
    const platform = Platform.create();
    platform.save(platformDir);
    sub('kubelet');
    const pluginDir = join(workDir, 'device-plugins');
    const kubelet = await KubeletDouble.start(pluginDir, { dialTimeoutMs: 10_000 });
    closers.push(() => kubelet.stop());
    sub('node agent (device plugin + quote helper)');
    const agent = new NodeAgent({
      pluginDir,
      simulate: { epcMiB: EPC_MIB, stateDir: join(workDir, 'sgx-state') },
      quoteHelper: { socketPath, platformDir, simulate: true },
      logger: createAgentLogger({ level: 'silent' }),
    });
    closers.push(() => agent.stop());
    await agent.start();
    await kubelet.waitFor(() => RESOURCES.every((r) => (kubelet.state(r)?.allocatable ?? 0) > 0), REGISTRATION_TIMEOUT_MS, 'device plugin registration');
    const resources = Object.fromEntries(RESOURCES.map((r) => [r, kubelet.state(r)?.capacity ?? 0]));
    const pki = await loadPki(platform, platformDir);
    const collateral = await createSimCollateral(platform, pki);
    const trustRoots = [trustAnchorFromCertificate(pki.rootCertPem)];
    done(
      'node',
      `EPC ${resources[RESOURCES[0]]} MiB, ${resources[RESOURCES[1]]} enclave slots, quote helper`,
      { platformDir, fmspc: platform.config.fmspc, resources, quoteHelper: { socket: socketPath } },
      [`device plugin registered with kubelet (in-process stand-in) · AESM socket ${socketPath}`],
    );
    report['platform'] = { dir: platformDir, fmspc: platform.config.fmspc };
    report['quoteHelper'] = { socket: socketPath };

    // The enclaves of steps 3 and 4 are bundled and signed while the attestation service starts (each step still
    // waits for its own and reports its failure).
    const signer = join(workDir, 'signer.pem');
    writeFileSync(signer, generateSigningKey(), { mode: 0o600 });
    const brokerEnclaveReady = prepareBrokerEnclave({ dir: join(workDir, 'broker-enclave'), keyPath: signer });
    const helloReady =
      user === undefined
        ? (async () => {
            const dir = copyExample(join(workDir, 'helloworld'));
            await buildEnclave(dir);
            // The copy's own key, generated in the temporary directory for this run only: it signs the bundled
            // example, nothing of the user's, and is deleted with the directory.
            const signed = signEnclaveDir(dir);
            return { dir, mrenclave: signed.mrenclave, mrsigner: signed.mrsigner };
          })()
        : undefined;
    for (const p of [brokerEnclaveReady, helloReady]) p?.catch(() => undefined);

    // 2. The attestation service: loopback, in memory, the simulated instance trusting this platform's root only.
    begin(2, 'attestation service');
    const adminToken = randomBytes(24).toString('base64url');
    const as: AttestationServiceHandle = await startAttestationService({
      allowSimulated: true,
      trustRoots: [pki.rootCertPem],
      collateral: [serializeCollateralBundle(collateral)],
      keyEncryptionKey: randomBytes(24).toString('base64url'),
      adminToken,
      logger: quiet,
    });
    closers.push(() => as.close());
    const authority = as.simulatedIssuer!;
    const attestUrl = `${as.url}/simulated`;
    done('attestationService', `${as.url} (simulated instance)`, { url: as.url, issuer: authority });

    // 3. The key broker: its enclave built and signed with a throwaway key; the KEK made and sealed inside it.
    begin(3, 'key broker');
    sub('build + sign its enclave');
    const brokerEnclave = await brokerEnclaveReady;
    sub('start (KEK sealed in its enclave)');
    const broker = await startKeyBroker({
      port: 0,
      host: '127.0.0.1',
      storage: { dataDir: join(workDir, 'broker-data') },
      authorities: [authority],
      adminToken,
      enclaveDir: brokerEnclave.dir,
      platform: platformDir,
      aesmSocketPath: socketPath,
      hostEnv: { SGX_AESM_ADDR: '1' },
      logger: quiet,
    });
    closers.push(() => broker.close());
    if (broker.broker.state !== 'ready') throw new UpError('KEY_BROKER_NOT_READY', `the key broker is ${broker.broker.state}`);
    done('keyBroker', `KEK sealed in enclave ${short(brokerEnclave.mrenclave)}`, { url: broker.url, mrenclave: brokerEnclave.mrenclave, mrsigner: brokerEnclave.mrsigner, authority }, [
      `${broker.url} · trusts tokens of ${authority}`,
    ]);

    // 4. The enclave-aware container, attested through the service; its token verified against the service's JWKS.
    begin(4, userEnclave === undefined ? 'hello-world enclave' : 'your enclave');
    if (helloReady !== undefined) sub('build + sign (throwaway key)');
    const identity = user ?? (await helloReady!);
    const enclaveDir = identity.dir;
    report['enclave'] = { dir: enclaveDir, mrenclave: identity.mrenclave, mrsigner: identity.mrsigner, signedHere: userEnclave === undefined };
    sub('start (sim backend)');
    const enclave = await createEnclave<AnyEnclave>(enclaveDir, {
      platform: platformDir,
      aesmSocketPath: socketPath,
      hostEnv: { SGX_AESM_ADDR: '1' },
      logger: enclaveLogger((line, record) => {
        if (json) logs.push(record);
        else if (tty) pendingLog.push(line);
        else process.stderr.write(`${line}\n`);
      }),
    });
    closers.push(() => enclave.terminate());
    const names = enclave.ecallNames;
    const ecall = opts.ecall ?? (userEnclave === undefined ? 'greet' : names.length === 1 ? names[0] : undefined);
    if (ecall === undefined) {
      throw new CliError('INVALID_ARGUMENT', `the enclave has ${names.length} ecalls (${names.join(', ')}): choose one with --ecall`);
    }
    const call = (enclave.ecalls as Record<string, ((a?: unknown) => Promise<unknown>) | undefined>)[ecall];
    if (!names.includes(ecall) || call === undefined) {
      throw new CliError('INVALID_ARGUMENT', `the enclave has no ecall ${ecall} (it has: ${names.join(', ')})`);
    }
    sub(`${ecall} + quote out of process`);
    const result = (await call(args)) as { quote?: unknown; greeting?: unknown } | undefined;
    const quote = result?.quote;
    const greeting = typeof result?.greeting === 'string' ? result.greeting : undefined;
    if (!(quote instanceof Uint8Array)) {
      throw new CliError('INVALID_ARGUMENT', `the ecall ${ecall} returned no \`quote\` (bytes from ctx.getQuote) to attest`);
    }
    if (greeting !== undefined) report['greeting'] = greeting;
    sub('attest through the attestation service');
    // The greeting is the runtime data: the service checks REPORTDATA[0..32] = SHA-256(greeting).
    const runtimeData = greeting !== undefined ? new TextEncoder().encode(greeting) : undefined;
    const token = await attest(attestUrl, 'SgxEnclave', quote, runtimeData !== undefined ? { runtimeData, runtimeDataType: 'Binary' } : {});
    sub("verify the token against the service's JWKS");
    const verifiedToken = await verifyAttestationToken(token, { jwks: await fetchJwks(attestUrl), issuer: authority });
    const c = verifiedToken.claims;
    if (c['x-ms-sgx-mrenclave'] !== identity.mrenclave || c['x-ms-sgx-mrsigner'] !== identity.mrsigner) {
      throw new UpError('TOKEN_MISMATCH', 'the token names another enclave than the one started');
    }
    const status = typeof c['x-cloister-tcb-status'] === 'string' ? c['x-cloister-tcb-status'] : 'unknown';
    const id = {
      mrenclave: identity.mrenclave,
      mrsigner: identity.mrsigner,
      isvProdId: c['x-ms-sgx-product-id'],
      isvSvn: c['x-ms-sgx-svn'],
      debug: c['x-ms-sgx-is-debuggable'],
    };
    report['verified'] = { status, simulated: c['x-cloister-simulated'] === true, identity: id, kid: verifiedToken.kid, issuer: c['iss'] };
    report['token'] = token;
    done(
      'enclave',
      greeting !== undefined ? `"${greeting}"` : `${ecall} answered`,
      { mrenclave: identity.mrenclave, mrsigner: identity.mrsigner, token: shortToken(token), tcbStatus: status },
      [
        `MRENCLAVE ${identity.mrenclave}`,
        `token ${shortToken(token)} verified (RS256, /certs kid ${short(verifiedToken.kid)}): TCB ${status}, simulated`,
      ],
    );

    // 5. Confidential OCR: the model key released by policy to the inference enclave; one image recognised.
    begin(5, 'confidential OCR');
    const samplePath = findUp(SAMPLE);
    if (samplePath === undefined) throw new CliError('INPUT_UNREADABLE', 'the OCR sample image is missing from this installation');
    sub('encrypt the model, register its key, start the server');
    const ocr = await deployConfidentialOcr({
      dir: join(workDir, 'ocr'),
      platform: platformDir,
      collateral: serializeCollateralBundle(collateral),
      attestationUrl: attestUrl,
      authority,
      brokerUrl: broker.url,
      brokerAdminToken: adminToken,
      signingKeyPath: signer,
      logger: quiet,
    });
    closers.push(() => ocr.close());
    sub('recognise the sample through the Node client (attested TLS)');
    const client = await connectNodeClient({
      url: ocr.server.url,
      policy: { mrenclave: ocr.enclave.mrenclave, allowSimulated: true },
      verifyOptions: { collateral, trustRoots },
      expectedModelHash: ocr.model.hash,
    });
    let text: string;
    try {
      text = (await client.recognize(new Uint8Array(readFileSync(samplePath)))).text;
    } finally {
      client.close();
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const t = ocr.server.timings;
    done(
      'ocr',
      `key released by policy, ${lines.length} line${lines.length === 1 ? '' : 's'} read`,
      { url: ocr.server.url, mrenclave: ocr.enclave.mrenclave, modelHash: ocr.model.hash, keyName: ocr.keyName, text, serverTimings: t },
      [
        `model ${(ocr.model.blobBytes / 1e6).toFixed(1)} MB encrypted; key "${ocr.keyName}" released to enclave ${short(ocr.enclave.mrenclave)} (attest ${seconds(t.attestMs)}, release ${seconds(t.keyReleaseMs)})`,
        ...lines.map((l) => `│ ${l}`),
      ],
    );

    // 6. The dashboard, served by the attestation service (and the key broker for its part).
    begin(6, 'dashboard');
    const dashboard = `${as.url}/ui/`;
    const brokerDashboard = `${broker.url}/ui/`;
    const [asServed, kbServed] = await Promise.all([serves(dashboard), serves(brokerDashboard)]);
    done(
      'dashboard',
      `${dashboard}${asServed ? '' : ' (not served by this build)'}`,
      { url: dashboard, served: asServed, keyBroker: { url: brokerDashboard, served: kbServed } },
      kbServed ? [`key broker: ${brokerDashboard}`] : [],
    );

    const totalMs = performance.now() - started;
    out(`\n  all ${STEPS} steps passed in ${seconds(totalMs)}\n`);
    if (json) printJson({ ok: true, ...report, steps: stepsDone, totalMs: Math.round(totalMs), serving: serve, ...(logs.length > 0 ? { enclaveLog: logs } : {}) });
    if (serve) {
      current = 'serving';
      out(`  serving — Ctrl-C stops every enclave and server and removes ${workDir}\n`);
      await new Promise<void>((resolveWait) => {
        serving = resolveWait;
      });
      out('\nstopping…\n');
    }
  } catch (e) {
    const code = typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'UNEXPECTED';
    const message = (e as Error).message;
    if (tty) out('\n');
    flushLog();
    if (json) printJson({ ok: false, step: current, error: { code, message }, ...report, steps: stepsDone });
    else process.stderr.write(`\nFAILED at "${current}": ${code}: ${message}\n`);
    process.exitCode = exitCodeFor(code);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
