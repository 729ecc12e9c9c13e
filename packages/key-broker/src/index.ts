/** @cloister/key-broker: Key broker: keys released only to attested enclaves (Azure Key Vault Secure Key Release compatible), M-of-N governance, ledger. */
export {};
