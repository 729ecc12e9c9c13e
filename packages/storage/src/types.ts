/** The storage interface the services program against; PGlite and PostgreSQL both implement it. */

/** A value a query parameter may take. Bytes are `Uint8Array` (bytea). */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array | Date | readonly string[];

export interface QueryResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number;
}

export interface Queryable {
  /** One statement with `$1 … $n` parameters. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<QueryResult<Row>>;
}

export interface Storage extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on any error). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** True when a trivial query succeeds (for readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * One schema step. `id`s are applied in array order, once each, recorded in `cloister_migrations` under the
 * migration set's `namespace` (each service has its own namespace in the same database).
 */
export interface Migration {
  readonly id: string;
  readonly sql: string;
}

export interface MigrationSet {
  readonly namespace: string;
  readonly migrations: readonly Migration[];
}
