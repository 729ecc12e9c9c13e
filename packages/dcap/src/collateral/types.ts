/** Collateral as the verifier consumes it (dcap-attestation.md §2.8, §3.3; testdata/FORMAT.md). */

/**
 * One collateral set for a quote: the Phala-Network/dcap-qvl `QuoteCollateralV3` content with bytes decoded.
 * `tcbInfoBody` / `qeIdentityBody` are the exact signed texts: never re-serialise them.
 */
export interface CollateralBundle {
  /** PEM: the PCK CRL issuer (Processor or Platform CA) then the root. */
  readonly pckCrlIssuerChain: string;
  /** DER. */
  readonly rootCaCrl: Uint8Array;
  /** DER. */
  readonly pckCrl: Uint8Array;
  /** PEM: TCB signing certificate then root. */
  readonly tcbInfoIssuerChain: string;
  readonly tcbInfoBody: string;
  /** Raw r ‖ s, 64 bytes. */
  readonly tcbInfoSignature: Uint8Array;
  readonly qeIdentityIssuerChain: string;
  readonly qeIdentityBody: string;
  readonly qeIdentitySignature: Uint8Array;
  /** PEM chain for quotes whose certification data is not a PCK chain (types 1–4). */
  readonly pckCertificateChain?: string;
}

export type TcbLevelStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'Revoked';

export interface TcbLevel {
  /** sgxtcbcomp01svn..16 (v2) / sgxtcbcomponents[].svn (v3). */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  /** v3 TDX only: tdxtcbcomponents[].svn. */
  readonly tdxTcbComponents: readonly number[] | undefined;
  readonly tcbDate: string;
  /** As served; validated against the known statuses by the verifier (TCB_UNRECOGNIZED_STATUS). */
  readonly tcbStatus: string;
  readonly advisoryIds: readonly string[];
}

export interface IsvTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: string;
  readonly tcbStatus: string;
  readonly advisoryIds: readonly string[];
}

export interface TdxModule {
  readonly mrsigner: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
}

export interface TdxModuleIdentity extends TdxModule {
  /** e.g. `TDX_01`. */
  readonly id: string;
  readonly tcbLevels: readonly IsvTcbLevel[];
}

export interface TcbInfo {
  /** v3 only: 'SGX' or 'TDX'. */
  readonly id: 'SGX' | 'TDX' | undefined;
  readonly version: 2 | 3;
  readonly issueDate: number;
  readonly nextUpdate: number;
  /** Lower-case hex (6 bytes). */
  readonly fmspc: string;
  /** Lower-case hex (2 bytes). */
  readonly pceId: string;
  readonly tcbType: number;
  readonly tcbEvaluationDataNumber: number;
  readonly tdxModule: TdxModule | undefined;
  readonly tdxModuleIdentities: readonly TdxModuleIdentity[] | undefined;
  /** In the order served (Intel serves them highest first). */
  readonly tcbLevels: readonly TcbLevel[];
}

/** Enclave identity v2 (QE, TD_QE, QVE, QAE). */
export interface EnclaveIdentity {
  readonly id: string;
  readonly version: number;
  readonly issueDate: number;
  readonly nextUpdate: number;
  readonly tcbEvaluationDataNumber: number;
  readonly miscselect: number;
  readonly miscselectMask: number;
  /** 16 bytes. */
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  /** 32 bytes. */
  readonly mrsigner: Uint8Array;
  readonly isvProdId: number;
  readonly tcbLevels: readonly IsvTcbLevel[];
}
