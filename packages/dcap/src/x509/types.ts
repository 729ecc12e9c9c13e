/** Parsed X.509 structures (RFC 5280) as DCAP needs them. Byte fields are views into the DER input. */

export interface NameAttribute {
  readonly oid: string;
  readonly value: string;
}

/** RFC 5280 §4.1.2.4 Name. `raw` is the exact DER of the Name (for byte-exact issuer comparison). */
export interface Name {
  readonly raw: Uint8Array;
  readonly attributes: readonly NameAttribute[];
  readonly commonName: string | undefined;
  /** RFC 4514-style text, e.g. `CN=Intel SGX PCK Platform CA,O=Intel Corporation,…` */
  readonly text: string;
}

export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

export interface Certificate {
  readonly raw: Uint8Array;
  /** The exact DER of tbsCertificate: what the signature covers. */
  readonly tbs: Uint8Array;
  readonly version: number;
  readonly serialNumber: Uint8Array;
  /** Lower-case hex of the serial's content octets, leading zero octets stripped. */
  readonly serialHex: string;
  readonly signatureAlgorithm: string;
  readonly issuer: Name;
  readonly subject: Name;
  readonly notBefore: number;
  readonly notAfter: number;
  /** The exact DER of SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  readonly publicKeyAlgorithm: string;
  /** namedCurve OID for id-ecPublicKey keys. */
  readonly publicKeyCurve: string | undefined;
  /** The subjectPublicKey BIT STRING content (for EC keys the SEC1 point). */
  readonly publicKey: Uint8Array;
  readonly extensions: readonly Extension[];
  /** signatureValue BIT STRING content (for ECDSA a DER ECDSA-Sig-Value). */
  readonly signatureValue: Uint8Array;
}

export interface RevokedCertificate {
  readonly serialHex: string;
  readonly revocationDate: number;
}

export interface Crl {
  readonly raw: Uint8Array;
  readonly tbs: Uint8Array;
  readonly version: number;
  readonly signatureAlgorithm: string;
  readonly issuer: Name;
  readonly thisUpdate: number;
  readonly nextUpdate: number | undefined;
  /** Keyed by {@link RevokedCertificate.serialHex}. */
  readonly revoked: ReadonlyMap<string, RevokedCertificate>;
  readonly extensions: readonly Extension[];
  readonly crlNumber: bigint | undefined;
  readonly authorityKeyIdentifier: Uint8Array | undefined;
  readonly signatureValue: Uint8Array;
}

/** SGX Type of the PCK extension (…13.1.5). */
export type SgxType = 'Standard' | 'Scalable' | 'ScalableWithIntegrity';

/** Intel SGX PCK certificate extension, OID 1.2.840.113741.1.13.1 (dcap-attestation.md §2.3). */
export interface PckExtension {
  readonly ppid: Uint8Array;
  readonly tcb: {
    /** SGX TCB comp01..16 SVN, index 0 = comp01. */
    readonly sgxTcbComponents: readonly number[];
    readonly pceSvn: number;
    readonly cpuSvn: Uint8Array;
  };
  readonly pceId: Uint8Array;
  readonly fmspc: Uint8Array;
  readonly sgxType: SgxType;
  readonly platformInstanceId: Uint8Array | undefined;
  readonly configuration:
    | { readonly dynamicPlatform?: boolean; readonly cachedKeys?: boolean; readonly smtEnabled?: boolean }
    | undefined;
}
