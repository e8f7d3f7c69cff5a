/**
 * `gatehouse db copy --from URL --to URL`: every table from one store to another
 * (SQLite to PostgreSQL and back), into an empty target that is migrated, then each
 * table's row count checked on both sides.
 */
import type { Db, Row } from './db.js';

/** In an order that satisfies the foreign keys; each with the order its rows were added in. */
const TABLES: readonly { name: string; order?: { sqlite: string; postgres: string }; derived?: true }[] = [
  { name: 'users' },
  // Filled from users.groups by the target's own triggers as users are copied: counted, not copied.
  { name: 'user_groups', derived: true },
  { name: 'sessions' },
  { name: 'signing_keys', order: { sqlite: 'rowid', postgres: 'seq' } },
  { name: 'recovery_codes' },
  { name: 'one_time_tokens' },
  { name: 'mail_queue', order: { sqlite: 'id', postgres: 'id' } },
  { name: 'throttle_events', order: { sqlite: 'rowid', postgres: 'id' } },
  { name: 'bans' },
  { name: 'webauthn_credentials' },
  { name: 'leases' },
  { name: 'audit_events', order: { sqlite: 'id', postgres: 'id' } },
  { name: 'oidc_identities' },
  { name: 'oidc_sessions' },
];
/** Tables whose ids are copied as they are (a cursor or a reference may hold one), not numbered afresh. */
const KEPT_IDS = new Set(['mail_queue', 'audit_events']);
/** Columns one dialect adds for the order of rows (SQLite keeps it in rowid): never copied, the target numbers its own. */
const ORDER_COLUMNS: Record<string, string> = { signing_keys: 'seq', throttle_events: 'id' };
const BATCH = 500;

export class CopyRefused extends Error {}

export async function copyStore(from: Db, to: Db, report: (line: string) => void): Promise<void> {
  await checkTables(from);
  await checkTables(to);
  if ((await from.pendingMigrations()) > 0) throw new CopyRefused('the source lacks migrations: run `gatehouse migrate` on it first');
  if ((await to.pendingMigrations()) > 0) throw new CopyRefused('the target lacks migrations: run `gatehouse migrate` on it first');
  for (const { name } of TABLES) {
    if (await to.get(`SELECT 1 FROM ${name} LIMIT 1`)) throw new CopyRefused(`the target is not empty (table ${name} has rows)`);
  }
  for (const table of TABLES) {
    const order = table.order ? ` ORDER BY ${table.order[from.dialect]}` : '';
    const rows = table.derived ? [] : (await from.all(`SELECT * FROM ${table.name}${order}`)).map((row) => withoutOrderColumn(table.name, row));
    for (let i = 0; i < rows.length; i += BATCH) await to.batch(rows.slice(i, i + BATCH).map((row) => insert(to, table.name, row)));
    if (KEPT_IDS.has(table.name) && to.dialect === 'postgres') {
      // The ids were copied as they were: the identity continues after the highest.
      await to.run(`SELECT setval(pg_get_serial_sequence('${table.name}', 'id'), GREATEST((SELECT MAX(id) FROM ${table.name}), 1))`);
    }
    const [source, target] = await Promise.all([count(from, table.name), count(to, table.name)]);
    if (source !== target) throw new Error(`${table.name}: ${source} rows in the source but ${target} in the target`);
    report(`${table.name}: ${target} rows copied and counted`);
  }
}

/** Refuses a database with a table this copy does not know: a newer schema would lose it silently. */
async function checkTables(db: Db): Promise<void> {
  const listed =
    db.dialect === 'sqlite'
      ? await db.all(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
      : await db.all(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()`);
  const known = new Set(['schema_migrations', ...TABLES.map((table) => table.name)]);
  const unknown = listed.map((row) => String(row['name'])).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new CopyRefused(`unknown tables ${unknown.join(', ')}: this version of gatehouse cannot copy them`);
}

function withoutOrderColumn(table: string, row: Row): Row {
  const column = ORDER_COLUMNS[table];
  if (column === undefined || !(column in row)) return row;
  const { [column]: _dropped, ...rest } = row;
  return rest;
}

function insert(to: Db, table: string, row: Row) {
  const columns = Object.keys(row);
  // PostgreSQL numbers an identity column itself unless told to keep the value given.
  const overriding = to.dialect === 'postgres' && KEPT_IDS.has(table) ? ' OVERRIDING SYSTEM VALUE' : '';
  return {
    sql: `INSERT INTO ${table} (${columns.join(', ')})${overriding} VALUES (${columns.map(() => '?').join(', ')})`,
    args: columns.map((column) => row[column]),
  };
}

const count = async (db: Db, table: string) => Number((await db.get(`SELECT COUNT(*) AS n FROM ${table}`))?.['n'] ?? 0);
