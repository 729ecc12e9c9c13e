/** Whether bytes start like an Open Enclave envelope (oe_report_header_t v1 remote, or oe_attestation_header_t v3). */
import { unwrapEvidence } from '@cloister/dcap';

export function looksLikeOeReport(bytes: Uint8Array): boolean {
  try {
    return unwrapEvidence(bytes).format !== 'sgx-quote';
  } catch {
    return true;
  }
}
