/**
 * Simulated DCAP collateral for a simulated platform: what Intel PCS / a PCCS serves for it, signed by the platform's
 * simulated PKI, as one @cloister/dcap {@link CollateralBundle} (the dcap-qvl `QuoteCollateralV3` content;
 * dcap-attestation.md §2.4, §2.8, §3.3). Every TCB status of the verifier can be reached by choosing the status of the
 * TCB level the platform's TCB matches, the QE identity level of the QE's ISVSVN, or the revocation of the PCK.
 *
 * TCB info v3 (signed text = compact JSON of the `tcbInfo` value, as PCS serves it):
 *   {"id":"SGX","version":3,"issueDate","nextUpdate","fmspc","pceId","tcbType":0,"tcbEvaluationDataNumber",
 *    "tcbLevels":[{"tcb":{"sgxtcbcomponents":[{"svn":n}×16],"pcesvn":n},"tcbDate","tcbStatus","advisoryIDs"?}]}
 * QE identity v2 (signed text = compact JSON of the `enclaveIdentity` value):
 *   {"id":"QE","version":2,"issueDate","nextUpdate","tcbEvaluationDataNumber","miscselect","miscselectMask",
 *    "attributes","attributesMask","mrsigner","isvprodid","tcbLevels":[{"tcb":{"isvsvn":n},"tcbDate","tcbStatus",
 *    "advisoryIDs"?}]}
 * Both signatures: ECDSA-P256-SHA256, raw r‖s, by the simulated TCB signing key over the UTF-8 text. Dates are
 * `YYYY-MM-DDThh:mm:ssZ` (Intel's form). Levels are written highest first, as Intel serves them.
 *
 * Time window: issueDate and the CRLs' thisUpdate are `now − 1 hour` (tolerates clock skew between the machine that
 * makes the collateral and the verifier), nextUpdate is `now + validityDays`.
 */
import { ISV_LEVEL_STATUSES, TCB_LEVEL_STATUSES, type CollateralBundle, toHex } from '@cloister/dcap';
import { SimError } from './errors.js';
import { signP256Raw } from './keys.js';
import { createSimCrl, type SimPkiCertificates } from './pki.js';
import type { Platform } from './platform.js';
import {
  SIM_QE_ATTRIBUTES_HEX,
  SIM_QE_ATTRIBUTES_MASK_HEX,
  SIM_QE_ISV_PROD_ID,
  SIM_QE_MRSIGNER,
  qeIdentityOf,
} from './quoting.js';

/** The statuses a simulated TCB level can carry: those of Intel's TCB info (`TCB_LEVEL_STATUSES` of @cloister/dcap). */
export const SIM_TCB_STATUSES = TCB_LEVEL_STATUSES;
export type SimTcbStatus = (typeof SIM_TCB_STATUSES)[number];

export const SIM_QE_TCB_STATUSES = ISV_LEVEL_STATUSES;
export type SimQeTcbStatus = (typeof SIM_QE_TCB_STATUSES)[number];

export interface SimTcbLevel {
  /** comp01..comp16. */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  /** Written as given (an unknown string makes the verifier answer TCB_UNRECOGNIZED_STATUS). */
  readonly tcbStatus: SimTcbStatus | (string & {});
  /** ISO-8601; default derived from the platform's createdAt. */
  readonly tcbDate?: string;
  readonly advisoryIds?: readonly string[];
}

export interface SimQeTcbLevel {
  readonly isvSvn: number;
  readonly tcbStatus: SimQeTcbStatus | (string & {});
  readonly tcbDate?: string;
  readonly advisoryIds?: readonly string[];
}

