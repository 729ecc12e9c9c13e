/** `cloister sim …`: a simulated SGX platform on disk, its quotes, its collateral and its root (docs/simulator.md). */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, serializeCollateralBundle, toHex } from '@cloister/dcap';
import {
  Platform,
  SGX_FLAGS,
  SIM_QE_TCB_STATUSES,
  SIM_TCB_STATUSES,
  SimEnclave,
  SimQuotingEnclave,
  createSimCollateral,
  createSimPki,
  enclaveIdentity,
  loadPki,
  savePki,
  type EnclaveIdentity,
  type SimQeTcbStatus,
  type SimTcbStatus,
} from '@cloister/sgx-sim';
import { CliError } from '../errors.js';
import { printJson, reportFailure } from '../output.js';

function hexArg(value: string | undefined, bytes: number, what: string, maxOnly = false): Uint8Array {
  if (value === undefined) return new Uint8Array(bytes);
  const clean = value.replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length % 2 !== 0 || clean.length / 2 > bytes || (!maxOnly && clean.length / 2 !== bytes)) {
    throw new CliError('INVALID_ARGUMENT', `${what} must be ${maxOnly ? 'at most ' : ''}${bytes} bytes of hex`);
  }
  const out = new Uint8Array(bytes);
  out.set(fromHex(clean));
  return out;
}

function intArg(value: string | undefined, max: number, what: string, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new CliError('INVALID_ARGUMENT', `${what} must be an integer 0..${max}`);
  return n;
}

