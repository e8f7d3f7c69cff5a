/**
 * One contract suite for every Store backend: the embedded SQLite file and a
 * real PostgreSQL run the same tests. libSQL servers (libsql://) share the SQLite
 * driver's SQL but cannot be run here.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlStore } from '../src/store/sql-store.js';
import { NotFirstUser, StoreConflict, TokenUnusable, type SigningKey, type Store, type User } from '../src/store/types.js';
import { tempDir } from './helpers/gatehouse.js';
import { createDatabase, dropDatabase, postgres } from './helpers/postgres.js';

const dir = tempDir();
const databases = new Map<string, Promise<string>>();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const url of databases.values()) await dropDatabase(await url);
});

/** The database named `db`, created empty on first use: a second call opens another connection to it (another replica). */
async function openPostgres(db: string): Promise<Store> {
  let url = databases.get(db);
  if (!url) databases.set(db, (url = createDatabase()));
  return openSqlStore(await url, { poolSize: 20 });
}

const backends: [string, (db: string) => Promise<Store>][] = [
  ['embedded SQLite file', (db) => openSqlStore(`file:${join(dir, `${db}.db`)}`)],
  ...(postgres.available ? [['PostgreSQL', openPostgres] as [string, (db: string) => Promise<Store>]] : []),
];

const T0 = Date.UTC(2026, 0, 1);
const key = (kid: string, createdAt: number): SigningKey => ({ kid, alg: 'EdDSA', privateJwk: '{}', publicJwk: '{}', createdAt });

