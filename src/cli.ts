#!/usr/bin/env node
/** The `gatehouse` command: serve, and the admin tasks that work beside a running server. */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { CLI_ACTOR, parseSince, type Cause } from './audit.js';
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
import { checkGroupName, checkGroupNames } from './admin/groups.js';
import { loginKey, type Store, type StoredAuditEvent, type User } from './store/types.js';
import { sessionJson } from './handlers/admin-common.js';
import { endAllSessions, endSession, liveSessions } from './handlers/admin-sessions.js';
import { addPerson } from './handlers/admin-invites.js';
import { createInvite, inviteTerms, inviteTtl } from './auth/invites.js';
import { MAX_LIMIT } from './handlers/paging.js';

const USAGE = `usage: gatehouse <command> [--config FILE] [--setting value ...]

  serve [--no-migrate]                    run the proxy and its auth endpoints (migrating the database first,
                                          unless --no-migrate: then an unmigrated database stops it)
  migrate                                 apply the database migrations and exit (a Kubernetes Job, a Helm hook)
  db copy --from URL --to URL             copy every table into an empty, migrated database (SQLite <-> PostgreSQL)
  user add NAME [--email E] [--group G]... [--admin] [--ttl 7d]
                                          create a user; the password is the first line of stdin, or prompted
                                          on a terminal. An empty one (empty stdin, or Enter) creates the user
                                          without a password and prints a single-use link (valid --ttl, 1h-30d,
                                          default 7d) with which the user sets one
  invite create [--email E] [--group G]... [--ttl 7d]
                                          print a single-use registration link and its expiry (--ttl 1h-30d,
                                          default 7d); it works whatever registration says, puts the new
                                          account in the groups, and with --email only for that address
  user passwd NAME                        set a new password (ends the user's sessions)
  user disable NAME | user enable NAME    disabling ends every session of the user
  user list [--group G]                   list users (of one group)
  user show NAME                          profile, groups, second factors, ban and sessions
  user delete NAME                        delete a user, ending their sessions
  user unban NAME                         lift the account's sign-in ban (not bans of client addresses)
  user reset-factors NAME                 remove TOTP, recovery codes and passkeys
  group list                              groups and how many members each has
  group add GROUP USER...                 add users to a group (every name is checked before any change)
  group remove GROUP USER...              remove users from a group (likewise)
  sessions list [--user NAME]             list live sessions: id, user, device, address, created, last used
  sessions revoke --user NAME | --id ID   end every session of a user, or one session
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

/** The commands that name nobody: a word after them is a mistake, never silently ignored. */
const TAKES_NO_NAME = new Set(['invite create', 'user list', 'group list', 'sessions list', 'keys rotate', 'config check']);

/** Who the command line's changes are audited as (no client address). */
const CLI: Cause = { actor: CLI_ACTOR };

async function runTask(services: Services, [noun, verb, name, ...rest]: string[], flags: TaskFlags): Promise<number> {
  const task = [noun, verb].filter(Boolean).join(' ');
  if (task === 'group add' || task === 'group remove') return groupMembers(services, verb === 'add', name, rest);
  const extra = TAKES_NO_NAME.has(task) ? name : rest[0];
  if (extra !== undefined) throw new UsageError(`unexpected argument: ${extra}`);
  const { store, accounts, people } = services;
  const findUser = (login: string | undefined) => userNamed(store, login, task);
  switch (task) {
    case 'user add': {
      if (!name) throw new UsageError('user add needs a user name');
      const ttl = inviteTtl(flags.ttl);
      // An empty password (empty stdin, or Enter at the prompt): the account has none until its user sets one through the link.
      const password = (await readPassword()) || undefined;
      const { user: created, link } = await addPerson(
        services,
        { username: name, email: flags.email, password, admin: flags.admin, groups: checkGroupNames(flags.groups) },
        CLI,
        ttl,
      );
      console.log(`created ${created.username}${created.groups.includes('admins') ? ' (admin)' : ''}`);
      if (link) {
        console.log(`${created.username} has no password yet; this single-use link sets one until ${new Date(link.expiresAt).toISOString()}:`);
        console.log(link.url);
      }
      return 0;
    }
    case 'invite create': {
      const terms = inviteTerms(flags.email, flags.groups);
      const invite = await createInvite(services, terms, inviteTtl(flags.ttl), CLI);
      const expiresAt = new Date(invite.expiresAt).toISOString();
      console.log(invite.url);
      console.log(`single use, expires ${expiresAt}`);
      return 0;
    }
    case 'user passwd': {
      const found = await findUser(name);
      await accounts.changePassword(found, await readPassword(), { by: CLI });
      console.log(`password of ${found.username} changed; its sessions have ended`);
      return 0;
    }
    case 'user disable':
    case 'user enable': {
      const found = await findUser(name);
      const changed = await people.setDisabled(CLI, found, verb === 'disable');
      console.log(changed ? `${found.username} ${verb}d` : `${found.username} was ${verb}d already`);
      return 0;
    }
    case 'user list': {
      if (flags.groups.length > 1) throw new UsageError('user list takes one --group');
      const group = flags.groups[0];
      const users = everyRow((limit, after: string | undefined) => store.findUsers({ group: group && checkGroupName(group), limit, after }), (u) => loginKey(u.username));
      for await (const u of users) {
        console.log([u.username, u.email ?? '-', u.groups.join(',') || '-', u.disabled ? 'disabled' : 'active', u.id].join('\t'));
      }
      return 0;
    }
    case 'user show':
      return showUser(services, await findUser(name));
    case 'user delete': {
      const found = await findUser(name);
      await people.delete(CLI, found);
      console.log(`deleted ${found.username}; their sessions have ended`);
      return 0;
    }
    case 'user unban': {
      const found = await findUser(name);
      await people.unban(CLI, found);
      console.log(`lifted the sign-in ban of ${found.username}`);
      return 0;
    }
    case 'user reset-factors': {
      const found = await findUser(name);
      await people.resetFactors(CLI, found);
      console.log(`removed the second factors of ${found.username}: TOTP, recovery codes, passkeys`);
      return 0;
    }
    case 'group list': {
      for await (const group of everyRow((limit, after: string | undefined) => store.listGroups({ limit, after }), (g) => g.name)) {
        console.log(`${group.name}\t${group.members}`);
      }
      return 0;
    }
    case 'sessions list': {
      const found = flags.user === undefined ? undefined : await findUser(flags.user);
      const rows: string[][] = [];
      const sessions = everyRow(
        (limit, after: { createdAt: number; id: string } | undefined) => liveSessions(services, { userId: found?.id, limit, after }),
        (last) => ({ createdAt: last.createdAt, id: last.id }),
      );
      for await (const listed of sessions) {
        const s = sessionJson(listed, { id: listed.userId, username: listed.username });
        rows.push([s.id, s.user.username, s.device, s.address ?? '-', s.created_at, s.last_used_at]);
      }
      console.log(table(['ID', 'USER', 'DEVICE', 'ADDRESS', 'CREATED', 'LAST USED'], rows));
      return 0;
    }
    case 'sessions revoke': {
      if (flags.id !== undefined) {
        if (flags.user !== undefined || name !== undefined) throw new UsageError('sessions revoke takes --id or --user, not both');
        if (!(await endSession(services, flags.id, CLI))) throw new HttpError('session_not_found', `no live session ${flags.id}`);
        console.log(`ended session ${flags.id}`);
        return 0;
      }
      const found = await findUser(flags.user ?? name);
      const ended = await endAllSessions(services, found, CLI);
      console.log(`ended ${ended} session(s) of ${found.username}`);
      return 0;
    }
    case 'keys rotate': {
      const key = await generateSigningKey(Date.now());
      await store.addSigningKey(key);
      await services.audit.record({ type: 'signing_key_added', ...CLI, details: { kid: key.kid } });
      console.log(`added signing key ${key.kid}; running instances sign with it within 30s`);
      return 0;
    }
    case 'audit':
      return printAudit(services, flags);
    default:
      throw new UsageError(`unknown command: ${[noun, verb].filter(Boolean).join(' ')}`);
  }
}

/** The user a command names by username or email; a usage error when it names none. */
async function userNamed(store: Store, login: string | undefined, task: string): Promise<User> {
  if (!login) throw new UsageError(`${task} needs a user name`);
  const found = await store.findUserByLogin(login);
  if (!found) throw new HttpError('user_not_found', `no user named ${login}`);
  return found;
}

/** Every row of a keyset-paged list, a page at a time (a long list is never held whole). */
async function* everyRow<T, P>(page: (limit: number, after: P | undefined) => Promise<T[]>, positionOf: (last: T) => P): AsyncGenerator<T> {
  for (let after: P | undefined; ; ) {
    const rows = await page(MAX_LIMIT, after);
    yield* rows;
    if (rows.length < MAX_LIMIT) return;
    after = positionOf(rows.at(-1)!);
  }
}

async function showUser({ people }: Services, user: User): Promise<number> {
  const { factors, bannedUntil, sessions } = await people.details(user);
  const iso = (ms: number) => new Date(ms).toISOString();
  const lines = [
    ['username', user.username],
    ['id', user.id],
    ['email', user.email ? `${user.email}${user.emailVerified ? '' : ' (unconfirmed)'}` : '-'],
    ['display name', user.displayName ?? '-'],
    ['groups', user.groups.join(', ') || '-'],
    ['state', user.disabled ? 'disabled' : 'active'],
    ['created', iso(user.createdAt)],
    ['factors', `password ${factors.password ? 'yes' : 'no'}, TOTP ${factors.totp ? 'on' : 'off'}, ${factors.recoveryCodes} recovery codes, ${factors.passkeys} passkeys`],
    ['banned until', bannedUntil === undefined ? '-' : iso(bannedUntil)],
    ['sessions', String(sessions.length)],
  ];
  for (const [label, value] of lines) console.log(`${`${label}:`.padEnd(14)}${value}`);
  for (const s of sessions.map((session) => sessionJson(session, user))) {
    console.log(`  ${s.id}\t${s.device}\t${s.address ?? '-'}\tstarted ${s.created_at}\tlast used ${s.last_used_at}`);
  }
  return 0;
}

/**
 * `group add|remove GROUP USER...`: every name is looked up first, so that a typo
 * changes nothing; then each user is changed in turn and reported.
 */
async function groupMembers({ store, people }: Services, add: boolean, group: string | undefined, logins: string[]): Promise<number> {
  if (!group || logins.length === 0) throw new UsageError(`group ${add ? 'add' : 'remove'} needs a group and at least one user`);
  checkGroupName(group);
  const users: User[] = [];
  for (const login of logins) users.push(await userNamed(store, login, 'group'));
  for (const user of users) {
    const changed = await (add ? people.addToGroup(CLI, user, group) : people.removeFromGroup(CLI, user, group)).catch((error: unknown) => {
      // The users before this one are changed (and reported above): say which one stopped it.
      throw error instanceof HttpError ? new HttpError(error.code, `${user.username}: ${error.message}`) : error;
    });
    const done = add ? `added ${user.username} to ${group}` : `removed ${user.username} from ${group}`;
    console.log(changed ? done : `${user.username} was ${add ? 'in' : 'not in'} ${group} already`);
  }
  return 0;
}

/** Rows under a header, each column as wide as its widest cell. */
function table(header: string[], rows: string[][]): string {
  // A fold, not Math.max(...cells): a list of many thousand sessions would overflow the argument stack.
  const widths = header.map((title, i) => rows.reduce((widest, row) => Math.max(widest, row[i]!.length), title.length));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** Every matching event, newest first. */
async function printAudit({ store, clock }: Services, flags: TaskFlags): Promise<number> {
  const since = flags.since === undefined ? undefined : parseSince(flags.since, clock.now());
  if (flags.since !== undefined && since === undefined) throw new UsageError('--since is a duration (30m, 1h, 7d) or an ISO 8601 time');
  // A deleted user is found by the name the events recorded.
  const found = flags.user === undefined ? undefined : await store.findUserByLogin(flags.user);
  const who = flags.user === undefined ? {} : found ? { userId: found.id } : { username: flags.user };
  const events = everyRow((limit, before: number | undefined) => store.listAuditEvents({ ...who, type: flags.type, since, before, limit }), (last) => last.id);
  for await (const event of events) console.log(auditLine(event));
  return 0;
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
