/**
 * Collateral parsed once per bundle. Each item is parsed lazily and its outcome (value or error) remembered, so that
 * errors still surface at the verification step where Intel QVL would report them.
 */
import { DcapError } from '../errors.js';
import { COLLATERAL_BUNDLE_KEYS, parseCollateralBundle } from '../collateral/bundle.js';
import { parseEnclaveIdentity } from '../collateral/enclave-identity.js';
import { parseTcbInfo } from '../collateral/tcb-info.js';
import type { CollateralBundle, EnclaveIdentity, TcbInfo } from '../collateral/types.js';
import { bytesEqual, bytesKey, snapshot } from '../util/bytes.js';
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

  get pckCrlIssuerChain(): readonly Certificate[] {
    return this.#chains.parse(this.bundle.pckCrlIssuerChain);
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

/** The bundle fields in a fixed order: strings, and byte arrays (compared by content). */
type BundleValues = readonly [string, Uint8Array, Uint8Array, string, string, Uint8Array, string, string, Uint8Array, string | undefined];

/** The `QuoteCollateralV3` keys read from a JSON object input, in a fixed order. */
const JSON_KEYS = [...COLLATERAL_BUNDLE_KEYS, 'pck_certificate_chain'] as const;

interface ObjectMemo {
  readonly parsed: ParsedCollateral;
  /** For a JSON object input: the values its keys held when it was parsed (strings are immutable). */
  readonly jsonValues?: readonly unknown[];
}

/**
 * Bundles → ParsedCollateral, keyed by content. Every lookup reads the input's fields once and compares them with what
 * was parsed (strings by value, which is one pointer comparison when the caller passes the same strings; byte arrays
 * byte by byte), so an object updated in place — a new PCK CRL, a TCB info now `Revoked` — is parsed and verified
 * again; the object identity is only a hint that finds the candidate entry without building a key. What is cached is
 * a private copy, never the caller's arrays.
 */
export class CollateralCache {
  readonly #byObject = new WeakMap<object, ObjectMemo>();
  readonly #byText: LruCache<string, ParsedCollateral>;
  readonly #byContent: LruCache<string, ParsedCollateral>;
  readonly #chains: ChainParser;

  constructor(max: number, chains: ChainParser) {
    this.#byText = new LruCache(max);
    this.#byContent = new LruCache(max);
    this.#chains = chains;
  }

  get(input: CollateralBundle | string | object): ParsedCollateral {
    if (typeof input === 'string') {
      // Text is immutable: the text itself is the key.
      let parsed = this.#byText.get(input);
      if (parsed === undefined) {
        parsed = this.#intern(parseCollateralBundle(input));
        this.#byText.set(input, parsed);
      }
      return parsed;
    }
    if (isBundle(input)) {
      const values = bundleValues(input);
      const memo = this.#byObject.get(input);
      if (memo !== undefined && sameValues(values, bundleValues(memo.parsed.bundle))) return memo.parsed;
      const parsed = this.#intern(bundleFromValues(values));
      this.#byObject.set(input, { parsed });
      return parsed;
    }
    if (typeof input !== 'object' || input === null) return this.#intern(parseCollateralBundle(input as string));
    // A QuoteCollateralV3 object: read each key once, parse that snapshot.
    const record = input as Readonly<Record<string, unknown>>;
    const jsonValues = JSON_KEYS.map((k) => record[k]);
    const memo = this.#byObject.get(input);
    if (memo?.jsonValues !== undefined && memo.jsonValues.every((v, i) => v === jsonValues[i])) return memo.parsed;
    const snapshotObject: Record<string, unknown> = {};
    JSON_KEYS.forEach((k, i) => {
      if (jsonValues[i] !== undefined) snapshotObject[k] = jsonValues[i];
    });
    const parsed = this.#intern(parseCollateralBundle(snapshotObject));
    this.#byObject.set(input, { parsed, jsonValues });
    return parsed;
  }

  /** One ParsedCollateral per content (what was verified for it, e.g. signatures, is shared). */
  #intern(bundle: CollateralBundle): ParsedCollateral {
    const key = contentKey(bundle);
    let parsed = this.#byContent.get(key);
    if (parsed === undefined) {
      parsed = new ParsedCollateral(bundle, this.#chains);
      this.#byContent.set(key, parsed);
    }
    return parsed;
  }
}

function bundleValues(b: CollateralBundle): BundleValues {
  return [
    b.pckCrlIssuerChain,
    b.rootCaCrl,
    b.pckCrl,
    b.tcbInfoIssuerChain,
    b.tcbInfoBody,
    b.tcbInfoSignature,
    b.qeIdentityIssuerChain,
    b.qeIdentityBody,
    b.qeIdentitySignature,
    b.pckCertificateChain,
  ];
}

function sameValues(a: BundleValues, b: BundleValues): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x instanceof Uint8Array) {
      if (!(y instanceof Uint8Array) || !bytesEqual(x, y)) return false;
    } else if (x !== y) return false;
  }
  return true;
}

/** A private copy built from the values read once (a getter cannot answer differently the second time). */
function bundleFromValues(v: BundleValues): CollateralBundle {
  for (const s of [v[0], v[3], v[4], v[6], v[7]]) {
    if (typeof s !== 'string') throw new DcapError('MISSING_PARAMETERS', 'collateral bundle has a non-string text field');
  }
  for (const b of [v[1], v[2], v[5], v[8]]) {
    if (!(b instanceof Uint8Array)) throw new DcapError('MISSING_PARAMETERS', 'collateral bundle has a non-byte field');
  }
  if (v[9] !== undefined && typeof v[9] !== 'string') {
    throw new DcapError('MISSING_PARAMETERS', 'collateral bundle pckCertificateChain is not a string');
  }
  const bundle: CollateralBundle = {
    pckCrlIssuerChain: v[0],
    rootCaCrl: snapshot(v[1]),
    pckCrl: snapshot(v[2]),
    tcbInfoIssuerChain: v[3],
    tcbInfoBody: v[4],
    tcbInfoSignature: snapshot(v[5]),
    qeIdentityIssuerChain: v[6],
    qeIdentityBody: v[7],
    qeIdentitySignature: snapshot(v[8]),
  };
  return v[9] === undefined ? bundle : { ...bundle, pckCertificateChain: v[9] };
}

function isBundle(x: unknown): x is CollateralBundle {
  return (
    typeof x === 'object' &&
    x !== null &&
    (x as CollateralBundle).rootCaCrl instanceof Uint8Array &&
    typeof (x as CollateralBundle).tcbInfoBody === 'string'
  );
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
