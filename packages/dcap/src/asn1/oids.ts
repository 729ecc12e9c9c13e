/**
 * Object identifiers used by the X.509 / CRL / SGX-extension parsers, as dotted strings. Names follow the ASN.1
 * modules that define them (hyphens become underscores): RFC 5280 PKIX1Explicit88 / PKIX1Implicit88, RFC 5480 and
 * RFC 5758 (PKIX1-PSS-OAEP-Algorithms / PKIXAlgs-2009), RFC 4519 attribute types, and Intel's SGX PCK Certificate
 * and CRL Profile for the SGX extension (dcap-attestation.md §2.3).
 */

// RFC 5480 §2.1.1 / §2.1.1.1 (PKIXAlgs-2009)
export const id_ecPublicKey = '1.2.840.10045.2.1';
export const secp256r1 = '1.2.840.10045.3.1.7';
export const secp384r1 = '1.3.132.0.34';
export const secp521r1 = '1.3.132.0.35';

// RFC 5758 §3.2 (ECDSA signature algorithms)
export const ecdsa_with_SHA256 = '1.2.840.10045.4.3.2';
export const ecdsa_with_SHA384 = '1.2.840.10045.4.3.3';
export const ecdsa_with_SHA512 = '1.2.840.10045.4.3.4';

// RFC 5280 §4.1.2.4 / RFC 4519 attribute types (id-at)
export const id_at_commonName = '2.5.4.3';
export const id_at_surname = '2.5.4.4';
export const id_at_serialNumber = '2.5.4.5';
export const id_at_countryName = '2.5.4.6';
export const id_at_localityName = '2.5.4.7';
export const id_at_stateOrProvinceName = '2.5.4.8';
export const id_at_streetAddress = '2.5.4.9';
export const id_at_organizationName = '2.5.4.10';
export const id_at_organizationalUnitName = '2.5.4.11';
export const id_domainComponent = '0.9.2342.19200300.100.1.25';
export const id_userId = '0.9.2342.19200300.100.1.1';

// RFC 5280 §4.2.1 certificate extensions (id-ce)
export const id_ce_subjectKeyIdentifier = '2.5.29.14';
export const id_ce_keyUsage = '2.5.29.15';
export const id_ce_subjectAltName = '2.5.29.17';
export const id_ce_basicConstraints = '2.5.29.19';
export const id_ce_cRLDistributionPoints = '2.5.29.31';
export const id_ce_authorityKeyIdentifier = '2.5.29.35';

// RFC 5280 §5.2 / §5.3 CRL and CRL entry extensions (id-ce)
export const id_ce_cRLNumber = '2.5.29.20';
export const id_ce_cRLReasons = '2.5.29.21';
export const id_ce_deltaCRLIndicator = '2.5.29.27';
export const id_ce_issuingDistributionPoint = '2.5.29.28';

// Intel SGX PCK Certificate and CRL Profile: the SGX extension and its members (…113741.1.13.1.n)
export const sgx_Extensions = '1.2.840.113741.1.13.1';
export const sgx_PPID = '1.2.840.113741.1.13.1.1';
export const sgx_TCB = '1.2.840.113741.1.13.1.2';
/** Prefix of the TCB members .2.1 … .2.16 (SGX TCB comp01..16 SVN), .2.17 PCESVN and .2.18 CPUSVN. */
export const sgx_TCB_prefix = '1.2.840.113741.1.13.1.2.';
export const sgx_PCESVN = '1.2.840.113741.1.13.1.2.17';
export const sgx_CPUSVN = '1.2.840.113741.1.13.1.2.18';
export const sgx_PCEID = '1.2.840.113741.1.13.1.3';
export const sgx_FMSPC = '1.2.840.113741.1.13.1.4';
export const sgx_SGXType = '1.2.840.113741.1.13.1.5';
export const sgx_PlatformInstanceID = '1.2.840.113741.1.13.1.6';
export const sgx_Configuration = '1.2.840.113741.1.13.1.7';
export const sgx_DynamicPlatform = '1.2.840.113741.1.13.1.7.1';
export const sgx_CachedKeys = '1.2.840.113741.1.13.1.7.2';
export const sgx_SMTEnabled = '1.2.840.113741.1.13.1.7.3';

// RA-TLS evidence extensions (FORMAT.md "ratls/")
/** TCG DICE tagged evidence (TCG DICE Attestation Architecture). */
export const tcg_dice_tagged_evidence = '2.23.133.5.4.9';
/** Gramine's legacy quote extension as a DER parser reads it (Gramine's OID contents begin with a stray `06 09`). */
export const gramine_legacy_quote_as_parsed = '0.6.9.42.840.113741.1337.6';
