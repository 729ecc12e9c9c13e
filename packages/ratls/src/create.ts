/**
 * Creating an RA-TLS certificate in the interoperable format (TCG DICE tagged evidence, as Gramine ≥ 1.8 and Intel's
 * sgx_ttls write it), plus the Gramine legacy extension for older Gramine verifiers.
 *
 * Choice (two quotes): the DICE quote binds SHA-256(claims-buffer) while Gramine's legacy extension binds
 * SHA-256(SPKI DER); one quote cannot satisfy both. The DICE binding is the interoperable one and is what
 * {@link verifyAttestedCertificate} verifies first; for legacy Gramine verifiers a second quote over SHA-256(SPKI) is
 * put in the Gramine legacy extension, so `getQuote` is called twice (as Gramine itself does). `legacyQuote: false`
 * leaves the legacy extension (and the second call) out. Both extensions are non-critical (§9.1.4).
 *
 * The key pair is ECDSA (P-256 by default, P-384 as Gramine uses) from WebCrypto; the certificate is self-signed with
 * ECDSA-SHA-256 (P-256) or ECDSA-SHA-384 (P-384) by @peculiar/x509.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { CborMap, CborTagged, encodeCbor } from './cbor.js';
import { CBOR_TAG_SGX_QUOTE, OID_GRAMINE_LEGACY, OID_TCG_DICE_TAGGED_EVIDENCE, sha256 } from './formats.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type AttestedKeyAlgorithm = 'P-256' | 'P-384';

export interface CreateAttestedCertificateOptions {
  /** Produces a quote whose REPORTDATA is `reportData` (64 bytes), e.g. an enclave's quoting call. */
  readonly getQuote: (reportData: Uint8Array) => Promise<Uint8Array>;
  /** RFC 4514 text. Default `CN=Cloister RA-TLS,O=Cloister`. */
  readonly subject?: string;
  /** Default 30. */
  readonly validityDays?: number;
  /** notBefore. Default: now. */
  readonly now?: Date | number | string;
  /** Default P-256. */
  readonly keyAlgorithm?: AttestedKeyAlgorithm;
  /** Also carry the Gramine legacy extension (a second quote over SHA-256(SPKI)). Default true. */
  readonly legacyQuote?: boolean;
}

export interface AttestedCertificate {
  readonly certificatePem: string;
  readonly certificateDer: Uint8Array;
  /** PKCS#8 PEM of the certificate's private key. */
  readonly privateKeyPem: string;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
  /** The CBOR claims-buffer hashed into the DICE quote's REPORTDATA. */
  readonly claimsBuffer: Uint8Array;
  /** The quote of the DICE extension. */
  readonly quote: Uint8Array;
  /** The quote of the Gramine legacy extension, when present. */
  readonly legacyQuote?: Uint8Array;
}

function pem(label: string, der: Uint8Array): string {
  const body = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** REPORTDATA = hash ‖ 32 zero bytes. */
function reportDataOf(hash: Uint8Array): Uint8Array {
  const rd = new Uint8Array(64);
  rd.set(hash, 0);
  return rd;
}

/** The DICE claims-buffer `{ "pubkey-hash": bstr(CBOR [1, SHA-256(SPKI)]) }`. */
export function diceClaimsBuffer(spki: Uint8Array): Uint8Array {
  return encodeCbor(new CborMap([['pubkey-hash', encodeCbor([1, sha256(spki)])]]));
}

/** The TCG DICE tagged evidence value `60000([quote, claims-buffer])`. */
export function diceEvidenceValue(quote: Uint8Array, claimsBuffer: Uint8Array): Uint8Array {
  return encodeCbor(new CborTagged(CBOR_TAG_SGX_QUOTE, [quote, claimsBuffer]));
}

/** Creates a key pair and a self-signed RA-TLS certificate whose evidence binds it (see the module comment). */
export async function createAttestedCertificate(options: CreateAttestedCertificateOptions): Promise<AttestedCertificate> {
  const curve = options.keyAlgorithm ?? 'P-256';
  if (curve !== 'P-256' && curve !== 'P-384') throw new TypeError(`unsupported key algorithm ${String(curve)}`);
  const validityDays = options.validityDays ?? 30;
  if (!Number.isFinite(validityDays) || validityDays <= 0) throw new TypeError('validityDays must be a positive number');
  const nowMs = options.now === undefined ? Date.now() : new Date(options.now).getTime();
  if (!Number.isFinite(nowMs)) throw new TypeError(`invalid time: ${String(options.now)}`);

  const subtle = webcrypto.subtle;
  const alg = { name: 'ECDSA', namedCurve: curve } as const;
  const keys = (await subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const spki = new Uint8Array(await subtle.exportKey('spki', keys.publicKey));
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));

  const claimsBuffer = diceClaimsBuffer(spki);
  const quote = await options.getQuote(reportDataOf(sha256(claimsBuffer)));
  const legacyQuote = options.legacyQuote === false ? undefined : await options.getQuote(reportDataOf(sha256(spki)));

  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as CryptoKey, false),
  ];
  if (legacyQuote !== undefined) extensions.push(new x509.Extension(OID_GRAMINE_LEGACY, false, new Uint8Array(legacyQuote)));
  extensions.push(new x509.Extension(OID_TCG_DICE_TAGGED_EVIDENCE, false, new Uint8Array(diceEvidenceValue(quote, claimsBuffer))));

  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const notBefore = new Date(Math.floor(nowMs / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + Math.round(validityDays * 86_400_000));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(serial).toString('hex'),
    name: options.subject ?? 'CN=Cloister RA-TLS,O=Cloister',
    notBefore,
    notAfter,
    signingAlgorithm: { name: 'ECDSA', hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' },
    keys: keys as unknown as CryptoKeyPair,
    extensions,
  });
  const certificateDer = new Uint8Array(cert.rawData);
  return {
    certificatePem: pem('CERTIFICATE', certificateDer),
    certificateDer,
    privateKeyPem: pem('PRIVATE KEY', pkcs8),
    spki,
    claimsBuffer,
    quote,
    ...(legacyQuote !== undefined ? { legacyQuote } : {}),
  };
}
