/**
 * `cloister verify QUOTE --collateral FILE [--policy JSON|FILE] …`: full DCAP verification with @cloister/dcap, then,
 * with --policy, the enclave policy held by @cloister/policy — the same parsing, rules and PolicyError as
 * `cloister ratls verify --policy` and `verifyEvidence` (POLICY_MISMATCH exits 1, POLICY_INVALID is a usage error).
 */
import { INTEL_SGX_ROOT_CA, QuoteVerifier, trustAnchorFromCertificate, type VerificationResult } from '@cloister/dcap';
import { nodeCryptoProvider } from '@cloister/dcap/node';
import { evaluatePolicy, type PolicyDecision } from '@cloister/policy';
import { readBinaryInput, readInputFile, readTextInput, timeOption } from '../io.js';
import { identityBlock, identityOf, policyBlock, printJson, reportFailure, row } from '../output.js';
import { policyOption } from '../policy-option.js';

export interface VerifyCommandOptions {
  readonly collateral: string;
  readonly now?: string;
  readonly trustRoot?: string[];
  readonly allowExpiredCollateral?: boolean;
  readonly skipRootCrlFreshness?: boolean;
  readonly skipPckCrlFreshness?: boolean;
  readonly policy?: string;
  readonly allowDebug?: boolean;
  readonly allowSimulated?: boolean;
  readonly json?: boolean;
}

export async function verifyCommand(quotePath: string, opts: VerifyCommandOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const now = timeOption(opts.now);
    const policy = policyOption(opts);
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
    const decision = policy !== undefined ? evaluatePolicy(policy, result) : undefined;
    const identity = identityOf(result.teeType, result.claims);
    if (json) printJson({ ok: true, ...result, identity, policy: decision ?? null });
    else process.stdout.write(summary(result, decision));
  } catch (e) {
    reportFailure(e, json);
  }
}

export function summary(r: VerificationResult, decision?: PolicyDecision): string {
  const c = r.claims;
  let out = `Quote verified: ${r.teeType} quote v${r.quoteVersion}, TCB status ${r.status}\n`;
  if (r.simulated) out += `  SIMULATED evidence: it chains to "${r.trustAnchor.name}", not to Intel's root\n`;
  out += identityBlock(identityOf(r.teeType, c));
  out += row('tcbStatus', r.status);
  out += row('advisoryIds', r.advisoryIds.length > 0 ? r.advisoryIds.join(', ') : 'none');
  const p = r.platform;
  out += row('platform', `FMSPC ${p.fmspc}, PCE-ID ${p.pceId}, PCESVN ${p.pceSvn}, ${p.ca} CA, ${p.sgxType}`);
  out += row('qeIdentity', `${r.qeIdentity.status} (ISVSVN ${r.qeIdentity.isvSvn})`);
  if (r.tdxModule !== undefined) out += row('tdxModule', `${r.tdxModule.id ?? 'tdxModule'} ${r.tdxModule.status}`);
  const col = r.collateral;
  out += row('collateral', `TCB evaluation ${col.tcbEvaluationDataNumber}, matched level of ${col.tcbLevelDate}`);
  out += row('valid', `${col.latestIssueDate} .. ${col.earliestExpirationDate}${col.expired ? ' (EXPIRED, accepted)' : ''}`);
  for (const item of col.expiredItems) out += row('', item);
  out += row('trustAnchor', `${r.trustAnchor.name}${r.trustAnchor.intel ? '' : ' (NOT the Intel root)'}`);
  out += row('verifiedAt', r.verifiedAt);
  if (r.relaxations.length > 0) out += row('relaxations', r.relaxations.join(', '));
  out += policyBlock(decision);
  return out;
}
