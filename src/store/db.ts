/**
 * What the shared SQL of the store needs from a database driver. Two drivers
 * implement it, each in its folder with its own migrations: sqlite/ (libSQL:
 * embedded SQLite, or a libSQL server) and postgres/ (node-postgres). The
 * queries are written once, with `?` placeholders; where the dialects differ,
 * the query says so by `db.dialect`.
 */
import type { StoreStats, Subscription } from './types.js';

export type Row = Record<string, unknown>;
export type Args = unknown[];
export interface Statement {
  sql: string;
  args?: Args;
}

/** Races that must be decided in the database, not in one process: a named one, or one per key (a throttle key). */
export type Lock = 'firstUser' | 'firstKey' | { key: string };

export interface Queries {
  all(sql: string, args?: Args): Promise<Row[]>;
  get(sql: string, args?: Args): Promise<Row | undefined>;
  run(sql: string, args?: Args): Promise<number>;
  /** Tells every listening replica (PostgreSQL NOTIFY, delivered at commit); nothing on SQLite, whose replicas read instead. */
  notify(channel: Channel, values: string[]): Promise<void>;
}

/** What replicas tell each other through the database. */
export type Channel = 'gatehouse_revocations';

export interface Db extends Queries {
  dialect: 'sqlite' | 'postgres';
  /** Runs the statements in one write transaction; returns each one's changed-row count. */
  batch(statements: Statement[]): Promise<number[]>;
  /**
   * Runs `work` in one transaction, and with a `lock`, never beside another holder
   * of it (PostgreSQL: an advisory lock). On SQLite, a single writer already, `work`
   * runs as it is: keep it to one statement that writes.
   */
  transaction<T>(work: (tx: Queries) => Promise<T>, lock?: Lock): Promise<T>;
  /** A standing subscription to a channel (PostgreSQL only). */
  listen?(channel: Channel, handlers: { onMessage(values: string[], sentAt: number): void; onConnected(): void; onDisconnected(error: unknown): void }): Subscription;
  stats(): StoreStats;
  /** Applies the migrations not yet applied; returns how many it applied. */
  migrate(): Promise<number>;
  /** How many migrations this database still lacks. */
  pendingMigrations(): Promise<number>;
  close(): Promise<void>;
}

/** 'table.column' of a unique-constraint violation, from either driver; undefined for any other error. */
export function isUniqueViolation(error: unknown): string | undefined {
  const pgError = error as { code?: unknown; table?: string; detail?: string };
  if (pgError?.code === '23505' && pgError.table) {
    const column = /^Key \((\w+)\)/.exec(pgError.detail ?? '')?.[1];
    return column && `${pgError.table}.${column}`;
  }
  const message = error instanceof Error ? error.message : '';
  return /UNIQUE constraint failed: (\w+\.\w+)/.exec(message)?.[1];
}
