/**
 * One vocabulary for an enclave's identity: @cloister/dcap's claim names, used in policies, claims, CLI output and
 * `--json` alike. The table maps each to Intel's SGX structure field (Intel SGX SDM Vol. 3D §38.15 REPORT / §38.13
 * SIGSTRUCT; dcap quote format: sgx_report_body_t), to the claim Microsoft Azure Attestation issues for SGX
 * (learn.microsoft.com/azure/attestation/claim-sets, "SGX attestation"), and to the enclave manifest's word where it
 * has one (enclave.json). docs/attestation/policy.md prints the same table.
 */
import { PolicyError } from './errors.js';
import type { EnclaveIdentity } from './types.js';

export interface IdentityField {
  /** The name in policies, claims, CLI output and JSON. */
  readonly name: keyof EnclaveIdentity;
  /** Intel's name (SGX report body / SIGSTRUCT). */
  readonly intel: string;
  /** Microsoft Azure Attestation's SGX claim. */
  readonly maa: string;
  /** The enclave manifest's (enclave.json) word, where the manifest sets it. */
  readonly manifest: string | undefined;
  /** The policy key that constrains it. */
  readonly policyKey: string;
}

export const IDENTITY_FIELDS: readonly IdentityField[] = Object.freeze([
  { name: 'mrenclave', intel: 'MRENCLAVE', maa: 'x-ms-sgx-mrenclave', manifest: undefined, policyKey: 'mrenclave' },
  { name: 'mrsigner', intel: 'MRSIGNER', maa: 'x-ms-sgx-mrsigner', manifest: undefined, policyKey: 'mrsigner' },
  { name: 'isvProdId', intel: 'ISVPRODID', maa: 'x-ms-sgx-product-id', manifest: 'productId', policyKey: 'isvProdId' },
  { name: 'isvSvn', intel: 'ISVSVN', maa: 'x-ms-sgx-svn', manifest: 'securityVersion', policyKey: 'minIsvSvn' },
  { name: 'debug', intel: 'ATTRIBUTES.FLAGS.DEBUG', maa: 'x-ms-sgx-is-debuggable', manifest: 'debug', policyKey: 'allowDebug' },
  { name: 'reportData', intel: 'REPORTDATA', maa: 'x-ms-sgx-report-data', manifest: undefined, policyKey: 'reportData' },
] as const satisfies readonly IdentityField[]);

/**
 * The identity in the one vocabulary, from SGX claims (dcap's `sgxClaims`, `VerificationResult.claims`, or RA-TLS
 * claims). Throws PolicyError POLICY_INVALID (key `claims.<name>`) when a field is missing or of the wrong type, e.g.
 * for TDX claims.
 */
export function enclaveIdentity(claims: Readonly<Record<string, unknown>>): EnclaveIdentity {
  const hex = (name: string): string => {
    const v = claims[name];
    if (typeof v !== 'string') throw new PolicyError('POLICY_INVALID', `claims: ${name} is missing (not SGX claims?)`, { key: `claims.${name}` });
    return v.toLowerCase();
  };
  const int = (name: string): number => {
    const v = claims[name];
    if (typeof v !== 'number') throw new PolicyError('POLICY_INVALID', `claims: ${name} is missing (not SGX claims?)`, { key: `claims.${name}` });
    return v;
  };
  const debug = claims['debug'];
  if (typeof debug !== 'boolean') throw new PolicyError('POLICY_INVALID', 'claims: debug is missing', { key: 'claims.debug' });
  return Object.freeze({
    mrenclave: hex('mrenclave'),
    mrsigner: hex('mrsigner'),
    isvProdId: int('isvProdId'),
    isvSvn: int('isvSvn'),
    debug,
    reportData: hex('reportData'),
  });
}

/** The MAA SGX claims of an identity (`x-ms-sgx-mrenclave` …), named and typed as MAA issues them (hex lower case). */
export function maaClaimsOf(identity: EnclaveIdentity): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const f of IDENTITY_FIELDS) out[f.maa] = identity[f.name];
  return out;
}

/**
 * The identity in the one vocabulary from MAA SGX token claims (`x-ms-sgx-*`): what a relying party on a token (the key
 * broker) holds to a policy. PolicyError POLICY_INVALID (key `claims.<maa name>`) when a claim is missing or mistyped.
 */
export function identityFromMaaClaims(claims: Readonly<Record<string, unknown>>): EnclaveIdentity {
  const out: Record<string, string | number | boolean> = {};
  for (const f of IDENTITY_FIELDS) {
    const v = claims[f.maa];
    const want = f.name === 'debug' ? 'boolean' : f.name === 'isvProdId' || f.name === 'isvSvn' ? 'number' : 'string';
    if (typeof v !== want) throw new PolicyError('POLICY_INVALID', `claims: ${f.maa} is missing or not a ${want}`, { key: `claims.${f.maa}` });
    out[f.name] = typeof v === 'string' ? v.toLowerCase() : (v as number | boolean);
  }
  return enclaveIdentity(out);
}
