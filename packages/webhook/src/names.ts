/**
 * Resource, annotation and path names the webhook works with. Sources:
 * ../shared/reference/kubernetes-node.md §2.5 (Intel webhook), §3 (AKS confcom), §4.1 (AESM socket directory).
 */

/** EPC as integer MiB, the AKS generation-1 name (and Cloister's node agent). */
export const AKS_EPC = 'kubernetes.azure.com/sgx_epc_mem_in_MiB';
/** EPC as a byte quantity (Intel device plugin via NFD / epchook; AKS generation 2). */
export const INTEL_EPC = 'sgx.intel.com/epc';
/** /dev/sgx_enclave slot. */
export const ENCLAVE = 'sgx.intel.com/enclave';
/** /dev/sgx_provision slot (only the quote provider needs it). */
export const PROVISION = 'sgx.intel.com/provision';

/** Intel's opt-in: value `aesmd` = out-of-process quoting; value = a container name = that container quotes in process. */
export const QUOTE_PROVIDER_ANNOTATION = 'sgx.intel.com/quote-provider';
/** Cloister's opt-in: "true" = out-of-process quoting through the node's quote helper; "false" = explicitly not. */
export const QUOTE_HELPER_ANNOTATION = 'cloister.dev/quote-helper';
/** Pod label that puts a pod under the strict (failurePolicy: Fail) webhook entries. */
export const SGX_POD_LABEL = 'cloister.dev/sgx';

/** Intel's volume name for the AESM socket directory. */
export const AESMD_VOLUME = 'aesmd-socket';
/** The AESM socket directory (the socket path /var/run/aesmd/aesm.socket is a compile-time constant in intel/linux-sgx). */
export const AESMD_DIR = '/var/run/aesmd';
/** Presence-only switch of libsgx_dcap_ql and Open Enclave; "1" by convention. */
export const AESM_ENV = 'SGX_AESM_ADDR';

export const MIB = 1n << 20n;

export type EpcName = 'aks' | 'intel';
export const EPC_RESOURCE: Readonly<Record<EpcName, string>> = { aks: AKS_EPC, intel: INTEL_EPC };
