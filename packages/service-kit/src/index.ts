/** @cloister/service-kit: Shared HTTP, logging, metrics and probe plumbing for Cloister's services (component name a parameter). */
export {};
