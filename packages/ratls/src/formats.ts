/**
 * Where RA-TLS certificates carry their evidence, and what the quote's REPORTDATA must bind
 * (../shared/reference/enclave-apps.md §1.3, §2.3, §3.2, §9.1):
 *
 * - TCG DICE tagged evidence 2.23.133.5.4.9 (interoperable RA-TLS; Gramine ≥ 1.8, Intel SGX SDK sgx_ttls):
 *   CBOR `60000([bstr quote, bstr claims-buffer])`; claims-buffer is a CBOR map whose `pubkey-hash` is
 *   `bstr(CBOR [hash-alg-id, bstr H(SPKI DER)])` (ids 1/7/8 = SHA-256/384/512); unknown claims are ignored.
 *   REPORTDATA[0..32] = SHA-256(claims-buffer).
 * - Gramine legacy 0.6.9.42.840.113741.1337.6 (Gramine wrote 06 09 2A 86 48 86 F8 4D 8A 39 06 as OID content):
 *   raw quote, REPORTDATA[0..32] = SHA-256(SPKI DER).
 * - Intel SGX SDK legacy 1.2.840.113741.1.13.1: raw quote, REPORTDATA[0..32] = SHA-256(DICE claims-buffer), so it is
 *   only bound when the DICE extension is present too.
 * - Open Enclave 1.3.6.1.4.1.311.105.2 (attestation header ‖ quote ‖ PEM‖NUL) and 1.3.6.1.4.1.311.105.1 (OE report
 *   header ‖ quote; EGo): REPORTDATA[0..32] = SHA-256(public key PEM ‖ NUL) (OE) or SHA-256(SPKI DER) (EGo); both are
 *   tried, the one that matches names the format.
 *
 * Parsing is strict: a malformed evidence extension is RatlsError('INVALID_EVIDENCE'), whatever else the certificate
 * carries. Binding problems that are not structural (a pubkey-hash that is not this certificate's key, an unknown hash
 * algorithm, an Intel legacy quote without claims) are reported in {@link EvidenceFound.bindingProblem}; the REPORTDATA
 * comparison is {@link checkEvidenceBinding}.
 */
import { createHash } from 'node:crypto';
import { DcapError, parseQuote, toBase64, toHex, unwrapEvidence, type Certificate, type Quote, type QuoteBody } from '@cloister/dcap';
import { CborMap, CborTagged, cborToJson, decodeCbor, type CborValue } from './cbor.js';
import { RatlsError } from './errors.js';

export const OID_TCG_DICE_TAGGED_EVIDENCE = '2.23.133.5.4.9';
export const OID_TCG_DICE_ENDORSEMENT_MANIFEST = '2.23.133.5.4.2';
/** As DER parsers read Gramine's legacy OID (its content bytes are 06 09 2A 86 48 86 F8 4D 8A 39 06). */
export const OID_GRAMINE_LEGACY = '0.6.9.42.840.113741.1337.6';
/** What Gramine meant to write. Accepted as well. */
export const OID_GRAMINE_LEGACY_INTENDED = '1.2.840.113741.1337.6';
export const OID_INTEL_SGXSDK_LEGACY = '1.2.840.113741.1.13.1';
export const OID_OE_NEW_QUOTE = '1.3.6.1.4.1.311.105.1';
export const OID_OE_NEW_EVIDENCE = '1.3.6.1.4.1.311.105.2';
/** Older OE OIDs still accepted by OE's verifier. */
export const OID_OE_LEGACY_QUOTE = '1.2.840.113556.10.1.1';
export const OID_OE_LEGACY_EVIDENCE = '1.2.840.113556.10.1.2';

/** CBOR tags of TCG DICE tagged evidence (§9.1.4). */
export const CBOR_TAG_SGX_QUOTE = 60000;
export const CBOR_TAG_TDX_REPORT = 60001;
export const CBOR_TAG_SGX_LEGACY_REPORT = 60002;

