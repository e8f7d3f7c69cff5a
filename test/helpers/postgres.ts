/**
 * A database of its own for a test file, on the throwaway cluster that
 * postgres-cluster.ts starts for the run. Without PostgreSQL (a developer
 * machine) the tests that need it skip loudly; in CI they fail.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export const postgres = { available: inject('postgresUrl') !== '', reason: inject('postgresMissing') };
if (!postgres.available) console.warn(`\n*** SKIPPING tests that need ${postgres.reason} ***\n`);

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('postgresUrl') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database; its URL. */
export async function createDatabase(): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(inject('postgresUrl'));
  url.pathname = `/${name}`;
  return url.href;
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
