/**
 * A simulated Provisioning Certification Enclave + ECDSA Quoting Enclave: it holds an attestation key certified by the
 * platform's PCK key (through the QE report) and turns a 384-byte REPORT body into an SGX DCAP quote, version 3 or 4,
 * laid out byte for byte as Intel's QE3 does (dcap-attestation.md §1.1, §1.5, §1.6). Checking the application
 * REPORT's MAC is the caller's business (EREPORT targeting the QE is in ./enclave.ts); this module takes the body.
 *
 * Everything but the quote signature is fixed per (platform, PKI) and precomputed once, so a quote costs one
 * ECDSA-P256 signature and two copies.
 */
import { createHash } from 'node:crypto';
import { INTEL_QE_VENDOR_ID, bytesEqual, concatBytes } from '@cloister/dcap';
import { SimError } from './errors.js';
import { DEFAULT_XFRM, SGX_FLAGS, type EnclaveIdentity } from './identity.js';
import { p256FromSeed, signP256Raw, type P256Key } from './keys.js';
import { SIM_PKI_KEY_LABELS, type SimPkiCertificates } from './pki.js';
import type { Platform } from './platform.js';
import { REPORT_BODY_SIZE, encodeReportBody } from './report-body.js';

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * MRSIGNER of the simulated QE: SHA-256 of a fixed label (Intel's QE3 MRSIGNER is 8C4F5775…; the simulator's differs
 * on purpose). The simulated QE identity collateral names this value.
 */
export const SIM_QE_MRSIGNER: Uint8Array = sha256(utf8('cloister-sgx-sim/qe-signer'));

/** ISVPRODID of the SGX QE3, as Intel's (dcap-attestation.md §2.6). */
export const SIM_QE_ISV_PROD_ID = 1;

/** ATTRIBUTES.FLAGS of the QE: INITTED | MODE64BIT | PROVISION_KEY (0x15), production (no DEBUG). */
export const SIM_QE_FLAGS = SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT | SGX_FLAGS.PROVISION_KEY;

/**
 * The QE identity's ATTRIBUTES / mask, Intel's values for the SGX QE (dcap-attestation.md §2.6): the mask keeps every
 * FLAGS bit but MODE64BIT and ignores XFRM, so 0x15 & 0xFB = 0x11 matches.
 */
export const SIM_QE_ATTRIBUTES_HEX = '11000000000000000000000000000000';
export const SIM_QE_ATTRIBUTES_MASK_HEX = 'FBFFFFFFFFFFFFFF0000000000000000';

/**
 * QE authentication data as Intel's QE3 writes it: 32 bytes 0x00..0x1F (dcap-attestation.md §1.5).
 */
export const SIM_QE_AUTH_DATA: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => i);

/** Certification data types (sgx_quote_3.h sgx_ql_cert_key_type_t). */
const CERT_TYPE_PCK_CHAIN = 5;
const CERT_TYPE_QE_REPORT = 6;
/** Attestation key type 2: ECDSA-256-with-P-256 (QuoteConstants.h). */
const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
const HEADER_SIZE = 48;

/**
 * The simulated QE's identity on `platform`: MRENCLAVE = SHA-256("cloister-sgx-sim/qe/isvsvn=<qeSvn>") (one
 * "binary" per QE version, the same on every simulated platform, like Intel's), MRSIGNER {@link SIM_QE_MRSIGNER},
 * ISVPRODID 1, ISVSVN = `platform.config.qeSvn`, FLAGS INITTED|MODE64BIT|PROVISION_KEY, XFRM 0x3, no KSS.
 */
export function qeIdentityOf(platform: Platform): EnclaveIdentity {
  const isvSvn = platform.config.qeSvn;
  return {
    mrEnclave: sha256(utf8(`cloister-sgx-sim/qe/isvsvn=${isvSvn}`)),
    mrSigner: SIM_QE_MRSIGNER,
    flags: SIM_QE_FLAGS,
    xfrm: DEFAULT_XFRM,
    miscSelect: 0,
    isvProdId: SIM_QE_ISV_PROD_ID,
    isvSvn,
    configId: new Uint8Array(64),
    configSvn: 0,
    isvExtProdId: new Uint8Array(16),
    isvFamilyId: new Uint8Array(16),
  };
}

