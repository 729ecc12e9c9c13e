/**
 * Trust anchors are pinned by public key, not by certificate bytes (dcap-attestation.md §2.1; FORMAT.md
 * "Verification model"): QvE compares the chain root's public key with `INTEL_ROOT_PUB_KEY`
 * (intel/SGXDataCenterAttestationPrimitives:QuoteVerification/QvE/Enclave/qve.cpp), so the 2018–2033 and 2018–2049
 * Intel SGX Root CA certificates, which share one key, are both accepted.
 */
import { DcapError } from '../errors.js';
import { bytesEqual, fromHex } from '../util/bytes.js';
import { decodePemCertificates } from '../util/pem.js';
import { parseCertificate } from '../x509/certificate.js';

export interface TrustAnchor {
  /** A human-readable name for results and messages. */
  readonly name: string;
  /** SubjectPublicKeyInfo DER of the root key. */
  readonly spki: Uint8Array;
  /** True only for Intel's production root. Anything else is reported in the result. */
  readonly intel: boolean;
}

/**
 * Intel SGX Root CA public key (SPKI DER), as published in
 * intel/SGX-TDX-DCAP-QuoteVerificationService:README.md (QVS_TRUSTED_ROOT_PUBLIC_KEY); certificate SHA-256
 * 44A0196B2B99F889B8E149E95B807A350E7424964399E885A7CBB8CCFAB674D3.
 */
export const INTEL_SGX_ROOT_CA: TrustAnchor = Object.freeze({
  name: 'Intel SGX Root CA',
  spki: fromHex(
    '3059301306072a8648ce3d020106082a8648ce3d030107034200040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b445' +
      '8561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394',
  ),
  intel: true,
});

/**
 * A trust anchor from a certificate (DER, PEM, or PEM bytes): its public key becomes the pinned key. Use it for test
 * hierarchies (a simulated platform's root); results from such an anchor say `intel: false`.
 */
export function trustAnchorFromCertificate(input: Uint8Array | string, name?: string): TrustAnchor {
  let der: Uint8Array | undefined;
  if (typeof input !== 'string' && input[0] === 0x30) der = input;
  else {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    der = decodePemCertificates(text)[0];
  }
  if (der === undefined) throw new DcapError('UNSUPPORTED_CERT_FORMAT', 'the trust root is not a DER or PEM certificate');
  const cert = parseCertificate(der);
  const intel = bytesEqual(cert.spki, INTEL_SGX_ROOT_CA.spki);
  return Object.freeze({ name: name ?? cert.subject.text, spki: cert.spki, intel });
}