/** IANA named-information hash algorithm ids the DICE pubkey-hash may use. */
export const HASH_ALG_IDS: Readonly<Record<number, 'sha256' | 'sha384' | 'sha512'>> = { 1: 'sha256', 7: 'sha384', 8: 'sha512' };

export type EvidenceFormat = 'tcg-dice' | 'gramine-legacy' | 'intel-sgxsdk-legacy' | 'open-enclave' | 'open-enclave-ego';

export interface EvidenceFound {
  readonly format: EvidenceFormat;
  readonly oid: string;
  readonly critical: boolean;
  /** The raw DCAP quote (envelopes removed). */
  readonly quote: Uint8Array;
  /** DICE (and Intel legacy): the claims-buffer bytes that are hashed into REPORTDATA. */
  readonly claimsBuffer?: Uint8Array;
  /** DICE: the claims, byte strings as hex (as in ../shared/testdata/ratls/*.expect.json). */
  readonly claims?: Record<string, unknown>;
  /** 32 bytes that REPORTDATA[0..32] must equal. */
  readonly expectedReportData: Uint8Array;
  /** e.g. `REPORTDATA[0..32] == SHA256(SPKI DER)`. */
  readonly bindingDescription: string;
  /** Set when the evidence cannot bind this certificate whatever REPORTDATA holds. */
  readonly bindingProblem?: string;
}

/** Verification preference: the interoperable format first (as Gramine's verifier does), then the legacy ones. */
export const FORMAT_PRIORITY: readonly EvidenceFormat[] = [
  'tcg-dice',
  'intel-sgxsdk-legacy',
  'gramine-legacy',
  'open-enclave',
  'open-enclave-ego',
];

const sha = (alg: string, data: Uint8Array): Uint8Array => new Uint8Array(createHash(alg).update(data).digest());
export const sha256 = (data: Uint8Array): Uint8Array => sha('sha256', data);

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

function invalid(message: string, cause?: unknown): never {
  const dcapCode = DcapError.is(cause) ? cause.code : undefined;
  throw new RatlsError('INVALID_EVIDENCE', message, { cause, ...(dcapCode !== undefined ? { dcapCode } : {}) });
}

/** A parsed quote whose body is an SGX report. */
export type SgxQuote = Quote & { readonly body: Extract<QuoteBody, { readonly kind: 'sgx' }> };

/** Parses an SGX DCAP quote; anything else is INVALID_EVIDENCE. */
export function parseSgxQuote(bytes: Uint8Array, what: string): SgxQuote {
  let q: Quote;
  try {
    q = parseQuote(bytes);
  } catch (e) {
    if (DcapError.is(e)) invalid(`${what}: not a DCAP quote (${e.code}: ${e.message})`, e);
    throw e;
  }
  if (q.body.kind !== 'sgx') invalid(`${what}: a ${q.teeType} quote; only SGX quotes are supported`);
  return q as SgxQuote;
}

/** The SubjectPublicKeyInfo as OpenSSL's PEM_write_bio_PUBKEY writes it, with the trailing NUL OE hashes. */
export function publicKeyPemWithNul(spki: Uint8Array): Uint8Array {
  const b64 = toBase64(spki).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return new TextEncoder().encode(`-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n\0`);
}

interface DiceParts {
  readonly quote: Uint8Array;
  readonly claimsBuffer: Uint8Array;
  readonly claims: Record<string, unknown>;
  readonly pubkeyHash: { readonly alg: number; readonly hash: Uint8Array };
}

