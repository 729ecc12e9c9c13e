/**
 * Attestation key IDs as they travel in the AESM `att_key_id` / `att_key_id_list` / `selected_att_key_id` /
 * `att_key_ids` fields.
 *
 * Layout (intel/linux-sgx common/inc/sgx_quote.h, BSD-3-Clause; shared/reference/kubernetes-node.md §4.3), packed,
 * little-endian, 256 bytes:
 *
 * ```c
 * typedef struct _sgx_ql_att_key_id_t {
 *     uint16_t id;                   //   0
 *     uint16_t version;              //   2
 *     uint16_t mrsigner_length;      //   4
 *     uint8_t  mrsigner[48];         //   6
 *     uint32_t prod_id;              //  54
 *     uint8_t  extended_prod_id[16]; //  58
 *     uint8_t  config_id[64];        //  74
 *     uint8_t  family_id[16];        // 138
 *     uint32_t algorithm_id;         // 154
 * } sgx_ql_att_key_id_t;             // 158
 *
 * typedef struct _sgx_att_key_id_ext_t {
 *     sgx_ql_att_key_id_t base;      //   0
 *     uint8_t  spid[16];             // 158  0 for ECDSA
 *     uint16_t att_key_type;         // 174  0 for non-EPID; sgx_quote_sign_type_t for EPID
 *     uint8_t  reserved[80];         // 176
 * } sgx_att_key_id_ext_t;            // 256 = sizeof(sgx_att_key_id_t)
 *
 * typedef struct _sgx_ql_att_key_id_list_header_t {
 *     uint16_t id;                   // 0 (must be 0)
 *     uint16_t version;              // 2 (must be 0)
 *     uint32_t num_att_ids;          // 4 (at most 10)
 * } sgx_ql_att_key_id_list_header_t; // 8, followed by num_att_ids × sgx_att_key_id_ext_t
 * ```
 *
 * aesmd matches a requested key ID against its available ones on the 158-byte `base` only (memcmp), ignoring spid,
 * att_key_type and reserved (psw/ae/aesm_service/source/bundles/quote_ex_service_bundle/quote_ex_service_bundle.cpp).
 * algorithm_id values: 0 EPID, 1 reserved (EPID linkable), 2 ECDSA-P256, 3 ECDSA-P384
 * (intel/confidential-computing.tee.dcap QuoteGeneration/quote_wrapper/common/inc/sgx_quote_3.h).
 */

export const ATT_KEY_ID_SIZE = 256;
export const ATT_KEY_ID_BASE_SIZE = 158;
export const ATT_KEY_ID_LIST_HEADER_SIZE = 8;
/** SGX_MAX_ATT_KEY_IDS of quote_ex_service_bundle.cpp. */
export const MAX_ATT_KEY_IDS = 10;
const MRSIGNER_MAX = 48;

/** sgx_attestation_algorithm_id_t (sgx_quote_3.h). */
export const SGX_QL_ALG = {
  EPID: 0,
  RESERVED_1: 1,
  ECDSA_P256: 2,
  ECDSA_P384: 3,
} as const;

export interface AttKeyId {
  readonly id: number;
  readonly version: number;
  /** Meaningful bytes of `mrSigner` (32 for SHA-256). */
  readonly mrSignerLength: number;
  /** 48 bytes, zero padded. */
  readonly mrSigner: Uint8Array;
  readonly prodId: number;
  /** 16 bytes. */
  readonly extendedProdId: Uint8Array;
  /** 64 bytes. */
  readonly configId: Uint8Array;
  /** 16 bytes. */
  readonly familyId: Uint8Array;
  readonly algorithmId: number;
  /** 16 bytes. */
  readonly spid: Uint8Array;
  readonly attKeyType: number;
}

/** Every field optional: absent numbers are 0, absent byte fields are zeros (shorter ones are zero padded). */
export type AttKeyIdInit = Partial<AttKeyId>;

