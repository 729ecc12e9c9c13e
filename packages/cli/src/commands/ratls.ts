/**
 * `cloister ratls inspect CERT` and `cloister ratls verify CERT …`: RA-TLS certificates (TCG DICE, Gramine, Intel SGX
 * SDK, Open Enclave, EGo) with @cloister/ratls.
 */
import { INTEL_SGX_ROOT_CA, trustAnchorFromCertificate } from '@cloister/dcap';
import { inspectAttestedCertificate, verifyAttestedCertificate, type AttestedPolicy } from '@cloister/ratls';
import { CliError } from '../errors.js';
import { readInputFile, readTextInput, timeOption, toJsonValue } from '../io.js';
import { printJson, reportFailure } from '../output.js';

type VerifyOptionsArg = NonNullable<Parameters<typeof verifyAttestedCertificate>[2]>;

/** A certificate file: PEM text is passed as text, anything else as DER bytes. */
function readCertificate(path: string): string | Uint8Array {
  const bytes = readInputFile(path, 'certificate');
  const text = new TextDecoder().decode(bytes);
  return text.includes('-----BEGIN') ? text : bytes;
}

function row(label: string, value: unknown): string {
  return `  ${label.padEnd(20)}${typeof value === 'string' ? value : JSON.stringify(toJsonValue(value))}\n`;
}

export interface RatlsInspectOptions {
  readonly json?: boolean;
}

export async function ratlsInspectCommand(certPath: string, opts: RatlsInspectOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const info = await inspectAttestedCertificate(readCertificate(certPath));
    if (json) {
      printJson(toJsonValue(info));
      return;
    }
    let out = `RA-TLS certificate: ${info.evidence.length} evidence format(s) ${info.evidence.map((e) => e.format).join(', ') || '(none)'}\n`;
    out += row('subject', info.subject);
    out += row('issuer', info.issuer);
    out += row('validity', info.validity);
    out += row('SPKI SHA-256', info.spkiSha256);
    for (const e of info.evidence) {
      out += `\n  evidence ${e.format} (OID ${e.oid})\n`;
      out += row('  binding', `${e.binding.ok ? 'OK' : 'MISMATCH'}: ${e.binding.description}`);
      const q = e.quote;
      out += row('  quote', `${q.teeType} v${q.version}`);
      out += row('  MRENCLAVE', q.mrenclave);
      out += row('  MRSIGNER', q.mrsigner);
      out += row('  ISVPRODID/ISVSVN', `${q.isvProdId} / ${q.isvSvn}`);
      out += row('  debug', String(q.debug));
      out += row('  report data', q.reportData);
      for (const [k, v] of Object.entries(e.claims ?? {})) if (v !== undefined) out += row(`  claim ${k}`, v);
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

/** --policy: inline JSON, or a file holding it. */
function parsePolicy(arg: string | undefined): AttestedPolicy {
  if (arg === undefined) return {};
  const text = arg.trimStart().startsWith('{') ? arg : readTextInput(arg, 'policy');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError('INVALID_ARGUMENT', '--policy must be a JSON object (inline or in a file)');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CliError('INVALID_ARGUMENT', '--policy must be a JSON object');
  }
  return value as AttestedPolicy;
}

export async function ratlsVerifyCommand(certPath: string, opts: RatlsVerifyOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const now = timeOption(opts.now);
    const signaturesOnly = opts.signaturesOnly === true;
    if (opts.collateral === undefined && !signaturesOnly) {
      throw new CliError('INVALID_ARGUMENT', 'give --collateral FILE, or --signatures-only to check the quote signatures and binding only');
    }
    const policy: AttestedPolicy = {
      ...parsePolicy(opts.policy),
      ...(opts.allowDebug === true ? { allowDebug: true } : {}),
      ...(opts.allowSimulated === true ? { allowSimulated: true } : {}),
    };
    const trustRoots =
      opts.trustRoot !== undefined && opts.trustRoot.length > 0
        ? opts.trustRoot.map((f) => trustAnchorFromCertificate(readInputFile(f, 'trust root')))
        : [INTEL_SGX_ROOT_CA];
    const options = {
      ...(opts.collateral !== undefined ? { collateral: readTextInput(opts.collateral, 'collateral') } : {}),
      ...(now !== undefined ? { now } : {}),
      trustRoots,
      allowExpiredCollateral: opts.allowExpiredCollateral === true,
      signaturesOnly,
    } as VerifyOptionsArg;
    const result = await verifyAttestedCertificate(readCertificate(certPath), policy, options);
    if (json) {
      printJson({ ok: true, ...(toJsonValue(result) as Record<string, unknown>) });
      return;
    }
    let out = `RA-TLS certificate verified (${result.format}${signaturesOnly ? ', signatures only: no collateral, TCB not evaluated' : ''})\n`;
    out += row('subject', result.certificate.subject);
    out += row('SPKI SHA-256', result.certificate.spkiSha256);
    if (result.result !== undefined) {
      out += row('TCB status', result.result.status);
      if (result.result.simulated) out += row('SIMULATED', `chains to "${result.result.trustAnchor.name}", not to Intel's root`);
    }
    for (const [k, v] of Object.entries(result.claims)) if (v !== undefined) out += row(k, v);
    process.stdout.write(out);
  } catch (e) {
    reportFailure(e, json);
  }
}