export interface SimCollateralOptions {
  /** Default: now. */
  readonly now?: Date | number | string;
  /** nextUpdate of TCB info, QE identity and both CRLs = now + validityDays. Default 30. */
  readonly validityDays?: number;
  /** Status of the TCB level the platform's own TCB matches. Default UpToDate. */
  readonly tcbStatus?: SimTcbStatus;
  /** advisoryIDs of that level (and of the lower OutOfDate level). Default none. */
  readonly advisoryIds?: readonly string[];
  /** Status of the QE identity level of the QE's own ISVSVN. Default UpToDate. */
  readonly qeTcbStatus?: SimQeTcbStatus;
  /** advisoryIDs of that QE identity level. Default none. */
  readonly qeAdvisoryIds?: readonly string[];
  /** Every TCB level is above the platform's TCB: the verifier answers TCB_NOT_SUPPORTED. */
  readonly belowAllLevels?: boolean;
  /** The PCK CRL lists the platform's PCK certificate: the verifier answers SGX_PCK_REVOKED. */
  readonly revokePck?: boolean;
  /** Replace the generated TCB levels (then tcbStatus, advisoryIds and belowAllLevels are not used). */
  readonly tcbLevels?: readonly SimTcbLevel[];
  /** Replace the generated QE identity levels (then qeTcbStatus and qeAdvisoryIds are not used). */
  readonly qeTcbLevels?: readonly SimQeTcbLevel[];
  /** Default 1 (the simulator's own numbering). */
  readonly tcbEvaluationDataNumber?: number;
  /** CRL number of both CRLs. Default 1. */
  readonly crlNumber?: number | bigint;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Intel's date form: ISO-8601 UTC to the second, no fraction. */
function intelDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function toMs(t: Date | number | string | undefined, what: string): number {
  if (t === undefined) return Date.now();
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) throw new SimError('INVALID_PARAMETER', `${what} is not a valid time`);
  return ms;
}

function checkStatus<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new SimError('INVALID_PARAMETER', `${what} must be one of ${allowed.join(', ')}, not "${value}"`);
  }
  return value as T;
}

function checkAdvisories(ids: readonly string[] | undefined, what: string): readonly string[] {
  for (const id of ids ?? []) {
    if (typeof id !== 'string' || id.length === 0) throw new SimError('INVALID_PARAMETER', `${what} must be non-empty strings`);
  }
  return ids ?? [];
}

/**
 * Default TCB levels around the platform's own TCB P (components c, PCESVN p), highest first:
 *   - when `status` ≠ UpToDate: a higher level (every component + 1, PCESVN + 1, capped) UpToDate;
 *   - P itself with `status` and `advisoryIds`;
 *   - a lower level (every component − 1, PCESVN − 1, floored at 0) OutOfDate with `advisoryIds`, when it differs.
 * `belowAllLevels`: only levels above P (the higher level UpToDate and P with PCESVN + 1 OutOfDate).
 */
export function defaultSimTcbLevels(
  platform: Platform,
  status: SimTcbStatus,
  advisoryIds: readonly string[],
  belowAllLevels = false,
): SimTcbLevel[] {
  const comps = [...platform.config.sgxTcbComponents];
  const pce = platform.config.pceSvn;
  const base = Math.floor(Date.parse(platform.config.createdAt) / DAY_MS) * DAY_MS;
  const higher: SimTcbLevel = {
    sgxTcbComponents: comps.map((c) => Math.min(255, c + 1)),
    pceSvn: Math.min(0xffff, pce + 1),
    tcbStatus: 'UpToDate',
    tcbDate: intelDate(base),
  };
  const higherIsAbove = higher.pceSvn > pce || higher.sgxTcbComponents.some((c, i) => c > comps[i]!);
  if (belowAllLevels) {
    if (pce === 0xffff) {
      throw new SimError('INVALID_PARAMETER', 'belowAllLevels needs a platform PCESVN below 65535');
    }
    return [
      higher,
      { sgxTcbComponents: comps, pceSvn: pce + 1, tcbStatus: 'OutOfDate', tcbDate: intelDate(base - 90 * DAY_MS) },
    ];
  }
  const levels: SimTcbLevel[] = [];
  const withHigher = status !== 'UpToDate' && higherIsAbove;
  if (withHigher) levels.push(higher);
  const exactDate = withHigher ? base - 90 * DAY_MS : base;
  levels.push({
    sgxTcbComponents: comps,
    pceSvn: pce,
    tcbStatus: status,
    tcbDate: intelDate(exactDate),
    ...(advisoryIds.length > 0 ? { advisoryIds } : {}),
  });
  const lower: SimTcbLevel = {
    sgxTcbComponents: comps.map((c) => Math.max(0, c - 1)),
    pceSvn: Math.max(0, pce - 1),
    tcbStatus: 'OutOfDate',
    tcbDate: intelDate(exactDate - 365 * DAY_MS),
    ...(advisoryIds.length > 0 ? { advisoryIds } : {}),
  };
  if (lower.pceSvn < pce || lower.sgxTcbComponents.some((c, i) => c < comps[i]!)) levels.push(lower);
  return levels;
}

