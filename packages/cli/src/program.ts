/**
 * The `cloister` command: one entry point for every Cloister component. {@link runCli} runs it with the CLI's
 * conventions in one place, so that no command has to repeat them: usage errors exit 2 (1 stays "failed / not
 * verified"), with `--json` every error is JSON on stdout, and a failure — a typed Cloister error or a system error such
 * as EADDRINUSE or EEXIST — is one coded line, never a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, cliFailureOf, exitCodeFor, type CliFailure } from './errors.js';

// Commands load their modules only when run: `cloister node-agent` (a long-lived DaemonSet process) must not carry
// the verifier, the simulator and their dependencies in memory.
type Action<A extends unknown[]> = (...args: A) => Promise<void>;
function lazy<A extends unknown[]>(load: () => Promise<Action<A>>): Action<A> {
  return async (...args: A) => (await load())(...args);
}
const verifyCommand = lazy(async () => (await import('./commands/verify.js')).verifyCommand);
const quoteInspectCommand = lazy(async () => (await import('./commands/quote-inspect.js')).quoteInspectCommand);
const collateralFetchCommand = lazy(async () => (await import('./commands/collateral-fetch.js')).collateralFetchCommand);
const enclaveRunCommand = lazy(async () => (await import('./commands/enclave-run.js')).enclaveRunCommand);
const upCommand = lazy(async () => (await import('./commands/up.js')).upCommand);
const nodeAgentCommand = lazy(async () => (await import('./commands/node-agent.js')).nodeAgentCommand);
const simInitCommand = lazy(async () => (await import('./commands/sim.js')).simInitCommand);
const simRootCommand = lazy(async () => (await import('./commands/sim.js')).simRootCommand);
const simQuoteCommand = lazy(async () => (await import('./commands/sim.js')).simQuoteCommand);
const simCollateralCommand = lazy(async () => (await import('./commands/sim.js')).simCollateralCommand);
const enclaveInitCommand = lazy(async () => (await import('./commands/enclave.js')).enclaveInitCommand);
const enclaveBuildCommand = lazy(async () => (await import('./commands/enclave.js')).enclaveBuildCommand);
const enclaveSignCommand = lazy(async () => (await import('./commands/enclave.js')).enclaveSignCommand);
const enclaveMeasureCommand = lazy(async () => (await import('./commands/enclave.js')).enclaveMeasureCommand);
const ratlsInspectCommand = lazy(async () => (await import('./commands/ratls.js')).ratlsInspectCommand);
const ratlsVerifyCommand = lazy(async () => (await import('./commands/ratls.js')).ratlsVerifyCommand);
const installCommand = lazy(async () => (await import('./commands/install.js')).installCommand);
const webhookServeCommand = lazy(async () => (await import('./commands/webhook.js')).webhookServeCommand);
const attestationServeCommand = lazy(async () => (await import('./commands/attestation-service.js')).attestationServeCommand);
const attestCommand = lazy(async () => (await import('./commands/attest.js')).attestCommand);
const tokenVerifyCommand = lazy(async () => (await import('./commands/token.js')).tokenVerifyCommand);
const inferServeCommand = lazy(async () => (await import('./commands/infer.js')).inferServeCommand);
const inferCommand = lazy(async () => (await import('./commands/infer.js')).inferCommand);
const inferEncryptCommand = lazy(async () => (await import('./commands/infer.js')).inferEncryptCommand);
const keyBrokerServeCommand = lazy(async () => (await import('./commands/key-broker.js')).keyBrokerServeCommand);
const kbProposeCommand = lazy(async () => (await import('./commands/kb.js')).kbProposeCommand);
const kbVoteCommand = lazy(async () => (await import('./commands/kb.js')).kbVoteCommand);
const kbLedgerCommand = lazy(async () => (await import('./commands/kb.js')).kbLedgerCommand);
const kbReleaseCommand = lazy(async () => (await import('./commands/kb.js')).kbReleaseCommand);
const kbRecoveryCommand = lazy(async () => (await import('./commands/kb.js')).kbRecoveryCommand);

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Metrics port of `node-agent` when it runs only the quote helper (the device plugin's agent keeps 9310). */
export const QUOTE_HELPER_METRICS_PORT = '9311';

/**
 * `cloister node-agent --quote-helper --no-device-plugin` beside a device-plugin agent on the same host must not
 * collide on the metrics port: without an explicit --metrics-port, the helper-only agent takes 9311.
 */
const nodeAgentAction = async (opts: Record<string, unknown>, cmd: Command): Promise<void> => {
  const explicit = cmd.getOptionValueSource('metricsPort') === 'cli';
  const options = !explicit && opts['devicePlugin'] === false ? { ...opts, metricsPort: QUOTE_HELPER_METRICS_PORT } : opts;
  await (nodeAgentCommand as (o: Record<string, unknown>, c: Command) => Promise<void>)(options, cmd);
};

