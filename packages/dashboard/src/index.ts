/** @cloister/dashboard */
export {};