/**
 * Default QE identity levels around the QE's ISVSVN s, highest first: when `status` ≠ UpToDate a level s + 1
 * UpToDate; s with `status` and `advisoryIds`; s − 1 OutOfDate when s > 0.
 */
export function defaultSimQeTcbLevels(
  platform: Platform,
  status: SimQeTcbStatus,
  advisoryIds: readonly string[],
): SimQeTcbLevel[] {
  const svn = platform.config.qeSvn;
  const base = Math.floor(Date.parse(platform.config.createdAt) / DAY_MS) * DAY_MS;
  const levels: SimQeTcbLevel[] = [];
  const withHigher = status !== 'UpToDate' && svn < 0xffff;
  if (withHigher) levels.push({ isvSvn: svn + 1, tcbStatus: 'UpToDate', tcbDate: intelDate(base) });
  const exactDate = withHigher ? base - 90 * DAY_MS : base;
  levels.push({
    isvSvn: svn,
    tcbStatus: status,
    tcbDate: intelDate(exactDate),
    ...(advisoryIds.length > 0 ? { advisoryIds } : {}),
  });
  if (svn > 0) levels.push({ isvSvn: svn - 1, tcbStatus: 'OutOfDate', tcbDate: intelDate(exactDate - 365 * DAY_MS) });
  return levels;
}

function defaultTcbDate(platform: Platform): string {
  return intelDate(Math.floor(Date.parse(platform.config.createdAt) / DAY_MS) * DAY_MS);
}

/** The signed text of a TCB info v3 (SGX) for `platform` (compact JSON, members in Intel's order). */
export function simTcbInfoBody(
  platform: Platform,
  p: { issueDate: number; nextUpdate: number; tcbEvaluationDataNumber: number; levels: readonly SimTcbLevel[] },
): string {
  if (p.levels.length === 0) throw new SimError('INVALID_PARAMETER', 'TCB info needs at least one TCB level');
  const info = {
    id: 'SGX',
    version: 3,
    issueDate: intelDate(p.issueDate),
    nextUpdate: intelDate(p.nextUpdate),
    fmspc: platform.config.fmspc.toUpperCase(),
    pceId: platform.config.pceId.toUpperCase(),
    tcbType: 0,
    tcbEvaluationDataNumber: p.tcbEvaluationDataNumber,
    tcbLevels: p.levels.map((l, i) => {
      if (l.sgxTcbComponents.length !== 16) {
        throw new SimError('INVALID_PARAMETER', `tcbLevels[${i}] needs 16 SGX TCB components`);
      }
      const advisories = checkAdvisories(l.advisoryIds, `tcbLevels[${i}].advisoryIds`);
      return {
        tcb: { sgxtcbcomponents: l.sgxTcbComponents.map((svn) => ({ svn })), pcesvn: l.pceSvn },
        tcbDate: l.tcbDate ?? defaultTcbDate(platform),
        tcbStatus: l.tcbStatus,
        ...(advisories.length > 0 ? { advisoryIDs: [...advisories] } : {}),
      };
    }),
  };
  return JSON.stringify(info);
}

