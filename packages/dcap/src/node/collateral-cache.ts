/**
 * A caching {@link CollateralProvider}: one entry per (TEE, FMSPC, CA), kept until the earliest `nextUpdate` of the
 * TCB info, the QE identity and both CRLs; concurrent requests for the same key share one fetch; failures are not
 * cached; least recently used entries are evicted beyond `maxEntries`. Only collateral whose signatures and chains
 * verified ({@link QuoteVerifier.verifyCollateral}) is cached: one tampered upstream answer with a far `nextUpdate`
 * is refused, never served until then.
 */
import { parseEnclaveIdentity } from '../collateral/enclave-identity.js';
import { parseTcbInfo } from '../collateral/tcb-info.js';
import type { CollateralBundle } from '../collateral/types.js';
import { parseCrl } from '../x509/crl.js';
import { QuoteVerifier } from '../verify/verifier.js';
import type { TrustAnchor } from '../verify/trust-anchor.js';
import { nodeCryptoProvider } from './crypto.js';
import { type CollateralProvider, type CollateralRequest, normalizeCollateralRequest } from './collateral-providers.js';

/** The CRL's `nextUpdate` in ms since the epoch; undefined when absent or when `der` is not a CRL. */
export function crlNextUpdate(der: Uint8Array): number | undefined {
  try {
    return parseCrl(der).nextUpdate;
  } catch {
    return undefined;
  }
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
  /** Roots the collateral must chain to before it is cached. Default: the verifier's (the Intel SGX Root CA). */
  readonly trustAnchors?: readonly TrustAnchor[];
  /** Verifies the collateral's signatures and chains. Default: a QuoteVerifier with the node:crypto provider. */
  readonly verifier?: QuoteVerifier;
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
 * (not cached), and so is one whose signatures or chains do not verify to the trust anchors. Callers get their own copy
 * of the byte arrays.
 */
export function createCachingProvider(
  inner: CollateralProvider,
  options: CachingProviderOptions = {},
): CachingCollateralProvider {
  const maxEntries = options.maxEntries ?? 256;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  const now = options.now ?? Date.now;
  const nextUpdateOfCrl = options.crlNextUpdate ?? crlNextUpdate;
  const verifier = options.verifier ?? new QuoteVerifier({ crypto: nodeCryptoProvider() });
  const anchors = options.trustAnchors !== undefined ? { trustAnchors: options.trustAnchors } : {};
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
    // A private copy first: what is verified is what is kept.
    const bundle = copyBundle(await inner.getCollateral(req));
    await verifier.verifyCollateral(bundle, anchors);
    const entry: Entry = { bundle, expiresAt: expiryOf(bundle) };
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
