/** @cloister/attestation-service: A self-hosted, Azure Attestation–compatible attestation service: MAA REST API, policies, RS256 tokens, audit log. */
export {};
