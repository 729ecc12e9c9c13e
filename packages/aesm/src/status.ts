/**
 * `aesm_error_t`: the `errorCode` of every AESM response (field 1 of each `aesm.message.Response.*` message).
 *
 * Source: intel/linux-sgx psw/ae/inc/internal/aesm_error.h (BSD-3-Clause), as listed in
 * shared/reference/kubernetes-node.md §4.2:
 *
 * ```c
 * typedef enum _aesm_error_t {
 *     AESM_SUCCESS          = 0,
 *     AESM_UNEXPECTED_ERROR = 1,
 *     ...
 *     AESM_CONFIG_UNSUPPORTED = 51,
 * } aesm_error_t;
 * ```
 *
 * 0–31 are read from the header itself. From 32 on the stored snapshot ends, and §4.2 gives 32, 37, 38 and 41–51; the
 * values in between (33–36, 39, 40) follow from the order in which intel/linux-sgx's ECDSA quote bundle
 * (`quote3_error_to_aesm_error`) lists the codes, which is the enum order (inferred, not read in the header).
 * The keys are the C names without the `AESM_` prefix.
 */
export const AESM_ERROR = {
  SUCCESS: 0,
  UNEXPECTED_ERROR: 1,
  NO_DEVICE_ERROR: 2,
  PARAMETER_ERROR: 3,
  EPIDBLOB_ERROR: 4,
  EPID_REVOKED_ERROR: 5,
  GET_LICENSETOKEN_ERROR: 6,
  SESSION_INVALID: 7,
  MAX_NUM_SESSION_REACHED: 8,
  PSDA_UNAVAILABLE: 9,
  EPH_SESSION_FAILED: 10,
  LONG_TERM_PAIRING_FAILED: 11,
  NETWORK_ERROR: 12,
  NETWORK_BUSY_ERROR: 13,
  PROXY_SETTING_ASSIST: 14,
  FILE_ACCESS_ERROR: 15,
  SGX_PROVISION_FAILED: 16,
  SERVICE_STOPPED: 17,
  BUSY: 18,
  BACKEND_SERVER_BUSY: 19,
  UPDATE_AVAILABLE: 20,
  OUT_OF_MEMORY_ERROR: 21,
  MSG_ERROR: 22,
  THREAD_ERROR: 23,
  SGX_DEVICE_NOT_AVAILABLE: 24,
  ENABLE_SGX_DEVICE_FAILED: 25,
  PLATFORM_INFO_BLOB_INVALID_SIG: 26,
  SERVICE_NOT_AVAILABLE: 27,
  KDF_MISMATCH: 28,
  OUT_OF_EPC: 29,
  SERVICE_UNAVAILABLE: 30,
  UNRECOGNIZED_PLATFORM: 31,
  ECDSA_ID_MISMATCH: 32,
  PATHNAME_BUFFER_OVERFLOW_ERROR: 33,
  ERROR_STORED_KEY: 34,
  PUB_KEY_ID_MISMATCH: 35,
  INVALID_PCE_SIG_SCHEME: 36,
  ATT_KEY_BLOB_ERROR: 37,
  UNSUPPORTED_ATT_KEY_ID: 38,
  UNSUPPORTED_LOADING_POLICY: 39,
  INTERFACE_UNAVAILABLE: 40,
  PLATFORM_LIB_UNAVAILABLE: 41,
  ATT_KEY_NOT_INITIALIZED: 42,
  ATT_KEY_CERT_DATA_INVALID: 43,
  NO_PLATFORM_CERT_DATA: 44,
  ERROR_REPORT: 45,
  ENCLAVE_LOST: 46,
  INVALID_REPORT: 47,
  ENCLAVE_LOAD_ERROR: 48,
  UNABLE_TO_GENERATE_QE_REPORT: 49,
  KEY_CERTIFICATION_ERROR: 50,
  CONFIG_UNSUPPORTED: 51,
} as const;

export type AesmErrorName = keyof typeof AESM_ERROR;
export type AesmErrorCode = (typeof AESM_ERROR)[AesmErrorName];

const NAMES: ReadonlyMap<number, AesmErrorName> = new Map(
  (Object.keys(AESM_ERROR) as AesmErrorName[]).map((name) => [AESM_ERROR[name], name]),
);

/**
 * The name of an `aesm_error_t` value (`AESM_ERROR` key, e.g. `INVALID_REPORT` for 47), or `UNKNOWN_<n>` for a number
 * outside the table (a newer aesmd may add codes).
 */
export function aesmErrorName(code: number): AesmErrorName | `UNKNOWN_${number}` {
  return NAMES.get(code) ?? `UNKNOWN_${code}`;
}
