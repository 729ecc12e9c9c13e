/**
 * Collateral parsed once per bundle. Each item is parsed lazily and its outcome (value or error) remembered, so that
 * errors still surface at the verification step where Intel QVL would report them.
 */
import { DcapError } from '../errors.js';
import { parseCollateralBundle } from '../collateral/bundle.js';
import { parseEnclaveIdentity } from '../collateral/enclave-identity.js';
import { parseTcbInfo } from '../collateral/tcb-info.js';
import type { CollateralBundle, EnclaveIdentity, TcbInfo } from '../collateral/types.js';
import { bytesKey, snapshot } from '../util/bytes.js';
import { LruCache } from '../util/lru.js';
import { parseCertificateChainPem } from '../x509/chain.js';
import { parseCrl } from '../x509/crl.js';
import type { Certificate, Crl } from '../x509/types.js';

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

function attempt<T>(f: () => T): Outcome<T> {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

function take<T>(o: Outcome<T>): T {
  if (o.ok) return o.value;
  throw o.error;
}

export class ParsedCollateral {
  readonly bundle: CollateralBundle;
  readonly #chains: ChainParser;
  #rootCaCrl?: Outcome<Crl>;
  #pckCrl?: Outcome<Crl>;
  #tcbInfo?: Outcome<TcbInfo>;
  #qeIdentity?: Outcome<EnclaveIdentity>;
  /** Signing certificates whose signature over the TCB info / QE identity text has verified. */
  readonly tcbInfoSignedBy = new WeakSet<Certificate>();
  readonly qeIdentitySignedBy = new WeakSet<Certificate>();

  constructor(bundle: CollateralBundle, chains: ChainParser) {
    this.bundle = bundle;
    this.#chains = chains;
  }

  get rootCaCrl(): Crl {
    return take((this.#rootCaCrl ??= attempt(() => parseCrlAs(this.bundle.rootCaCrl, 'root CA CRL'))));
  }

  get pckCrl(): Crl {
    return take((this.#pckCrl ??= attempt(() => parseCrlAs(this.bundle.pckCrl, 'PCK CRL'))));
  }

  get tcbInfo(): TcbInfo {
    return take((this.#tcbInfo ??= attempt(() => parseTcbInfo(this.bundle.tcbInfoBody))));
  }

  get qeIdentity(): EnclaveIdentity {
    return take((this.#qeIdentity ??= attempt(() => parseEnclaveIdentity(this.bundle.qeIdentityBody))));
  }

  get tcbInfoChain(): readonly Certificate[] {
    return this.#chains.parse(this.bundle.tcbInfoIssuerChain);
  }

  get qeIdentityChain(): readonly Certificate[] {
    return this.#chains.parse(this.bundle.qeIdentityIssuerChain);
  }
}

function parseCrlAs(der: Uint8Array, what: string): Crl {
  try {
    return parseCrl(der);
  } catch (e) {
    if (DcapError.is(e)) throw new DcapError('SGX_CRL_UNSUPPORTED_FORMAT', `${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** PEM chain text → parsed certificates, remembered by content. */
export class ChainParser {
  readonly #cache: LruCache<string, Outcome<readonly Certificate[]>>;

  constructor(max: number) {
    this.#cache = new LruCache(max);
  }

  parse(pem: string): readonly Certificate[] {
    let o = this.#cache.get(pem);
    if (o === undefined) {
      o = attempt(() => Object.freeze(parseCertificateChainPem(pem)));
      this.#cache.set(pem, o);
    }
    return take(o);
  }
}

/** Bundles → ParsedCollateral, by object identity first, then by content. */
export class CollateralCache {
  readonly #byObject = new WeakMap<object, ParsedCollateral>();
  readonly #byContent: LruCache<string, ParsedCollateral>;
  readonly #chains: ChainParser;

  constructor(max: number, chains: ChainParser) {
    this.#byContent = new LruCache(max);
    this.#chains = chains;
  }

  get(input: CollateralBundle | string | object): ParsedCollateral {
    if (typeof input === 'object') {
      const hit = this.#byObject.get(input);
      if (hit !== undefined) return hit;
    }
    // A private copy: what was verified cannot change under the cache if the caller reuses its byte arrays.
    const bundle = isBundle(input) ? snapshotBundle(input) : parseCollateralBundle(input as string | object);
    const key = contentKey(bundle);
    let parsed = this.#byContent.get(key);
    if (parsed === undefined) {
      parsed = new ParsedCollateral(bundle, this.#chains);
      this.#byContent.set(key, parsed);
    }
    if (typeof input === 'object') this.#byObject.set(input, parsed);
    return parsed;
  }
}

function isBundle(x: unknown): x is CollateralBundle {
  return (
    typeof x === 'object' &&
    x !== null &&
    (x as CollateralBundle).rootCaCrl instanceof Uint8Array &&
    typeof (x as CollateralBundle).tcbInfoBody === 'string'
  );
}

function snapshotBundle(b: CollateralBundle): CollateralBundle {
  return {
    ...b,
    rootCaCrl: snapshot(b.rootCaCrl),
    pckCrl: snapshot(b.pckCrl),
    tcbInfoSignature: snapshot(b.tcbInfoSignature),
    qeIdentitySignature: snapshot(b.qeIdentitySignature),
  };
}

function contentKey(b: CollateralBundle): string {
  return [
    b.pckCrlIssuerChain,
    bytesKey(b.rootCaCrl),
    bytesKey(b.pckCrl),
    b.tcbInfoIssuerChain,
    b.tcbInfoBody,
    bytesKey(b.tcbInfoSignature),
    b.qeIdentityIssuerChain,
    b.qeIdentityBody,
    bytesKey(b.qeIdentitySignature),
    b.pckCertificateChain ?? '',
  ].join('\u0000');
}
