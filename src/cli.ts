#!/usr/bin/env node
/** The `gatehouse` command: serve, and the admin tasks that work beside a running server. */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { CLI_ACTOR, parseSince } from './audit.js';
import { generateSigningKey } from './auth/tokens.js';
import { systemClock } from './clock.js';
import { loadConfig, redactedConfig, SETTINGS, type Config } from './config.js';
import { HttpError } from './errors.js';
import { createLogger, silentLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { startGatehouse } from './server.js';
import { createServices, type Services } from './services.js';
import { openDatabase, openSqlStore } from './store/sql-store.js';
import { CopyRefused, copyStore } from './store/copy.js';
import { databaseUrl } from './config-values.js';
import type { StoredAuditEvent } from './store/types.js';

const USAGE = `usage: gatehouse <command> [--config FILE] [--setting value ...]

  serve [--no-migrate]                    run the proxy and its auth endpoints (migrating the database first,
                                          unless --no-migrate: then an unmigrated database stops it)
  migrate                                 apply the database migrations and exit (a Kubernetes Job, a Helm hook)
  db copy --from URL --to URL             copy every table into an empty, migrated database (SQLite <-> PostgreSQL)
  user add NAME [--email E] [--admin]     create a user (password on stdin, or prompted)
  user passwd NAME                        set a new password (ends the user's sessions)
  user disable NAME | user enable NAME    disabling ends every session of the user
  user list                               list users
  sessions revoke --user NAME             end every session of a user
  keys rotate                             add a new signing key (used everywhere within 30s)
  audit [--user NAME] [--type T] [--since 1h|ISO time]
                                          the audit log, newest first: time, type, user, actor, address, details
  config check                            print the effective configuration, secrets redacted

Settings: see SPEC; any setting can be given as --name value or GATEHOUSE_NAME.`;

class UsageError extends Error {}

const settingFlags = Object.keys(SETTINGS).flatMap((name) => [name, name.replaceAll('_', '-')]);
const OPTIONS = {
  ...Object.fromEntries(settingFlags.map((flag) => [flag, { type: 'string' as const }])),
  config: { type: 'string' as const },
  email: { type: 'string' as const },
  user: { type: 'string' as const },
  admin: { type: 'boolean' as const },
  group: { type: 'string' as const, multiple: true },
  ttl: { type: 'string' as const },
  id: { type: 'string' as const },
  type: { type: 'string' as const },
  since: { type: 'string' as const },
  'no-migrate': { type: 'boolean' as const },
  from: { type: 'string' as const },
  to: { type: 'string' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help || positionals.length === 0) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const { email, user, admin, group, ttl, id, type, since, help: _help, 'no-migrate': noMigrate, from, to, ...configFlags } = values;
  const { config, errors, warnings } = loadConfig({
    flags: configFlags as Record<string, string>,
    env: process.env,
    readFile: (path) => readFileSync(path, 'utf8'),
  });
  const command = positionals.join(' ');
  // A server's warnings go where its operators read: its JSON log. Everything else talks on stderr.
  if (config && command === 'serve') return serve(config, warnings, { migrate: !noMigrate });
  for (const line of warnings) console.error(`gatehouse: warning: ${line}`);
  if (!config) {
    for (const line of errors) console.error(`gatehouse: ${line}`);
    return 2;
  }
  if (command === 'config check') {
    process.stdout.write(toYaml(redactedConfig(config)));
    return 0;
  }
  if (command === 'migrate') return migrate(config);
  if (command === 'db copy') return copy(from, to);
  const services = await openServices(config);
  try {
    return await runTask(services, positionals, { email, user, admin: admin ?? false, groups: [group ?? []].flat(), ttl, id, type, since });
  } finally {
    await services.store.close();
  }
}

async function migrate(config: Config): Promise<number> {
  const store = await openSqlStore(config.database_url, { poolSize: 2 });
  try {
    const applied = await store.migrate();
    console.log(applied === 0 ? 'the database is up to date' : `applied ${applied} migration${applied === 1 ? '' : 's'}; the database is up to date`);
    return 0;
  } finally {
    await store.close();
  }
}

/** Copies one store into another; the URLs are given whole, not read from the settings. */
async function copy(from: string | undefined, to: string | undefined): Promise<number> {
  if (!from || !to) throw new UsageError('db copy needs --from URL and --to URL');
  const [source, target] = await Promise.all([openDatabase(copyUrl('--from', from), 2), openDatabase(copyUrl('--to', to), 2)]);
  try {
    await copyStore(source, target, (line) => console.log(line));
    return 0;
  } catch (error) {
    if (!(error instanceof CopyRefused)) throw error;
    console.error(`gatehouse: ${error.message}`);
    return 2;
  } finally {
    await Promise.all([source.close(), target.close()]);
  }
}

function copyUrl(flag: string, url: string): string {
  try {
    return databaseUrl(url);
  } catch {
    throw new UsageError(`${flag} is not a database URL (file:, postgres(ql)://, libsql:// or http(s)://)`);
  }
}

async function serve(config: Config, warnings: string[], options: { migrate: boolean }): Promise<number> {
  const log = createLogger(config.log_level);
  for (const message of warnings) log.warn('config_warning', { message });
  // Listened for before the ports open: a SIGTERM right after "listening" must drain, not kill.
  const stopRequested = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  const running = await startGatehouse(config, { log, migrate: options.migrate });
  await stopRequested;
  log.info('draining');
  await running.close();
  return 0;
}

async function openServices(config: Config): Promise<Services> {
  const store = await openSqlStore(config.database_url, { poolSize: config.database_pool_size });
  await store.migrate();
  return createServices({ config, store, clock: systemClock, log: silentLogger, metrics: createMetrics() });
}

interface TaskFlags {
  email?: string;
  user?: string;
  admin: boolean;
  /** Every --group given. */
  groups: string[];
  ttl?: string;
  id?: string;
  type?: string;
  since?: string;
}

async function runTask(services: Services, [noun, verb, name, ...rest]: string[], flags: TaskFlags): Promise<number> {
  if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
  const task = [noun, verb].filter(Boolean).join(' ');
  const { store, accounts, sessions, audit } = services;
  const by = { actor: CLI_ACTOR };
  const findUser = async (username: string | undefined) => {
    if (!username) throw new UsageError(`${task} needs a user name`);
    const found = await store.findUserByLogin(username);
    if (!found) throw new HttpError('user_not_found', `no user named ${username}`);
    return found;
  };
  switch (task) {
    case 'user add': {
      if (!name) throw new UsageError('user add needs a user name');
      const created = await accounts.register({ username: name, email: flags.email, password: await readPassword(), admin: flags.admin, by });
      // An address an administrator sets counts as confirmed (SPEC section 5).
      if (created.email) await store.setEmail(created.id, created.email, true);
      console.log(`created ${created.username}${created.groups.includes('admins') ? ' (admin)' : ''}`);
      return 0;
    }
    case 'user passwd': {
      const found = await findUser(name);
      await accounts.changePassword(found, await readPassword(), { by });
      console.log(`password of ${found.username} changed; its sessions have ended`);
      return 0;
    }
    case 'user disable':
    case 'user enable': {
      const found = await findUser(name);
      await accounts.setDisabled(found, verb === 'disable', by);
      console.log(`${found.username} ${verb}d`);
      return 0;
    }
    case 'user list': {
      for (const u of await store.listUsers()) {
        console.log([u.username, u.email ?? '-', u.groups.join(',') || '-', u.disabled ? 'disabled' : 'active', u.id].join('\t'));
      }
      return 0;
    }
    case 'sessions revoke': {
      const found = await findUser(flags.user ?? name);
      const ended = await sessions.endAllOfUser(found.id, 'admin_revoked');
      await audit.record({ type: 'sessions_revoked', user: found, actor: CLI_ACTOR, details: { count: ended } });
      console.log(`ended ${ended} session(s) of ${found.username}`);
      return 0;
    }
    case 'keys rotate': {
      const key = await generateSigningKey(Date.now());
      await store.addSigningKey(key);
      await audit.record({ type: 'signing_key_added', actor: CLI_ACTOR, details: { kid: key.kid } });
      console.log(`added signing key ${key.kid}; running instances sign with it within 30s`);
      return 0;
    }
    case 'audit':
      return printAudit(services, flags);
    default:
      throw new UsageError(`unknown command: ${[noun, verb].filter(Boolean).join(' ')}`);
  }
}

/** Every matching event, newest first, a page at a time (a long log is never held whole). */
async function printAudit({ store, clock }: Services, flags: TaskFlags): Promise<number> {
  const since = flags.since === undefined ? undefined : parseSince(flags.since, clock.now());
  if (flags.since !== undefined && since === undefined) throw new UsageError('--since is a duration (30m, 1h, 7d) or an ISO 8601 time');
  // A deleted user is found by the name the events recorded.
  const found = flags.user === undefined ? undefined : await store.findUserByLogin(flags.user);
  const who = flags.user === undefined ? {} : found ? { userId: found.id } : { username: flags.user };
  let before: number | undefined;
  for (;;) {
    const page = await store.listAuditEvents({ ...who, type: flags.type, since, before, limit: 500 });
    for (const event of page) console.log(auditLine(event));
    if (page.length < 500) return 0;
    before = page.at(-1)!.id;
  }
}

/** One event as a line of tab-separated columns; `-` for what it lacks. */
function auditLine(e: StoredAuditEvent): string {
  const actor = e.actorUsername === null ? e.actorKind : `${e.actorKind}:${e.actorUsername}`;
  const details = Object.keys(e.details).length === 0 ? '-' : JSON.stringify(e.details);
  return [new Date(e.at).toISOString(), e.type, e.username ?? e.userId ?? '-', actor, e.address ?? '-', details].join('\t');
}

/** The first line of stdin, or a hidden prompt (asked twice) on a terminal. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  const first = await prompt('Password: ');
  if ((await prompt('Again: ')) !== first) throw new UsageError('the passwords differ');
  return first;
}

function prompt(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const output = rl as unknown as { _writeToOutput: (text: string) => void };
  output._writeToOutput = (text) => process.stdout.write(text.startsWith(question) ? question : '');
  return new Promise((resolve) =>
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    }),
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`gatehouse: ${(error as Error).message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof HttpError) {
      console.error(`gatehouse: ${error.message}`);
      process.exit(1);
    }
    console.error(`gatehouse: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
