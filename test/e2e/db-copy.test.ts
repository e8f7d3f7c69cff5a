/**
 * `gatehouse db copy` (SPEC section 9): a live SQLite store moved to PostgreSQL and
 * back, where its users still sign in with their passwords and codes, their
 * sessions still refresh, and tokens signed before the move still verify.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { createDatabase, dropDatabase, postgres } from '../helpers/postgres.js';
import { gatehouseEnv, runCli } from '../helpers/process.js';

const dirs: string[] = [];
const databases: string[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  for (const url of databases) await dropDatabase(url);
});
const newDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-copy-'));
  dirs.push(dir);
  return dir;
};
const cli = (args: string[]) => runCli(args, gatehouseEnv(newDir()));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.runIf(postgres.available)('gatehouse db copy', () => {
  it('moves a live SQLite store to PostgreSQL and back, and everything in it keeps working', async () => {
    // A store with people, sessions, a second factor, a passkey, keys and queued mail.
    const sqlite = `file:${join(newDir(), 'gatehouse.db')}`;
    let source: TestGatehouse | undefined = await startTestGatehouse({ database_url: sqlite });
    const alice = await registerUser(source, 'alice', { email: 'alice@example.com' });
    const bob = await registerUser(source, 'bob');
    const secret = (await (await postJson(`${source.url}/_auth/totp/enroll`, {}, bearer(bob.access_token))).json()).secret as string;
    const epoch = () => Math.floor(Date.now() / 1000);
    expect((await postJson(`${source.url}/_auth/totp/confirm`, { code: await generate({ secret, epoch: epoch() }) }, bearer(bob.access_token))).status).toBe(200);
    await source.services.store.addCredential({ id: 'cred-1', userId: (await source.services.store.findUserByLogin('alice'))!.id, publicKey: 'pk', counter: 3, transports: ['internal'], name: 'Laptop', createdAt: 1, lastUsedAt: null });
    await source.close();
    source = undefined;

    const target = await createDatabase();
    databases.push(target);
    expect((await runCli(['migrate'], gatehouseEnv(newDir(), { GATEHOUSE_DATABASE_URL: target }))).status).toBe(0);
    const copied = await cli(['db', 'copy', '--from', sqlite, '--to', target]);
    expect(copied.status, copied.stderr).toBe(0);
    expect(copied.stdout).toMatch(/^users: 2 rows copied and counted$/m);
    // alice is the first account: in admins, a group the target derives from users.groups.
    expect(copied.stdout).toMatch(/^user_groups: 1 rows copied and counted$/m);
    expect(copied.stdout).toMatch(/^signing_keys: 1 rows copied and counted$/m);
    expect(copied.stdout).toMatch(/^recovery_codes: 10 rows copied and counted$/m);
    expect(copied.stdout).toMatch(/^audit_events: [1-9]\d* rows copied and counted$/m);

    const moved = await startTestGatehouse({ database_url: target });
    try {
      // A token signed before the move verifies; a refresh token issued before it rotates.
      expect((await fetch(`${moved.url}/_auth/userinfo`, { headers: bearer(alice.access_token) })).status).toBe(200);
      expect((await postJson(`${moved.url}/_auth/refresh`, { refresh_token: alice.refresh_token })).status).toBe(200);
      // The password (argon2id) and the second factor still sign in.
      expect((await postJson(`${moved.url}/_auth/login`, { username: 'alice', password: PASSWORD })).status).toBe(200);
      const pending = (await (await postJson(`${moved.url}/_auth/login`, { username: 'bob', password: PASSWORD })).json()) as { mfa_token: string };
      const later = await generate({ secret, epoch: epoch() + 30 });
      expect((await postJson(`${moved.url}/_auth/mfa/totp`, { mfa_token: pending.mfa_token, code: later })).status).toBe(200);
      expect(await moved.services.store.findCredential('cred-1')).toMatchObject({ name: 'Laptop', counter: 3, transports: ['internal'] });
      // The audit log came along with its ids, and new events are numbered after them.
      const events = await moved.services.store.listAuditEvents({ limit: 200 });
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['user_registered', 'totp_enabled', 'login_succeeded']));
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      expect(events.at(-1)!.type).toBe('user_registered');
    } finally {
      await moved.close();
    }

    // And back again, into a new SQLite file.
    const back = `file:${join(newDir(), 'back.db')}`;
    expect((await runCli(['migrate'], gatehouseEnv(newDir(), { GATEHOUSE_DATABASE_URL: back }))).status).toBe(0);
    const returned = await cli(['db', 'copy', '--from', target, '--to', back]);
    expect(returned.status, returned.stderr).toBe(0);
    expect(returned.stdout).toMatch(/^sessions: \d+ rows copied and counted$/m);
    const home = await startTestGatehouse({ database_url: back });
    try {
      expect((await postJson(`${home.url}/_auth/login`, { username: 'alice', password: PASSWORD })).status).toBe(200);
      expect((await fetch(`${home.url}/_auth/userinfo`, { headers: bearer(alice.access_token) })).status).toBe(200);
    } finally {
      await home.close();
    }
  });

  it('refuses a target that is not empty, or not migrated, in one line', async () => {
    const sqlite = `file:${join(newDir(), 'source.db')}`;
    const source = await startTestGatehouse({ database_url: sqlite });
    await registerUser(source);
    await source.close();

    const unmigrated = await createDatabase();
    databases.push(unmigrated);
    const notMigrated = await cli(['db', 'copy', '--from', sqlite, '--to', unmigrated]);
    expect(notMigrated.status).toBe(2);
    expect(notMigrated.stderr.trim()).toMatch(/^gatehouse: the target lacks migrations/);

    const full = `file:${join(newDir(), 'full.db')}`;
    const other = await startTestGatehouse({ database_url: full });
    await registerUser(other);
    await other.close();
    const notEmpty = await cli(['db', 'copy', '--from', sqlite, '--to', full]);
    expect(notEmpty.status).toBe(2);
    expect(notEmpty.stderr.trim()).toMatch(/^gatehouse: the target is not empty \(table users has rows\)$/);

    const bad = await cli(['db', 'copy', '--from', 'mysql://root:hunter2@db/x', '--to', full]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).not.toContain('hunter2');
  });
});
