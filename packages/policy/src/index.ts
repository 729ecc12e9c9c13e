/** @cloister/policy: One enclave-identity policy engine: strict schema, one evaluator, typed failures naming the rule; browser-safe. */
export {};