describe.each(backends)('Store on %s', (_name, open) => {
  let store: Store;
  let n = 0;
  const name = () => `user${++n}`;
  beforeAll(async () => {
    store = await open('contract');
    await store.migrate();
    await store.migrate(); // a second run (another replica starting) changes nothing
  });
  afterAll(() => store.close());

  it('makes the first user an administrator and the next ones not', async () => {
    const first = await store.createUser({ username: 'First', passwordHash: 'h', now: T0 });
    const second = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    const asked = await store.createUser({ username: name(), passwordHash: 'h', admin: true, now: T0 });
    expect(first.groups).toEqual(['admins']);
    expect(second.groups).toEqual([]);
    expect(asked.groups).toEqual(['admins']);
  });

  it('creates exactly one of many racing first accounts, as administrator, and says whether any account exists', async () => {
    const empty = await open('first-account-race');
    try {
      await empty.migrate();
      expect(await empty.hasUsers()).toBe(false);
      // Every pooled connection open first, so that the racers really run at once.
      await Promise.all(Array.from({ length: 10 }, () => empty.ping()));
      const attempts = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => empty.createUser({ username: `racer${i}`, passwordHash: 'h', onlyIfFirst: true, now: T0 })),
      );
      const created = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
      expect(created).toHaveLength(1);
      expect(created[0]!.groups).toEqual(['admins']);
      expect(attempts.flatMap((attempt) => (attempt.status === 'rejected' ? [attempt.reason] : []))).toEqual(Array(9).fill(new NotFirstUser()));
      expect((await empty.listUsers()).map((user) => user.username)).toEqual([created[0]!.username]);
      expect(await empty.hasUsers()).toBe(true);
    } finally {
      await empty.close();
    }
  });

  it('migrates once when several replicas start at once on an empty database', async () => {
    const replicas = await Promise.all(Array.from({ length: 4 }, () => open('replicas-migrating')));
    try {
      await Promise.all(replicas.map((replica) => replica.migrate()));
      const user = await replicas[0]!.createUser({ username: 'after-migration', passwordHash: 'h', now: T0 });
      expect((await replicas[3]!.findUserById(user.id))?.username).toBe('after-migration');
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  it('makes exactly one administrator of many racing registrations on an empty database', async () => {
    const empty = await open('first-admin-race');
    try {
      await empty.migrate();
      await Promise.all(Array.from({ length: 9 }, () => empty.ping()));
      const users = await Promise.all(Array.from({ length: 9 }, (_, i) => empty.createUser({ username: `racer${i}`, passwordHash: 'h', now: T0 })));
      expect(users.filter((user) => user.groups.includes('admins'))).toHaveLength(1);
    } finally {
      await empty.close();
    }
  });

  it('keeps usernames and emails unique whatever their letter case', async () => {
    await store.createUser({ username: 'Carla', email: 'Carla@Example.com', passwordHash: 'h', now: T0 });
    await expect(store.createUser({ username: 'CARLA', passwordHash: 'h', now: T0 })).rejects.toEqual(new StoreConflict('username'));
    await expect(store.createUser({ username: name(), email: 'carla@example.COM', passwordHash: 'h', now: T0 })).rejects.toEqual(
      new StoreConflict('email'),
    );
  });

  it('finds a user by username or email, case-insensitively, and by id', async () => {
    const created = await store.createUser({ username: 'Dora', email: 'dora@example.com', passwordHash: 'h', now: T0 });
    expect((await store.findUserByLogin('dORA'))?.id).toBe(created.id);
    expect((await store.findUserByLogin('DORA@example.com'))?.id).toBe(created.id);
    expect(await store.findUserById(created.id)).toEqual(created);
    expect(await store.findUserByLogin('nobody')).toBeUndefined();
  });

  it('changes a password hash and the disabled flag', async () => {
    const created = await store.createUser({ username: name(), passwordHash: 'old', now: T0 });
    await store.setPasswordHash(created.id, 'new');
    await store.setDisabled(created.id, true);
    expect(await store.findUserById(created.id)).toMatchObject({ passwordHash: 'new', disabled: true });
    expect((await store.listUsers()).some((u) => u.id === created.id)).toBe(true);
  });

  it('rotates a refresh token only from the expected hash, once', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    await store.createSession({ id: 's-rotate', userId: user.id, refreshHash: 'h1', now: T0 });
    const rotation = { sessionId: 's-rotate', expectedHash: 'h1', newHash: 'h2', sealedRefresh: 'sealed', now: T0 + 1 };
    expect(await store.rotateRefresh(rotation)).toBe(true);
    expect(await store.rotateRefresh({ ...rotation, newHash: 'h3' })).toBe(false);
    expect(await store.findSession('s-rotate')).toMatchObject({
      refreshHash: 'h2',
      prevRefreshHash: 'h1',
      sealedRefresh: 'sealed',
      rotatedAt: T0 + 1,
      lastUsedAt: T0 + 1,
      createdAt: T0,
    });
  });

  it('does not rotate a revoked session', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    await store.createSession({ id: 's-revoked', userId: user.id, refreshHash: 'h1', now: T0 });
    expect(await store.revokeSession('s-revoked', T0 + 1)).toBe(true);
    expect(await store.revokeSession('s-revoked', T0 + 2)).toBe(false);
    expect(await store.rotateRefresh({ sessionId: 's-revoked', expectedHash: 'h1', newHash: 'h2', sealedRefresh: 'x', now: T0 + 3 })).toBe(false);
  });

  it('rotates a live session in one step and returns its user, and refuses every session that is not live', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    const live = { expectedHash: 'h1', newHash: 'h2', sealedRefresh: 'sealed', now: T0 + 100, usedSince: T0 + 50, createdSince: T0 - 50 };
    for (const id of ['live', 'wrong-hash', 'revoked', 'idle', 'old', 'disabled']) {
      await store.createSession({ id: `l-${id}`, userId: user.id, refreshHash: 'h1', now: id === 'idle' ? T0 + 10 : id === 'old' ? T0 - 60 : T0 + 60 });
    }
    expect(await store.rotateLiveRefresh({ ...live, sessionId: 'l-live' })).toMatchObject({ id: user.id, username: user.username });
    expect(await store.findSession('l-live')).toMatchObject({ refreshHash: 'h2', prevRefreshHash: 'h1', rotatedAt: T0 + 100, lastUsedAt: T0 + 100 });
    expect(await store.rotateLiveRefresh({ ...live, sessionId: 'l-live' })).toBeUndefined(); // h1 is spent

    expect(await store.rotateLiveRefresh({ ...live, sessionId: 'l-wrong-hash', expectedHash: 'h9' })).toBeUndefined();
    await store.revokeSession('l-revoked', T0 + 70);
    expect(await store.rotateLiveRefresh({ ...live, sessionId: 'l-revoked' })).toBeUndefined();
    expect(await store.rotateLiveRefresh({ ...live, sessionId: 'l-idle' })).toBeUndefined();
    expect(await store.rotateLiveRefresh({ ...live, sessionId: 'l-old' })).toBeUndefined();
    await store.setDisabled(user.id, true);
    expect(await store.rotateLiveRefresh({ ...live, sessionId: 'l-disabled' })).toBeUndefined();
    expect(await store.findSession('l-disabled')).toMatchObject({ refreshHash: 'h1', rotatedAt: null });
  });

  it('revokes every live session of a user and reports revocations since a time', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    for (const id of ['a', 'b', 'c']) await store.createSession({ id: `u-${id}`, userId: user.id, refreshHash: id, now: T0 });
    await store.revokeSession('u-a', T0 + 10);
    expect((await store.revokeUserSessions(user.id, T0 + 20)).sort()).toEqual(['u-b', 'u-c']);
    const since = await store.revokedSessionsSince(T0 + 15);
    expect(since).toEqual(expect.arrayContaining(['u-b', 'u-c']));
    expect(since).not.toContain('u-a');
  });

  it('keeps the device and address of a session and lists live sessions newest first, a page at a time', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    const other = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    await store.createSession({ id: 'ls-a', userId: user.id, refreshHash: 'a', now: T0 + 1, device: 'Firefox 128 on Windows', address: '203.0.113.1' });
    await store.createSession({ id: 'ls-b', userId: user.id, refreshHash: 'b', now: T0 + 2 });
    await store.createSession({ id: 'ls-c', userId: user.id, refreshHash: 'c', now: T0 + 2 });
    await store.createSession({ id: 'ls-d', userId: other.id, refreshHash: 'd', now: T0 + 3 });
    await store.createSession({ id: 'ls-revoked', userId: user.id, refreshHash: 'e', now: T0 + 3 });
    await store.revokeSession('ls-revoked', T0 + 4);
    expect(await store.findSession('ls-a')).toMatchObject({ device: 'Firefox 128 on Windows', address: '203.0.113.1' });
    expect(await store.findSession('ls-b')).toMatchObject({ device: null, address: null });

    const live = { usedSince: T0, createdSince: T0, limit: 10 };
    const ids = async (query: Partial<Parameters<Store['listSessions']>[0]>) => (await store.listSessions({ ...live, ...query })).map((s) => s.id);
    expect(await ids({ userId: user.id })).toEqual(['ls-c', 'ls-b', 'ls-a']);
    expect((await store.listSessions({ ...live, userId: other.id }))[0]).toMatchObject({ id: 'ls-d', userId: other.id, username: other.username });
    expect(await ids({ userId: user.id, limit: 1, after: { createdAt: T0 + 2, id: 'ls-c' } })).toEqual(['ls-b']);
    expect(await ids({ userId: user.id, after: { createdAt: T0 + 2, id: 'ls-b' } })).toEqual(['ls-a']);
    expect(await ids({ userId: user.id, usedSince: T0 + 2 })).toEqual(['ls-c', 'ls-b']);
    expect(await ids({ userId: user.id, createdSince: T0 + 3 })).toEqual([]);
    expect(await ids({ after: { createdAt: T0 + 3, id: 'ls-d' }, usedSince: T0 + 1, limit: 3 })).toEqual(['ls-c', 'ls-b', 'ls-a']);
  });

  it('creates an account with an invite only once however many race for it, with the groups and address given', async () => {
    await store.createOneTimeToken({ hash: 'invite-1', purpose: 'invite', userId: null, data: null, expiresAt: T0 + 100 });
    const attempt = (username: string) =>
      store.createUser({ username, email: `${username}@example.com`, emailVerified: true, groups: ['staff'], passwordHash: 'h', inviteHash: 'invite-1', now: T0 }).then(
        (user) => user,
        (error: unknown) => error,
      );
    const results = await Promise.all(['inv-a', 'inv-b', 'inv-c', 'inv-d'].map(attempt));
    const created = results.filter((r): r is User => !(r instanceof Error));
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ groups: ['staff'], emailVerified: true });
    expect(results.filter((r) => r instanceof TokenUnusable)).toHaveLength(3);
    expect((await Promise.all(['inv-a', 'inv-b', 'inv-c', 'inv-d'].map((u) => store.findUserByLogin(u)))).filter(Boolean)).toHaveLength(1);
    expect(await store.findOneTimeToken('invite-1', 'invite', T0)).toBeUndefined();
  });

  it('leaves an invite unused when its account is refused, and refuses an expired or foreign one', async () => {
    const taken = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    await store.createOneTimeToken({ hash: 'invite-2', purpose: 'invite', userId: null, data: null, expiresAt: T0 + 100 });
    await expect(store.createUser({ username: taken.username, passwordHash: 'h', inviteHash: 'invite-2', now: T0 })).rejects.toThrow(StoreConflict);
    expect(await store.findOneTimeToken('invite-2', 'invite', T0)).toBeDefined();
    await expect(store.createUser({ username: name(), passwordHash: 'h', inviteHash: 'invite-2', now: T0 + 100 })).rejects.toThrow(TokenUnusable);
    await store.createOneTimeToken({ hash: 'not-an-invite', purpose: 'magic_link', userId: null, data: null, expiresAt: T0 + 100 });
    await expect(store.createUser({ username: name(), passwordHash: 'h', inviteHash: 'not-an-invite', now: T0 })).rejects.toThrow(TokenUnusable);
    await expect(store.createUser({ username: name(), passwordHash: 'h', inviteHash: 'unknown', now: T0 })).rejects.toThrow(TokenUnusable);
  });

  it('adds the first signing key only once when replicas race, and later keys always', async () => {
    await Promise.all([store.addSigningKey(key('k1', T0), { onlyIfNone: true }), store.addSigningKey(key('k2', T0), { onlyIfNone: true })]);
    expect(await store.listSigningKeys()).toHaveLength(1);
    await store.addSigningKey(key('k3', T0 + 1));
    expect((await store.listSigningKeys()).map((k) => k.createdAt)).toEqual([T0, T0 + 1]);
  });

  it('consumes a one-time token once, and only for its purpose and before it expires', async () => {
    await store.createOneTimeToken({ hash: 'ott-1', purpose: 'magic_link', userId: null, data: '/rd', expiresAt: T0 + 100 });
    expect(await store.consumeOneTimeToken('ott-1', 'password_reset', T0)).toBeUndefined();
    expect(await store.findOneTimeToken('ott-1', 'magic_link', T0)).toMatchObject({ data: '/rd' });
    const racing = await Promise.all([store.consumeOneTimeToken('ott-1', 'magic_link', T0), store.consumeOneTimeToken('ott-1', 'magic_link', T0)]);
    expect(racing.filter(Boolean)).toHaveLength(1);
    await store.createOneTimeToken({ hash: 'ott-2', purpose: 'magic_link', userId: null, data: null, expiresAt: T0 + 100 });
    expect(await store.consumeOneTimeToken('ott-2', 'magic_link', T0 + 100)).toBeUndefined();
  });

  it('keeps only the newest unused token of a user and purpose when one replaces the others', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    const other = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    const token = (hash: string, userId = user.id, purpose: 'email_verify' | 'magic_link' = 'email_verify') => ({ hash, purpose, userId, data: hash, expiresAt: T0 + 100 });
    await store.createOneTimeToken(token('verify-a'));
    await store.createOneTimeToken(token('login-a', user.id, 'magic_link'));
    await store.createOneTimeToken(token('verify-other', other.id));
    await store.replaceOneTimeTokens(token('verify-b'));
    expect(await store.findOneTimeToken('verify-a', 'email_verify', T0)).toBeUndefined();
    expect(await store.findOneTimeToken('verify-b', 'email_verify', T0)).toMatchObject({ data: 'verify-b' });
    expect(await store.findOneTimeToken('login-a', 'magic_link', T0)).toBeDefined();
    expect(await store.findOneTimeToken('verify-other', 'email_verify', T0)).toBeDefined();
  });

  it('retires the other unused tokens of a user and purpose when one is consumed, once of two racing consumers', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    const token = (hash: string) => ({ hash, purpose: 'email_verify' as const, userId: user.id, data: `${hash}@example.com`, expiresAt: T0 + 100 });
    await store.createOneTimeToken(token('change-1'));
    await store.createOneTimeToken(token('change-2'));
    const racing = await Promise.all([
      store.consumeOneTimeTokenRetiringOthers('change-2', 'email_verify', T0),
      store.consumeOneTimeTokenRetiringOthers('change-2', 'email_verify', T0),
    ]);
    expect(racing.filter(Boolean)).toEqual([{ hash: 'change-2', purpose: 'email_verify', userId: user.id, data: 'change-2@example.com', expiresAt: T0 + 100 }]);
    expect(await store.consumeOneTimeTokenRetiringOthers('change-1', 'email_verify', T0)).toBeUndefined();
    expect(await store.consumeOneTimeTokenRetiringOthers('change-2', 'magic_link', T0)).toBeUndefined();
  });

  it('confirms an unconfirmed address and wipes every credential set before, once', async () => {
    const user = await store.createUser({ username: name(), email: 'Owner@Example.com', passwordHash: 'attacker hash', now: T0 });
    await store.setTotp(user.id, 'SECRET', true);
    await store.useTotpStep(user.id, 100);
    await store.replaceRecoveryCodes(user.id, ['c1']);
    await store.addCredential({ id: `cred-${user.id}`, userId: user.id, publicKey: 'pk', counter: 0, transports: [], name: 'Key', createdAt: T0, lastUsedAt: null });
    await store.createOneTimeToken({ hash: `pending-${user.id}`, purpose: 'email_verify', userId: user.id, data: 'elsewhere@example.com', expiresAt: T0 + 100 });
    await store.linkOidcIdentity({ issuer: 'https://idp.example', subject: `squatter-${user.id}`, providerId: 'idp', userId: user.id, email: null, now: T0 });

    expect(await store.confirmEmailWipingCredentials(user.id, 'someone-else@example.com', '!')).toBe(false);
    expect((await store.findUserById(user.id))?.passwordHash).toBe('attacker hash');
    const racing = await Promise.all([
      store.confirmEmailWipingCredentials(user.id, 'owner@example.COM', '!'),
      store.confirmEmailWipingCredentials(user.id, 'owner@example.com', '!'),
    ]);
    expect(racing.sort()).toEqual([false, true]);
    expect(await store.findUserById(user.id)).toMatchObject({ emailVerified: true, passwordHash: '!', totpSecret: null, totpEnabled: false });
    expect(await store.useRecoveryCode(user.id, 'c1', T0)).toBe(false);
    expect(await store.listCredentials(user.id)).toEqual([]);
    expect(await store.findOneTimeToken(`pending-${user.id}`, 'email_verify', T0)).toBeUndefined();
    expect(await store.listOidcIdentities(user.id)).toEqual([]);
  });

  it('wipes nothing of an account whose address is confirmed already', async () => {
    const user = await store.createUser({ username: name(), email: 'confirmed@example.com', passwordHash: 'owner hash', now: T0 });
    await store.setEmail(user.id, 'confirmed@example.com', true);
    await store.replaceRecoveryCodes(user.id, ['c1']);
    expect(await store.confirmEmailWipingCredentials(user.id, 'confirmed@example.com', '!')).toBe(false);
    expect((await store.findUserById(user.id))?.passwordHash).toBe('owner hash');
    expect(await store.useRecoveryCode(user.id, 'c1', T0)).toBe(true);
  });

  it('accepts each TOTP step once and never an earlier one', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    await store.setTotp(user.id, 'SECRET', true);
    expect(await store.useTotpStep(user.id, 100)).toBe(true);
    expect(await store.useTotpStep(user.id, 100)).toBe(false);
    expect(await store.useTotpStep(user.id, 99)).toBe(false);
    expect(await store.useTotpStep(user.id, 101)).toBe(true);
  });

  it('uses a recovery code once', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    await store.replaceRecoveryCodes(user.id, ['c1', 'c2']);
    expect(await store.useRecoveryCode(user.id, 'c1', T0)).toBe(true);
    expect(await store.useRecoveryCode(user.id, 'c1', T0)).toBe(false);
    expect(await store.useRecoveryCode(user.id, 'nope', T0)).toBe(false);
  });

  it('accepts a passkey sign counter only when it grows (or stays 0 for counterless authenticators)', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    const credential = { id: 'cred-1', userId: user.id, publicKey: 'pk', counter: 5, transports: ['internal'], name: 'Key', createdAt: T0, lastUsedAt: null };
    await store.addCredential(credential);
    expect(await store.useCredential('cred-1', 5, T0)).toBe(false);
    expect(await store.useCredential('cred-1', 6, T0)).toBe(true);
    await store.addCredential({ ...credential, id: 'cred-0', counter: 0 });
    expect(await store.useCredential('cred-0', 0, T0)).toBe(true);
    expect(await store.renameCredential('someone-else', 'cred-1', 'x')).toBe(false);
    expect(await store.deleteCredential(user.id, 'cred-1')).toBe(true);
    expect((await store.listCredentials(user.id)).map((c) => c.id)).toEqual(['cred-0']);
  });

  it('hands a queued mail to one claimer only, and retries it later', async () => {
    await store.enqueueMail({ recipient: 'a@example.com', subject: 's', text: 't', html: 'h', now: T0 });
    const [first, second] = await Promise.all([store.claimMail(T0, T0 - 30_000), store.claimMail(T0, T0 - 30_000)]);
    expect([first, second].filter(Boolean)).toHaveLength(1);
    const claimed = (first ?? second)!;
    await store.retryMail(claimed.id, 'down', T0 + 1000);
    expect(await store.claimMail(T0 + 999, T0 - 30_000)).toBeUndefined();
    expect((await store.claimMail(T0 + 1000, T0 - 30_000))?.attempts).toBe(2);
    await store.markMailSent(claimed.id, T0 + 1000);
    expect(await store.mailQueueDepth()).toBe(0);
  });

  it('hands a mail a dead replica left in the middle of sending to another claimer, once its claim is stale', async () => {
    await store.enqueueMail({ recipient: 'crash@example.com', subject: 's', text: 't', html: 'h', now: T0 + 10 });
    const claimed = await store.claimMail(T0 + 10, T0 + 10 - 30_000);
    expect(claimed).toMatchObject({ recipient: 'crash@example.com', attempts: 1 });
    // The claimer dies here. Within the lease nobody else takes the message; after it, one does.
    expect(await store.claimMail(T0 + 30_000, T0)).toBeUndefined();
    const again = await Promise.all([store.claimMail(T0 + 30_011, T0 + 11), store.claimMail(T0 + 30_011, T0 + 11)]);
    expect(again.filter(Boolean)).toEqual([expect.objectContaining({ id: claimed!.id, attempts: 2 })]);
    await store.markMailSent(claimed!.id, T0 + 30_012);
    expect(await store.claimMail(T0 + 1_000_000, T0 + 900_000)).toBeUndefined();
  });

  it('counts events in a window, bans until a time, and prunes what no longer matters', async () => {
    const window = { since: T0 - 10, max: 10 };
    expect(await store.takeEvent('fail', 'k', { ...window, now: T0 })).toBeDefined();
    expect(await store.takeEvent('fail', 'k', { ...window, now: T0 + 5 })).toBeDefined();
    expect(await store.countEvents('fail', 'k', T0 - 10)).toBe(2);
    expect(await store.countEvents('fail', 'k', T0 + 1)).toBe(1);
    await store.ban('k', T0 + 100);
    expect(await store.bannedUntil('k', T0 + 99)).toBe(T0 + 100);
    expect(await store.bannedUntil('k', T0 + 100)).toBeUndefined();
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    await store.createSession({ id: 'old-session', userId: user.id, refreshHash: 'x', now: T0 - 1 });
    await store.prune({ eventsBefore: T0 + 1, sessionsBefore: T0, now: T0 + 200 });
    expect(await store.countEvents('fail', 'k', 0)).toBe(1);
    expect(await store.findSession('old-session')).toBeUndefined();
  });

  it('takes at most max events for a key however many callers race, and a dropped one frees its slot', async () => {
    const limit = { now: T0, since: T0 - 100, max: 5 };
    const ids = await Promise.all(Array.from({ length: 30 }, () => store.takeEvent('guess', 'race', limit)));
    const taken = ids.filter((id): id is number => id !== undefined);
    expect(taken).toHaveLength(5);
    expect(await store.takeEvent('guess', 'race', limit)).toBeUndefined();
    expect(await store.takeEvent('other kind', 'race', limit)).toBeDefined();

    await store.dropEvent('other kind', 'race', taken[0]!); // kind and key must match too
    expect(await store.takeEvent('guess', 'race', limit)).toBeUndefined();
    await store.dropEvent('guess', 'race', taken[0]!);
    expect(await store.takeEvent('guess', 'race', limit)).toBeDefined();
    expect(await store.takeEvent('guess', 'race', { ...limit, now: T0 + 200, since: T0 + 1 })).toBeDefined(); // older events fall out of the window
  });

  it('takes no event for a banned key until the ban ends', async () => {
    await store.ban('banned-key', T0 + 100);
    expect(await store.takeEvent('guess', 'banned-key', { now: T0 + 99, since: T0, max: 5 })).toBeUndefined();
    expect(await store.countEvents('guess', 'banned-key', 0)).toBe(0);
    expect(await store.takeEvent('guess', 'banned-key', { now: T0 + 100, since: T0, max: 5 })).toBeDefined();
  });

  it('refuses a passkey credential id that any account holds already with StoreConflict', async () => {
    const [owner, other] = [await store.createUser({ username: name(), passwordHash: 'h', now: T0 }), await store.createUser({ username: name(), passwordHash: 'h', now: T0 })];
    const credential = { id: 'cred-taken', userId: owner.id, publicKey: 'pk', counter: 0, transports: [], name: 'Key', createdAt: T0, lastUsedAt: null };
    await store.addCredential(credential);
    for (const userId of [owner.id, other.id]) {
      const error = await store.addCredential({ ...credential, userId, publicKey: 'another' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreConflict);
      expect((error as StoreConflict).field).toBe('credential');
    }
    expect((await store.findCredential('cred-taken'))?.publicKey).toBe('pk');
  });

  it('gives a lease to one holder at a time, keeps it for that holder, and hands it on once it has expired', async () => {
    const asks = await Promise.all(['a', 'b', 'c', 'd'].map((holder) => store.takeLease('work', holder, T0, T0 + 100)));
    expect(asks.filter(Boolean)).toHaveLength(1);
    const holder = ['a', 'b', 'c', 'd'][asks.indexOf(true)]!;
    const other = holder === 'a' ? 'b' : 'a';
    expect(await store.takeLease('work', holder, T0 + 50, T0 + 150)).toBe(true);
    expect(await store.takeLease('work', other, T0 + 149, T0 + 250)).toBe(false);
    expect(await store.takeLease('work', other, T0 + 150, T0 + 250)).toBe(true);
    expect(await store.takeLease('other work', holder, T0 + 150, T0 + 250)).toBe(true);
  });

  describe('the audit log', () => {
    const event = (at: number, type: string, userId: string | null = null) => ({
      at,
      type,
      userId,
      username: userId && `name-of-${userId}`,
      actorKind: 'system' as const,
      actorId: null,
      actorUsername: null,
      address: '192.0.2.1',
      details: { reason: 'a test', nested: { n: 1 } },
    });
    let audit: Store;
    beforeAll(async () => {
      audit = await open('audit');
      await audit.migrate();
      for (let i = 0; i < 5; i++) await audit.appendAuditEvent(event(T0 + i, i % 2 === 0 ? 'even' : 'odd', i < 3 ? 'u1' : 'u2'));
    });
    afterAll(() => audit.close());

    it('keeps every field and lists newest first, with ids that grow', async () => {
      const all = await audit.listAuditEvents({ limit: 10 });
      expect(all.map((e) => e.at)).toEqual([T0 + 4, T0 + 3, T0 + 2, T0 + 1, T0]);
      expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a));
      expect(new Set(all.map((e) => e.id)).size).toBe(5);
      expect(all[0]).toEqual({ id: all[0]!.id, ...event(T0 + 4, 'even', 'u2') });
    });

    it('filters by user, recorded username, type and time, and pages by id', async () => {
      const ats = async (query: Parameters<Store['listAuditEvents']>[0]) => (await audit.listAuditEvents(query)).map((e) => e.at - T0);
      expect(await ats({ userId: 'u1', limit: 10 })).toEqual([2, 1, 0]);
      expect(await ats({ username: 'name-of-u2', limit: 10 })).toEqual([4, 3]);
      expect(await ats({ type: 'odd', limit: 10 })).toEqual([3, 1]);
      expect(await ats({ since: T0 + 3, limit: 10 })).toEqual([4, 3]);
      expect(await ats({ userId: 'u1', type: 'even', since: T0 + 1, limit: 10 })).toEqual([2]);
      const first = await audit.listAuditEvents({ limit: 2 });
      expect(await ats({ before: first.at(-1)!.id, limit: 2 })).toEqual([2, 1]);
    });

    it('prunes events older than a time and never reuses their ids', async () => {
      const highest = (await audit.listAuditEvents({ limit: 1 }))[0]!.id;
      expect(await audit.pruneAuditEvents(T0 + 2)).toBe(2);
      expect((await audit.listAuditEvents({ limit: 10 })).map((e) => e.at - T0)).toEqual([4, 3, 2]);
      await audit.pruneAuditEvents(T0 + 100);
      await audit.appendAuditEvent(event(T0 + 200, 'after'));
      expect((await audit.listAuditEvents({ limit: 10 }))[0]!.id).toBeGreaterThan(highest);
    });

    it('loses none of many events appended at once', async () => {
      await Promise.all(Array.from({ length: 40 }, (_, i) => audit.appendAuditEvent(event(T0 + 1000 + i, 'burst'))));
      const burst = await audit.listAuditEvents({ type: 'burst', limit: 100 });
      expect(burst).toHaveLength(40);
      expect(new Set(burst.map((e) => e.id)).size).toBe(40);
    });
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});