export interface BuildProgramOptions {
  /** Where commander's own messages (usage errors, help) go. Default: stdout / stderr. */
  readonly writeOut?: (s: string) => void;
  readonly writeErr?: (s: string) => void;
}

export function buildProgram(io: BuildProgramOptions = {}): Command {
  const program = new Command('cloister')
    .description('Enclave-aware containers with Intel SGX: attestation, enclaves, node agent.')
    .version('0.1.0')
    // Inherited by every subcommand created below: usage errors throw (runCli maps them to exit 2 / JSON).
    .exitOverride()
    .configureOutput({
      writeOut: io.writeOut ?? ((s) => process.stdout.write(s)),
      writeErr: io.writeErr ?? ((s) => process.stderr.write(s)),
    })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('verify')
    .description('verify an SGX/TDX DCAP quote against its collateral, as Intel QVL does (exit 0: verified, 1: not)')
    .argument('<quote>', 'quote file (- for stdin): raw bytes, hex or base64 (Open Enclave report headers are unwrapped)')
    .requiredOption('--collateral <file>', 'collateral bundle (dcap-qvl QuoteCollateralV3 JSON; - for stdin)')
    .option('--now <iso>', 'verification time (default: now)')
    .option('--trust-root <file>', 'certificate whose public key is a trust anchor instead of the Intel SGX Root CA (repeatable)', collect)
    .option('--allow-expired-collateral', 'accept collateral outside its validity, as Intel QvE does; reported in the result')
    .option('--skip-root-crl-freshness', "ignore the root CA CRL's thisUpdate/nextUpdate; reported in the result")
    .option('--skip-pck-crl-freshness', "ignore the PCK CRL's thisUpdate/nextUpdate; reported in the result")
    .option('--policy <json|file>', 'enclave policy JSON (inline or a file): mrenclave, mrsigner, isvProdId, minIsvSvn, acceptedTcbStatuses… (docs/attestation/policy.md)')
    .option('--allow-debug', 'with --policy: accept a debug enclave')
    .option('--allow-simulated', 'with --policy: accept evidence from a simulated platform (chained to a --trust-root that is not Intel)')
    .option('--json', 'print the result as JSON')
    .action(verifyCommand);

  const quote = program.command('quote').description('work with quotes');
  quote
    .command('inspect')
    .description('print every parsed field and claim of a quote (no verification)')
    .argument('<file>', 'quote file (- for stdin): raw bytes, hex or base64')
    .option('--maa-claims', 'print the claims an Azure Attestation–compatible service issues for it (not verified)')
    .option('--runtime-data <file>', 'with --maa-claims: the runtime data (Binary) bound to REPORTDATA')
    .option('--json', 'print JSON')
    .action(quoteInspectCommand);

  const collateral = program.command('collateral').description('work with DCAP collateral');
  collateral
    .command('fetch')
    .description('fetch the collateral bundle for a quote from Intel PCS (default) or a PCCS')
    .argument('<quote>', 'quote file (- for stdin): raw bytes, hex or base64')
    .option('--pccs <url>', 'PCCS base URL, e.g. https://pccs.example:8081')
    .option('--pcs <url>', 'Intel PCS base URL (default https://api.trustedservices.intel.com)')
    .option('--api-key <key>', 'Intel PCS subscription key (Ocp-Apim-Subscription-Key)')
    .option('--out <file>', 'write the bundle here instead of stdout')
    .option('--trust-root <file>', 'verify the fetched collateral against this root instead of the Intel SGX Root CA (repeatable)', collect)
    .option('--json', 'report as JSON')
    .action(collateralFetchCommand);

  program
    .command('up')
    .description('the main job: the whole system on a simulated SGX node — node agent, attestation service, key broker, an attested enclave, confidential OCR, dashboard')
    .option('--enclave <dir>', 'your enclave, built and signed (default: the bundled hello-world, signed with a throwaway key)')
    .option('--ecall <name>', 'the ecall to make (default greet; required with --enclave unless it has exactly one)')
    .option('--args <json>', 'its argument as JSON (default {"name": NAME})')
    .option('--name <name>', 'who the hello-world enclave greets (default world)')
    .option('--keep', 'keep the temporary node directory')
    .option('--once', 'exit after the steps (the default when stdout is not a terminal)')
    .option('--serve', 'keep serving after the steps until Ctrl-C (the default in a terminal)')
    .option('--json', 'report as JSON')
    .action(upCommand);

  program
    .command('node-agent')
    .description('the SGX device plugin for kubelet: EPC as kubernetes.azure.com/sgx_epc_mem_in_MiB, sgx.intel.com/enclave|provision')
    .option('--simulate', 'a simulated SGX node (EPC from --epc-mib, simulated device files)')
    .option('--epc-mib <n>', 'EPC in MiB (simulation; on hardware only when sysfs does not report it)')
    .option('--state-dir <dir>', 'where the simulated device files are created (default /var/lib/cloister/simulated-sgx)')
    .option('--plugin-dir <dir>', 'kubelet device-plugin directory (default /var/lib/kubelet/device-plugins)')
    .option('--kubelet-socket <path>', "kubelet's registration socket (default <plugin-dir>/kubelet.sock)")
    .option('--resources <list>', 'which resources to offer: epc,enclave,provision (default all)')
    .option('--enclave-limit <n>', 'sgx.intel.com/enclave slots (default 110)')
    .option('--provision-limit <n>', 'sgx.intel.com/provision slots (default 110)')
    .option('--legacy-aliases', 'also map /dev/sgx/enclave and /dev/sgx/provision into containers')
    .option('--metrics-port <port>', `/metrics, /healthz, /readyz port (default 9310; ${QUOTE_HELPER_METRICS_PORT} with --no-device-plugin)`)
    .option('--metrics-host <host>', 'address to listen on (default 0.0.0.0)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (default info)')
    .option('--quote-helper', 'serve the AESM protocol on /var/run/aesmd/aesm.socket (simulated nodes) or probe Intel aesmd')
    .option('--no-device-plugin', 'run only the quote helper')
    .option('--aesm-socket <path>', 'AESM socket (default /var/run/aesmd/aesm.socket)')
    .option('--platform-dir <dir>', 'simulated platform for the quote helper (default /var/lib/cloister/sgx-sim)')
    .option('--quote-version <n>', 'quote version the simulated QE emits: 3 (default) or 4')
    .addHelpText('after', `\nWith --no-device-plugin and no --metrics-port, the metrics port is ${QUOTE_HELPER_METRICS_PORT}, so that a\nquote-helper agent and a device-plugin agent can run side by side.`)
    .action(nodeAgentAction);

  const sim = program
    .command('sim')
    .description('a simulated SGX platform: real DCAP formats, a simulated root (never trusted by default)');
  sim
    .command('init')
    .description('create a simulated platform (secret, TCB, PKI) in DIR')
    .argument('<dir>', 'platform directory')
    .option('--fmspc <hex>', 'FMSPC, 6 bytes (default 00906ed50000)')
    .option('--tcb-components <list>', '16 comma-separated SGX TCB component SVNs (CPUSVN)')
    .option('--pce-svn <n>', 'PCESVN')
    .option('--qe-svn <n>', 'ISVSVN of the simulated Quoting Enclave')
    .option('--epc-mib <n>', 'EPC size in MiB')
    .option('--force', 'replace an existing platform in DIR')
    .option('--json', 'report as JSON')
    .action(simInitCommand);
  sim
    .command('root')
    .description('print the simulation root certificate (PEM), the trust anchor to give a verifier')
    .requiredOption('--platform <dir>', 'platform directory')
    .option('--out <file>', 'write it here instead of stdout')
    .action(simRootCommand);
  sim
    .command('quote')
    .description('a DCAP quote from the simulated Quoting Enclave (raw bytes with --out, hex on stdout otherwise)')
    .requiredOption('--platform <dir>', 'platform directory')
    .option('--mrenclave <hex>', 'quote for an enclave with this MRENCLAVE (32 bytes)')
    .option('--mrsigner <hex>', 'its MRSIGNER (default zeros)')
    .option('--isv-prod-id <n>', 'its ISVPRODID')
    .option('--isv-svn <n>', 'its ISVSVN')
    .option('--debug', 'a debug enclave')
    .option('--enclave <dir>', 'quote for a signed enclave package (cloister enclave build + sign)')
    .option('--report-data <hex>', 'REPORTDATA, up to 64 bytes (zero padded)')
    .option('--quote-version <n>', '3 (default) or 4')
    .option('--out <file>', 'write the quote here')
    .action(simQuoteCommand);
  sim
    .command('collateral')
    .description('collateral for the simulated platform (bundle JSON), with a chosen TCB status')
    .requiredOption('--platform <dir>', 'platform directory')
    .option('--tcb-status <s>', 'status of the platform TCB level (UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, Revoked)')
    .option('--qe-status <s>', 'status of the QE identity level (UpToDate, OutOfDate, Revoked)')
    .option('--advisory-ids <list>', 'comma-separated advisory IDs of the platform level')
    .option('--revoke-pck', 'list the platform PCK certificate in the PCK CRL')
    .option('--below-all-levels', 'no TCB level matches the platform (TCB_NOT_SUPPORTED)')
    .option('--now <iso>', 'issue time (default now)')
    .option('--validity-days <n>', 'days until nextUpdate (default 30)')
    .option('--out <file>', 'write it here instead of stdout')
    .action(simCollateralCommand);

  const enclave = program
    .command('enclave')
    .description('enclave packages: scaffold, bundle, sign and measure (enclave.json, dist/enclave.bundle.mjs, enclave.sigstruct)');
  enclave
    .command('init')
    .description('create an enclave project in DIR (enclave.json, src/enclave.ts, src/host.ts, package.json, tsconfig.json)')
    .argument('<dir>', 'project directory (created if missing)')
    .option('--name <name>', "the enclave's name, measured (default: the directory's name)")
    .option('--force', 'replace existing files')
    .option('--json', 'report as JSON')
    .action(enclaveInitCommand);
  enclave
    .command('build')
    .description("bundle the manifest's entry into DIR/dist/enclave.bundle.mjs, the measured code")
    .argument('[dir]', 'enclave directory (default .)')
    .option('--json', 'report as JSON')
    .action(enclaveBuildCommand);
  enclave
    .command('sign')
    .description('sign the build (DIR/enclave.sigstruct) and print MRENCLAVE and MRSIGNER')
    .argument('[dir]', 'enclave directory (default .)')
    .option('--key <file>', 'RSA-3072 (e = 3) PEM signing key (default DIR/enclave.key.pem, generated 0600 on first use)')
    .option('--json', 'report as JSON')
    .action(enclaveSignCommand);
  enclave
    .command('measure')
    .description('print the MRENCLAVE of the build, without signing')
    .argument('[dir]', 'enclave directory (default .)')
    .option('--json', 'report as JSON')
    .action(enclaveMeasureCommand);
  enclave
    .command('run')
    .description('start a signed enclave on the sim backend, make one ecall, print the result as JSON')
    .argument('<dir>', 'enclave directory (built and signed)')
    .requiredOption('--ecall <name>', 'the ecall to make')
    .option('--args <json>', 'its argument, as JSON')
    .option('--platform <dir>', 'simulated platform made by cloister sim init (default /var/lib/cloister/sgx-sim)')
    .option('--aesm-socket <path>', 'AESM socket for out-of-process quotes (with SGX_AESM_ADDR set)')
    .option('--verify', "verify a `quote` in the result against this enclave's MRENCLAVE (simulated platform)")
    .option('--debug', 'allow a debug enclave')
    .option('--timeout <duration>', 'bound the ecall: 500ms, 30s, 2m (default 60s; 0 = none); over it: ENCLAVE_TIMEOUT')
    .action(enclaveRunCommand);

  const ratls = program
    .command('ratls')
    .description('RA-TLS certificates: TCG DICE, Gramine, Intel SGX SDK, Open Enclave and EGo attestation evidence');
  ratls
    .command('inspect')
    .description('print the evidence formats, claims and public-key binding of an RA-TLS certificate (no verification)')
    .argument('<cert>', 'certificate file (- for stdin): PEM or DER')
    .option('--json', 'print JSON')
    .action(ratlsInspectCommand);
  ratls
    .command('verify')
    .description('verify an RA-TLS certificate: its evidence, the key binding, the quote and a policy (exit 0: verified, 1: not)')
    .argument('<cert>', 'certificate file (- for stdin): PEM or DER')
    .option('--collateral <file>', 'collateral bundle (dcap-qvl QuoteCollateralV3 JSON) for full quote verification')
    .option('--now <iso>', 'verification time (default: now)')
    .option('--trust-root <file>', 'certificate whose public key is a trust anchor instead of the Intel SGX Root CA (repeatable)', collect)
    .option('--signatures-only', 'without collateral: check the quote signatures, PCK chain and binding, not the TCB status')
    .option('--policy <json|file>', 'enclave policy JSON (inline or a file): mrenclave, mrsigner, isvProdId, minIsvSvn, acceptedTcbStatuses… (docs/attestation/policy.md)')
    .option('--allow-debug', 'with --policy: accept a debug enclave')
    .option('--allow-simulated', 'with --policy: accept evidence from a simulated platform (chained to a --trust-root that is not Intel)')
    .option('--allow-expired-collateral', 'accept collateral outside its validity, as Intel QvE does')
    .option('--json', 'print the result as JSON')
    .action(ratlsVerifyCommand);

  const infer = program
    .command('infer')
    .description('confidential inference: verify an inference enclave over attested TLS, then send it INPUT (docs/developers/confidential-inference.md)')
    .argument('[model]', 'model name (e.g. ppocr, ppocr-rec)')
    .argument('[input]', 'a PNG (OCR model) or an Open Inference Protocol request (.json)')
    .option('--url <url>', 'the server (https://host:port)')
    .option('--policy <json|file>', 'enclave policy JSON (inline or a file): mrenclave, mrsigner, isvProdId… (docs/attestation/policy.md)')
    .option('--allow-debug', 'with --policy: accept a debug enclave')
    .option('--allow-simulated', 'with --policy: accept evidence from a simulated platform (chained to a --trust-root that is not Intel)')
    .option('--collateral <file>', 'collateral bundle to verify the quote with')
    .option('--trust-root <file>', 'certificate whose public key is a trust anchor instead of the Intel SGX Root CA (repeatable)', collect)
    .option('--model-hash <hex>', 'refuse a server holding another encrypted model (SHA-256 of the blob)')
    .option('--timeout <seconds>', 'per-request deadline (default 120)')
    .option('--json', 'print JSON')
    .action(async (model: string | undefined, input: string | undefined, opts: Record<string, unknown>, cmd: Command) => {
      if (model === undefined || input === undefined || typeof opts['url'] !== 'string') {
        cmd.error('usage: cloister infer MODEL INPUT --url URL --policy JSON|FILE --collateral FILE', { exitCode: EXIT_USAGE, code: 'cloister.usage' });
      }
      await (inferCommand as unknown as (m: string, i: string, o: Record<string, unknown>) => Promise<void>)(model!, input!, opts);
    });
  infer
    .command('encrypt')
    .description('the model owner: encrypt an OCR model (det, rec, keys) into a model blob under a fresh AES-256 key; prints the model hash')
    .requiredOption('--det <file>', 'text detection model (ONNX)')
    .requiredOption('--rec <file>', 'text recognition model (ONNX)')
    .requiredOption('--keys <file>', 'character dictionary (one character a line)')
    .requiredOption('--out <file>', 'where to write the encrypted blob')
    .requiredOption('--key-out <file>', 'where to write the 32-byte key (mode 0600)')
    .option('--force', 'replace existing output files')
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const json = opts['json'] === true || cmd.parent?.opts()['json'] === true;
      await (inferEncryptCommand as unknown as (o: Record<string, unknown>) => Promise<void>)({ ...opts, json });
    });
  infer
    .command('serve')
    .description('start a confidential inference server: the enclave attests, gets the model key from the key broker, serves OIP v2 over attested TLS')
    .requiredOption('--enclave <dir>', 'the signed inference enclave directory (--prepare makes it)')
    .requiredOption('--model-blob <file>', 'the encrypted model (AES-256-GCM blob)')
    .requiredOption('--attestation-url <url>', 'attestation service instance URL (MAA REST API)')
    .requiredOption('--broker-url <url>', 'key broker URL (Azure Key Vault Secure Key Release API)')
    .requiredOption('--key-name <name>', 'the model key\'s name at the broker')
    .option('--key-version <version>', 'the model key\'s version')
    .option('--broker-token-file <file>', 'bearer token for the broker')
    .option('--model <name>', 'model name served (default ppocr)')
    .option('--platform <dir>', 'simulated platform directory (sim backend)')
    .option('--collateral <file>', 'collateral served with the evidence (for browsers)')
    .option('--host <host>', 'listen address (default 127.0.0.1)')
    .option('--port <port>', 'listen port (default 8443)')
    .option('--prepare', 'build and sign the enclave directory first')
    .option('--signing-key <file>', 'with --prepare: the enclave signing key (default DIR/enclave.key.pem)')
    .option('--json', 'print JSON')
    // `--json` after `serve` is parsed by `infer` (which has one too): take it from there as well.
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const json = opts['json'] === true || cmd.parent?.opts()['json'] === true;
      await (inferServeCommand as unknown as (o: Record<string, unknown>) => Promise<void>)({ ...opts, json });
    });

  program
    .command('install')
    .description('render the add-on (node agent, quote helper, webhook, attestation service, key broker) as manifests: | kubectl apply -f -')
    .option('-o, --output <format>', 'yaml (default) or json')
    .option('--out-dir <dir>', 'write one file per part into DIR instead of stdout')
    .option('--dry-run', 'list the objects that would be rendered, write nothing')
    .option('--uninstall', 'print the objects in delete order, webhook configurations first: | kubectl delete -f -')
    .option('--simulate', 'simulated SGX nodes (kind): no /dev/sgx_* hostPaths, a simulated platform per node')
    .option('--epc-mib <n>', 'EPC each simulated node advertises (default 128)')
    .option('--namespace <ns>', 'namespace of the webhook and services (default cloister-system)')
    .option('--node-namespace <ns>', 'namespace of the node DaemonSets (default cloister-node)')
    .option('--registry <registry>', 'image registry (default ghcr.io/cloister)')
    .option('--tag <tag>', 'image tag (default 0.1.0)')
    .option('--image <name=ref>', 'full image reference for node-agent, webhook, attestation-service or key-broker (repeatable)', collect)
    .option('--include <parts>', 'only these parts: node-agent,quote-helper,webhook,attestation-service,key-broker')
    .option('--exclude <parts>', 'leave these parts out')
    .option('--cert-manager', 'cert-manager Issuers and Certificates instead of generated certificates')
    .option('--ca-dir <dir>', 'sign with the CA in DIR (ca.crt, ca.key), creating it there if missing')
    .option('--prometheus-operator', 'also ServiceMonitors and PodMonitors')
    .option('--storage <kind>', 'postgres (URLs from a Secret, 2 replicas; default) or embedded (PGlite on a volume, 1 replica)')
    .option('--database-secret <name>', 'Secret with keys attestation-service and key-broker (PostgreSQL URLs; default cloister-database)')
    .option('--kek-secret <name>', "Secret (key kek) with the attestation service's key-encryption key, shared by its replicas (default cloister-attestation-kek)")
    .option('--epc-resource <name>', 'EPC name the nodes advertise: aks (Cloister node agent; default) or intel (AKS confcom, Intel plugin)')
    .option('--no-node-capacity', 'do not give the webhook read access to Nodes (skips the EPC-larger-than-any-node check)')
    .option('--pccs <url>', "attestation service's PCCS")
    .option('--admin-token-secret <name>', "Secret (key token) for the services' admin API")
    .option('--json', 'report as JSON (with --out-dir, --dry-run)')
    .action(installCommand);

  const attestationService = program.command('attestation-service').description('the Azure Attestation–compatible attestation service');
  attestationService
    .command('serve')
    .description('serve the MAA REST API (attest, policies, certs) with RS256 tokens (docs/attestation/service.md)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; others need --issuer)')
    .option('--port <port>', 'port (default 8443)')
    .option('--data <dir>', 'embedded storage directory (PGlite; one replica)')
    .option('--database-url <url>', 'PostgreSQL (replicas)')
    .option('--tls-cert <file>', 'serving certificate (PEM; reloaded when it changes)')
    .option('--tls-key <file>', 'its private key (PEM)')
    .option('--issuer <url>', 'the issuer URL relying parties see (default: the URL it serves, loopback only)')
    .option('--trust-root <pem>', 'root certificate of simulated platforms (repeatable; needs --allow-simulated)', collect)
    .option('--allow-simulated', 'serve a separate instance for simulated platforms at /simulated (issuer <issuer>/simulated)')
    .option('--collateral <file>', 'offline collateral bundle (repeatable)', collect)
    .option('--pccs <url>', 'PCCS or Intel PCS base URL (verified collateral is cached)')
    .option('--admin-token-file <file>', 'admin bearer token for policy and certificate management')
    .option('--key-encryption-key-file <file>', 'secret the signing keys are encrypted under (required with --database-url)')
    .option('--policy-signer-cert <pem>', 'policy signer certificate (repeatable): only signed policies are accepted', collect)
    .option('--evidence-retention-days <n>', 'days evidence is kept in the audit log (default 30; 0: not kept)')
    .option('--rate-limit <n>', 'attestations per second per client (default 200; 0: unlimited)')
    .option('--max-request-bytes <n>', 'largest attest request body (default 262144)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (default info)')
    .action(attestationServeCommand);

  program
    .command('attest')
    .description('attest a quote or Open Enclave report at an Azure Attestation–compatible service and print the token')
    .argument('<quote>', 'quote or OE report file (- for stdin): raw bytes, hex or base64')
    .requiredOption('--url <url>', 'the service (instance URL, e.g. https://host:8443 or …/simulated)')
    .option('--runtime-data <file>', 'runtime data bound to REPORTDATA (SHA-256 in its first 32 bytes)')
    .option('--runtime-json', 'send the runtime data as JSON (x-ms-runtime) instead of Binary (x-ms-sgx-ehd)')
    .option('--type <type>', 'SgxEnclave or OpenEnclave (default: from the evidence)')
    .option('--nonce <s>', 'nonce echoed in the token (api-version 2022-08-01)')
    .option('--ca <file>', "CA certificate of the service's TLS")
    .option('--out <file>', 'write the token to this file')
    .option('--json', 'report as JSON')
    .action(attestCommand);

  const token = program.command('token').description('attestation tokens');
  token
    .command('verify')
    .description("verify an attestation token's signature, times and issuer against the service's /certs or a JWKS file")
    .argument('<token>', 'the JWT, a file holding it, or - for stdin')
    .option('--url <url>', 'the issuing service (its /certs; the issuer must equal this URL)')
    .option('--jwks <file>', 'a JWKS file instead of --url')
    .option('--issuer <url>', 'the expected issuer (default: --url)')
    .option('--ca <file>', "CA certificate of the service's TLS")
    .option('--json', 'report as JSON')
    .action(tokenVerifyCommand);

  const webhook = program.command('webhook').description('the SGX admission webhook');
  webhook
    .command('serve')
    .description('serve POST /mutate and /validate (AdmissionReview v1) over HTTPS, reloading the certificate when it changes')
    .option('--host <host>', 'address to listen on (default 0.0.0.0)')
    .option('--port <port>', 'HTTPS port (default 8443)')
    .option('--tls-cert <file>', 'serving certificate (PEM)')
    .option('--tls-key <file>', 'its private key (PEM)')
    .option('--metrics-port <port>', 'plain-HTTP port for /healthz, /readyz, /metrics')
    .option('--epc-resource <name>', 'EPC names the nodes advertise: aks, intel or both (default both)')
    .option('--translate <direction>', 'none (default), aks-to-intel or intel-to-aks')
    .option('--no-enclave-resource', 'do not add sgx.intel.com/enclave (nodes whose EPC allocation alone maps /dev/sgx_enclave)')
    .option('--node-capacity', 'read Nodes (in-cluster service account) to refuse pods asking more EPC than any node has')
    .option('--max-node-epc-mib <n>', 'the largest node EPC, when not read from the API')
    .option('--body-limit <bytes>', 'largest AdmissionReview accepted (default 4 MiB)')
    .option('--log-level <level>', 'trace, debug, info, warn, error (default info)')
    .action(webhookServeCommand);

  const keyBroker = program.command('key-broker').description('the key broker: keys released only to attested enclaves (Azure Key Vault SKR API)');
  keyBroker
    .command('serve')
    .description('serve the Key Vault release API over TLS, the KEK sealed in a Cloister enclave (docs/key-broker.md)')
    .option('--host <host>', 'address to listen on (default 0.0.0.0)')
    .option('--port <port>', 'API port (default 8443)')
    .option('--data <dir>', 'embedded storage directory (PGlite; also the default enclave and simulated platform location)')
    .option('--database-url <url>', 'PostgreSQL (replicated brokers)')
    .option('--tls-cert <file>', 'serving certificate (PEM)')
    .option('--tls-key <file>', 'its private key (PEM)')
    .option('--authority <url>', 'attestation authority whose tokens are accepted (repeatable): Cloister attestation service or MAA', collect)
    .option('--admin-token-file <file>', 'the admin token (management: create, import, get, audit)')
    .option('--members <file>', 'governance members (public JWKs) for a new broker: {"members":[…],"threshold":M}')
    .option('--threshold <m>', 'proposals need M member ballots')
    .option('--platform <dir>', 'simulated SGX platform (cloister sim init; default <data>/platform)')
    .option('--enclave <dir>', 'a built and signed broker enclave (default: built into <data>/enclave)')
    .option('--enclave-key <file>', 'the enclave signing key (RSA-3072, e=3); replicas and upgrades share it')
    .option('--attested-port <port>', 'also serve the API over attested TLS ending in the enclave; replicas join here')
    .option('--join <host:port>', "take the KEK from a running replica's attested port (mutually attested TLS)")
    .option('--peer-trust-root <file>', "trust root (PEM) of replicas' PCK chains (repeatable; default Intel's)", collect)
    .option('--peer-collateral <file>', "collateral bundle for replicas' quotes")
    .option('--allow-simulated-peers', 'accept replicas on simulated platforms')
    .option('--kbs', 'also serve the Trustee KBS protocol (/kbs/v0/auth, /attest, /resource) over the same keys')
    .option('--kbs-collateral <file>', "collateral bundle for KBS clients' SGX quotes")
    .option('--kbs-trust-root <file>', "trust root (PEM) of KBS clients' PCK chains (repeatable; default Intel's)", collect)
    .option('--kbs-allow-simulated', 'accept KBS evidence from simulated platforms')
    .option('--log-level <level>', 'trace, debug, info, warn, error (default info)')
    .action(keyBrokerServeCommand);

  const kb = program.command('kb').description("the key broker's members and clients: governance, ledger, release");
  kb.command('propose')
    .description('sign and submit a proposal (actions: create_key, set_release_policy, rotate_key, delete_key, add_member, remove_member, set_threshold)')
    .requiredOption('--url <url>', 'the broker')
    .requiredOption('--key <pem>', "the member's private key")
    .requiredOption('--actions <json|file>', 'the actions, a JSON array')
    .option('--ca <file>', "CA certificate of the broker's TLS")
    .option('--json', 'report as JSON')
    .action(kbProposeCommand);
  kb.command('vote')
    .description('sign and submit a ballot (accept, or --reject)')
    .argument('<proposal>', 'the proposal id')
    .requiredOption('--url <url>', 'the broker')
    .requiredOption('--key <pem>', "the member's private key")
    .option('--reject', 'vote against')
    .option('--ca <file>', "CA certificate of the broker's TLS")
    .option('--json', 'report as JSON')
    .action(kbVoteCommand);
  kb.command('ledger')
    .description('export the ledger (JSON lines); "verify [FILE]" checks hashes, chain and broker signatures offline')
    .argument('[verify]', 'verify instead of export')
    .argument('[file]', 'an exported ledger to verify (default: fetched from --url)')
    .option('--url <url>', 'the broker')
    .option('--broker-key <json|file>', "the broker's signing key (JWK), pinned from its attestation")
    .option('--out <file>', 'write the export here')
    .option('--ca <file>', "CA certificate of the broker's TLS")
    .option('--json', 'report as JSON')
    .action(kbLedgerCommand);
  kb.command('release')
    .description('release a key with an attestation token and open it with the private key of the token\'s runtime RSA key')
    .argument('<name>', 'key name')
    .requiredOption('--url <url>', 'the broker')
    .requiredOption('--token <file>', 'attestation token (JWT)')
    .requiredOption('--key <pem>', 'private key matching the RSA key in the token')
    .option('--enc <alg>', 'CKM_RSA_AES_KEY_WRAP (default), RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384')
    .option('--version <v>', 'key version (default latest)')
    .option('--nonce <s>', 'nonce echoed in the signed result')
    .option('--out <file>', 'write the key (oct: raw bytes; RSA/EC: PKCS#8 PEM), mode 0600')
    .option('--ca <file>', "CA certificate of the broker's TLS")
    .option('--json', 'report as JSON')
    .action(kbReleaseCommand);
  kb.command('recovery')
    .description('KEK recovery from member shares: start (operator), share (each member: verify the recovery key, re-encrypt its share), submit (operator)')
    .argument('<verb>', 'start | share | submit')
    .argument('[shares...]', 'submit: the re-encrypted share files')
    .requiredOption('--url <url>', 'the broker')
    .option('--admin-token-file <file>', 'start, submit: the admin token')
    .option('--key <pem>', "share: the member's private key")
    .option('--mrsigner <hex>', "share: the broker enclave's MRSIGNER the recovery key must come from")
    .option('--product-id <n>', "share: the broker enclave's product id (default 13)")
    .option('--collateral <file>', "share: collateral of the broker's platform")
    .option('--trust-root <file>', "share: trust root (PEM) of its PCK chain (repeatable; default Intel's)", collect)
    .option('--allow-simulated', 'share: accept a simulated platform')
    .option('--out <file>', 'share: write the re-encrypted share here (mode 0600)')
    .option('--ca <file>', "CA certificate of the broker's TLS")
    .option('--json', 'report as JSON')
    .action(kbRecoveryCommand);

  return program;
}

