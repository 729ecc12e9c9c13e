/**
 * `cloister ratls inspect CERT` and `cloister ratls verify CERT …`: RA-TLS certificates (TCG DICE, Gramine, Intel SGX
 * SDK, Open Enclave, EGo) with @cloister/ratls. `--policy` is read and held exactly as by `cloister verify --policy`
 * (@cloister/policy: the same rules, the same PolicyError, POLICY_MISMATCH exits 1, POLICY_INVALID exits 2).
 */
import { INTEL_SGX_ROOT_CA, trustAnchorFromCertificate } from '@cloister/dcap';
import { enclaveIdentity, evaluatePolicy } from '@cloister/policy';
import { inspectAttestedCertificate, verifyAttestedEvidence, type VerifyAttestedOptions } from '@cloister/ratls';
import { CliError } from '../errors.js';
import { readInputFile, readTextInput, timeOption, toJsonValue } from '../io.js';
import { identityBlock, policyBlock, printJson, reportFailure, row } from '../output.js';
import { policyOption } from '../policy-option.js';

/** A certificate file: PEM text is passed as text, anything else as DER bytes. */
function readCertificate(path: string): string | Uint8Array {
  const bytes = readInputFile(path, 'certificate');
  const text = new TextDecoder().decode(bytes);
  return text.includes('-----BEGIN') ? text : bytes;
}

export interface RatlsInspectOptions {
  readonly json?: boolean;
}

export async function ratlsInspectCommand(certPath: string, opts: RatlsInspectOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const info = await inspectAttestedCertificate(readCertificate(certPath));
    const evidence = info.evidence.map((e) => ({ ...e, identity: enclaveIdentity({ ...e.quote }) }));
    if (json) {
      printJson(toJsonValue({ ...info, evidence }));
      return;
    }
    let out = `RA-TLS certificate: ${info.evidence.length} evidence format(s) ${info.evidence.map((e) => e.format).join(', ') || '(none)'}\n`;
    out += row('subject', info.subject);
    out += row('issuer', info.issuer);
    out += row('validity', `${info.validity.notBefore} .. ${info.validity.notAfter}`);
    out += row('spkiSha256', info.spkiSha256);
    for (const e of evidence) {
      out += `\n  evidence ${e.format} (OID ${e.oid})\n`;
      out += row('binding', `${e.binding.ok ? 'OK' : 'MISMATCH'}: ${e.binding.description}`);
      out += row('quote', `${e.quote.teeType} v${e.quote.version}`);
      out += identityBlock(e.identity);
      for (const [k, v] of Object.entries(e.claims ?? {})) if (v !== undefined) out += row(`claim ${k}`, toJsonValue(v));
    }
    process.stdout.write(out);
  } catch (e) {
    reportFailure(e, json);
  }
}

export interface RatlsVerifyOptions {
  readonly collateral?: string;
  readonly now?: string;
  readonly trustRoot?: string[];
  readonly signaturesOnly?: boolean;
  readonly policy?: string;
  readonly allowDebug?: boolean;
  readonly allowSimulated?: boolean;
  readonly allowExpiredCollateral?: boolean;
  readonly json?: boolean;
}

export async function ratlsVerifyCommand(certPath: string, opts: RatlsVerifyOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const now = timeOption(opts.now);
    const policy = policyOption(opts);
    const signaturesOnly = opts.signaturesOnly === true;
    if (opts.collateral === undefined && !signaturesOnly) {
      throw new CliError('INVALID_ARGUMENT', 'give --collateral FILE, or --signatures-only to check the quote signatures and binding only');
    }
    const trustRoots =
      opts.trustRoot !== undefined && opts.trustRoot.length > 0
        ? opts.trustRoot.map((f) => trustAnchorFromCertificate(readInputFile(f, 'trust root')))
        : [INTEL_SGX_ROOT_CA];
    const options: VerifyAttestedOptions = {
      ...(opts.collateral !== undefined ? { collateral: readTextInput(opts.collateral, 'collateral') } : {}),
      ...(now !== undefined ? { now } : {}),
      trustRoots,
      allowExpiredCollateral: opts.allowExpiredCollateral === true,
      signaturesOnly,
    };
    const verified = await verifyAttestedEvidence(readCertificate(certPath), options);
    const decision = policy !== undefined ? evaluatePolicy(policy, verified.policyEvidence) : undefined;
    if (json) {
      const { policyEvidence: _facts, ...rest } = verified;
      printJson({ ok: true, ...(toJsonValue(rest) as Record<string, unknown>), policy: decision ?? null });
      return;
    }
    let out = `RA-TLS certificate verified (${verified.format}${signaturesOnly ? ', signatures only: no collateral, TCB not evaluated' : ''})\n`;
    out += row('subject', verified.certificate.subject);
    out += row('spkiSha256', verified.certificate.spkiSha256);
    if (!verified.trustAnchor.intel) out += `  SIMULATED evidence: it chains to "${verified.trustAnchor.name}", not to Intel's root\n`;
    out += identityBlock(verified.identity);
    if (verified.result !== undefined) {
      out += row('tcbStatus', verified.result.status);
      out += row('advisoryIds', verified.result.advisoryIds.length > 0 ? verified.result.advisoryIds.join(', ') : 'none');
    }
    out += row('trustAnchor', `${verified.trustAnchor.name}${verified.trustAnchor.intel ? '' : ' (NOT the Intel root)'}`);
    out += policyBlock(decision);
    process.stdout.write(out);
  } catch (e) {
    reportFailure(e, json);
  }
}
