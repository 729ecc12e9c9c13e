/**
 * Opens the storage a service was configured with — `{ databaseUrl }` (PostgreSQL, for replicas), `{ dataDir }`
 * (embedded PGlite on disk) or `{ memory: true }` — and brings its schema up to date with the same migrations.
 */
import { mkdirSync } from 'node:fs';
import { StorageError } from './errors.js';
import { migrate } from './migrate.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';
import type { MigrationSet, Storage } from './types.js';

export type StorageConfig =
  | { readonly databaseUrl: string; readonly poolSize?: number }
  | { readonly dataDir: string }
  | { readonly memory: true };

export async function openStorage(config: StorageConfig, migrations: readonly MigrationSet[]): Promise<Storage> {
  let storage: Storage;
  if ('databaseUrl' in config) {
    if (!/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
      throw new StorageError('STORAGE_INVALID', 'the database URL must start with postgres:// or postgresql://');
    }
    storage = await openPostgres({ connectionString: config.databaseUrl, ...(config.poolSize !== undefined ? { max: config.poolSize } : {}) });
  } else if ('dataDir' in config) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    storage = await openPglite(config.dataDir);
  } else {
    storage = await openPglite(undefined);
  }
  try {
    await migrate(storage, migrations);
  } catch (e) {
    await storage.close().catch(() => undefined);
    throw e;
  }
  return storage;
}

/** A short description for logs and `/readyz` (never the password). */
export function describeStorage(config: StorageConfig): string {
  if ('databaseUrl' in config) {
    try {
      const u = new URL(config.databaseUrl);
      return `postgresql://${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
    } catch {
      return 'postgresql (unparsable URL)';
    }
  }
  if ('dataDir' in config) return `pglite ${config.dataDir}`;
  return 'pglite (in memory)';
}
