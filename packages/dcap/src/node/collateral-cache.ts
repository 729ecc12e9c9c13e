/**
 * A caching {@link CollateralProvider}: one entry per (TEE, FMSPC, CA), kept until the earliest `nextUpdate` of the
 * TCB info, the QE identity and both CRLs; concurrent requests for the same key share one fetch; failures are not
 * cached; least recently used entries are evicted beyond `maxEntries`.
 */
import { parseEnclaveIdentity } from '../collateral/enclave-identity.js';
import { parseTcbInfo } from '../collateral/tcb-info.js';
import type { CollateralBundle } from '../collateral/types.js';
import { type CollateralProvider, type CollateralRequest, normalizeCollateralRequest } from './collateral-providers.js';

// ---------------------------------------------------------------------------------------------------------------------
// CRL nextUpdate (RFC 5280 §5.1): the smallest DER walk that reaches it.
//
//   CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm, signatureValue }
//   TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature AlgorithmIdentifier, issuer Name,
//                              thisUpdate Time, nextUpdate Time OPTIONAL, … }
//   Time ::= CHOICE { utcTime UTCTime (tag 0x17), generalTime GeneralizedTime (tag 0x18) }

interface Tlv {
  readonly tag: number;
  readonly start: number; // first content byte
  readonly end: number; // one past the last content byte
}

function readTlv(der: Uint8Array, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = der[pos]!;
  const first = der[pos + 1]!;
  let len: number;
  let start: number;
  if (first < 0x80) {
    len = first;
    start = pos + 2;
  } else {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || pos + 2 + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[pos + 2 + i]!;
    start = pos + 2 + n;
  }
  const end = start + len;
  return end > limit ? undefined : { tag, start, end };
}

function digits(text: string, from: number, count: number): number {
  return Number(text.slice(from, from + count));
}

/** UTCTime `YYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.1: YY < 50 → 20YY) or GeneralizedTime `YYYYMMDDHHMMSSZ`. */
function derTime(der: Uint8Array, t: Tlv): number | undefined {
  let text = '';
  for (let i = t.start; i < t.end; i++) text += String.fromCharCode(der[i]!);
  let year: number;
  let rest: string;
  if (t.tag === 0x17 && /^\d{12}Z$/.test(text)) {
    const yy = digits(text, 0, 2);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    rest = text.slice(2);
  } else if (t.tag === 0x18 && /^\d{14}Z$/.test(text)) {
    year = digits(text, 0, 4);
    rest = text.slice(4);
  } else {
    return undefined;
  }
  const ms = Date.UTC(year, digits(rest, 0, 2) - 1, digits(rest, 2, 2), digits(rest, 4, 2), digits(rest, 6, 2), digits(rest, 8, 2));
  return Number.isFinite(ms) ? ms : undefined;
}

/** The CRL's `nextUpdate` in ms since the epoch; undefined when absent or when `der` is not a CRL this walk reads. */
export function crlNextUpdate(der: Uint8Array): number | undefined {
  const outer = readTlv(der, 0, der.length);
  if (outer === undefined || outer.tag !== 0x30) return undefined;
  const tbs = readTlv(der, outer.start, outer.end);
  if (tbs === undefined || tbs.tag !== 0x30) return undefined;
  let pos = tbs.start;
  let item = readTlv(der, pos, tbs.end);
  if (item?.tag === 0x02) {
    pos = item.end; // version
    item = readTlv(der, pos, tbs.end);
  }
  for (let i = 0; i < 2; i++) {
    // signature AlgorithmIdentifier, issuer Name
    if (item?.tag !== 0x30) return undefined;
    pos = item.end;
    item = readTlv(der, pos, tbs.end);
  }
  if (item === undefined || (item.tag !== 0x17 && item.tag !== 0x18)) return undefined; // thisUpdate
  const next = readTlv(der, item.end, tbs.end);
  if (next === undefined || (next.tag !== 0x17 && next.tag !== 0x18)) return undefined;
  return derTime(der, next);
}

// ---------------------------------------------------------------------------------------------------------------------
// Cache

export interface CachingProviderOptions {
  /** Default 256. */
  readonly maxEntries?: number;
  /** Clock in ms since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** A CRL's nextUpdate; default {@link crlNextUpdate}. A CRL without one does not limit the entry's life. */
  readonly crlNextUpdate?: (der: Uint8Array) => number | undefined;
}

export interface CachingCollateralProvider extends CollateralProvider {
  /** Entries currently held (fresh or not). */
  readonly size: number;
  clear(): void;
}

interface Entry {
  readonly bundle: CollateralBundle;
  readonly expiresAt: number;
}

function copyBundle(b: CollateralBundle): CollateralBundle {
  return {
    ...b,
    rootCaCrl: b.rootCaCrl.slice(),
    pckCrl: b.pckCrl.slice(),
    tcbInfoSignature: b.tcbInfoSignature.slice(),
    qeIdentitySignature: b.qeIdentitySignature.slice(),
  };
}

/**
 * Wraps `inner`. An entry is served while `now() < expiresAt`, where `expiresAt` is the earliest of the TCB info and
 * QE identity `nextUpdate` and the CRLs' nextUpdate. A bundle whose TCB info or QE identity does not parse is an error
 * (not cached). Callers get their own copy of the byte arrays.
 */
export function createCachingProvider(
  inner: CollateralProvider,
  options: CachingProviderOptions = {},
): CachingCollateralProvider {
  const maxEntries = options.maxEntries ?? 256;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  const now = options.now ?? Date.now;
  const nextUpdateOfCrl = options.crlNextUpdate ?? crlNextUpdate;
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Entry>>();

  function expiryOf(b: CollateralBundle): number {
    const times = [
      parseTcbInfo(b.tcbInfoBody).nextUpdate,
      parseEnclaveIdentity(b.qeIdentityBody).nextUpdate,
      nextUpdateOfCrl(b.rootCaCrl),
      nextUpdateOfCrl(b.pckCrl),
    ].filter((t): t is number => typeof t === 'number' && Number.isFinite(t));
    return Math.min(...times);
  }

  async function load(key: string, req: CollateralRequest): Promise<Entry> {
    const bundle = await inner.getCollateral(req);
    const entry: Entry = { bundle: copyBundle(bundle), expiresAt: expiryOf(bundle) };
    if (now() < entry.expiresAt) {
      entries.delete(key);
      entries.set(key, entry);
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    }
    return entry;
  }

  return {
    get size() {
      return entries.size;
    },
    clear() {
      entries.clear();
    },
    async getCollateral(request) {
      const req = normalizeCollateralRequest(request);
      const key = `${req.tee}/${req.fmspc}/${req.ca}`;
      const hit = entries.get(key);
      if (hit !== undefined) {
        if (now() < hit.expiresAt) {
          entries.delete(key); // refresh LRU position
          entries.set(key, hit);
          return copyBundle(hit.bundle);
        }
        entries.delete(key);
      }
      let pending = inflight.get(key);
      if (pending === undefined) {
        pending = load(key, req).finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      return copyBundle((await pending).bundle);
    },
  };
}
