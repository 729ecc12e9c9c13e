/** The `cloister` command: one entry point for every Cloister component. */
import { Command } from 'commander';
import { collateralFetchCommand } from './commands/collateral-fetch.js';
import { quoteInspectCommand } from './commands/quote-inspect.js';
import { verifyCommand } from './commands/verify.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function buildProgram(): Command {
  const program = new Command('cloister')
    .description('Enclave-aware containers with Intel SGX: attestation, enclaves, node agent.')
    .version('0.1.0')
    .showHelpAfterError();

  program
    .command('verify')
    .description('verify an SGX/TDX DCAP quote against its collateral, as Intel QVL does (exit 0: verified, 1: not)')
    .argument('<quote>', 'quote file: raw bytes, hex or base64 (Open Enclave report headers are unwrapped)')
    .requiredOption('--collateral <file>', 'collateral bundle (dcap-qvl QuoteCollateralV3 JSON)')
    .option('--now <iso>', 'verification time (default: now)')
    .option('--trust-root <file>', 'certificate whose public key is a trust anchor instead of the Intel SGX Root CA (repeatable)', collect)
    .option('--allow-expired-collateral', 'accept collateral outside its validity, as Intel QvE does; reported in the result')
    .option('--skip-root-crl-freshness', "ignore the root CA CRL's thisUpdate/nextUpdate; reported in the result")
    .option('--skip-pck-crl-freshness', "ignore the PCK CRL's thisUpdate/nextUpdate; reported in the result")
    .option('--json', 'print the result as JSON')
    .action(verifyCommand);

  const quote = program.command('quote').description('work with quotes');
  quote
    .command('inspect')
    .description('print every parsed field and claim of a quote (no verification)')
    .argument('<file>', 'quote file: raw bytes, hex or base64')
    .option('--json', 'print JSON')
    .action(quoteInspectCommand);

  const collateral = program.command('collateral').description('work with DCAP collateral');
  collateral
    .command('fetch')
    .description('fetch the collateral bundle for a quote from Intel PCS (default) or a PCCS')
    .argument('<quote>', 'quote file: raw bytes, hex or base64')
    .option('--pccs <url>', 'PCCS base URL, e.g. https://pccs.example:8081')
    .option('--pcs <url>', 'Intel PCS base URL (default https://api.trustedservices.intel.com)')
    .option('--api-key <key>', 'Intel PCS subscription key (Ocp-Apim-Subscription-Key)')
    .option('--out <file>', 'write the bundle here instead of stdout')
    .option('--json', 'report as JSON')
    .action(collateralFetchCommand);

  return program;
}
