/**
 * `cloister attest QUOTE --url URL`: attest evidence at an Azure Attestation–compatible service (Cloister's or MAA),
 * and `cloister quote inspect FILE --maa-claims`: the claims such a service issues for it, without verifying it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { attest, looksLikeOeReport, maaClaimsForEvidence, type Claims } from '@cloister/attestation-service';
import { CliError } from '../errors.js';
import { readBinaryInput, readInputFile } from '../io.js';
import { printJson, row } from '../output.js';

export interface AttestCommandOptions {
  readonly url: string;
  readonly runtimeData?: string;
  readonly runtimeJson?: boolean;
  readonly type?: string;
  readonly nonce?: string;
  readonly ca?: string;
  readonly out?: string;
  readonly json?: boolean;
}

function decodePart(token: string, i: number): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[i] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

function readCa(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read --ca ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** The rows every command prints for a set of MAA claims. */
export function claimRows(c: Record<string, unknown>): string {
  const show: [string, string][] = [
    ['iss', 'issuer'],
    ['x-ms-attestation-type', 'type'],
    ['x-ms-sgx-mrenclave', 'mrenclave'],
    ['x-ms-sgx-mrsigner', 'mrsigner'],
    ['x-ms-sgx-product-id', 'isvProdId'],
    ['x-ms-sgx-svn', 'isvSvn'],
    ['x-ms-sgx-is-debuggable', 'debug'],
    ['x-cloister-tcb-status', 'tcbStatus'],
    ['x-cloister-simulated', 'SIMULATED'],
    ['x-ms-policy-hash', 'policyHash'],
  ];
  let out = '';
  for (const [k, label] of show) if (c[k] !== undefined) out += row(label, c[k]);
  if (typeof c['exp'] === 'number') out += row('expires', new Date(c['exp'] * 1000).toISOString());
  return out;
}

export async function attestCommand(quoteFile: string, opts: AttestCommandOptions): Promise<void> {
  const evidence = readBinaryInput(quoteFile, 'quote');
  const type = opts.type ?? (looksLikeOeReport(evidence) ? 'OpenEnclave' : 'SgxEnclave');
  if (type !== 'SgxEnclave' && type !== 'OpenEnclave') throw new CliError('INVALID_ARGUMENT', '--type must be SgxEnclave or OpenEnclave');
  const runtimeData = opts.runtimeData !== undefined ? readInputFile(opts.runtimeData, 'runtime data', 1024 * 1024) : undefined;
  const token = await attest(opts.url, type, evidence, {
    ...(runtimeData !== undefined ? { runtimeData, runtimeDataType: opts.runtimeJson === true ? 'JSON' : 'Binary' } : {}),
    ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}),
    ...(opts.ca !== undefined ? { ca: readCa(opts.ca)! } : {}),
  });
  if (opts.out !== undefined) {
    try {
      writeFileSync(opts.out, `${token}\n`);
    } catch (e) {
      throw new CliError('OUTPUT_UNWRITABLE', `cannot write ${opts.out}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const claims = decodePart(token, 1);
  if (opts.json === true) {
    printJson({ ok: true, type, token, header: decodePart(token, 0), claims });
    return;
  }
  let out = `attested (${type}) by ${opts.url}\n${claimRows(claims)}`;
  out += opts.out !== undefined ? row('token', opts.out) : `${token}\n`;
  process.stdout.write(out);
}

export interface MaaClaimsCommandOptions {
  readonly runtimeData?: string;
  readonly json?: boolean;
}

/** `quote inspect FILE --maa-claims [--runtime-data FILE]`. */
export async function maaClaimsCommand(file: string, opts: MaaClaimsCommandOptions): Promise<void> {
  const evidence = readBinaryInput(file, 'quote');
  const data = opts.runtimeData !== undefined ? readInputFile(opts.runtimeData, 'runtime data', 1024 * 1024) : undefined;
  const claims: Claims = maaClaimsForEvidence(evidence, data !== undefined ? { runtimeData: { data, dataType: 'Binary' } } : {});
  if (opts.json === true) {
    printJson(claims);
    return;
  }
  const width = Math.max(...Object.keys(claims).map((k) => k.length));
  let out = '';
  for (const [k, v] of Object.entries(claims)) out += `${k.padEnd(width)}  ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}\n`;
  process.stdout.write(out);
}