/** How a usage error from commander reads as a failure. */
function usageFailure(e: CommanderError): CliFailure {
  const message = e.message.replace(/^error: /, '');
  return { code: 'USAGE', message };
}

/**
 * Runs the CLI on `argv` (process.argv form) and resolves with the exit status; never throws for a user's mistake or a
 * system error. With `--json` anywhere in the arguments, failures are `{"ok":false,"error":{code,message,hint?}}` on
 * stdout.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const json = argv.slice(2).includes('--json');
  // With --json, commander's own error text is replaced by the JSON failure; help and version still print.
  const program = buildProgram(json ? { writeErr: () => undefined } : {});
  const fail = (f: CliFailure, status: number): number => {
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: f }, null, 2)}\n`);
    else process.stderr.write(`error ${f.code}: ${f.message}\n${f.hint !== undefined ? `hint: ${f.hint}\n` : ''}`);
    return status;
  };
  try {
    await program.parseAsync([...argv]);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // `cloister` or `cloister quote` without a subcommand: help was printed to stderr; that is a usage error.
      if (e.code === 'commander.help') return json ? fail({ code: 'USAGE', message: 'a subcommand is required' }, EXIT_USAGE) : EXIT_USAGE;
      if (json) return fail(usageFailure(e), EXIT_USAGE);
      return EXIT_USAGE; // commander already printed "error: …" and the short hint
    }
    const f = cliFailureOf(e);
    if (f !== undefined) return fail(f, exitCodeFor(f.code));
    // Not a known failure: a bug. Keep the stack for the report.
    process.stderr.write(`cloister: unexpected error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
  const code = process.exitCode;
  return typeof code === 'number' ? code : code === undefined ? 0 : Number(code) || 0;
}
