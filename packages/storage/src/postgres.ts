/**
 * PostgreSQL over `pg` (a pool). Connection loss never crashes the process: idle-client errors are swallowed by the
 * pool's error handler, failing queries become `STORAGE_UNAVAILABLE`, and the pool reconnects when the server
 * returns. Every statement has a server-side timeout.
 */
import pg from 'pg';
import { classify, classifyTransactionError } from './errors.js';
import type { Queryable, QueryResult, SqlValue, Storage } from './types.js';

export interface PostgresOptions {
  readonly connectionString: string;
  /** Pool size (default 10). */
  readonly max?: number;
  /** Time to get a connection (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Server-side statement timeout (default 15 s). */
  readonly statementTimeoutMs?: number;
}

function toResult<Row>(r: pg.QueryResult): QueryResult<Row> {
  return { rows: r.rows as Row[], rowCount: r.rowCount ?? r.rows.length };
}

export async function openPostgres(options: PostgresOptions): Promise<Storage> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 15_000,
    application_name: 'cloister',
  });
  pool.on('error', () => {
    // An idle client lost its connection (server restart, network): the pool drops it and makes a new one.
  });
  const query = async <Row>(sql: string, params: readonly SqlValue[] = []): Promise<QueryResult<Row>> => {
    try {
      return toResult<Row>(await pool.query(sql, params as unknown[]));
    } catch (e) {
      throw classify(e);
    }
  };
  const storage: Storage = {
    kind: 'postgres',
    query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw classify(e);
      }
      client.on('error', () => undefined);
      const tx: Queryable = {
        async query<Row>(sql: string, params: readonly SqlValue[] = []) {
          try {
            return toResult<Row>(await client.query(sql, params as unknown[]));
          } catch (e) {
            throw classify(e);
          }
        },
      };
      let broken = false;
      try {
        await tx.query('BEGIN');
        const out = await fn(tx);
        await tx.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw classifyTransactionError(e);
      } finally {
        client.release(broken);
      }
    },
    async ping() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await pool.end();
    },
  };
  return storage;
}
