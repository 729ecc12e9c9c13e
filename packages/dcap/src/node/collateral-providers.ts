/**
 * Collateral providers (Node): Intel PCS v4, a PCCS, and an offline folder. All return {@link CollateralBundle}s with
 * the signed TCB info / QE identity texts cut out of the responses byte for byte; none verifies anything (the verifier
 * does). Routes and headers: dcap-attestation.md §3.1 (PCS), §3.2 (PCCS).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DcapError } from '../errors.js';
import { collateralFromPcsResponses, parseCollateralBundle } from '../collateral/bundle.js';
import type { CollateralBundle } from '../collateral/types.js';
import type { CollateralRequest } from '../verify/collateral-request.js';
import { tryDecodeUtf8 } from '../util/bytes.js';
import { type FetchLike, type HttpGetOptions, type HttpGetResult, httpGet } from './collateral-fetch.js';

export type { FetchLike } from './collateral-fetch.js';

/** `collateralRequestForQuote(quote)` (the main entry point) makes one from a quote. */
export type { CollateralRequest };

export interface CollateralProvider {
  getCollateral(req: CollateralRequest): Promise<CollateralBundle>;
}

export const INTEL_PCS_BASE_URL = 'https://api.trustedservices.intel.com';
export const INTEL_ROOT_CA_CRL_URL = 'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der';
const DEFAULT_TIMEOUT_MS = 15_000;
const FMSPC = /^[0-9a-fA-F]{12}$/;

/** Validates a request from untyped callers; returns it with the FMSPC in lower case. */
export function normalizeCollateralRequest(req: CollateralRequest): CollateralRequest {
  if (typeof req !== 'object' || req === null) throw new DcapError('MISSING_PARAMETERS', 'collateral request missing');
  if (typeof req.fmspc !== 'string' || !FMSPC.test(req.fmspc)) {
    throw new DcapError('INVALID_INPUT_ENCODING', 'FMSPC must be 12 hex digits');
  }
  if (req.ca !== 'processor' && req.ca !== 'platform') {
    throw new DcapError('MISSING_PARAMETERS', 'ca must be "processor" or "platform"');
  }
  if (req.tee !== 'SGX' && req.tee !== 'TDX') throw new DcapError('MISSING_PARAMETERS', 'tee must be "SGX" or "TDX"');
  return { fmspc: req.fmspc.toLowerCase(), ca: req.ca, tee: req.tee };
}

function bodyText(
  r: HttpGetResult,
  what: string,
  code: 'SGX_TCB_INFO_UNSUPPORTED_FORMAT' | 'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT',
): string {
  const text = tryDecodeUtf8(r.body);
  if (text === undefined) throw new DcapError(code, `${what} response is not UTF-8 text`);
  return text;
}

