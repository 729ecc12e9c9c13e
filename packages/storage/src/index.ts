/** @cloister/storage: Cloister's storage layer: embedded PGlite by default, PostgreSQL when replicated, one set of SQL migrations. */
export {};