/** The QE's attestation key on `platform`: P-256 from `platform.derive('qe/attestation-key')`. */
export function attestationKeyOf(platform: Platform): P256Key {
  return p256FromSeed(platform.derive('qe/attestation-key'));
}

/** The 16-byte QE ID the quote header's user data starts with: `platform.derive('qe/id', 16)`. */
export function qeIdOf(platform: Platform): Uint8Array {
  return platform.derive('qe/id', 16);
}

/** What the QE certifies once per (platform, PKI): its report and the PCK key's signature over it. */
export interface QeCertification {
  readonly identity: EnclaveIdentity;
  readonly attestationKey: P256Key;
  /** 384 bytes: REPORTDATA = SHA-256(attestation key X‖Y ‖ QE auth data) ‖ 32 zero bytes. */
  readonly qeReport: Uint8Array;
  /** Raw r‖s by the PCK key. */
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
}

export type QuoteVersion = 3 | 4;

export interface BuildQuoteOptions {
  /** Default 3. */
  readonly version?: QuoteVersion;
  /** The platform's PKI (from createSimPki / loadPki): its PCK key signs the QE report, its chain is the cert data. */
  readonly pki: SimPkiCertificates;
}

interface QuotingState {
  readonly certification: QeCertification;
  readonly header: Record<QuoteVersion, Uint8Array>;
  /** Signature data after the quote signature: attestation key ‖ … ‖ certification data. */
  readonly tail: Record<QuoteVersion, Uint8Array>;
}

const stateCache = new WeakMap<Platform, Map<string, QuotingState>>();

function u16(n: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, true);
  return b;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/**
 * Quote header, 48 bytes, little-endian (QuoteStructures.h `Header`; sgx_quote_3.h / sgx_quote_4.h):
 *   0 u16 version · 2 u16 attestation key type (2) · 4 u32 att_key_data_0 (v3) / tee_type (v4; 0 = SGX)
 *   8 u16 QE SVN (v3; reserved, zero, in v4) · 10 u16 PCE SVN (v3; reserved, zero, in v4)
 *   12 [16] QE vendor ID (Intel's 939A7233F79C4CA9940A0DB3957F0607: the verifier accepts no other)
 *   28 [20] user data: QE ID (16) ‖ 4 zero bytes
 */
function encodeHeader(platform: Platform, version: QuoteVersion): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  const v = new DataView(h.buffer);
  v.setUint16(0, version, true);
  v.setUint16(2, ATTESTATION_KEY_TYPE_ECDSA_P256, true);
  v.setUint32(4, 0, true);
  if (version === 3) {
    v.setUint16(8, platform.config.qeSvn, true);
    v.setUint16(10, platform.config.pceSvn, true);
  }
  h.set(INTEL_QE_VENDOR_ID, 12);
  h.set(qeIdOf(platform), 28);
  return h;
}

/** Certification data type 5: the PCK chain PEM with the trailing NUL Intel's QE appends. */
function pckChainCertData(pki: SimPkiCertificates): Uint8Array {
  const pem = concatBytes(utf8(pki.pckChainPem), Uint8Array.of(0));
  return concatBytes(u16(CERT_TYPE_PCK_CHAIN), u32(pem.length), pem);
}

/**
 * QE report certification data (v3: inline in the signature data; v4: the payload of certification data type 6):
 *   QE report (384) ‖ QE report signature (64) ‖ u16 auth data size ‖ auth data ‖ u16 type 5 ‖ u32 size ‖ PEM chain
 */
function qeReportCertificationData(c: QeCertification, pki: SimPkiCertificates): Uint8Array {
  return concatBytes(c.qeReport, c.qeReportSignature, u16(c.qeAuthData.length), c.qeAuthData, pckChainCertData(pki));
}

/**
 * Signature data after the quote signature (dcap-attestation.md §1.5):
 *   v3: attestation key (64) ‖ QE report certification data (inline)
 *   v4: attestation key (64) ‖ u16 type 6 ‖ u32 size ‖ QE report certification data
 */
