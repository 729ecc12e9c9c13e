/** What the admission logic is told about the cluster: resource names its SGX nodes advertise, translation. */
import { WebhookError } from './errors.js';
import type { EpcName } from './names.js';

/**
 * EPC resource-name translation (AKS integer MiB <-> Intel byte quantity), in the direction configured:
 *  - `aks-to-intel`: kubernetes.azure.com/sgx_epc_mem_in_MiB: N  ->  sgx.intel.com/epc: "NMi"  (AKS confcom today)
 *  - `intel-to-aks`: sgx.intel.com/epc: B  ->  kubernetes.azure.com/sgx_epc_mem_in_MiB: ceil(B / 1Mi)  (Cloister node agent)
 *  - `none`: names are left as written.
 */
export type Translation = 'none' | 'aks-to-intel' | 'intel-to-aks';
export const TRANSLATIONS: readonly Translation[] = ['none', 'aks-to-intel', 'intel-to-aks'];

export interface AdmissionConfig {
  readonly translate: Translation;
  /** The EPC names the cluster's SGX nodes advertise; a pod still asking for another after translation is refused. */
  readonly advertised: readonly EpcName[];
  /**
   * Add `sgx.intel.com/enclave: 1` to every EPC container (the Intel plugin hands out /dev/sgx_enclave only for it;
   * Cloister's node agent advertises it too). When true, the validating webhook refuses EPC containers without it.
   */
  readonly enclaveResource: boolean;
  /** The largest EPC any node advertises, in bytes, when known (undefined: the check is skipped). */
  readonly maxNodeEpcBytes?: (() => bigint | undefined) | undefined;
}

export const DEFAULT_CONFIG: AdmissionConfig = { translate: 'none', advertised: ['aks', 'intel'], enclaveResource: true };

export function checkConfig(c: AdmissionConfig): AdmissionConfig {
  if (c.advertised.length === 0) throw new WebhookError('INVALID_CONFIG', 'at least one EPC resource name must be advertised');
  if (c.translate === 'aks-to-intel' && !c.advertised.includes('intel')) {
    throw new WebhookError('INVALID_CONFIG', 'translation aks-to-intel needs sgx.intel.com/epc advertised');
  }
  if (c.translate === 'intel-to-aks' && !c.advertised.includes('aks')) {
    throw new WebhookError('INVALID_CONFIG', 'translation intel-to-aks needs kubernetes.azure.com/sgx_epc_mem_in_MiB advertised');
  }
  return c;
}