/** The signed text of the QE identity v2 of the simulated QE (compact JSON, members in Intel's order). */
export function simQeIdentityBody(
  platform: Platform,
  p: { issueDate: number; nextUpdate: number; tcbEvaluationDataNumber: number; levels: readonly SimQeTcbLevel[] },
): string {
  if (p.levels.length === 0) throw new SimError('INVALID_PARAMETER', 'the QE identity needs at least one TCB level');
  const qe = qeIdentityOf(platform);
  const identity = {
    id: 'QE',
    version: 2,
    issueDate: intelDate(p.issueDate),
    nextUpdate: intelDate(p.nextUpdate),
    tcbEvaluationDataNumber: p.tcbEvaluationDataNumber,
    miscselect: qe.miscSelect.toString(16).padStart(8, '0').toUpperCase(),
    miscselectMask: 'FFFFFFFF',
    attributes: SIM_QE_ATTRIBUTES_HEX,
    attributesMask: SIM_QE_ATTRIBUTES_MASK_HEX,
    mrsigner: toHex(SIM_QE_MRSIGNER).toUpperCase(),
    isvprodid: SIM_QE_ISV_PROD_ID,
    tcbLevels: p.levels.map((l, i) => {
      const advisories = checkAdvisories(l.advisoryIds, `qeTcbLevels[${i}].advisoryIds`);
      return {
        tcb: { isvsvn: l.isvSvn },
        tcbDate: l.tcbDate ?? defaultTcbDate(platform),
        tcbStatus: l.tcbStatus,
        ...(advisories.length > 0 ? { advisoryIDs: [...advisories] } : {}),
      };
    }),
  };
  return JSON.stringify(identity);
}

/**
 * The collateral of `platform` under its simulated `pki` (see the module comment). Options choose the TCB status the
 * verifier will compute; the defaults give UpToDate.
 */
export async function createSimCollateral(
  platform: Platform,
  pki: SimPkiCertificates,
  options: SimCollateralOptions = {},
): Promise<CollateralBundle> {
  const now = toMs(options.now, 'now');
  const validityDays = options.validityDays ?? 30;
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw new SimError('INVALID_PARAMETER', 'validityDays must be a positive number');
  }
  const issueDate = Math.floor((now - HOUR_MS) / 1000) * 1000;
  const nextUpdate = Math.floor((now + validityDays * DAY_MS) / 1000) * 1000;
  const tcbEvaluationDataNumber = options.tcbEvaluationDataNumber ?? 1;

  const tcbStatus = checkStatus(options.tcbStatus ?? 'UpToDate', SIM_TCB_STATUSES, 'tcbStatus');
  const qeTcbStatus = checkStatus(options.qeTcbStatus ?? 'UpToDate', SIM_QE_TCB_STATUSES, 'qeTcbStatus');
  const levels =
    options.tcbLevels ??
    defaultSimTcbLevels(platform, tcbStatus, checkAdvisories(options.advisoryIds, 'advisoryIds'), options.belowAllLevels === true);
  const qeLevels =
    options.qeTcbLevels ?? defaultSimQeTcbLevels(platform, qeTcbStatus, checkAdvisories(options.qeAdvisoryIds, 'qeAdvisoryIds'));

  const tcbInfoBody = simTcbInfoBody(platform, { issueDate, nextUpdate, tcbEvaluationDataNumber, levels });
  const qeIdentityBody = simQeIdentityBody(platform, { issueDate, nextUpdate, tcbEvaluationDataNumber, levels: qeLevels });
  const encoder = new TextEncoder();

  const crl = { thisUpdate: issueDate, nextUpdate, ...(options.crlNumber !== undefined ? { crlNumber: options.crlNumber } : {}) };
  const [rootCaCrl, pckCrl] = await Promise.all([
    createSimCrl(pki, 'root', crl),
    createSimCrl(pki, 'pck', { ...crl, revokedSerials: options.revokePck === true ? [pki.pckSerialHex] : [] }),
  ]);

  return {
    pckCrlIssuerChain: pki.pckCrlIssuerChainPem,
    rootCaCrl,
    pckCrl,
    tcbInfoIssuerChain: pki.tcbSigningChainPem,
    tcbInfoBody,
    tcbInfoSignature: signP256Raw(pki.keys.tcbSigning, encoder.encode(tcbInfoBody)),
    qeIdentityIssuerChain: pki.tcbSigningChainPem,
    qeIdentityBody,
    qeIdentitySignature: signP256Raw(pki.keys.tcbSigning, encoder.encode(qeIdentityBody)),
  };
}