function parseDice(value: Uint8Array): DiceParts {
  const top = decodeCbor(value);
  if (!(top instanceof CborTagged)) return invalid('TCG DICE evidence: not a CBOR tag');
  if (top.tag !== CBOR_TAG_SGX_QUOTE) invalid(`TCG DICE evidence: tag ${top.tag} is not supported (only ${CBOR_TAG_SGX_QUOTE}, SGX quote)`);
  const arr = top.value;
  if (!Array.isArray(arr) || arr.length !== 2) return invalid('TCG DICE evidence: the tagged value is not [quote, claims]');
  const [quote, claimsBuffer] = arr as [CborValue, CborValue];
  if (!(quote instanceof Uint8Array) || !(claimsBuffer instanceof Uint8Array)) {
    return invalid('TCG DICE evidence: quote and claims must be byte strings');
  }
  const claimsMap = decodeCbor(claimsBuffer);
  if (!(claimsMap instanceof CborMap)) return invalid('TCG DICE claims: not a CBOR map');
  const ph = claimsMap.get('pubkey-hash');
  if (!(ph instanceof Uint8Array)) return invalid('TCG DICE claims: pubkey-hash missing or not a byte string');
  const inner = decodeCbor(ph);
  if (!Array.isArray(inner) || inner.length !== 2) return invalid('TCG DICE claims: pubkey-hash is not [alg, hash]');
  const [alg, hash] = inner as [CborValue, CborValue];
  if (typeof alg !== 'number' || !Number.isInteger(alg) || alg < 0 || !(hash instanceof Uint8Array)) {
    return invalid('TCG DICE claims: pubkey-hash is not [uint, bstr]');
  }
  return { quote, claimsBuffer, claims: cborToJson(claimsMap) as Record<string, unknown>, pubkeyHash: { alg, hash } };
}

function diceBindingProblem(parts: DiceParts, spki: Uint8Array): string | undefined {
  const alg = HASH_ALG_IDS[parts.pubkeyHash.alg];
  if (alg === undefined) return `pubkey-hash algorithm ${parts.pubkeyHash.alg} is not supported (1, 7, 8)`;
  if (!bytesEqual(sha(alg, spki), parts.pubkeyHash.hash)) return `pubkey-hash is not the ${alg} of this certificate's public key`;
  return undefined;
}

function unwrapOe(value: Uint8Array, oid: string): { quote: Uint8Array; pemTail: Uint8Array | undefined } {
  let u;
  try {
    u = unwrapEvidence(value);
  } catch (e) {
    if (DcapError.is(e)) invalid(`Open Enclave evidence ${oid}: ${e.message}`, e);
    throw e;
  }
  return { quote: u.quote, pemTail: u.format === 'oe-evidence' ? u.header.customClaims : undefined };
}

/**
 * Every attestation evidence extension of `cert` with what its quote must bind, in certificate order. Throws
 * RatlsError('INVALID_EVIDENCE') when an evidence extension is malformed; returns [] when there is none.
 */
