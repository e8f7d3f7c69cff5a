/**
 * vitest global setup: one throwaway PostgreSQL cluster for the whole run (fsync
 * off, loopback only), its URL provided to the test files, which each make a
 * database of their own (see postgres.ts). Debian's postgresql package; initdb
 * refuses root, so as root the cluster runs as the postgres user.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The admin URL of the throwaway cluster, or '' with the reason in postgresMissing. */
    postgresUrl: string;
    postgresMissing: string;
  }
}

const PG_ROOT = '/usr/lib/postgresql';

function binaries(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const version = readdirSync(PG_ROOT).sort().at(-1);
  const bin = version && join(PG_ROOT, version, 'bin');
  return bin && existsSync(join(bin, 'initdb')) ? bin : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a cluster command, as the postgres user when we are root. */
function run(command: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const quoted = command.map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
  const result = asRoot ? spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', quoted], { encoding: 'utf8' }) : spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command[0]} failed: ${result.stderr || result.stdout}`);
}

export interface Cluster {
  /** The admin URL (user postgres, database postgres). */
  url: string;
  /** `pg_ctl stop -m fast` and `start` on the same port: an outage and a recovery. */
  stop(): void;
  start(): void;
  destroy(): void;
}

/** A throwaway cluster: fsync off, loopback only, in a temporary folder. Undefined without PostgreSQL. */
export async function startCluster(): Promise<Cluster | undefined> {
  const bin = binaries();
  if (!bin) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  chmodSync(dir, 0o777);
  if (process.getuid?.() === 0) spawnSync('chown', ['postgres:postgres', dir]);
  const port = await freePort();
  const data = join(dir, 'data');
  run([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-N']);
  const start = () =>
    run([join(bin, 'pg_ctl'), '-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=300`, 'start']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => run([join(bin, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop']),
    start,
    destroy: () => {
      try {
        run([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export default async function setup(project: TestProject): Promise<() => void> {
  const cluster = await startCluster();
  if (!cluster) {
    const reason = 'PostgreSQL is missing (apt-get install -y postgresql)';
    if (process.env['CI'] === 'true') throw new Error(`CI=true and ${reason}: the test peer must be installed by .ci/run`);
    project.provide('postgresUrl', '');
    project.provide('postgresMissing', reason);
    return () => {};
  }
  project.provide('postgresUrl', cluster.url);
  project.provide('postgresMissing', '');
  return () => cluster.destroy();
}