function out(data: Uint8Array | string, file: string | undefined): void {
  if (file === undefined) {
    process.stdout.write(typeof data === 'string' ? data : `${toHex(data)}\n`);
    return;
  }
  try {
    writeFileSync(file, data);
  } catch (e) {
    throw new CliError('OUTPUT_UNWRITABLE', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export interface SimInitOptions {
  readonly fmspc?: string;
  readonly tcbComponents?: string;
  readonly pceSvn?: string;
  readonly qeSvn?: string;
  readonly epcMib?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

export async function simInitCommand(dir: string, opts: SimInitOptions): Promise<void> {
  const json = opts.json === true;
  try {
    if (existsSync(join(dir, 'platform.json')) && opts.force !== true) {
      throw new CliError('INVALID_ARGUMENT', `${dir} already holds a simulated platform (use --force to replace it)`);
    }
    let comps: number[] | undefined;
    if (opts.tcbComponents !== undefined) {
      comps = opts.tcbComponents.split(',').map((s, i) => intArg(s.trim(), 255, `TCB component ${i + 1}`, 0));
      if (comps.length !== 16) throw new CliError('INVALID_ARGUMENT', '--tcb-components needs 16 comma-separated numbers');
    }
    const platform = Platform.create({
      ...(opts.fmspc !== undefined ? { fmspc: toHex(hexArg(opts.fmspc, 6, '--fmspc')) } : {}),
      ...(comps !== undefined ? { sgxTcbComponents: comps } : {}),
      ...(opts.pceSvn !== undefined ? { pceSvn: intArg(opts.pceSvn, 0xffff, '--pce-svn', 0) } : {}),
      ...(opts.qeSvn !== undefined ? { qeSvn: intArg(opts.qeSvn, 0xffff, '--qe-svn', 0) } : {}),
      ...(opts.epcMib !== undefined ? { epcSizeMiB: intArg(opts.epcMib, 1 << 20, '--epc-mib', 0) } : {}),
    });
    platform.save(dir);
    const pki = await createSimPki(platform);
    savePki(pki, dir);
    const c = platform.config;
    if (json) printJson({ ok: true, dir, ...c, rootCertificate: join(dir, 'pki', 'root-ca.pem') });
    else {
      process.stdout.write(
        `Simulated SGX platform in ${dir} (SIMULATED: no hardware protection)\n` +
          `  FMSPC ${c.fmspc}, PCE-ID ${c.pceId}, PCESVN ${c.pceSvn}, TCB ${c.sgxTcbComponents.join(',')}, EPC ${c.epcSizeMiB} MiB\n` +
          `  platform secret: ${join(dir, 'platform.secret')} (mode 0600)\n` +
          `  trust root for verifiers: ${join(dir, 'pki', 'root-ca.pem')}  (cloister sim root --platform ${dir})\n`,
      );
    }
  } catch (e) {
    reportFailure(e, json);
  }
}

export async function simRootCommand(opts: { platform: string; out?: string }): Promise<void> {
  try {
    const platform = Platform.load(opts.platform);
    const pki = await loadPki(platform, opts.platform);
    out(pki.rootCertPem, opts.out);
  } catch (e) {
    reportFailure(e, false);
  }
}

export interface SimQuoteOptions {
  readonly platform: string;
  readonly mrenclave?: string;
  readonly mrsigner?: string;
  readonly isvProdId?: string;
  readonly isvSvn?: string;
  readonly debug?: boolean;
  readonly enclave?: string;
  readonly reportData?: string;
  readonly quoteVersion?: string;
  readonly out?: string;
}

/**
 * A signed enclave package (`cloister enclave build` + `sign`): the measured image and SIGSTRUCT come from
 * @cloister/enclave, so the quote carries the same MRENCLAVE that `cloister enclave sign` printed.
 */
async function loadEnclaveIdentity(platform: Platform, dir: string): Promise<EnclaveIdentity> {
  const { loadEnclaveDir } = await import('@cloister/enclave');
  const loaded = loadEnclaveDir(dir);
  return SimEnclave.load(platform, loaded.image, loaded.sigstruct).identity;
}

export async function simQuoteCommand(opts: SimQuoteOptions): Promise<void> {
  try {
    if ((opts.mrenclave === undefined) === (opts.enclave === undefined)) {
      throw new CliError('INVALID_ARGUMENT', 'give exactly one of --mrenclave HEX or --enclave DIR');
    }
    const version = intArg(opts.quoteVersion, 4, '--quote-version', 3);
    if (version !== 3 && version !== 4) throw new CliError('INVALID_ARGUMENT', '--quote-version must be 3 or 4');
    const platform = Platform.load(opts.platform);
    const pki = await loadPki(platform, opts.platform);
    const identity: EnclaveIdentity =
      opts.enclave !== undefined
        ? await loadEnclaveIdentity(platform, opts.enclave)
        : enclaveIdentity({
            mrEnclave: hexArg(opts.mrenclave, 32, '--mrenclave'),
            mrSigner: hexArg(opts.mrsigner, 32, '--mrsigner'),
            flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT | (opts.debug === true ? SGX_FLAGS.DEBUG : 0n),
            isvProdId: intArg(opts.isvProdId, 0xffff, '--isv-prod-id', 0),
            isvSvn: intArg(opts.isvSvn, 0xffff, '--isv-svn', 0),
          });
    const reportData = hexArg(opts.reportData, 64, '--report-data', true);
    const qe = new SimQuotingEnclave(platform, pki);
    out(qe.quoteFor(identity, reportData, { version }), opts.out);
  } catch (e) {
    reportFailure(e, false);
  }
}

export interface SimCollateralCommandOptions {
  readonly platform: string;
  readonly tcbStatus?: string;
  readonly qeStatus?: string;
  readonly advisoryIds?: string;
  readonly revokePck?: boolean;
  readonly belowAllLevels?: boolean;
  readonly now?: string;
  readonly validityDays?: string;
  readonly out?: string;
}

export async function simCollateralCommand(opts: SimCollateralCommandOptions): Promise<void> {
  try {
    if (opts.tcbStatus !== undefined && !(SIM_TCB_STATUSES as readonly string[]).includes(opts.tcbStatus)) {
      throw new CliError('INVALID_ARGUMENT', `--tcb-status must be one of ${SIM_TCB_STATUSES.join(', ')}`);
    }
    if (opts.qeStatus !== undefined && !(SIM_QE_TCB_STATUSES as readonly string[]).includes(opts.qeStatus)) {
      throw new CliError('INVALID_ARGUMENT', `--qe-status must be one of ${SIM_QE_TCB_STATUSES.join(', ')}`);
    }
    if (opts.now !== undefined && !Number.isFinite(Date.parse(opts.now))) {
      throw new CliError('INVALID_ARGUMENT', `--now ${opts.now} is not an ISO-8601 time`);
    }
    const platform = Platform.load(opts.platform);
    const pki = await loadPki(platform, opts.platform);
    const bundle = await createSimCollateral(platform, pki, {
      ...(opts.tcbStatus !== undefined ? { tcbStatus: opts.tcbStatus as SimTcbStatus } : {}),
      ...(opts.qeStatus !== undefined ? { qeTcbStatus: opts.qeStatus as SimQeTcbStatus } : {}),
      ...(opts.advisoryIds !== undefined ? { advisoryIds: opts.advisoryIds.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
      ...(opts.now !== undefined ? { now: opts.now } : {}),
      ...(opts.validityDays !== undefined ? { validityDays: intArg(opts.validityDays, 3650, '--validity-days', 30) } : {}),
      revokePck: opts.revokePck === true,
      belowAllLevels: opts.belowAllLevels === true,
    });
    out(serializeCollateralBundle(bundle), opts.out);
  } catch (e) {
    reportFailure(e, false);
  }
}