export function extractEvidence(cert: Certificate): EvidenceFound[] {
  const out: EvidenceFound[] = [];
  const spki = cert.spki;
  const byOid = new Map(cert.extensions.map((e) => [e.oid, e] as const));
  const diceExt = byOid.get(OID_TCG_DICE_TAGGED_EVIDENCE);
  const dice = diceExt !== undefined ? parseDice(diceExt.value) : undefined;

  for (const ext of cert.extensions) {
    switch (ext.oid) {
      case OID_TCG_DICE_TAGGED_EVIDENCE: {
        const d = dice!;
        parseSgxQuote(d.quote, 'TCG DICE evidence quote');
        const problem = diceBindingProblem(d, spki);
        out.push({
          format: 'tcg-dice',
          oid: ext.oid,
          critical: ext.critical,
          quote: d.quote,
          claimsBuffer: d.claimsBuffer,
          claims: d.claims,
          expectedReportData: sha256(d.claimsBuffer),
          bindingDescription: 'REPORTDATA[0..32] == SHA256(claims buffer), claims pubkey-hash == H(SPKI DER)',
          ...(problem !== undefined ? { bindingProblem: problem } : {}),
        });
        break;
      }
      case OID_GRAMINE_LEGACY:
      case OID_GRAMINE_LEGACY_INTENDED:
        parseSgxQuote(ext.value, 'Gramine legacy quote');
        out.push({
          format: 'gramine-legacy',
          oid: ext.oid,
          critical: ext.critical,
          quote: ext.value,
          expectedReportData: sha256(spki),
          bindingDescription: 'REPORTDATA[0..32] == SHA256(SPKI DER)',
        });
        break;
      case OID_INTEL_SGXSDK_LEGACY: {
        parseSgxQuote(ext.value, 'Intel SGX SDK legacy quote');
        const problem = dice === undefined ? 'the Intel SGX SDK legacy quote binds the DICE claims buffer, and there is no DICE extension' : diceBindingProblem(dice, spki);
        out.push({
          format: 'intel-sgxsdk-legacy',
          oid: ext.oid,
          critical: ext.critical,
          quote: ext.value,
          ...(dice !== undefined ? { claimsBuffer: dice.claimsBuffer, claims: dice.claims } : {}),
          expectedReportData: dice !== undefined ? sha256(dice.claimsBuffer) : new Uint8Array(32),
          bindingDescription: 'REPORTDATA[0..32] == SHA256(DICE claims buffer), claims pubkey-hash == H(SPKI DER)',
          ...(problem !== undefined ? { bindingProblem: problem } : {}),
        });
        break;
      }
      case OID_OE_NEW_EVIDENCE:
      case OID_OE_NEW_QUOTE:
      case OID_OE_LEGACY_EVIDENCE:
      case OID_OE_LEGACY_QUOTE: {
        const { quote, pemTail } = unwrapOe(ext.value, ext.oid);
        const q = parseSgxQuote(quote, `Open Enclave evidence ${ext.oid} quote`);
        const pem = publicKeyPemWithNul(spki);
        const oeHash = sha256(pem);
        const egoHash = sha256(spki);
        const rd = q.body.report.reportData.subarray(0, 32);
        const isEvidence = ext.oid === OID_OE_NEW_EVIDENCE || ext.oid === OID_OE_LEGACY_EVIDENCE;
        // Default to the binding the producer of this OID normally uses; switch when the other one is what matches.
        let ego = !isEvidence;
        if (bytesEqual(rd, oeHash)) ego = false;
        else if (bytesEqual(rd, egoHash)) ego = true;
        const problem =
          pemTail !== undefined && pemTail.length > 0 && !ego && !bytesEqual(pemTail, pem)
            ? 'the public key PEM inside the OE evidence is not this certificate\'s key'
            : undefined;
        out.push({
          format: ego ? 'open-enclave-ego' : 'open-enclave',
          oid: ext.oid,
          critical: ext.critical,
          quote,
          expectedReportData: ego ? egoHash : oeHash,
          bindingDescription: ego ? 'REPORTDATA[0..32] == SHA256(SPKI DER) (EGo)' : 'REPORTDATA[0..32] == SHA256(public key PEM ‖ NUL) (Open Enclave)',
          ...(problem !== undefined ? { bindingProblem: problem } : {}),
        });
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/** Whether the evidence's quote binds the certificate key; `reason` says why not. */
export function checkEvidenceBinding(evidence: EvidenceFound): { ok: boolean; reason?: string; reportData: Uint8Array } {
  const q = parseSgxQuote(evidence.quote, `${evidence.format} quote`);
  const reportData = q.body.report.reportData;
  if (evidence.bindingProblem !== undefined) return { ok: false, reason: evidence.bindingProblem, reportData };
  if (!bytesEqual(reportData.subarray(0, 32), evidence.expectedReportData)) {
    return {
      ok: false,
      reason: `REPORTDATA[0..32] ${toHex(reportData.subarray(0, 32))} is not ${toHex(evidence.expectedReportData)} (${evidence.bindingDescription})`,
      reportData,
    };
  }
  return { ok: true, reportData };
}

/** The evidence to verify: the first present in {@link FORMAT_PRIORITY} order. */
export function strongestEvidence(found: readonly EvidenceFound[]): EvidenceFound | undefined {
  for (const f of FORMAT_PRIORITY) {
    const e = found.find((x) => x.format === f);
    if (e !== undefined) return e;
  }
  return undefined;
}
