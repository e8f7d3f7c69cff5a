/**
 * The only module that talks to PostgreSQL (node-postgres): a pool of
 * `database_pool_size` connections for queries, the same small query surface
 * as the SQLite driver, and migrations under an advisory lock.
 */
import pg from 'pg';
import type { Args, Db, Lock, Queries, Row, Statement } from '../db.js';
import { StoreUnavailable } from '../types.js';
import { listen } from './listen.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

/** Advisory lock keys: one per race that must be decided in the database. */
const LOCKS = { migrate: 7_304_001, firstUser: 7_304_002, firstKey: 7_304_003 } as const;

// Millisecond timestamps are BIGINT, which pg hands out as strings; every value we keep fits in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** `?` placeholders (the SQLite spelling the shared queries use) as `$1`, `$2`, … */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const values = (args: Args | undefined) => args ?? [];

interface Counts {
  queries: number;
  failures: number;
  unavailable: number;
}

/** The query surface over one pooled client, or over the pool (a connection per query). */
function queriesOn(target: pg.Pool | pg.PoolClient, counts: Counts): Queries {
  const query = (sql: string, args?: Args) => {
    counts.queries++;
    return target.query(numbered(sql), values(args)).catch((error: unknown) => unavailable(error, counts));
  };
  return {
    all: async (sql, args) => (await query(sql, args)).rows as Row[],
    get: async (sql, args) => (await query(sql, args)).rows[0] as Row | undefined,
    run: async (sql, args) => (await query(sql, args)).rowCount ?? 0,
    notify: async (channel, items) => {
      // The send time rides along, for the receivers' lag metric.
      for (const payload of payloads(items)) await target.query('SELECT pg_notify($1, $2)', [channel, `${Date.now()}:${payload}`]);
    },
  };
}

/** NOTIFY payloads must stay under 8000 bytes: comma-separated values, split as needed. */
export function payloads(items: string[]): string[] {
  const out: string[] = [];
  let current = '';
  for (const item of items) {
    if (current !== '' && current.length + item.length + 1 > 7_000) {
      out.push(current);
      current = '';
    }
    current = current === '' ? item : `${current},${item}`;
  }
  if (current !== '') out.push(current);
  return out;
}

export async function openPostgresDb(url: string, poolSize: number): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 30_000 });
  // An idle client whose server went away emits 'error' on the pool: without a listener it would crash the process.
  pool.on('error', () => {});
  const counts: Counts = { queries: 0, failures: 0, unavailable: 0 };
  return {
    dialect: 'postgres',
    ...queriesOn(pool, counts),
    batch: (statements) => transaction(pool, counts, (tx) => runAll(tx, statements)),
    transaction: (work, lock) =>
      transaction(pool, counts, async (tx) => {
        if (lock) await takeLock(tx, lock);
        return work(tx);
      }),
    listen: (channel, handlers) => listen(url, channel, handlers),
    stats: () => ({ ...counts, pool: { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } }),
    migrate: () => migrate(pool),
    pendingMigrations: async () => {
      const { rows } = await pool.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
      if (!rows[0].present) return POSTGRES_MIGRATIONS.length;
      return POSTGRES_MIGRATIONS.length - (await pool.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n;
    },
    close: () => pool.end(),
  };
}

/** Held until the transaction ends. Keyed locks use the two-int4 key space, which never meets the named ones' bigint keys. */
async function takeLock(tx: Queries, lock: Lock): Promise<void> {
  if (typeof lock === 'string') await tx.run('SELECT pg_advisory_xact_lock(?)', [LOCKS[lock]]);
  else await tx.run('SELECT pg_advisory_xact_lock(1, hashtext(?))', [lock.key]);
}

async function runAll(tx: Queries, statements: Statement[]): Promise<number[]> {
  const counts: number[] = [];
  for (const { sql, args } of statements) counts.push(await tx.run(sql, args));
  return counts;
}

/** `work` in one transaction on one connection: committed when it returns, rolled back when it throws. */
async function transaction<T>(pool: pg.Pool, counts: Counts, work: (tx: Queries) => Promise<T>): Promise<T> {
  const client = await pool.connect().catch((error: unknown) => unavailable(error, counts));
  try {
    await client.query('BEGIN');
    const result = await work(queriesOn(client, counts));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Errors of reaching the server, not of the query: no connection, a connection cut,
 * a server shutting down or starting (SQLSTATE classes 08 and 57P).
 */
function unavailable(error: unknown, counts: Counts): never {
  const { code, message = '' } = error as { code?: string; message?: string };
  counts.failures++;
  const reaching =
    code?.startsWith('08') ||
    code?.startsWith('57P') ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code ?? '') ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(message);
  if (!reaching) throw error;
  counts.unavailable++;
  throw new StoreUnavailable(error);
}

/** Each migration in its own transaction, all under one advisory lock: replicas starting at once apply each exactly once. */
async function migrate(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCKS.migrate]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const applied = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((row) => Number(row['version'])));
    let count = 0;
    for (const [index, script] of POSTGRES_MIGRATIONS.entries()) {
      const version = index + 1;
      if (applied.has(version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(script);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
        await client.query('COMMIT');
        count++;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
    return count;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCKS.migrate]).catch(() => {});
    client.release();
  }
}