describe('two connections to one database file (two replicas)', () => {
  it('take at most max events for a key between them, however the calls interleave', async () => {
    const url = `file:${join(dir, 'replicas.db')}`;
    const [a, b] = [await openSqlStore(url), await openSqlStore(url)];
    try {
      await a.migrate();
      await b.migrate();
      const limit = { now: T0, since: T0 - 100, max: 5 };
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).takeEvent('guess', 'shared', limit)));
      expect(ids.filter((id) => id !== undefined)).toHaveLength(5);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe.each(backends)('Store administration on %s', (_name, open) => {
  let store: Store;
  let admin: User;
  const user = (username: string, extra: Partial<Parameters<Store['createUser']>[0]> = {}) =>
    store.createUser({ username, email: `${username.toLowerCase()}@example.com`, passwordHash: 'h', now: T0, ...extra });
  beforeAll(async () => {
    store = await open('administration');
    await store.migrate();
    admin = await user('Root');
  });
  afterAll(() => store.close());

  it('adds and removes a group once, keeps its order, and marks only the live sessions of the user when anything changed', async () => {
    const ann = await user('Ann');
    await store.createSession({ id: 'g-live', userId: ann.id, refreshHash: 'x', now: T0 });
    await store.createSession({ id: 'g-ended', userId: ann.id, refreshHash: 'y', now: T0 });
    await store.revokeSession('g-ended', T0);
    expect(await store.setGroupMember({ userId: ann.id, group: 'ops', member: true, now: T0 + 1 })).toEqual({ result: 'changed', sessionIds: ['g-live'] });
    expect(await store.setGroupMember({ userId: ann.id, group: 'Dev', member: true, now: T0 + 2 })).toMatchObject({ result: 'changed' });
    expect(await store.setGroupMember({ userId: ann.id, group: 'ops', member: true, now: T0 + 3 })).toEqual({ result: 'unchanged', sessionIds: [] });
    expect((await store.findUserById(ann.id))?.groups).toEqual(['ops', 'Dev']);
    expect(await store.claimsChangedSince(T0 + 2)).toEqual([{ sessionId: 'g-live', at: T0 + 2 }]);
    expect(await store.setGroupMember({ userId: ann.id, group: 'ops', member: false, now: T0 + 4 })).toMatchObject({ result: 'changed' });
    expect(await store.setGroupMember({ userId: ann.id, group: 'ops', member: false, now: T0 + 5 })).toMatchObject({ result: 'unchanged' });
    expect((await store.findUserByLogin('ann'))?.groups).toEqual(['Dev']);
    expect(await store.setGroupMember({ userId: 'no-such-id', group: 'ops', member: true, now: T0 })).toEqual({ result: 'not_found', sessionIds: [] });
  });

  it('lists groups with their member counts and the users of one group, by keyset pages', async () => {
    const names = ['Bea', 'cid', 'Dan'];
    for (const name of names) {
      const created = await user(name);
      await store.setGroupMember({ userId: created.id, group: 'team', member: true, now: T0 });
    }
    expect(await store.listGroups({ limit: 100 })).toEqual(expect.arrayContaining([{ name: 'admins', members: 1 }, { name: 'team', members: 3 }]));
    const first = await store.listGroups({ limit: 1, after: 'admins' });
    expect(first).toHaveLength(1);
    const firstPage = await store.findUsers({ group: 'team', limit: 2 });
    expect(firstPage.map((u) => u.username)).toEqual(['Bea', 'cid']);
    const next = await store.findUsers({ group: 'team', limit: 2, after: 'cid' });
    expect(next.map((u) => u.username)).toEqual(['Dan']);
    expect(next[0]!.groups).toEqual(['team']);
  });

  it('finds users by a substring of the username or email, case-insensitively, taking % and _ literally', async () => {
    await user('Searchable_One', { email: 'hidden@Example.org' });
    await user('SearchableXOne');
    expect((await store.findUsers({ query: 'CHABLE_', limit: 10 })).map((u) => u.username)).toEqual(['Searchable_One']);
    expect((await store.findUsers({ query: 'HIDDEN@example', limit: 10 })).map((u) => u.username)).toEqual(['Searchable_One']);
    expect(await store.findUsers({ query: '%', limit: 10 })).toEqual([]);
  });

  it('keeps an enabled administrator: the last one cannot leave admins, be disabled or be deleted, however many race', async () => {
    const second = await user('Second', { admin: true });
    expect((await store.listGroups({ limit: 10 })).find((g) => g.name === 'admins')?.members).toBe(2);
    const removals = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.setGroupMember({ userId: i % 2 ? admin.id : second.id, group: 'admins', member: false, now: T0 })),
    );
    expect(removals.filter((r) => r.result === 'changed')).toHaveLength(1);
    const [left] = await store.findUsers({ group: 'admins', limit: 10 });
    expect(left).toBeDefined();
    expect(await store.setDisabledKeepingAdmin(left!.id, true)).toBe('last_admin');
    expect((await store.deleteUserKeepingAdmin(left!.id, T0)).result).toBe('last_admin');
    expect(await store.setGroupMember({ userId: left!.id, group: 'admins', member: false, now: T0 })).toMatchObject({ result: 'last_admin' });
    expect(await store.findUserById(left!.id)).toMatchObject({ disabled: false, groups: ['admins'] });
  });

  it('disables the one of two racing admins and deletes a user with its sessions revoked', async () => {
    const a = await user('RaceA', { admin: true });
    const b = await user('RaceB', { admin: true });
    const [root] = await store.findUsers({ group: 'admins', query: 'root', limit: 1 });
    if (root) await store.setDisabledKeepingAdmin(root.id, true);
    const [second] = await store.findUsers({ group: 'admins', query: 'second', limit: 1 });
    if (second) await store.setDisabledKeepingAdmin(second.id, true);
    const results = await Promise.all([store.setDisabledKeepingAdmin(a.id, true), store.setDisabledKeepingAdmin(b.id, true)]);
    expect(results.sort()).toEqual(['changed', 'last_admin']);
    expect(await store.setDisabledKeepingAdmin(a.id, false)).toMatch(/changed|unchanged/);

    const gone = await user('Gone');
    await store.createSession({ id: 'd-live', userId: gone.id, refreshHash: 'x', now: T0 });
    expect(await store.deleteUserKeepingAdmin(gone.id, T0 + 7)).toEqual({ result: 'changed', sessionIds: ['d-live'] });
    expect(await store.findUserById(gone.id)).toBeUndefined();
    expect(await store.deleteUserKeepingAdmin(gone.id, T0 + 8)).toEqual({ result: 'not_found', sessionIds: [] });
    expect(await store.findUsers({ query: 'gone', limit: 5 })).toEqual([]);
  });

  it('resets every second factor at once and lifts a ban with its counted failures', async () => {
    const eve = await user('Eve');
    await store.setTotp(eve.id, 'SECRET', true);
    await store.replaceRecoveryCodes(eve.id, ['c1', 'c2']);
    await store.useRecoveryCode(eve.id, 'c2', T0);
    expect(await store.countRecoveryCodes(eve.id)).toBe(1);
    await store.addCredential({ id: 'eve-key', userId: eve.id, publicKey: 'pk', counter: 0, transports: [], name: 'key', createdAt: T0, lastUsedAt: null });
    await store.resetFactors(eve.id);
    expect(await store.findUserById(eve.id)).toMatchObject({ totpSecret: null, totpEnabled: false });
    expect(await store.countRecoveryCodes(eve.id)).toBe(0);
    expect(await store.listCredentials(eve.id)).toEqual([]);

    await store.takeEvent('auth_failure', `account:${eve.id}`, { now: T0, since: T0 - 1, max: 5 });
    await store.ban(`account:${eve.id}`, T0 + 1000);
    await store.ban('ip:192.0.2.1', T0 + 1000);
    await store.liftBan('auth_failure', `account:${eve.id}`);
    expect(await store.bannedUntil(`account:${eve.id}`, T0)).toBeUndefined();
    expect(await store.countEvents('auth_failure', `account:${eve.id}`, 0)).toBe(0);
    expect(await store.bannedUntil('ip:192.0.2.1', T0)).toBe(T0 + 1000);
  });
});
