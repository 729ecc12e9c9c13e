/**
 * Parsed DCAP quote structures (../shared/reference/dcap-attestation.md §1). Every byte field is a view (subarray)
 * into the caller's buffer; `raw` fields keep the exact bytes of a structure so that signatures are checked over
 * the original bytes, never over a re-encoding.
 */

export type TeeType = 'SGX' | 'TDX';

/** sgx_quote_header_t / sgx_quote4_header_t — 48 bytes (§1.1). */
export interface QuoteHeader {
  readonly version: number;
  readonly attestationKeyType: number;
  /** u32 at offset 4: tee_type (v4/v5), att_key_data_0 (v3). 0x00 SGX, 0x81 TDX. */
  readonly teeTypeRaw: number;
  readonly qeSvn: number;
  readonly pceSvn: number;
  readonly qeVendorId: Uint8Array;
  readonly userData: Uint8Array;
  readonly raw: Uint8Array;
}

/** sgx_report_body_t — 384 bytes (§1.2). Also the QE report. */
export interface SgxReportBody {
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: number;
  readonly reserved1: Uint8Array;
  readonly isvExtProdId: Uint8Array;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly reserved2: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly reserved3: Uint8Array;
  readonly configId: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly configSvn: number;
  readonly reserved4: Uint8Array;
  readonly isvFamilyId: Uint8Array;
  readonly reportData: Uint8Array;
  readonly raw: Uint8Array;
}

/** sgx_report2_body_t (TD report 1.0, 584 bytes) / sgx_report2_body_v1_5_t (TD report 1.5, 648 bytes) (§1.3). */
export interface TdReport {
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly reportData: Uint8Array;
  /** TD report 1.5 only. */
  readonly teeTcbSvn2?: Uint8Array;
  /** TD report 1.5 only. */
  readonly mrServiceTd?: Uint8Array;
  readonly raw: Uint8Array;
}

/** Body type numbers of the v5 body descriptor (QVL QuoteConstants.h BODY_*_TYPE). */
export type QuoteBody =
  | { readonly type: 1; readonly kind: 'sgx'; readonly report: SgxReportBody }
  | { readonly type: 2; readonly kind: 'td10'; readonly report: TdReport }
  | { readonly type: 3; readonly kind: 'td15'; readonly report: TdReport };

/**
 * Certification data (sgx_ql_certification_data_t): type, size, payload (§1.5).
 * 1 PPID cleartext, 2 PPID RSA-2048-OAEP, 3 PPID RSA-3072-OAEP (payload PPID ‖ CPUSVN ‖ PCESVN ‖ PCE-ID),
 * 4 PCK leaf certificate, 5 PCK certificate chain (PEM), 6 QE report certification data (v4/v5 wrapper).
 */
export type CertificationData =
  | {
      readonly type: 1 | 2 | 3;
      readonly data: Uint8Array;
      readonly ppid: Uint8Array;
      readonly cpuSvn: Uint8Array;
      readonly pceSvn: number;
      readonly pceId: Uint8Array;
    }
  | { readonly type: 4; readonly data: Uint8Array }
  | {
      readonly type: 5;
      readonly data: Uint8Array;
      /** The PEM text of the chain (leaf, intermediate, root), decoded as latin1/UTF-8; trailing NUL kept in `data`. */
      readonly pem: string;
    };

/** QE report certification data: the type-6 payload in v4/v5, the tail of the v3 signature data (§1.5). */
export interface QeReportCertificationData {
  readonly qeReport: SgxReportBody;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  readonly certificationData: CertificationData;
}

/** sgx_ql_ecdsa_sig_data_t (v3) / sgx_ecdsa_sig_data_v4_t (v4, v5) (§1.5). */
export interface QuoteSignatureData {
  /** Raw r ‖ s over {@link Quote.signedBytes}. */
  readonly quoteSignature: Uint8Array;
  /** Raw X ‖ Y of the P-256 attestation key. */
  readonly attestationKey: Uint8Array;
  /** v4/v5: the outer certification data type (always 6); v3: undefined. */
  readonly outerCertificationType?: number;
  readonly qeReportCertificationData: QeReportCertificationData;
}

export interface Quote {
  readonly version: 3 | 4 | 5;
  readonly teeType: TeeType;
  readonly header: QuoteHeader;
  readonly body: QuoteBody;
  /** Bytes covered by the quote signature: header ‖ (v5: body descriptor) ‖ body (§1.6). */
  readonly signedBytes: Uint8Array;
  /** Declared signature data length (u32 after the body). */
  readonly signatureDataLength: number;
  readonly signature: QuoteSignatureData;
  /** The quote proper: from the header to the end of the declared signature data. */
  readonly raw: Uint8Array;
  /** Bytes after the declared signature data (padding); ignored. */
  readonly trailingBytes: number;
}
