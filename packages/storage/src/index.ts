/**
 * @cloister/storage: the one storage layer of Cloister's services — embedded PGlite by default (`--data DIR`),
 * PostgreSQL when replicated (`--database-url`), the same SQL migrations for both. Write portable SQL: `text`,
 * `integer`, `bytea`, `jsonb`, `timestamptz`, `bigserial` (cast bigint results to text where a driver difference
 * matters: pg returns int8 as a string).
 */
export { StorageError, classify, classifyTransactionError, type StorageErrorCode } from './errors.js';
export type { Storage, Queryable, QueryResult, SqlValue, Migration, MigrationSet } from './types.js';
export { migrate, splitStatements } from './migrate.js';
export { openPglite } from './pglite.js';
export { openPostgres, type PostgresOptions } from './postgres.js';
export { openStorage, describeStorage, type StorageConfig } from './open.js';
