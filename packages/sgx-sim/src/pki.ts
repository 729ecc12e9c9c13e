/**
 * The simulated Intel-style PCK hierarchy of one {@link Platform} (dcap-attestation.md §2.1–2.3), shaped like Intel's
 * so that @cloister/dcap's verifier runs every step on it, and named so that nobody mistakes it for Intel's:
 *
 *   Cloister Simulated SGX Root CA            self-signed, CA pathlen 1, certSign+cRLSign        (Intel: 2018–2049)
 *   ├─ Cloister Simulated SGX PCK Platform CA CA pathlen 0, certSign+cRLSign
 *   │  └─ Cloister Simulated SGX PCK Certificate  digitalSignature+nonRepudiation, CA:FALSE, SGX extension
 *   └─ Cloister Simulated SGX TCB Signing     digitalSignature+nonRepudiation, CA:FALSE (signs TCB info, QE identity)
 *
 * Every subject is `CN=<name>, O=Cloister Simulation — not Intel`; the CN phrases the verifier looks for ("SGX Root CA",
 * "CA", "SGX PCK Certificate", "SGX TCB Signing") are present. Extensions and their order follow Intel's certificates:
 * AKI, CRL distribution point, SKI, KeyUsage (critical), BasicConstraints (critical), then for the PCK the SGX
 * extension 1.2.840.113741.1.13.1 (non-critical). The root carries an AKI equal to its SKI, as Intel's does.
 * Distribution points name a `.invalid` host (RFC 2606), shaped like PCCS routes.
 *
 * Keys: P-256 from `platform.derive('pki/<name>')` (see ./keys.ts); serial numbers: 20 bytes from
 * `platform.derive('pki/<name>/serial', 20)`, positive and without a leading zero octet. ECDSA signatures are
 * randomised, so the certificates are made once per Platform object and cached ({@link createSimPki}); a platform
 * directory keeps them in `pki/` ({@link savePki} / {@link loadPki}) so that the root is stable across processes.
 *
 * Who builds what: @peculiar/x509 builds and signs every certificate and both CRLs (X509CertificateGenerator,
 * X509CrlGenerator, through Node's WebCrypto). The values it has no class for come from ./der-writer.ts as raw
 * extension values: the SGX extension (./pck-extension.ts) and the CRL number (RFC 5280 §5.2.3 `CRLNumber ::=
 * INTEGER`). Its output was checked against Intel's: same TBS layout, UTCTime until 2049 and GeneralizedTime from
 * 2050 (RFC 5280 §4.1.2.5), v2 CRLs with `crlExtensions [0]`.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesEqual, decodePemCertificates, parseCertificate, toHex } from '@cloister/dcap';
import { integer } from './der-writer.js';
import { SimError } from './errors.js';
import { p256FromSeed, type P256Key } from './keys.js';
import { SGX_EXTENSION_OID, encodePckExtension, pckExtensionFieldsOf } from './pck-extension.js';
import type { Platform } from './platform.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const SIM_PKI_ORGANIZATION = 'Cloister Simulation — not Intel';
export const SIM_ROOT_CA_CN = 'Cloister Simulated SGX Root CA';
export const SIM_PLATFORM_CA_CN = 'Cloister Simulated SGX PCK Platform CA';
export const SIM_PCK_CN = 'Cloister Simulated SGX PCK Certificate';
export const SIM_TCB_SIGNING_CN = 'Cloister Simulated SGX TCB Signing';

/** Where a simulated PCCS would serve the CRLs (`.invalid`: never resolvable). */
export const SIM_ROOT_CA_CRL_URL = 'https://pccs.cloister-sim.invalid/sgx/certification/v4/rootcacrl';
export const SIM_PCK_CRL_URL = 'https://pccs.cloister-sim.invalid/sgx/certification/v4/pckcrl?ca=platform&encoding=der';

const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const CRL_NUMBER_OID = '2.5.29.20';
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface SimPkiKeys {
  readonly root: P256Key;
  readonly platformCa: P256Key;
  readonly pck: P256Key;
  readonly tcbSigning: P256Key;
}

