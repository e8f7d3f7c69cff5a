/**
 * The schema as an operator meets it (SPEC section 9): `gatehouse migrate` for a Job
 * or Helm hook, `serve --no-migrate` refusing a database that lacks migrations, and
 * replicas started at once on an empty PostgreSQL database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { gatehouseEnv, runCli, spawnServer, type ServerProcess } from '../helpers/process.js';
import { createDatabase, dropDatabase, postgres } from '../helpers/postgres.js';

const dirs: string[] = [];
const databases: string[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  for (const url of databases) await dropDatabase(url);
});

const newDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-'));
  dirs.push(dir);
  return dir;
};

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
}

const databaseKinds: [string, () => Promise<string>][] = [
  ['SQLite', async () => `file:${join(newDir(), 'gatehouse.db')}`],
  ...(postgres.available
    ? [['PostgreSQL', async () => {
        const url = await createDatabase();
        databases.push(url);
        return url;
      }] as [string, () => Promise<string>]]
    : []),
];

describe.each(databaseKinds)('on %s', (_kind, newDatabase) => {
  it('refuses to serve an unmigrated database with --no-migrate, in one line; migrate applies the schema once; then it serves', async () => {
    const env = gatehouseEnv(newDir(), { GATEHOUSE_DATABASE_URL: await newDatabase() });
    const refused = await runCli(['serve', '--no-migrate'], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^gatehouse: the database lacks \d+ migrations?; run `gatehouse migrate` first/)]);

    const migrated = await runCli(['migrate'], env);
    expect(migrated.status, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/^applied \d+ migrations?; the database is up to date/);
    expect((await runCli(['migrate'], env)).stdout).toMatch(/^the database is up to date/);

    const server = await spawnServer(env, [process.execPath, 'dist/cli.js', 'serve', '--no-migrate']);
    try {
      expect((await fetch(`${server.managementUrl}/readyz`)).status).toBe(200);
    } finally {
      await stop(server);
    }
  });
});

describe.runIf(postgres.available)('replicas started at once on an empty PostgreSQL database', () => {
  it('all start, on one schema and one signing key', async () => {
    const url = await databaseKinds[1]![1]();
    const servers = await Promise.all(Array.from({ length: 3 }, () => spawnServer(gatehouseEnv(newDir(), { GATEHOUSE_DATABASE_URL: url }))));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect((await client.query('SELECT count(*)::int AS n FROM signing_keys')).rows[0].n).toBe(1);
      const versions = (await client.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((row) => row.version as number);
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
      const jwks = await Promise.all(servers.map(async (server) => (await (await fetch(`${server.url}/_auth/jwks.json`)).json()) as { keys: { kid: string }[] }));
      expect(new Set(jwks.map((set) => set.keys.map((k) => k.kid).join()))).toHaveProperty('size', 1);
    } finally {
      await client.end();
      await Promise.all(servers.map(stop));
    }
  });
});
