/**
 * One contract suite for every Store backend. Each backend added later (PostgreSQL)
 * joins the `backends` table and must pass the same tests.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlStore } from '../src/store/sql-store.js';
import { StoreConflict, type SigningKey, type Store } from '../src/store/types.js';
import { tempDir } from './helpers/gatehouse.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends: [string, () => Promise<Store>][] = [
  ['embedded SQLite file', () => openSqlStore(`file:${join(dir, 'contract.db')}`)],
  ['in-memory SQLite', () => openSqlStore('file::memory:')],
];

const T0 = Date.UTC(2026, 0, 1);
const key = (kid: string, createdAt: number): SigningKey => ({ kid, alg: 'EdDSA', privateJwk: '{}', publicJwk: '{}', createdAt });

describe.each(backends)('Store on %s', (_name, open) => {
  let store: Store;
  let n = 0;
  const name = () => `user${++n}`;
  beforeAll(async () => {
    store = await open();
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

  it('revokes every live session of a user and reports revocations since a time', async () => {
    const user = await store.createUser({ username: name(), passwordHash: 'h', now: T0 });
    for (const id of ['a', 'b', 'c']) await store.createSession({ id: `u-${id}`, userId: user.id, refreshHash: id, now: T0 });
    await store.revokeSession('u-a', T0 + 10);
    expect((await store.revokeUserSessions(user.id, T0 + 20)).sort()).toEqual(['u-b', 'u-c']);
    const since = await store.revokedSessionsSince(T0 + 15);
    expect(since).toEqual(expect.arrayContaining(['u-b', 'u-c']));
    expect(since).not.toContain('u-a');
  });

  it('adds the first signing key only once when replicas race, and later keys always', async () => {
    await Promise.all([store.addSigningKey(key('k1', T0), { onlyIfNone: true }), store.addSigningKey(key('k2', T0), { onlyIfNone: true })]);
    expect(await store.listSigningKeys()).toHaveLength(1);
    await store.addSigningKey(key('k3', T0 + 1));
    expect((await store.listSigningKeys()).map((k) => k.createdAt)).toEqual([T0, T0 + 1]);
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