/** The certificate part of the PKI: fixed per platform (cached per Platform object, kept in `pki/`). */
export interface SimPkiCertificates {
  readonly rootCertPem: string;
  readonly rootCertDer: Uint8Array;
  readonly platformCaCertPem: string;
  readonly platformCaCertDer: Uint8Array;
  readonly pckCertPem: string;
  readonly pckCertDer: Uint8Array;
  readonly tcbSigningCertPem: string;
  readonly tcbSigningCertDer: Uint8Array;
  /** PCK ‖ Platform CA ‖ root, as Intel's QE puts it in certification data type 5. */
  readonly pckChainPem: string;
  /** Platform CA ‖ root: the `pck_crl_issuer_chain` of collateral. */
  readonly pckCrlIssuerChainPem: string;
  /** TCB signing ‖ root: the `tcb_info_issuer_chain` / `qe_identity_issuer_chain` of collateral. */
  readonly tcbSigningChainPem: string;
  /** Lower-case hex, no leading zero octets (as @cloister/dcap's `serialHex`). */
  readonly rootSerialHex: string;
  readonly platformCaSerialHex: string;
  readonly pckSerialHex: string;
  readonly tcbSigningSerialHex: string;
  readonly keys: SimPkiKeys;
}

/** The PKI with its two CRLs for a given time window. */
export interface SimPki extends SimPkiCertificates {
  /** DER, issued by the root. */
  readonly rootCaCrlDer: Uint8Array;
  /** DER, issued by the Platform CA. */
  readonly pckCrlDer: Uint8Array;
  readonly crlThisUpdate: Date;
  readonly crlNextUpdate: Date;
}

export interface SimPkiOptions {
  /** Serials (hex) the PCK CRL lists as revoked, e.g. `[pki.pckSerialHex]`. Default none. */
  readonly revokedPckSerials?: readonly string[];
  /** Default: now − 1 hour. */
  readonly crlThisUpdate?: Date | number | string;
  /** Default: now + 30 days. */
  readonly crlNextUpdate?: Date | number | string;
  /** CRL number of both CRLs. Default 1. */
  readonly crlNumber?: number | bigint;
}

// ---------------------------------------------------------------------------------------------------------------------
// Helpers

function toDate(t: Date | number | string, what: string): Date {
  const d = t instanceof Date ? new Date(t.getTime()) : new Date(t);
  if (!Number.isFinite(d.getTime())) throw new SimError('INVALID_PARAMETER', `${what} is not a valid time`);
  return d;
}

