/** The storage layer on embedded PGlite and on a real PostgreSQL server: migrations, transactions, outages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openStorage, splitStatements, StorageError, type MigrationSet, type Storage } from '../src/index.js';
import { startTestPostgres } from '../src/testing/postgres-server.js';

const SET: MigrationSet = {
  namespace: 'test',
  migrations: [
    { id: '001-items', sql: 'CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, body bytea);\nCREATE INDEX items_name ON items (name);' },
    { id: '002-notes', sql: 'ALTER TABLE items ADD COLUMN note jsonb;' },
  ],
};

async function exercise(s: Storage): Promise<void> {
  await s.query('INSERT INTO items (name, body, note) VALUES ($1, $2, $3)', ['a', new Uint8Array([1, 2, 255]), JSON.stringify({ k: 1 })]);
  const r = await s.query<{ name: string; body: Uint8Array; note: { k: number } }>('SELECT name, body, note FROM items');
  assert.equal(r.rows.length, 1);
  assert.deepEqual([...r.rows[0]!.body], [1, 2, 255]);
  assert.deepEqual(r.rows[0]!.note, { k: 1 });
  // A failing transaction leaves nothing behind.
  await assert.rejects(
    s.transaction(async (tx) => {
      await tx.query('INSERT INTO items (name) VALUES ($1)', ['b']);
      await tx.query('INSERT INTO items (name) VALUES ($1)', ['a']); // unique violation
    }),
    (e: unknown) => e instanceof StorageError && e.code === 'STORAGE_CONFLICT' && e.sqlState === '23505',
  );
  assert.equal((await s.query('SELECT 1 FROM items WHERE name = $1', ['b'])).rows.length, 0);
  await s.transaction(async (tx) => {
    await tx.query('INSERT INTO items (name) VALUES ($1)', ['c']);
  });
  assert.equal((await s.query('SELECT 1 FROM items')).rows.length, 2);
  assert.equal(await s.ping(), true);
}

test('splitStatements splits on line-ending semicolons and drops comments', () => {
  assert.deepEqual(splitStatements('-- x\nCREATE TABLE a (x int);\n\nCREATE TABLE b (y int);'), ['CREATE TABLE a (x int)', 'CREATE TABLE b (y int)']);
});

test('PGlite on disk: migrations once, data survives a reopen, an edited migration is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-pglite-'));
  try {
    const s1 = await openStorage({ dataDir: dir }, [SET]);
    assert.equal(s1.kind, 'pglite');
    await exercise(s1);
    await s1.close();
    const s2 = await openStorage({ dataDir: dir }, [SET]);
    assert.equal((await s2.query('SELECT 1 FROM items')).rows.length, 2);
    await s2.close();
    const edited: MigrationSet = { namespace: 'test', migrations: [{ id: '001-items', sql: 'CREATE TABLE other (x int);' }] };
    await assert.rejects(openStorage({ dataDir: dir }, [edited]), (e: unknown) => (e as StorageError).code === 'MIGRATION_FAILED');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad database URL is refused before connecting', async () => {
  await assert.rejects(openStorage({ databaseUrl: 'mysql://x' }, [SET]), (e: unknown) => (e as StorageError).code === 'STORAGE_INVALID');
});

test('PostgreSQL: two replicas migrate together once, share data, survive an outage', async () => {
  const pg = await startTestPostgres();
  try {
    const [a, b] = await Promise.all([openStorage({ databaseUrl: pg.url }, [SET]), openStorage({ databaseUrl: pg.url }, [SET])]);
    try {
      const applied = await a.query<{ n: string }>("SELECT count(*)::text AS n FROM cloister_migrations WHERE namespace = 'test'");
      assert.equal(applied.rows[0]!.n, '2');
      await exercise(a);
      assert.equal((await b.query('SELECT 1 FROM items')).rows.length, 2, 'replica b sees what a wrote');
      await pg.stop();
      await assert.rejects(b.query('SELECT 1 FROM items'), (e: unknown) => (e as StorageError).code === 'STORAGE_UNAVAILABLE');
      assert.equal(await b.ping(), false);
      await pg.start();
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await b.ping();
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(ok, true, 'reconnects when the database returns');
      assert.equal((await b.query('SELECT 1 FROM items')).rows.length, 2);
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await pg.destroy();
  }
});

test('an error thrown by the transaction callback itself passes through unchanged (after rollback)', async () => {
  const s = await openStorage({ memory: true }, [SET]);
  try {
    class Refusal extends Error {
      readonly code = 'POLICY_MISMATCH';
    }
    await assert.rejects(
      s.transaction(async (tx) => {
        await tx.query('INSERT INTO items (name) VALUES ($1)', ['z']);
        throw new Refusal('no');
      }),
      (e: unknown) => e instanceof Refusal && e.code === 'POLICY_MISMATCH',
    );
    assert.equal((await s.query('SELECT 1 FROM items')).rows.length, 0, 'rolled back');
  } finally {
    await s.close();
  }
});