function trimBase(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * The four v4 requests against `base` (PCS or PCCS: same routes), the root CA CRL from `rootCaCrl`, run concurrently.
 */
async function fetchV4(
  base: string,
  request: CollateralRequest,
  http: HttpGetOptions,
  rootCaCrl: () => Promise<Uint8Array | string>,
): Promise<CollateralBundle> {
  const req = normalizeCollateralRequest(request);
  const tee = req.tee.toLowerCase();
  // dcap-qvl asks PCCS with the FMSPC in upper case; PCS accepts either.
  const fmspc = encodeURIComponent(req.fmspc.toUpperCase());
  const [tcb, qe, pckCrl, root] = await Promise.all([
    httpGet(`${base}/${tee}/certification/v4/tcb?fmspc=${fmspc}`, http),
    httpGet(`${base}/${tee}/certification/v4/qe/identity`, http),
    httpGet(`${base}/sgx/certification/v4/pckcrl?ca=${req.ca}&encoding=der`, http),
    rootCaCrl(),
  ]);
  return collateralFromPcsResponses({
    tcbInfoResponse: { body: bodyText(tcb, 'TCB info', 'SGX_TCB_INFO_UNSUPPORTED_FORMAT'), headers: tcb.headers },
    qeIdentityResponse: {
      body: bodyText(qe, 'QE identity', 'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT'),
      headers: qe.headers,
    },
    pckCrlResponse: { body: pckCrl.body, headers: pckCrl.headers },
    rootCaCrl: root,
  });
}

export interface PcsProviderOptions {
  /** Default {@link INTEL_PCS_BASE_URL}. */
  readonly baseUrl?: string;
  /** Sent as `Ocp-Apim-Subscription-Key` (v4 TCB info, identities and CRLs do not need one). */
  readonly apiKey?: string;
  readonly fetch?: FetchLike;
  /** Per request; default 15 000. */
  readonly timeoutMs?: number;
  /** Where the root CA CRL (DER) is fetched; default {@link INTEL_ROOT_CA_CRL_URL}, Intel root CA's CRL DP. */
  readonly rootCaCrlUrl?: string;
}

/** Intel PCS API v4: `/{sgx,tdx}/certification/v4/tcb`, `…/qe/identity`, `/sgx/certification/v4/pckcrl`. */
export function createPcsProvider(options: PcsProviderOptions = {}): CollateralProvider {
  const base = trimBase(options.baseUrl ?? INTEL_PCS_BASE_URL);
  const rootUrl = options.rootCaCrlUrl ?? INTEL_ROOT_CA_CRL_URL;
  const http: HttpGetOptions = {
    fetch: options.fetch ?? globalThis.fetch,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    headers: options.apiKey === undefined ? {} : { 'Ocp-Apim-Subscription-Key': options.apiKey },
  };
  const rootHttp: HttpGetOptions = { fetch: http.fetch, timeoutMs: http.timeoutMs };
  return {
    getCollateral: (req) => fetchV4(base, req, http, async () => (await httpGet(rootUrl, rootHttp)).body),
  };
}

export interface PccsProviderOptions {
  /** e.g. `https://pccs.example:8081`; routes `/sgx/certification/v4/…`, `/tdx/certification/v4/…` are added. */
  readonly baseUrl: string;
  readonly fetch?: FetchLike;
  /** Per request; default 15 000. */
  readonly timeoutMs?: number;
}

/**
 * An Intel PCCS (or a compatible caching service): the PCS v4 routes on `baseUrl`, and the root CA CRL from
 * `GET /sgx/certification/v4/rootcacrl`, which PCCS serves as hex text (`services/rootcacrlService.js`).
 */
export function createPccsProvider(options: PccsProviderOptions): CollateralProvider {
  if (typeof options?.baseUrl !== 'string' || options.baseUrl === '') {
    throw new DcapError('MISSING_PARAMETERS', 'PCCS baseUrl is required');
  }
  const base = trimBase(options.baseUrl);
  const http: HttpGetOptions = {
    fetch: options.fetch ?? globalThis.fetch,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
  return {
    getCollateral: (req) =>
      fetchV4(base, req, http, async () => (await httpGet(`${base}/sgx/certification/v4/rootcacrl`, http)).body),
  };
}

/** Largest bundle file the folder provider reads. */
const MAX_BUNDLE_FILE = 64 * 1024 * 1024;

/** The file name the folder provider looks for first: `<fmspc lower-case>-<ca>-<tee lower-case>.json`. */
export function collateralFileName(req: CollateralRequest): string {
  const r = normalizeCollateralRequest(req);
  return `${r.fmspc}-${r.ca}-${r.tee.toLowerCase()}.json`;
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    const data = await readFile(path);
    if (data.length > MAX_BUNDLE_FILE) throw new DcapError('COLLATERAL_UNAVAILABLE', `${path} is too large`);
    return data.toString('utf8');
  } catch (e) {
    if (DcapError.is(e)) throw e;
    if ((e as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new DcapError('COLLATERAL_UNAVAILABLE', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Offline collateral from a folder of `QuoteCollateralV3` JSON bundles. For a request it reads, in order:
 *
 * 1. `<dir>/<fmspc>-<ca>-<tee>.json`, all lower case, e.g. `b0c06f000000-platform-tdx.json`;
 * 2. `<dir>/collateral.json`, one bundle used for every request (a single-platform deployment, or a test case folder).
 *
 * Files are re-read on every call (wrap the provider in `createCachingProvider` to cache). Neither file →
 * `COLLATERAL_UNAVAILABLE`.
 */
export function createFolderProvider(dir: string): CollateralProvider {
  if (typeof dir !== 'string' || dir === '') throw new DcapError('MISSING_PARAMETERS', 'collateral folder is required');
  return {
    async getCollateral(req) {
      const name = collateralFileName(req);
      for (const file of [name, 'collateral.json']) {
        const text = await readIfPresent(join(dir, file));
        if (text !== undefined) return parseCollateralBundle(text);
      }
      throw new DcapError('COLLATERAL_UNAVAILABLE', `no ${name} or collateral.json in ${dir}`);
    },
  };
}