function putBytes(out: Uint8Array, at: number, max: number, value: Uint8Array | undefined, what: string): void {
  if (value === undefined) return;
  if (value.length > max) throw new RangeError(`att_key_id ${what} is at most ${max} bytes, got ${value.length}`);
  out.set(value, at);
}

function checkUint(value: number | undefined, bits: 16 | 32, what: string): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > (bits === 16 ? 0xffff : 0xffff_ffff)) {
    throw new RangeError(`att_key_id ${what} must be an unsigned ${bits}-bit integer, got ${String(value)}`);
  }
  return v;
}

/** Encode an sgx_att_key_id_ext_t (256 bytes). */
export function encodeAttKeyId(init: AttKeyIdInit): Uint8Array {
  const out = new Uint8Array(ATT_KEY_ID_SIZE);
  const v = new DataView(out.buffer);
  v.setUint16(0, checkUint(init.id, 16, 'id'), true);
  v.setUint16(2, checkUint(init.version, 16, 'version'), true);
  const mrSignerLength = checkUint(init.mrSignerLength ?? init.mrSigner?.length ?? 0, 16, 'mrsigner_length');
  if (mrSignerLength > MRSIGNER_MAX) throw new RangeError(`att_key_id mrsigner_length is at most ${MRSIGNER_MAX}`);
  v.setUint16(4, mrSignerLength, true);
  putBytes(out, 6, MRSIGNER_MAX, init.mrSigner, 'mrsigner');
  v.setUint32(54, checkUint(init.prodId, 32, 'prod_id'), true);
  putBytes(out, 58, 16, init.extendedProdId, 'extended_prod_id');
  putBytes(out, 74, 64, init.configId, 'config_id');
  putBytes(out, 138, 16, init.familyId, 'family_id');
  v.setUint32(154, checkUint(init.algorithmId, 32, 'algorithm_id'), true);
  putBytes(out, 158, 16, init.spid, 'spid');
  v.setUint16(174, checkUint(init.attKeyType, 16, 'att_key_type'), true);
  return out;
}

