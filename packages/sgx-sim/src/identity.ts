/**
 * An enclave's identity as the CPU holds it in its SECS after EINIT, and the ATTRIBUTES flag bits
 * (intel/linux-sgx:common/inc/sgx_attributes.h; Intel SDM Vol. 3D §34.7.1 "ATTRIBUTES").
 */

/** ATTRIBUTES.FLAGS bits (low u64 of the 16-byte ATTRIBUTES, little-endian). */
export const SGX_FLAGS = {
  INITTED: 0x01n,
  DEBUG: 0x02n,
  MODE64BIT: 0x04n,
  PROVISION_KEY: 0x10n,
  EINITTOKEN_KEY: 0x20n,
  KSS: 0x80n,
} as const;

/** Legacy x87/SSE XFRM (bits 0–1) — what an enclave built for x86-64 enables at least. */
export const DEFAULT_XFRM = 0x03n;

export interface EnclaveIdentity {
  /** 32 bytes. */
  readonly mrEnclave: Uint8Array;
  /** 32 bytes: SHA-256 of the SIGSTRUCT modulus, little-endian. */
  readonly mrSigner: Uint8Array;
  /** ATTRIBUTES.FLAGS (includes INITTED after EINIT). */
  readonly flags: bigint;
  /** ATTRIBUTES.XFRM. */
  readonly xfrm: bigint;
  readonly miscSelect: number;
  readonly isvProdId: number;
  readonly isvSvn: number;
  /** 64 bytes (KSS). */
  readonly configId: Uint8Array;
  readonly configSvn: number;
  /** 16 bytes (KSS). */
  readonly isvExtProdId: Uint8Array;
  /** 16 bytes (KSS). */
  readonly isvFamilyId: Uint8Array;
}

/** The 16-byte ATTRIBUTES field: FLAGS (u64 LE) ‖ XFRM (u64 LE). */
export function encodeAttributes(flags: bigint, xfrm: bigint): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, flags, true);
  v.setBigUint64(8, xfrm, true);
  return out;
}

export function isDebug(id: EnclaveIdentity): boolean {
  return (id.flags & SGX_FLAGS.DEBUG) !== 0n;
}

/**
 * An identity with the defaults of an ordinary production enclave built for x86-64: INITTED | MODE64BIT, XFRM 0x3,
 * no MISCSELECT, no KSS fields, zero product ID and SVN, zero MRSIGNER — each overridable.
 */
export function enclaveIdentity(fields: Partial<EnclaveIdentity> & { readonly mrEnclave: Uint8Array }): EnclaveIdentity {
  return {
    mrSigner: new Uint8Array(32),
    flags: SGX_FLAGS.INITTED | SGX_FLAGS.MODE64BIT,
    xfrm: DEFAULT_XFRM,
    miscSelect: 0,
    isvProdId: 0,
    isvSvn: 0,
    configId: new Uint8Array(64),
    configSvn: 0,
    isvExtProdId: new Uint8Array(16),
    isvFamilyId: new Uint8Array(16),
    ...fields,
  };
}
