/**
 * The only module that talks to PostgreSQL (node-postgres): a pool of
 * `database_pool_size` connections for queries, the same small query surface
 * as the SQLite driver, and migrations under an advisory lock.
 */
import pg from 'pg';
import type { Db, Row, Statement } from '../db.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

/** pg_advisory_xact_lock keys: one per race that must be decided in the database. */
export const LOCKS = { migrate: 7_304_001, firstUser: 7_304_002, firstKey: 7_304_003 } as const;

// Millisecond timestamps are BIGINT, which pg hands out as strings; every value we keep fits in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** `?` placeholders (the SQLite spelling the shared queries use) as `$1`, `$2`, … */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

type Args = Statement['args'];
const values = (args: Args) => (Array.isArray(args) ? args : []) as unknown[];

export async function openPostgresDb(url: string, poolSize: number): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  // An idle client whose server went away emits 'error' on the pool: without a listener it would crash the process.
  pool.on('error', () => {});
  const query = async (sql: string, args: Args) => pool.query(numbered(sql), values(args));

  const db: Db = {
    dialect: 'postgres',
    all: async (sql, args) => (await query(sql, args)).rows as Row[],
    get: async (sql, args) => (await query(sql, args)).rows[0] as Row | undefined,
    run: async (sql, args) => (await query(sql, args)).rowCount ?? 0,
    batch: (statements) => transaction(pool, statements),
    migrate: () => migrate(pool),
    close: () => void pool.end(),
  };
  return db;
}

/** The statements in one transaction on one connection; each one's changed-row count. */
async function transaction(pool: pg.Pool, statements: Statement[]): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const counts: number[] = [];
    for (const { sql, args } of statements) counts.push((await client.query(numbered(sql), values(args))).rowCount ?? 0);
    await client.query('COMMIT');
    return counts;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Each migration in its own transaction, all under one advisory lock: replicas starting at once apply each exactly once. */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCKS.migrate]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const applied = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((row) => Number(row['version'])));
    for (const [index, script] of POSTGRES_MIGRATIONS.entries()) {
      const version = index + 1;
      if (applied.has(version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(script);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCKS.migrate]).catch(() => {});
    client.release();
  }
}

/** 'table.column' of a unique violation, in the same form the SQLite driver reports it. */
export function postgresUniqueViolation(error: unknown): string | undefined {
  const e = error as { code?: string; table?: string; detail?: string };
  if (e?.code !== '23505' || !e.table) return undefined;
  const column = /^Key \(([\w]+)\)/.exec(e.detail ?? '')?.[1];
  return column && `${e.table}.${column}`;
}
