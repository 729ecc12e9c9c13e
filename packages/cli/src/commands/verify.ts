/** `cloister verify QUOTE --collateral FILE …`: full DCAP verification with @cloister/dcap. */
import { INTEL_SGX_ROOT_CA, QuoteVerifier, trustAnchorFromCertificate, type VerificationResult } from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import { readBinaryInput, readInputFile, readTextInput, timeOption } from '../io.js';
import { printJson, reportFailure } from '../output.js';

export interface VerifyCommandOptions {
  readonly collateral: string;
  readonly now?: string;
  readonly trustRoot?: string[];
  readonly allowExpiredCollateral?: boolean;
  readonly skipRootCrlFreshness?: boolean;
  readonly skipPckCrlFreshness?: boolean;
  readonly json?: boolean;
}

export async function verifyCommand(quotePath: string, opts: VerifyCommandOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const now = timeOption(opts.now);
    const quote = readBinaryInput(quotePath, 'quote');
    const collateral = readTextInput(opts.collateral, 'collateral');
    const trustAnchors =
      opts.trustRoot !== undefined && opts.trustRoot.length > 0
        ? opts.trustRoot.map((f) => trustAnchorFromCertificate(readInputFile(f, 'trust root')))
        : [INTEL_SGX_ROOT_CA];
    const verifier = new QuoteVerifier({ crypto: nodeCryptoProvider(), trustAnchors });
    const result = await verifier.verify(quote, collateral, {
      ...(now !== undefined ? { now } : {}),
      allowExpiredCollateral: opts.allowExpiredCollateral === true,
      skipRootCrlFreshness: opts.skipRootCrlFreshness === true,
      skipPckCrlFreshness: opts.skipPckCrlFreshness === true,
    });
    if (json) printJson({ ok: true, ...result });
    else process.stdout.write(summary(result));
  } catch (e) {
    reportFailure(e, json);
  }
}

function row(label: string, value: string | number | boolean): string {
  return `  ${label.padEnd(18)}${String(value)}\n`;
}

export function summary(r: VerificationResult): string {
  const c = r.claims;
  let out = `Quote verified: ${r.teeType} quote v${r.quoteVersion}, TCB status ${r.status}\n`;
  if (r.simulated) out += `  SIMULATED evidence: it chains to "${r.trustAnchor.name}", not to Intel's root\n`;
  out += row('advisories', r.advisoryIds.length > 0 ? r.advisoryIds.join(', ') : 'none');
  if (r.teeType === 'SGX') {
    out += row('MRENCLAVE', c['mrenclave'] ?? '');
    out += row('MRSIGNER', c['mrsigner'] ?? '');
    out += row('ISVPRODID/ISVSVN', `${c['isvProdId']} / ${c['isvSvn']}`);
  } else {
    out += row('MRTD', c['mrtd'] ?? '');
    for (const i of [0, 1, 2, 3]) out += row(`RTMR${i}`, c[`rtmr${i}`] ?? '');
  }
  out += row('debug', c['debug'] ?? false);
  out += row('report data', c['reportData'] ?? '');
  const p = r.platform;
  out += row('platform', `FMSPC ${p.fmspc}, PCE-ID ${p.pceId}, PCESVN ${p.pceSvn}, ${p.ca} CA, ${p.sgxType}`);
  out += row('QE identity', `${r.qeIdentity.status} (ISVSVN ${r.qeIdentity.isvSvn})`);
  if (r.tdxModule !== undefined) out += row('TDX module', `${r.tdxModule.id ?? 'tdxModule'} ${r.tdxModule.status}`);
  const col = r.collateral;
  out += row('collateral', `TCB evaluation ${col.tcbEvaluationDataNumber}, matched level of ${col.tcbLevelDate}`);
  out += row('valid', `${col.latestIssueDate} .. ${col.earliestExpirationDate}${col.expired ? ' (EXPIRED, accepted)' : ''}`);
  for (const item of col.expiredItems) out += row('', item);
  out += row('trust anchor', `${r.trustAnchor.name}${r.trustAnchor.intel ? '' : ' (NOT the Intel root)'}`);
  out += row('verified at', r.verifiedAt);
  if (r.relaxations.length > 0) out += row('relaxed checks', r.relaxations.join(', '));
  return out;
}
