/** @cloister/webhook: Mutating and validating admission webhook for SGX pods, and the cloister install renderer. */
export {};