function signatureTail(version: QuoteVersion, c: QeCertification, pki: SimPkiCertificates): Uint8Array {
  const qrcd = qeReportCertificationData(c, pki);
  if (version === 3) return concatBytes(c.attestationKey.raw, qrcd);
  return concatBytes(c.attestationKey.raw, u16(CERT_TYPE_QE_REPORT), u32(qrcd.length), qrcd);
}

/** The QE report and its PCK signature (what PCE certification of the attestation key produces). */
export function certifyAttestationKey(platform: Platform, pki: SimPkiCertificates): QeCertification {
  return stateOf(platform, pki).certification;
}

function stateOf(platform: Platform, pki: SimPkiCertificates): QuotingState {
  let perPki = stateCache.get(platform);
  if (perPki === undefined) {
    perPki = new Map();
    stateCache.set(platform, perPki);
  }
  let state = perPki.get(pki.pckChainPem);
  if (state !== undefined) return state;

  if (!bytesEqual(pki.keys.pck.raw, p256FromSeed(platform.derive(SIM_PKI_KEY_LABELS.pck)).raw)) {
    throw new SimError('INVALID_PARAMETER', "the PKI given is not this platform's (its PCK key differs)");
  }
  const identity = qeIdentityOf(platform);
  const attestationKey = attestationKeyOf(platform);
  const qeAuthData = SIM_QE_AUTH_DATA;
  const reportData = new Uint8Array(64);
  reportData.set(sha256(attestationKey.raw, qeAuthData), 0);
  const qeReport = encodeReportBody(identity, platform.cpuSvn, reportData);
  const certification: QeCertification = {
    identity,
    attestationKey,
    qeReport,
    qeReportSignature: signP256Raw(pki.keys.pck, qeReport),
    qeAuthData,
  };
  state = {
    certification,
    header: { 3: encodeHeader(platform, 3), 4: encodeHeader(platform, 4) },
    tail: { 3: signatureTail(3, certification, pki), 4: signatureTail(4, certification, pki) },
  };
  perPki.set(pki.pckChainPem, state);
  return state;
}

/**
 * An SGX ECDSA quote for `appReportBody` (a 384-byte sgx_report_body_t, e.g. from EREPORT or encodeReportBody):
 *
 *   header (48) ‖ report body (384) ‖ u32 signature data length ‖ signature data
 *   signature data = ECDSA-P256 r‖s by the attestation key over header ‖ body (64) ‖ the precomputed tail
 *
 * `options.pki` must be this platform's PKI. Version 3 (default) is what Intel's SGX QE3 produces; version 4 with
 * tee_type 0 is accepted by Intel QVL (not by dcap-qvl).
 */
export function buildQuote(platform: Platform, appReportBody: Uint8Array, options: BuildQuoteOptions): Uint8Array {
  if (!(appReportBody instanceof Uint8Array) || appReportBody.length !== REPORT_BODY_SIZE) {
    throw new SimError('INVALID_PARAMETER', `the report body must be ${REPORT_BODY_SIZE} bytes`);
  }
  const version = options.version ?? 3;
  if (version !== 3 && version !== 4) throw new SimError('INVALID_PARAMETER', `unsupported quote version ${String(version)}`);
  if (options.pki === undefined) throw new SimError('INVALID_PARAMETER', 'buildQuote needs the platform PKI');
  const state = stateOf(platform, options.pki);
  const header = state.header[version];
  const tail = state.tail[version];
  const signed = HEADER_SIZE + REPORT_BODY_SIZE;
  const sigDataLength = 64 + tail.length;
  const quote = new Uint8Array(signed + 4 + sigDataLength);
  quote.set(header, 0);
  quote.set(appReportBody, HEADER_SIZE);
  new DataView(quote.buffer).setUint32(signed, sigDataLength, true);
  quote.set(signP256Raw(state.certification.attestationKey, quote.subarray(0, signed)), signed + 4);
  quote.set(tail, signed + 4 + 64);
  return quote;
}
