/**
 * Collateral bundles: the Phala-Network/dcap-qvl `QuoteCollateralV3` JSON (dcap-attestation.md §3.3,
 * testdata/FORMAT.md) to and from {@link CollateralBundle}, and a bundle built from raw Intel PCS / PCCS
 * responses (§3.1, §3.2).
 *
 * JSON keys: `pck_crl_issuer_chain` (PEM), `root_ca_crl` (hex of DER), `pck_crl` (hex of DER), `tcb_info_issuer_chain`
 * (PEM), `tcb_info` (exact signed text), `tcb_info_signature` (hex, 64 bytes), `qe_identity_issuer_chain` (PEM),
 * `qe_identity` (exact signed text), `qe_identity_signature` (hex, 64 bytes), optional `pck_certificate_chain` (PEM).
 */
import { DcapError, type DcapErrorCode } from '../errors.js';
import { toHex, tryDecodeUtf8, tryFromHex } from '../util/bytes.js';
import { decodePemBlocks } from '../util/pem.js';
import { checkJsonBudget } from '../util/json-budget.js';
import { parseEnclaveIdentity } from './enclave-identity.js';
import { rawJsonMember } from './json-span.js';
import { parseTcbInfo } from './tcb-info.js';
import type { CollateralBundle } from './types.js';

/** Longest string accepted for any one bundle value (CRLs of a few MB still fit). */
export const BUNDLE_MAX_VALUE_LENGTH = 16 * 1024 * 1024;
const SIGNATURE_LENGTH = 64;

/** Bundle JSON keys in the order dcap-qvl writes them (and {@link serializeCollateralBundle} does). */
export const COLLATERAL_BUNDLE_KEYS = [
  'pck_crl_issuer_chain',
  'root_ca_crl',
  'pck_crl',
  'tcb_info_issuer_chain',
  'tcb_info',
  'tcb_info_signature',
  'qe_identity_issuer_chain',
  'qe_identity',
  'qe_identity_signature',
] as const;

// ---------------------------------------------------------------------------------------------------------------------
// Value decoding

/** `hex` → raw r‖s; bad hex → INVALID_INPUT_ENCODING, wrong length → `lengthCode`. */
function signatureFromHex(hex: string, what: string, lengthCode: DcapErrorCode): Uint8Array {
  if (hex.length !== SIGNATURE_LENGTH * 2) {
    throw new DcapError(lengthCode, `${what} must be ${SIGNATURE_LENGTH * 2} hex digits, got ${hex.length} characters`);
  }
  const bytes = tryFromHex(hex);
  if (bytes === undefined) throw new DcapError('INVALID_INPUT_ENCODING', `${what} is not valid hex`);
  return bytes;
}

/** True when `der` is exactly one DER SEQUENCE (tag 0x30, definite length covering the rest). */
function isSingleDerSequence(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1]!;
  if (first < 0x80) return 2 + first === der.length;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
  return 2 + n + len === der.length;
}

/**
 * A CRL as DER from DER bytes, a PEM `X509 CRL` block, or hex text (PCCS `/rootcacrl`, dcap-qvl bundles); given as
 * bytes or text. Anything else is `SGX_CRL_UNSUPPORTED_FORMAT`. Returns a copy.
 */
export function crlInputToDer(input: Uint8Array | string, what = 'CRL'): Uint8Array {
  let text: string | undefined;
  if (input instanceof Uint8Array) {
    if (isSingleDerSequence(input)) return new Uint8Array(input);
    text = input.length <= BUNDLE_MAX_VALUE_LENGTH ? tryDecodeUtf8(input) : undefined;
    if (text === undefined) throw new DcapError('SGX_CRL_UNSUPPORTED_FORMAT', `${what} is neither DER, PEM nor hex`);
  } else if (typeof input === 'string') {
    text = input;
  } else {
    throw new DcapError('SGX_CRL_UNSUPPORTED_FORMAT', `${what} is neither bytes nor text`);
  }
  if (text.length > BUNDLE_MAX_VALUE_LENGTH) throw new DcapError('SGX_CRL_UNSUPPORTED_FORMAT', `${what} is too long`);
  text = text.trim();
  let der: Uint8Array | undefined;
  if (text.startsWith('-----BEGIN')) {
    const block = decodePemBlocks(text, 'SGX_CRL_UNSUPPORTED_FORMAT').find((b) => b.label === 'X509 CRL');
    if (block === undefined) throw new DcapError('SGX_CRL_UNSUPPORTED_FORMAT', `${what} has no X509 CRL PEM block`);
    der = block.der;
  } else {
    der = tryFromHex(text);
  }
  if (der === undefined || !isSingleDerSequence(der)) {
    throw new DcapError('SGX_CRL_UNSUPPORTED_FORMAT', `${what} is neither DER, PEM nor hex of a DER SEQUENCE`);
  }
  return der;
}

// ---------------------------------------------------------------------------------------------------------------------
// Bundle JSON

