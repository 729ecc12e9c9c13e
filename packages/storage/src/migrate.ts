/**
 * Applies migration sets in order, once each. Two replicas starting together against one PostgreSQL serialise on a
 * transaction-scoped advisory lock, so each step runs exactly once; PGlite has one connection and needs none.
 * An applied id whose SQL has since changed is refused (`MIGRATION_FAILED`): migrations are append-only.
 */
import { createHash } from 'node:crypto';
import { StorageError, classify } from './errors.js';
import type { MigrationSet, Storage } from './types.js';

const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS cloister_migrations (
  namespace text NOT NULL,
  id text NOT NULL,
  sha256 text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, id)
)`;

/** A fixed 64-bit key for pg_advisory_xact_lock ("cloister" in ASCII). */
const LOCK_KEY = '7164208836318405490';

export async function migrate(storage: Storage, sets: readonly MigrationSet[]): Promise<string[]> {
  const applied: string[] = [];
  try {
    await storage.query(BOOKKEEPING);
  } catch (e) {
    // Two replicas racing on CREATE TABLE IF NOT EXISTS can collide on the catalog; the second sees the table.
    const c = classify(e);
    if (c.code === 'STORAGE_UNAVAILABLE') throw c;
  }
  for (const set of sets) {
    const seen = new Set<string>();
    for (const m of set.migrations) {
      if (seen.has(m.id)) throw new StorageError('MIGRATION_FAILED', `migration ${set.namespace}/${m.id} is listed twice`);
      seen.add(m.id);
    }
    await storage.transaction(async (tx) => {
      if (storage.kind === 'postgres') await tx.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
      const done = await tx.query<{ id: string; sha256: string }>('SELECT id, sha256 FROM cloister_migrations WHERE namespace = $1', [set.namespace]);
      const have = new Map(done.rows.map((r) => [r.id, r.sha256]));
      for (const m of set.migrations) {
        const sha = createHash('sha256').update(m.sql).digest('hex');
        const prior = have.get(m.id);
        if (prior !== undefined) {
          if (prior !== sha) {
            throw new StorageError('MIGRATION_FAILED', `migration ${set.namespace}/${m.id} was applied with different SQL; add a new migration instead of editing an applied one`);
          }
          continue;
        }
        try {
          for (const statement of splitStatements(m.sql)) await tx.query(statement);
        } catch (e) {
          throw new StorageError('MIGRATION_FAILED', `migration ${set.namespace}/${m.id} failed: ${classify(e).message}`, undefined, { cause: e });
        }
        await tx.query('INSERT INTO cloister_migrations (namespace, id, sha256) VALUES ($1, $2, $3)', [set.namespace, m.id, sha]);
        applied.push(`${set.namespace}/${m.id}`);
      }
    });
  }
  return applied;
}

/**
 * Splits a migration into statements on `;` at the end of a line (the migrations are written that way; no
 * dollar-quoted bodies), so the same text runs through the extended protocol on both drivers.
 */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\r?\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}
