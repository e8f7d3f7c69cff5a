/** The store's identities at other providers (SPEC section 12), on every backend. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_PASSWORD } from '../src/auth/passwords.js';
import { mergeGroups } from '../src/oidc/accounts.js';
import { openSqlStore } from '../src/store/sql-store.js';
import { StoreConflict, type Store } from '../src/store/types.js';
import { tempDir } from './helpers/gatehouse.js';
import { createDatabase, dropDatabase, postgres } from './helpers/postgres.js';

const dir = tempDir();
const databases: string[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const url of databases) await dropDatabase(url);
});

const backends: [string, () => Promise<Store>][] = [
  ['embedded SQLite file', () => openSqlStore(`file:${join(dir, 'oidc.db')}`)],
  ...(postgres.available
    ? [
        [
          'PostgreSQL',
          async () => {
            const url = await createDatabase();
            databases.push(url);
            return openSqlStore(url);
          },
        ] as [string, () => Promise<Store>],
      ]
    : []),
];

const T0 = Date.UTC(2026, 0, 1);
const ISSUER = 'https://idp.example';

describe.each(backends)('identities at other providers on %s', (_name, open) => {
  let store: Store;
  let n = 0;
  const newUser = (passwordHash = NO_PASSWORD) => store.createUser({ username: `person${++n}`, passwordHash, now: T0 });
  const link = (userId: string, subject: string) => store.linkOidcIdentity({ issuer: ISSUER, subject, providerId: 'idp', userId, email: null, now: T0 });

  beforeAll(async () => {
    store = await open();
    await store.migrate();
    await store.createUser({ username: 'first-admin', passwordHash: 'h', now: T0 });
  });
  afterAll(() => store.close());

  it('finds an identity by issuer and subject, and refuses to link it to a second account', async () => {
    const [a, b] = [await newUser(), await newUser()];
    await link(a.id, 'sub-1');
    expect(await store.findOidcIdentity(ISSUER, 'sub-1')).toMatchObject({ userId: a.id, providerId: 'idp', groups: [] });
    expect(await store.findOidcIdentity('https://other.example', 'sub-1')).toBeUndefined();
    await expect(link(b.id, 'sub-1')).rejects.toEqual(new StoreConflict('identity'));
    expect((await store.listOidcIdentities(a.id)).map((identity) => identity.subject)).toEqual(['sub-1']);
  });

  it('never unlinks the last way to sign in, even when two unlinks race', async () => {
    const user = await newUser();
    await link(user.id, 'race-1');
    await link(user.id, 'race-2');
    const results = await Promise.all([store.unlinkOidcIdentity(user.id, ISSUER, 'race-1'), store.unlinkOidcIdentity(user.id, ISSUER, 'race-2')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.listOidcIdentities(user.id)).toHaveLength(1);
  });

  it('unlinks the only identity of an account that has a password', async () => {
    const user = await newUser('$argon2id$v=19$m=19456,t=2,p=1$x$y');
    await link(user.id, 'with-password');
    expect(await store.unlinkOidcIdentity(user.id, ISSUER, 'with-password')).toBe(true);
    expect(await store.findOidcIdentity(ISSUER, 'with-password')).toBeUndefined();
  });

  it('replaces the groups an identity added and keeps the ones set otherwise', async () => {
    const user = await newUser();
    await link(user.id, 'groups');
    const grant = mergeGroups;
    const first = await store.signInWithOidcIdentity({ issuer: ISSUER, subject: 'groups', email: 'a@example.com', now: T0 }, grant(['dev', 'ops']));
    expect(first?.user.groups).toEqual(['dev', 'ops']);
    const second = await store.signInWithOidcIdentity({ issuer: ISSUER, subject: 'groups', email: null, now: T0 + 1 }, grant(['dev']));
    expect(second?.user.groups).toEqual(['dev']);
    expect((await store.findUserById(user.id))?.groups).toEqual(['dev']);
    expect(await store.findOidcIdentity(ISSUER, 'groups')).toMatchObject({ groups: ['dev'], lastUsedAt: T0 + 1, email: null });
  });

  it('marks the account\'s live sessions when a sign-in changes its groups, and only then', async () => {
    const user = await newUser();
    await link(user.id, 'marks');
    const session = `marks-${n}`;
    await store.createSession({ id: session, userId: user.id, refreshHash: `hash-${session}`, now: T0 });
    const signIn = (granted: string[], now: number) => store.signInWithOidcIdentity({ issuer: ISSUER, subject: 'marks', email: null, now }, mergeGroups(granted));
    const marksOf = async (since: number) => (await store.claimsChangedSince(since)).filter((change) => change.sessionId === session);
    expect((await signIn(['dev'], T0 + 10))?.claimsChanged).toEqual([session]);
    expect(await marksOf(T0)).toEqual([{ sessionId: session, at: T0 + 10 }]);
    expect((await signIn(['dev'], T0 + 20))?.claimsChanged).toEqual([]);
    expect(await marksOf(T0 + 11)).toEqual([]);
    await signIn([], T0 + 30);
    expect(await marksOf(T0 + 11)).toEqual([{ sessionId: session, at: T0 + 30 }]);
  });

  it('finds the live sessions of a provider session or subject, and forgets an identity with its account', async () => {
    const user = await newUser();
    await link(user.id, 'sessions');
    for (const [id, sid] of [['s1', 'sid-a'], ['s2', 'sid-b'], ['s3', null]] as const) {
      await store.createSession({ id: `${user.id}-${id}`, userId: user.id, refreshHash: id, now: T0 });
      await store.recordOidcSession({ sessionId: `${user.id}-${id}`, issuer: ISSUER, subject: 'sessions', sid });
    }
    await store.revokeSession(`${user.id}-s2`, T0);
    expect(await store.findOidcSessions(ISSUER, { sid: 'sid-a' })).toEqual([`${user.id}-s1`]);
    expect((await store.findOidcSessions(ISSUER, { subject: 'sessions' })).sort()).toEqual([`${user.id}-s1`, `${user.id}-s3`]);
    expect(await store.findOidcSessions(ISSUER, {})).toEqual([]);
    expect(await store.findOidcSessions('https://other.example', { subject: 'sessions' })).toEqual([]);
    await store.deleteUser(user.id);
    expect(await store.findOidcIdentity(ISSUER, 'sessions')).toBeUndefined();
  });
});