function addYears(d: Date, years: number): Date {
  const out = new Date(d.getTime());
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

/** RFC 7468 PEM: base64 in 64-character lines, with a trailing newline. */
export function pemOf(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Name `CN=<cn>, O=Cloister Simulation — not Intel`, both UTF8String as in Intel's certificates. */
function simName(cn: string): x509.Name {
  return new x509.Name([{ CN: [{ utf8String: cn }] }, { O: [{ utf8String: SIM_PKI_ORGANIZATION }] }]);
}

/** A positive 20-byte serial number whose first octet is 0x01..0x7f (so its DER has no leading zero octet). */
function serialOf(platform: Platform, name: string): string {
  const b = new Uint8Array(platform.derive(`pki/${name}/serial`, 20));
  b[0] = b[0]! & 0x7f || 0x01;
  return toHex(b);
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value (the SEC 1 point). */
function keyIdOf(key: P256Key): string {
  return createHash('sha1').update(Uint8Array.of(0x04)).update(key.raw).digest('hex');
}

interface WebKeys {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

async function webKeys(key: P256Key): Promise<WebKeys> {
  const subtle = webcrypto.subtle;
  const [privateKey, publicKey] = await Promise.all([
    subtle.importKey('pkcs8', key.pkcs8, EC_P256, false, ['sign']),
    subtle.importKey('spki', key.spki, EC_P256, true, ['verify']),
  ]);
  return { privateKey: privateKey as CryptoKey, publicKey: publicKey as CryptoKey };
}

/** `platform.derive` labels of the PKI keys (documented in docs/simulator.md). */
export const SIM_PKI_KEY_LABELS = {
  root: 'pki/root-ca',
  platformCa: 'pki/platform-ca',
  pck: 'pki/pck',
  tcbSigning: 'pki/tcb-signing',
} as const;

function keysOf(platform: Platform): SimPkiKeys {
  return {
    root: p256FromSeed(platform.derive(SIM_PKI_KEY_LABELS.root)),
    platformCa: p256FromSeed(platform.derive(SIM_PKI_KEY_LABELS.platformCa)),
    pck: p256FromSeed(platform.derive(SIM_PKI_KEY_LABELS.pck)),
    tcbSigning: p256FromSeed(platform.derive(SIM_PKI_KEY_LABELS.tcbSigning)),
  };
}

function assemble(
  keys: SimPkiKeys,
  der: { root: Uint8Array; platformCa: Uint8Array; pck: Uint8Array; tcbSigning: Uint8Array },
): SimPkiCertificates {
  const root = pemOf(der.root);
  const platformCa = pemOf(der.platformCa);
  const pck = pemOf(der.pck);
  const tcbSigning = pemOf(der.tcbSigning);
  return Object.freeze({
    rootCertPem: root,
    rootCertDer: der.root,
    platformCaCertPem: platformCa,
    platformCaCertDer: der.platformCa,
    pckCertPem: pck,
    pckCertDer: der.pck,
    tcbSigningCertPem: tcbSigning,
    tcbSigningCertDer: der.tcbSigning,
    pckChainPem: pck + platformCa + root,
    pckCrlIssuerChainPem: platformCa + root,
    tcbSigningChainPem: tcbSigning + root,
    rootSerialHex: parseCertificate(der.root).serialHex,
    platformCaSerialHex: parseCertificate(der.platformCa).serialHex,
    pckSerialHex: parseCertificate(der.pck).serialHex,
    tcbSigningSerialHex: parseCertificate(der.tcbSigning).serialHex,
    keys,
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// Certificates

/** The four certificates, built and signed by @peculiar/x509. */
async function buildCertificates(platform: Platform): Promise<SimPkiCertificates> {
  const keys = keysOf(platform);
  const [root, platformCa, pck, tcbSigning] = await Promise.all([
    webKeys(keys.root),
    webKeys(keys.platformCa),
    webKeys(keys.pck),
    webKeys(keys.tcbSigning),
  ]);
  const notBefore = toDate(platform.config.createdAt, 'createdAt');
  const rootName = simName(SIM_ROOT_CA_CN);
  const platformCaName = simName(SIM_PLATFORM_CA_CN);
  const rootKeyId = keyIdOf(keys.root);
  const platformCaKeyId = keyIdOf(keys.platformCa);
  const caUsage = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  const leafUsage = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;

  const issue = (p: {
    name: string;
    subject: x509.Name;
    issuer: x509.Name;
    years: number;
    key: P256Key;
    web: WebKeys;
    signer: WebKeys;
    issuerKeyId: string;
    crlUrl: string;
    ca: boolean;
    pathLength?: number;
    extra?: x509.Extension[];
  }): Promise<x509.X509Certificate> =>
    x509.X509CertificateGenerator.create({
      serialNumber: serialOf(platform, p.name),
      subject: p.subject,
      issuer: p.issuer,
      notBefore,
      notAfter: addYears(notBefore, p.years),
      signingAlgorithm: ECDSA_SHA256,
      publicKey: p.web.publicKey,
      signingKey: p.signer.privateKey,
      extensions: [
        new x509.AuthorityKeyIdentifierExtension(p.issuerKeyId),
        new x509.CRLDistributionPointsExtension([p.crlUrl]),
        new x509.SubjectKeyIdentifierExtension(keyIdOf(p.key)),
        new x509.KeyUsagesExtension(p.ca ? caUsage : leafUsage, true),
        new x509.BasicConstraintsExtension(p.ca, p.pathLength, true),
        ...(p.extra ?? []),
      ],
    });

  const sgxExtension = new x509.Extension(
    SGX_EXTENSION_OID,
    false,
    new Uint8Array(encodePckExtension(pckExtensionFieldsOf(platform))),
  );
  const [rootCert, platformCaCert, pckCert, tcbSigningCert] = await Promise.all([
    issue({
      name: 'root-ca', subject: rootName, issuer: rootName, years: 30, key: keys.root, web: root, signer: root,
      issuerKeyId: rootKeyId, crlUrl: SIM_ROOT_CA_CRL_URL, ca: true, pathLength: 1,
    }),
    issue({
      name: 'platform-ca', subject: platformCaName, issuer: rootName, years: 15, key: keys.platformCa, web: platformCa,
      signer: root, issuerKeyId: rootKeyId, crlUrl: SIM_ROOT_CA_CRL_URL, ca: true, pathLength: 0,
    }),
    issue({
      name: 'pck', subject: simName(SIM_PCK_CN), issuer: platformCaName, years: 7, key: keys.pck, web: pck,
      signer: platformCa, issuerKeyId: platformCaKeyId, crlUrl: SIM_PCK_CRL_URL, ca: false, extra: [sgxExtension],
    }),
    issue({
      name: 'tcb-signing', subject: simName(SIM_TCB_SIGNING_CN), issuer: rootName, years: 7, key: keys.tcbSigning,
      web: tcbSigning, signer: root, issuerKeyId: rootKeyId, crlUrl: SIM_ROOT_CA_CRL_URL, ca: false,
    }),
  ]);
  const der = (c: x509.X509Certificate): Uint8Array => new Uint8Array(c.rawData);
  return assemble(keys, {
    root: der(rootCert),
    platformCa: der(platformCaCert),
    pck: der(pckCert),
    tcbSigning: der(tcbSigningCert),
  });
}

const certificateCache = new WeakMap<Platform, Promise<SimPkiCertificates>>();

/** The platform's certificates: made on first use, then the same objects for the life of the Platform object. */
export function simPkiCertificates(platform: Platform): Promise<SimPkiCertificates> {
  let p = certificateCache.get(platform);
  if (p === undefined) {
    p = buildCertificates(platform);
    certificateCache.set(platform, p);
    p.catch(() => certificateCache.delete(platform));
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------------------
// CRLs

export interface SimCrlOptions {
  readonly thisUpdate: Date | number | string;
  readonly nextUpdate: Date | number | string;
  /** Hex serials to list as revoked (revocation date = thisUpdate). */
  readonly revokedSerials?: readonly string[];
  readonly crlNumber?: number | bigint;
}

/**
 * A v2 CRL by the root (`'root'`: the root CA CRL, which revokes CAs) or the Platform CA (`'pck'`: the PCK CRL), with
 * the two extensions Intel QVL requires (X509Constants.h CRL_REQUIRED_EXTENSIONS): CRL number and authority key
 * identifier. Built and signed by @peculiar/x509's X509CrlGenerator; the CRL number's value is a DER INTEGER from
 * ./der-writer.ts. Returns DER.
 */
export async function createSimCrl(pki: SimPkiCertificates, issuer: 'root' | 'pck', options: SimCrlOptions): Promise<Uint8Array> {
  const key = issuer === 'root' ? pki.keys.root : pki.keys.platformCa;
  const thisUpdate = toDate(options.thisUpdate, 'CRL thisUpdate');
  const nextUpdate = toDate(options.nextUpdate, 'CRL nextUpdate');
  if (nextUpdate.getTime() < thisUpdate.getTime()) {
    throw new SimError('INVALID_PARAMETER', 'CRL nextUpdate is before thisUpdate');
  }
  const crlNumber = options.crlNumber ?? 1;
  if (BigInt(crlNumber) < 0n) throw new SimError('INVALID_PARAMETER', 'the CRL number must not be negative');
  const entries = (options.revokedSerials ?? []).map((serial) => {
    if (!/^[0-9a-fA-F]+$/.test(serial)) throw new SimError('INVALID_PARAMETER', `revoked serial "${serial}" is not hex`);
    // Reason keyCompromise, as on Intel's PCK CRL entries (also keeps @peculiar/x509 from writing an empty
    // crlEntryExtensions SEQUENCE, which RFC 5280's `Extensions ::= SEQUENCE SIZE (1..MAX)` forbids).
    return {
      serialNumber: serial.length % 2 === 0 ? serial : `0${serial}`,
      revocationDate: thisUpdate,
      reason: x509.X509CrlReason.keyCompromise,
    };
  });
  const web = await webKeys(key);
  const crl = await x509.X509CrlGenerator.create({
    issuer: simName(issuer === 'root' ? SIM_ROOT_CA_CN : SIM_PLATFORM_CA_CN),
    thisUpdate,
    nextUpdate,
    signingAlgorithm: ECDSA_SHA256,
    signingKey: web.privateKey,
    extensions: [
      new x509.Extension(CRL_NUMBER_OID, false, new Uint8Array(integer(BigInt(crlNumber)))),
      new x509.AuthorityKeyIdentifierExtension(keyIdOf(key)),
    ],
    entries,
  });
  return new Uint8Array(crl.rawData);
}

/**
 * The simulated PKI of `platform`: its certificates (identical on every call for the same Platform object, or as
 * loaded by {@link loadPki}) and a root CA CRL and PCK CRL for `[crlThisUpdate, crlNextUpdate]` (default
 * now − 1 h … now + 30 days).
 */
export async function createSimPki(platform: Platform, options: SimPkiOptions = {}): Promise<SimPki> {
  const certs = await simPkiCertificates(platform);
  const now = Date.now();
  const thisUpdate = toDate(options.crlThisUpdate ?? Math.floor((now - HOUR_MS) / 1000) * 1000, 'crlThisUpdate');
  const nextUpdate = toDate(options.crlNextUpdate ?? Math.floor((now + 30 * DAY_MS) / 1000) * 1000, 'crlNextUpdate');
  const common = { thisUpdate, nextUpdate, ...(options.crlNumber !== undefined ? { crlNumber: options.crlNumber } : {}) };
  const [rootCaCrlDer, pckCrlDer] = await Promise.all([
    createSimCrl(certs, 'root', common),
    createSimCrl(certs, 'pck', { ...common, revokedSerials: options.revokedPckSerials ?? [] }),
  ]);
  return Object.freeze({ ...certs, rootCaCrlDer, pckCrlDer, crlThisUpdate: thisUpdate, crlNextUpdate: nextUpdate });
}

// ---------------------------------------------------------------------------------------------------------------------
// Platform directory: <dir>/pki/*.pem

export const PKI_DIR = 'pki';
const PKI_FILES = {
  root: 'root-ca.pem',
  platformCa: 'platform-ca.pem',
  pck: 'pck.pem',
  tcbSigning: 'tcb-signing.pem',
} as const;

/** Write the four certificates as PEM into `<dir>/pki/` (created if missing). Keys are never written. */
export function savePki(pki: SimPkiCertificates, dir: string): void {
  const out = join(dir, PKI_DIR);
  mkdirSync(out, { recursive: true, mode: 0o755 });
  writeFileSync(join(out, PKI_FILES.root), pki.rootCertPem, { mode: 0o644 });
  writeFileSync(join(out, PKI_FILES.platformCa), pki.platformCaCertPem, { mode: 0o644 });
  writeFileSync(join(out, PKI_FILES.pck), pki.pckCertPem, { mode: 0o644 });
  writeFileSync(join(out, PKI_FILES.tcbSigning), pki.tcbSigningCertPem, { mode: 0o644 });
}

/** True when `<dir>/pki/` holds the four certificate files. */
export function hasSavedPki(dir: string): boolean {
  return Object.values(PKI_FILES).every((f) => existsSync(join(dir, PKI_DIR, f)));
}

function readCert(dir: string, file: string): Uint8Array {
  const path = join(dir, PKI_DIR, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SimError('PLATFORM_INVALID', `${path} is missing or unreadable (run: cloister sim init)`, { cause: e });
  }
  const ders = (() => {
    try {
      return decodePemCertificates(text);
    } catch (e) {
      throw new SimError('PLATFORM_INVALID', `${path} is not a PEM certificate`, { cause: e });
    }
  })();
  if (ders.length !== 1 || ders[0] === undefined) {
    throw new SimError('PLATFORM_INVALID', `${path} must hold exactly one PEM certificate`);
  }
  return ders[0];
}

/**
 * Load the certificates saved by {@link savePki} from `<dir>/pki/`, check that they belong to `platform` (each public
 * key is the platform's derived key; the PCK's SGX extension is the platform's), make them the platform's cached
 * certificates, and return the PKI with fresh CRLs (as {@link createSimPki}). A missing, foreign or malformed file is
 * SimError('PLATFORM_INVALID').
 */
export async function loadPki(platform: Platform, dir: string, options: SimPkiOptions = {}): Promise<SimPki> {
  const keys = keysOf(platform);
  const der = {
    root: readCert(dir, PKI_FILES.root),
    platformCa: readCert(dir, PKI_FILES.platformCa),
    pck: readCert(dir, PKI_FILES.pck),
    tcbSigning: readCert(dir, PKI_FILES.tcbSigning),
  };
  const expectedSgx = encodePckExtension(pckExtensionFieldsOf(platform));
  for (const name of ['root', 'platformCa', 'pck', 'tcbSigning'] as const) {
    let cert;
    try {
      cert = parseCertificate(der[name]);
    } catch (e) {
      throw new SimError('PLATFORM_INVALID', `${PKI_DIR}/${PKI_FILES[name]} is not a valid certificate`, { cause: e });
    }
    if (!bytesEqual(cert.spki, keys[name].spki)) {
      throw new SimError('PLATFORM_INVALID', `${PKI_DIR}/${PKI_FILES[name]} does not belong to this platform (other key)`);
    }
    if (name === 'pck') {
      const ext = cert.extensions.find((e) => e.oid === SGX_EXTENSION_OID);
      if (ext === undefined || !bytesEqual(ext.value, expectedSgx)) {
        throw new SimError('PLATFORM_INVALID', `${PKI_DIR}/${PKI_FILES.pck} does not match the platform's TCB and identifiers`);
      }
    }
  }
  certificateCache.set(platform, Promise.resolve(assemble(keys, der)));
  return createSimPki(platform, options);
}

/** {@link loadPki} when `<dir>/pki/` exists; otherwise make the PKI and {@link savePki} it first. */
export async function loadOrCreatePki(platform: Platform, dir: string, options: SimPkiOptions = {}): Promise<SimPki> {
  if (hasSavedPki(dir)) return loadPki(platform, dir, options);
  savePki(await simPkiCertificates(platform), dir);
  return createSimPki(platform, options);
}