function bundleString(obj: Readonly<Record<string, unknown>>, key: string): string {
  if (!Object.prototype.hasOwnProperty.call(obj, key) || obj[key] === undefined || obj[key] === null) {
    throw new DcapError('MISSING_PARAMETERS', `collateral bundle lacks "${key}"`);
  }
  const v = obj[key];
  if (typeof v !== 'string') throw new DcapError('MISSING_PARAMETERS', `collateral bundle "${key}" is not a string`);
  if (v.length > BUNDLE_MAX_VALUE_LENGTH) {
    throw new DcapError('MISSING_PARAMETERS', `collateral bundle "${key}" is too long`);
  }
  return v;
}

/**
 * Parses a `QuoteCollateralV3` bundle (JSON text or the parsed object). Strings are kept verbatim (the TCB info and
 * QE identity texts are what Intel signed); CRLs may be hex of DER, or PEM; signatures must be 64 bytes of hex.
 * The TCB info and QE identity themselves are not interpreted here ({@link parseTcbInfo},
 * {@link parseEnclaveIdentity}).
 */
export function parseCollateralBundle(input: string | object): CollateralBundle {
  let obj: unknown = input;
  if (typeof input === 'string') {
    if (input.length > 4 * BUNDLE_MAX_VALUE_LENGTH) {
      throw new DcapError('INVALID_INPUT_ENCODING', 'collateral bundle is too long');
    }
    checkJsonBudget(input, 'collateral bundle');
    try {
      obj = JSON.parse(input);
    } catch {
      throw new DcapError('INVALID_INPUT_ENCODING', 'collateral bundle is not JSON');
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new DcapError('INVALID_INPUT_ENCODING', 'collateral bundle is not a JSON object');
  }
  const o = obj as Readonly<Record<string, unknown>>;
  for (const key of COLLATERAL_BUNDLE_KEYS) bundleString(o, key);

  const bundle: CollateralBundle = {
    pckCrlIssuerChain: bundleString(o, 'pck_crl_issuer_chain'),
    rootCaCrl: crlInputToDer(bundleString(o, 'root_ca_crl'), 'root_ca_crl'),
    pckCrl: crlInputToDer(bundleString(o, 'pck_crl'), 'pck_crl'),
    tcbInfoIssuerChain: bundleString(o, 'tcb_info_issuer_chain'),
    tcbInfoBody: bundleString(o, 'tcb_info'),
    tcbInfoSignature: signatureFromHex(
      bundleString(o, 'tcb_info_signature'),
      'tcb_info_signature',
      'SGX_TCB_INFO_INVALID',
    ),
    qeIdentityIssuerChain: bundleString(o, 'qe_identity_issuer_chain'),
    qeIdentityBody: bundleString(o, 'qe_identity'),
    qeIdentitySignature: signatureFromHex(
      bundleString(o, 'qe_identity_signature'),
      'qe_identity_signature',
      'SGX_ENCLAVE_IDENTITY_INVALID',
    ),
  };
  const chain = o['pck_certificate_chain'];
  if (chain === undefined || chain === null) return bundle;
  return { ...bundle, pckCertificateChain: bundleString(o, 'pck_certificate_chain') };
}

/**
 * The bundle as `QuoteCollateralV3` JSON: keys in dcap-qvl's order, 2-space indentation, trailing newline; strings
 * verbatim, bytes as lower-case hex. `serializeCollateralBundle(parseCollateralBundle(t)) === t` for every bundle in
 * that canonical form (such as the test corpus).
 */
export function serializeCollateralBundle(b: CollateralBundle): string {
  const out: Record<string, string> = {
    pck_crl_issuer_chain: b.pckCrlIssuerChain,
    root_ca_crl: toHex(b.rootCaCrl),
    pck_crl: toHex(b.pckCrl),
    tcb_info_issuer_chain: b.tcbInfoIssuerChain,
    tcb_info: b.tcbInfoBody,
    tcb_info_signature: toHex(b.tcbInfoSignature),
    qe_identity_issuer_chain: b.qeIdentityIssuerChain,
    qe_identity: b.qeIdentityBody,
    qe_identity_signature: toHex(b.qeIdentitySignature),
  };
  if (b.pckCertificateChain !== undefined) out['pck_certificate_chain'] = b.pckCertificateChain;
  return `${JSON.stringify(out, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------------------------
// From PCS / PCCS responses

/** Response headers: a WHATWG `Headers` (anything with `get`), or a plain record such as `IncomingHttpHeaders`. */
export type HeaderSource =
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface PcsResponse<Body = string> {
  readonly body: Body;
  readonly headers: HeaderSource;
}

export interface PcsResponses {
  /** `GET /{sgx,tdx}/certification/v4/tcb?fmspc=…`: `{"tcbInfo":…,"signature":"…"}`. */
  readonly tcbInfoResponse: PcsResponse;
  /** `GET /{sgx,tdx}/certification/v4/qe/identity`: `{"enclaveIdentity":…,"signature":"…"}`. */
  readonly qeIdentityResponse: PcsResponse;
  /** `GET /sgx/certification/v4/pckcrl?ca=…`: DER, PEM or hex. */
  readonly pckCrlResponse: PcsResponse<Uint8Array | string>;
  /** Intel's `IntelSGXRootCA.der` (DER) or PCCS `/rootcacrl` (hex text). */
  readonly rootCaCrl: Uint8Array | string;
  readonly pckCertificateChain?: string;
}

/** Case-insensitive header lookup; the first of `names` present wins. */
export function headerValue(headers: HeaderSource, ...names: string[]): string | undefined {
  const getter = (headers as { get?: unknown }).get;
  if (typeof getter === 'function') {
    for (const name of names) {
      const v: unknown = getter.call(headers, name);
      if (typeof v === 'string') return v;
    }
    return undefined;
  }
  const record = headers as Readonly<Record<string, unknown>>;
  for (const name of names) {
    const wanted = name.toLowerCase();
    for (const [k, v] of Object.entries(record)) {
      if (k.toLowerCase() !== wanted) continue;
      if (typeof v === 'string') return v;
      if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
    }
  }
  return undefined;
}

/**
 * An issuer chain header: URL-encoded concatenated PEM (`-----BEGIN%20CERTIFICATE-----%0A…`). Only `%XX` escapes are
 * decoded: a `+` is a base64 character here, never a space.
 */
function issuerChainHeader(headers: HeaderSource, what: string, ...names: string[]): string {
  const raw = headerValue(headers, ...names);
  if (raw === undefined) {
    throw new DcapError('COLLATERAL_UNAVAILABLE', `${what} response lacks the ${names.join(' / ')} header`);
  }
  let chain: string;
  try {
    chain = decodeURIComponent(raw);
  } catch {
    throw new DcapError('COLLATERAL_UNAVAILABLE', `${what} issuer chain header is not URL-encoded`);
  }
  if (!chain.includes('-----BEGIN CERTIFICATE-----')) {
    throw new DcapError('COLLATERAL_UNAVAILABLE', `${what} issuer chain header holds no PEM certificate`);
  }
  return chain;
}

/** The exact signed text of `member` and the signature of a PCS `{member:…, "signature":"…"}` body. */
function signedMember(
  body: unknown,
  member: string,
  formatCode: DcapErrorCode,
  invalidCode: DcapErrorCode,
): { text: string; signature: Uint8Array } {
  if (typeof body !== 'string') throw new DcapError(formatCode, `${member} response body is not text`);
  const text = rawJsonMember(body, member, formatCode);
  if (text === undefined || !text.startsWith('{')) {
    throw new DcapError(invalidCode, `${member} response has no "${member}" object`);
  }
  const rawSignature = rawJsonMember(body, 'signature', formatCode);
  const signature: unknown = rawSignature === undefined ? undefined : JSON.parse(rawSignature);
  if (typeof signature !== 'string') throw new DcapError(invalidCode, `${member} response has no "signature" string`);
  return { text, signature: signatureFromHex(signature, `${member} signature`, invalidCode) };
}

/**
 * Builds a bundle from raw PCS / PCCS responses. The `tcbInfo` / `enclaveIdentity` texts are cut out of the bodies
 * byte for byte ({@link rawJsonMember}) and validated with {@link parseTcbInfo} / {@link parseEnclaveIdentity}.
 * Issuer chains come from `TCB-Info-Issuer-Chain` (or `SGX-TCB-Info-Issuer-Chain`), `SGX-Enclave-Identity-Issuer-Chain`
 * and `SGX-PCK-CRL-Issuer-Chain`; a missing or undecodable header is `COLLATERAL_UNAVAILABLE`.
 */
export function collateralFromPcsResponses(r: PcsResponses): CollateralBundle {
  const tcb = signedMember(
    r.tcbInfoResponse.body,
    'tcbInfo',
    'SGX_TCB_INFO_UNSUPPORTED_FORMAT',
    'SGX_TCB_INFO_INVALID',
  );
  parseTcbInfo(tcb.text);
  const qe = signedMember(
    r.qeIdentityResponse.body,
    'enclaveIdentity',
    'SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT',
    'SGX_ENCLAVE_IDENTITY_INVALID',
  );
  parseEnclaveIdentity(qe.text);
  const bundle: CollateralBundle = {
    pckCrlIssuerChain: issuerChainHeader(r.pckCrlResponse.headers, 'PCK CRL', 'SGX-PCK-CRL-Issuer-Chain'),
    rootCaCrl: crlInputToDer(r.rootCaCrl, 'root CA CRL'),
    pckCrl: crlInputToDer(r.pckCrlResponse.body, 'PCK CRL'),
    tcbInfoIssuerChain: issuerChainHeader(
      r.tcbInfoResponse.headers,
      'TCB info',
      'TCB-Info-Issuer-Chain',
      'SGX-TCB-Info-Issuer-Chain',
    ),
    tcbInfoBody: tcb.text,
    tcbInfoSignature: tcb.signature,
    qeIdentityIssuerChain: issuerChainHeader(
      r.qeIdentityResponse.headers,
      'QE identity',
      'SGX-Enclave-Identity-Issuer-Chain',
    ),
    qeIdentityBody: qe.text,
    qeIdentitySignature: qe.signature,
  };
  return r.pckCertificateChain === undefined ? bundle : { ...bundle, pckCertificateChain: r.pckCertificateChain };
}
