/** Embedded storage: PGlite (PostgreSQL compiled to WASM) in a data directory, or in memory. One connection. */
import { PGlite } from '@electric-sql/pglite';
import { classify, classifyTransactionError } from './errors.js';
import type { Queryable, QueryResult, SqlValue, Storage } from './types.js';

function wrap(q: { query: PGlite['query'] }): Queryable {
  return {
    async query<Row>(sql: string, params: readonly SqlValue[] = []): Promise<QueryResult<Row>> {
      try {
        const r = await q.query<Row>(sql, params as unknown[]);
        return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
      } catch (e) {
        throw classify(e);
      }
    },
  };
}

/** `dataDir` undefined: in memory (tests, `cloister up`). */
export async function openPglite(dataDir: string | undefined): Promise<Storage> {
  let db: PGlite;
  try {
    db = dataDir === undefined ? await PGlite.create() : await PGlite.create(dataDir);
  } catch (e) {
    throw classify(e);
  }
  const direct = wrap(db);
  // PGlite has one connection: serialise transactions so two never interleave their statements.
  let chain: Promise<unknown> = Promise.resolve();
  return {
    kind: 'pglite',
    query: direct.query,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const run = chain.then(async () => {
        try {
          return await db.transaction(async (tx) => fn(wrap(tx)));
        } catch (e) {
          throw classifyTransactionError(e);
        }
      });
      chain = run.catch(() => undefined);
      return run;
    },
    async ping() {
      try {
        await db.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await chain;
      if (!db.closed) await db.close();
    },
  };
}
