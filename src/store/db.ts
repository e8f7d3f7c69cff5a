/** The only module that talks to libSQL: opening, pragmas, migrations and a small query surface. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Client, InArgs, Row } from '@libsql/client';
import { MIGRATIONS } from './migrations.js';

export type { Row };
export type Statement = { sql: string; args?: InArgs };

export interface Db {
  all(sql: string, args?: InArgs): Promise<Row[]>;
  get(sql: string, args?: InArgs): Promise<Row | undefined>;
  run(sql: string, args?: InArgs): Promise<number>;
  /** Runs the statements in one write transaction; returns each one's changed-row count. */
  batch(statements: Statement[]): Promise<number[]>;
  migrate(): Promise<void>;
  close(): void;
}

export function isUniqueViolation(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : '';
  return /UNIQUE constraint failed: (\w+\.\w+)/.exec(message)?.[1];
}

export async function openDb(url: string): Promise<Db> {
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
  const db: Db = {
    all: async (sql, args = []) => (await client.execute({ sql, args })).rows,
    get: async (sql, args = []) => (await client.execute({ sql, args })).rows[0],
    run: async (sql, args = []) => (await client.execute({ sql, args })).rowsAffected,
    batch: async (statements) =>
      (await client.batch(statements.map(({ sql, args = [] }) => ({ sql, args })), 'write')).map((r) => r.rowsAffected),
    migrate: () => migrate(db),
    close: () => client.close(),
  };
  return db;
}

async function migrate(db: Db): Promise<void> {
  await db.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set((await db.all('SELECT version FROM schema_migrations')).map((row) => Number(row['version'])));
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
    } catch (error) {
      if (isUniqueViolation(error) !== 'schema_migrations.version') throw error;
    }
  }
}
