/**
 * Default policies and `x-ms-policy-hash`. The default SGX policy is the text Microsoft publishes as "Default policy
 * for an SGX enclave" (MicrosoftDocs azure-docs articles/attestation/policy-examples.md): it permits everything the
 * service verified and issues the legacy claim names. Open Enclave reports are SGX quotes and get the same default.
 */
import { createHash } from 'node:crypto';
import type { AttestationType } from '../claims.js';

export const DEFAULT_SGX_POLICY = `version= 1.1;
configurationrules{
	=> issueproperty(type="x-ms-sgx-tcbidentifier", value="azuredefault");
};
authorizationrules{
	=> permit();
};
issuancerules{
	c:[type=="x-ms-sgx-is-debuggable"] => issue(type="is-debuggable", value=c.value);
	c:[type=="x-ms-sgx-mrsigner"] => issue(type="sgx-mrsigner", value=c.value);
	c:[type=="x-ms-sgx-mrenclave"] => issue(type="sgx-mrenclave", value=c.value);
	c:[type=="x-ms-sgx-product-id"] => issue(type="product-id", value=c.value);
	c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value);
	c:[type=="x-ms-attestation-type"] => issue(type="tee", value=c.value);
};
`;

export function defaultPolicyText(_type: AttestationType): string {
  return DEFAULT_SGX_POLICY;
}

/**
 * `x-ms-policy-hash` = BASE64URL(SHA256(UTF8(BASE64URL(UTF8(policy text))))) (claim-sets.md, "x-ms-policy-hash").
 */
export function policyHash(text: string): string {
  const inner = Buffer.from(text, 'utf8').toString('base64url');
  return createHash('sha256').update(inner, 'utf8').digest('base64url');
}
