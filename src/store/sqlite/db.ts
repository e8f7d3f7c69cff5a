/** The only module that talks to libSQL (embedded SQLite or a libSQL server): opening, pragmas, migrations. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Client, InArgs } from '@libsql/client';
import { isUniqueViolation, type Args, type Db, type Queries, type Row } from '../db.js';
import { MIGRATIONS } from './migrations.js';

export async function openSqliteDb(url: string): Promise<Db> {
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).split('?')[0]!;
    if (path !== ':memory:' && !path.startsWith('//')) mkdirSync(dirname(path), { recursive: true });
  }
  // A file database loads only the embedded driver: the remote clients (HTTP, WebSocket)
  // would add about 5 MiB to every process that never uses them.
  const { createClient } = url.startsWith('file:') ? await import('@libsql/client/sqlite3') : await import('@libsql/client');
  // timeout: how long a writer waits for another process's lock (the CLI beside a running server).
  const client: Client = createClient({ url, timeout: 5000 });
  if (url.startsWith('file:')) {
    await client.execute('PRAGMA journal_mode = WAL');
  }
  return wrap(client);
}

function wrap(client: Client): Db {
  const counts = { queries: 0, failures: 0, unavailable: 0 };
  const execute = (sql: string, args: Args = []) => {
    counts.queries++;
    return client.execute({ sql, args: args as InArgs }).catch((error: unknown) => {
      counts.failures++;
      throw error;
    });
  };
  const queries: Queries = {
    all: async (sql, args) => (await execute(sql, args)).rows as Row[],
    get: async (sql, args) => (await execute(sql, args)).rows[0] as Row | undefined,
    run: async (sql, args) => (await execute(sql, args)).rowsAffected,
    notify: async () => {},
  };
  const db: Db = {
    dialect: 'sqlite',
    ...queries,
    batch: async (statements) =>
      (await client.batch(statements.map(({ sql, args = [] }) => ({ sql, args: args as InArgs })), 'write')).map((r) => r.rowsAffected),
    transaction: (work) => work(queries),
    stats: () => ({ ...counts }),
    migrate: () => migrate(db),
    pendingMigrations: async () => MIGRATIONS.length - (await appliedVersions(db)).size,
    close: async () => client.close(),
  };
  return db;
}

async function appliedVersions(db: Queries): Promise<Set<number>> {
  const table = await db.get("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  if (!table) return new Set();
  return new Set((await db.all('SELECT version FROM schema_migrations')).map((row) => Number(row['version'])));
}

async function migrate(db: Db): Promise<number> {
  await db.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = await appliedVersions(db);
  let count = 0;
  for (const [index, script] of MIGRATIONS.entries()) {
    const version = index + 1;
    if (applied.has(version)) continue;
    const statements = script.split(/;\s*$/m).map((sql) => sql.trim()).filter(Boolean);
    try {
      // The version row goes first: a replica migrating at the same moment fails on it and changes nothing.
      await db.batch([
        { sql: 'INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', args: [version, Date.now()] },
        ...statements.map((sql) => ({ sql })),
      ]);
      count++;
    } catch (error) {
      if (isUniqueViolation(error) !== 'schema_migrations.version') throw error;
    }
  }
  return count;
}