/** Parse an sgx_att_key_id_ext_t; anything but 256 bytes is a RangeError. Reserved bytes are not checked (aesmd does not). */
export function parseAttKeyId(bytes: Uint8Array): AttKeyId {
  if (!(bytes instanceof Uint8Array) || bytes.length !== ATT_KEY_ID_SIZE) {
    throw new RangeError(`an att_key_id is ${ATT_KEY_ID_SIZE} bytes, got ${bytes?.length}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    id: v.getUint16(0, true),
    version: v.getUint16(2, true),
    mrSignerLength: v.getUint16(4, true),
    mrSigner: bytes.slice(6, 54),
    prodId: v.getUint32(54, true),
    extendedProdId: bytes.slice(58, 74),
    configId: bytes.slice(74, 138),
    familyId: bytes.slice(138, 154),
    algorithmId: v.getUint32(154, true),
    spid: bytes.slice(158, 174),
    attKeyType: v.getUint16(174, true),
  };
}

/** Whether two key IDs are the same for aesmd: their 158-byte `sgx_ql_att_key_id_t` bases are equal. */
export function sameAttKeyIdBase(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length < ATT_KEY_ID_BASE_SIZE || b.length < ATT_KEY_ID_BASE_SIZE) return false;
  for (let i = 0; i < ATT_KEY_ID_BASE_SIZE; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/**
 * MRSIGNER of Intel's reference ECDSA Quoting Enclave (QE3), the one in the key ID `sgx_ql_get_keyid()` of
 * libsgx_dcap_ql returns (and Gramine hard-codes): SHA-256 of Intel's QE signing key modulus.
 */
export const INTEL_QE3_MRSIGNER_HEX = '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff';

/**
 * Intel's reference ECDSA-P256 attestation key ID: id 0, version 0, mrsigner_length 32, mrsigner = QE3's, prod_id 1,
 * algorithm_id 2 (ECDSA_P256), att_key_type 0 (non-EPID), everything else zero (§4.3). What an out-of-proc
 * libsgx_dcap_ql sends in InitQuoteEx / GetQuoteSizeEx / GetQuoteEx.
 */
export const INTEL_ECDSA_ATT_KEY_ID_INIT: AttKeyIdInit = Object.freeze({
  id: 0,
  version: 0,
  mrSignerLength: 32,
  mrSigner: hex(INTEL_QE3_MRSIGNER_HEX),
  prodId: 1,
  algorithmId: SGX_QL_ALG.ECDSA_P256,
  attKeyType: 0,
});

/** The 256 bytes of {@link INTEL_ECDSA_ATT_KEY_ID_INIT}. Treat as read-only; {@link intelEcdsaAttKeyId} gives a copy. */
export const INTEL_ECDSA_ATT_KEY_ID: Uint8Array = encodeAttKeyId(INTEL_ECDSA_ATT_KEY_ID_INIT);

/** A fresh copy of {@link INTEL_ECDSA_ATT_KEY_ID}. */
export function intelEcdsaAttKeyId(): Uint8Array {
  return encodeAttKeyId(INTEL_ECDSA_ATT_KEY_ID_INIT);
}

/** Encode an att_key_id_list for SelectAttKeyID: header {id 0, version 0, num} then num × 256 bytes; 1..10 entries. */
export function encodeAttKeyIdList(ids: readonly Uint8Array[]): Uint8Array {
  if (ids.length > MAX_ATT_KEY_IDS) throw new RangeError(`an att_key_id_list holds at most ${MAX_ATT_KEY_IDS} key IDs`);
  const out = new Uint8Array(ATT_KEY_ID_LIST_HEADER_SIZE + ids.length * ATT_KEY_ID_SIZE);
  new DataView(out.buffer).setUint32(4, ids.length, true);
  ids.forEach((id, i) => {
    if (id.length !== ATT_KEY_ID_SIZE) throw new RangeError(`att_key_id_list entry ${i} is not ${ATT_KEY_ID_SIZE} bytes`);
    out.set(id, ATT_KEY_ID_LIST_HEADER_SIZE + i * ATT_KEY_ID_SIZE);
  });
  return out;
}

/**
 * Parse an att_key_id_list as aesmd's select_att_key_id checks it: at least one entry (size ≥ 8 + 256), header id and
 * version 0, num_att_ids ≤ 10, and the size exactly 8 + num × 256. Any violation is a RangeError (AESM_PARAMETER_ERROR).
 * Returns views into `bytes`, one per entry.
 */
export function parseAttKeyIdList(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length < ATT_KEY_ID_LIST_HEADER_SIZE + ATT_KEY_ID_SIZE) {
    throw new RangeError(`an att_key_id_list is at least ${ATT_KEY_ID_LIST_HEADER_SIZE + ATT_KEY_ID_SIZE} bytes, got ${bytes.length}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint16(0, true) !== 0 || v.getUint16(2, true) !== 0) {
    throw new RangeError('att_key_id_list header id and version must be 0');
  }
  const num = v.getUint32(4, true);
  if (num > MAX_ATT_KEY_IDS) throw new RangeError(`att_key_id_list num_att_ids ${num} is above ${MAX_ATT_KEY_IDS}`);
  if (ATT_KEY_ID_LIST_HEADER_SIZE + num * ATT_KEY_ID_SIZE !== bytes.length) {
    throw new RangeError(`att_key_id_list of ${bytes.length} bytes does not hold exactly ${num} key IDs`);
  }
  const ids: Uint8Array[] = [];
  for (let i = 0; i < num; i++) {
    const at = ATT_KEY_ID_LIST_HEADER_SIZE + i * ATT_KEY_ID_SIZE;
    ids.push(bytes.subarray(at, at + ATT_KEY_ID_SIZE));
  }
  return ids;
}
