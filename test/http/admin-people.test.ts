/**
 * The administration API for people (SPEC section 11): only administrators, bad input
 * answered 4xx, racing changes that always leave an administrator, and a change of
 * groups that takes effect at once here and within trust_window on another instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cookieHeader,
  cookiesOf,
  PASSWORD,
  postJson,
  registerUser,
  startTestGatehouse,
  tempDir,
  type TestGatehouse,
  type TokenBody,
} from '../helpers/gatehouse.js';
import { createDatabase, dropDatabase, postgres } from '../helpers/postgres.js';
import { CLI_ACTOR } from '../../src/audit.js';
import { createLogger } from '../../src/log.js';

const bearer = (token: TokenBody) => ({ authorization: `Bearer ${token.access_token}` });

/** An API call as a same-site script would make it. */
function call(gate: TestGatehouse, method: string, path: string, { token, body, headers = {} }: { token?: TokenBody; body?: unknown; headers?: Record<string, string> } = {}) {
  return fetch(`${gate.url}${path}`, {
    method,
    headers: { ...(token && bearer(token)), ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  });
}

const idOf = async (gate: TestGatehouse, name: string) => (await gate.services.store.findUserByLogin(name))!.id;
const adminsIn = async (gate: TestGatehouse) => (await gate.services.store.findUsers({ group: 'admins', limit: 200 })).filter((u) => !u.disabled);

describe('the people administration API', () => {
  let gate: TestGatehouse;
  let admin: TokenBody;
  let plain: TokenBody & { username: string };
  let plainId: string;
  beforeAll(async () => {
    gate = await startTestGatehouse();
    admin = await registerUser(gate, 'root'); // the first account: an administrator
    plain = await registerUser(gate, 'plain', { email: 'plain@example.com' });
    plainId = await idOf(gate, 'plain');
  });
  afterAll(() => gate.close());

  const routes = () =>
    [
      ['GET', '/_auth/admin/users'],
      ['GET', `/_auth/admin/users/${plainId}`],
      ['PATCH', `/_auth/admin/users/${plainId}`],
      ['DELETE', `/_auth/admin/users/${plainId}`],
      ['POST', `/_auth/admin/users/${plainId}/unban`],
      ['DELETE', `/_auth/admin/users/${plainId}/factors`],
      ['GET', '/_auth/admin/groups'],
      ['PUT', `/_auth/admin/users/${plainId}/groups/admins`],
      ['DELETE', `/_auth/admin/users/${plainId}/groups/admins`],
    ] as const;

  it('refuses strangers with 401 and signed-in non-administrators with 403 on every route, changing nothing', async () => {
    for (const [method, path] of routes()) {
      const body = method === 'PATCH' ? { disabled: true } : undefined;
      const stranger = await call(gate, method, path, { body });
      expect([method, path, stranger.status, (await stranger.json()).error]).toEqual([method, path, 401, 'unauthenticated']);
      const user = await call(gate, method, path, { token: plain, body });
      expect([method, path, user.status, (await user.json()).error]).toEqual([method, path, 403, 'admin_required']);
    }
    expect(await gate.services.store.findUserById(plainId)).toMatchObject({ disabled: false, groups: [] });
  });

  it('refuses a cross-site request to change a user', async () => {
    const res = await call(gate, 'PUT', `/_auth/admin/users/${plainId}/groups/admins`, { token: admin, headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toBe('origin_forbidden');
    expect((await gate.services.store.findUserById(plainId))!.groups).toEqual([]);
  });

  it.each([
    ['GET', '/_auth/admin/users/no-such-id', undefined, 404, 'user_not_found'],
    ['PATCH', '/_auth/admin/users/no-such-id', { disabled: true }, 404, 'user_not_found'],
    ['DELETE', '/_auth/admin/users/no-such-id', undefined, 404, 'user_not_found'],
    ['POST', '/_auth/admin/users/no-such-id/unban', undefined, 404, 'user_not_found'],
    ['DELETE', '/_auth/admin/users/no-such-id/factors', undefined, 404, 'user_not_found'],
    ['PUT', '/_auth/admin/users/no-such-id/groups/ops', undefined, 404, 'user_not_found'],
    ['GET', '/_auth/admin/users/%E0%A4%A', undefined, 400, undefined],
    ['PUT', '/_auth/admin/users/{plain}/groups/has%20space', undefined, 400, 'invalid_field'],
    ['PUT', `/_auth/admin/users/{plain}/groups/${'g'.repeat(65)}`, undefined, 400, 'invalid_field'],
    ['PUT', '/_auth/admin/users/{plain}/groups/%C3%A9t%C3%A9', undefined, 400, 'invalid_field'],
    ['PUT', '/_auth/admin/users/{plain}/groups/..', undefined, 404, undefined], // the client resolves the dot segment: no such route
    ['DELETE', '/_auth/admin/users/{plain}/groups/a%2Fb', undefined, 400, undefined],
    ['GET', '/_auth/admin/users?limit=0', undefined, 400, 'invalid_field'],
    ['GET', '/_auth/admin/users?limit=201', undefined, 400, 'invalid_field'],
    ['GET', '/_auth/admin/users?limit=ten', undefined, 400, 'invalid_field'],
    ['GET', '/_auth/admin/users?limit=1e2', undefined, 400, 'invalid_field'],
    ['GET', '/_auth/admin/users?limit=5&limit=6', undefined, 400, 'invalid_field'],
    ['GET', '/_auth/admin/users?cursor=%25%25', undefined, 400, 'invalid_field'],
    ['GET', '/_auth/admin/users?cursor=_w', undefined, 400, 'invalid_field'], // base64url of a byte that is not UTF-8
    ['GET', `/_auth/admin/users?cursor=${'A'.repeat(401)}`, undefined, 400, 'invalid_field'],
    ['GET', '/_auth/admin/users?group=no%20such', undefined, 400, 'invalid_field'],
    ['GET', `/_auth/admin/users?query=${'q'.repeat(321)}`, undefined, 400, 'invalid_field'],
    ['GET', '/_auth/admin/groups?cursor=!', undefined, 400, 'invalid_field'],
    ['PATCH', '/_auth/admin/users/{plain}', {}, 400, 'missing_field'],
    ['PATCH', '/_auth/admin/users/{plain}', { disabled: 'yes' }, 400, 'invalid_field'],
    ['PATCH', '/_auth/admin/users/{plain}', { disabled: 1 }, 400, 'invalid_field'],
    ['PATCH', '/_auth/admin/users/{plain}', '[true]', 400, 'invalid_json'],
    ['PATCH', '/_auth/admin/users/{plain}', '{"disabled":', 400, 'invalid_json'],
  ] as const)('answers %s %s (body %j) with %i %s', async (method, path, body, status, error) => {
    const res = await call(gate, method, path.replace('{plain}', plainId), { token: admin, body });
    expect(res.status).toBe(status);
    if (error) expect((await res.json()).error).toBe(error);
    expect(await gate.services.store.findUserById(plainId)).toMatchObject({ disabled: false, groups: [] });
  });

  it('lists users with a query, a group, and keyset pages whose cursor leads on', async () => {
    for (const name of ['pageA', 'pageB', 'pageC']) {
      await registerUser(gate, name);
      expect((await call(gate, 'PUT', `/_auth/admin/users/${await idOf(gate, name)}/groups/pagers`, { token: admin })).status).toBe(204);
    }
    const first = await (await call(gate, 'GET', '/_auth/admin/users?group=pagers&limit=2', { token: admin })).json();
    expect(first.users.map((u: { username: string }) => u.username)).toEqual(['pageA', 'pageB']);
    expect(first.users[0]).toMatchObject({ groups: ['pagers'], disabled: false, email: null, email_verified: false, display_name: null });
    expect(first.users[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    const second = await (await call(gate, 'GET', `/_auth/admin/users?group=pagers&limit=2&cursor=${first.next_cursor}`, { token: admin })).json();
    expect(second).toEqual({ users: [expect.objectContaining({ username: 'pageC' })], next_cursor: null });
    const found = await (await call(gate, 'GET', '/_auth/admin/users?query=PLAIN%40EXAMPLE', { token: admin })).json();
    expect(found.users.map((u: { id: string }) => u.id)).toEqual([plainId]);
    const groups = await (await call(gate, 'GET', '/_auth/admin/groups', { token: admin })).json();
    expect(groups).toEqual({ groups: [{ name: 'admins', members: 1 }, { name: 'pagers', members: 3 }], next_cursor: null });
  });

  it('hands out no cursor with a last page that is full, and pages through groups by name', async () => {
    const whole = await (await call(gate, 'GET', '/_auth/admin/users?group=pagers&limit=3', { token: admin })).json();
    expect(whole).toEqual({ users: [expect.objectContaining({ username: 'pageA' }), expect.anything(), expect.anything()], next_cursor: null });
    const first = await (await call(gate, 'GET', '/_auth/admin/groups?limit=1', { token: admin })).json();
    expect(first.groups).toEqual([{ name: 'admins', members: 1 }]);
    const second = await (await call(gate, 'GET', `/_auth/admin/groups?limit=1&cursor=${first.next_cursor}`, { token: admin })).json();
    expect(second).toEqual({ groups: [{ name: 'pagers', members: 3 }], next_cursor: null });
  });

  it('leads on from a page that ends with the longest username (whose key NFKC makes 18 times as long)', async () => {
    const longest = '\uFDFA'.repeat(64);
    await registerUser(gate, longest);
    expect((await call(gate, 'PUT', `/_auth/admin/users/${await idOf(gate, longest)}/groups/ligatures`, { token: admin })).status).toBe(204);
    await registerUser(gate, '가나다');
    expect((await call(gate, 'PUT', `/_auth/admin/users/${await idOf(gate, '가나다')}/groups/ligatures`, { token: admin })).status).toBe(204);
    const first = await (await call(gate, 'GET', '/_auth/admin/users?group=ligatures&limit=1', { token: admin })).json();
    expect(first.users.map((u: { username: string }) => u.username)).toEqual([longest]);
    const res = await call(gate, 'GET', `/_auth/admin/users?group=ligatures&limit=1&cursor=${first.next_cursor}`, { token: admin });
    expect(res.status).toBe(200);
    expect((await res.json()).users.map((u: { username: string }) => u.username)).toEqual(['가나다']);
  });

  it('shows an account an administrator made without an address as unconfirmed, in the list and alone', async () => {
    const res = await call(gate, 'POST', '/_auth/admin/users', { token: admin, body: { username: 'noaddress', password: PASSWORD } });
    expect(res.status).toBe(201);
    const { id } = await res.json();
    const unconfirmed = { id, email: null, email_verified: false };
    expect(await (await call(gate, 'GET', `/_auth/admin/users/${id}`, { token: admin })).json()).toMatchObject(unconfirmed);
    expect((await (await call(gate, 'GET', '/_auth/admin/users?query=noaddress', { token: admin })).json()).users).toEqual([expect.objectContaining(unconfirmed)]);
  });

  it('shows the device and the client address each session of a user started from', async () => {
    await registerUser(gate, 'traveller');
    const headers = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'x-forwarded-for': '198.51.100.23' };
    expect((await postJson(`${gate.url}/_auth/login`, { username: 'traveller', password: PASSWORD }, headers)).status).toBe(200);
    const shown = await (await call(gate, 'GET', `/_auth/admin/users/${await idOf(gate, 'traveller')}`, { token: admin })).json();
    expect(shown.sessions).toContainEqual(expect.objectContaining({ device: 'Chrome 131 on Linux', address: '198.51.100.23' }));
  });

  it('shows a user with factors, ban and sessions, and lifts an account ban and resets factors', async () => {
    const eve = await registerUser(gate, 'eve');
    const eveId = await idOf(gate, 'eve');
    const { store } = gate.services;
    await store.setTotp(eveId, 'JBSWY3DPEHPK3PXP', true);
    await store.replaceRecoveryCodes(eveId, ['a', 'b', 'c']);
    for (let i = 0; i < 5; i++) await postJson(`${gate.url}/_auth/login`, { username: 'eve', password: `wrong ${i}` }, { 'x-forwarded-for': `198.19.0.${i + 1}` });
    const shown = await (await call(gate, 'GET', `/_auth/admin/users/${eveId}`, { token: admin })).json();
    expect(shown).toMatchObject({ username: 'eve', factors: { password: true, totp: true, recovery_codes: 3, passkeys: 0 } });
    expect(shown.banned_until).toMatch(/^\d{4}-/);
    expect(shown.sessions).toEqual([expect.objectContaining({ user: { id: eveId, username: 'eve' }, device: 'unknown' })]);
    expect((await postJson(`${gate.url}/_auth/login`, { username: 'eve', password: PASSWORD })).status).toBe(401); // banned

    expect((await call(gate, 'POST', `/_auth/admin/users/${eveId}/unban`, { token: admin })).status).toBe(204);
    expect((await call(gate, 'DELETE', `/_auth/admin/users/${eveId}/factors`, { token: admin })).status).toBe(204);
    const after = await (await call(gate, 'GET', `/_auth/admin/users/${eveId}`, { token: admin })).json();
    expect(after).toMatchObject({ banned_until: null, factors: { password: true, totp: false, recovery_codes: 0, passkeys: 0 } });
    const login = await postJson(`${gate.url}/_auth/login`, { username: 'eve', password: PASSWORD });
    expect(login.status).toBe(200);
    expect(await login.json()).toHaveProperty('access_token'); // no second factor asked any more
    expect(eve.access_token).toBeTruthy();
  });

  it('disables and enables a user (ending their sessions), deletes one, and refuses both for the last administrator', async () => {
    const doomed = await registerUser(gate, 'doomed');
    const doomedId = await idOf(gate, 'doomed');
    const disabled = await call(gate, 'PATCH', `/_auth/admin/users/${doomedId}`, { token: admin, body: { disabled: true } });
    expect(disabled.status).toBe(200);
    expect(await disabled.json()).toMatchObject({ id: doomedId, disabled: true });
    expect((await call(gate, 'GET', '/_auth/userinfo', { token: doomed })).status).toBe(401);
    expect((await postJson(`${gate.url}/_auth/refresh`, { refresh_token: doomed.refresh_token })).status).toBe(401);
    expect(await (await call(gate, 'PATCH', `/_auth/admin/users/${doomedId}`, { token: admin, body: { disabled: false } })).json()).toMatchObject({ disabled: false });
    expect((await call(gate, 'DELETE', `/_auth/admin/users/${doomedId}`, { token: admin })).status).toBe(204);
    expect((await call(gate, 'GET', `/_auth/admin/users/${doomedId}`, { token: admin })).status).toBe(404);

    const rootId = await idOf(gate, 'root');
    for (const [method, path, body] of [
      ['PATCH', `/_auth/admin/users/${rootId}`, { disabled: true }],
      ['DELETE', `/_auth/admin/users/${rootId}`, undefined],
      ['DELETE', `/_auth/admin/users/${rootId}/groups/admins`, undefined],
    ] as const) {
      const res = await call(gate, method, path, { token: admin, body });
      expect([path, res.status, (await res.json()).error]).toEqual([path, 409, 'last_admin']);
    }
    expect(await gate.services.store.findUserById(rootId)).toMatchObject({ disabled: false, groups: ['admins'] });
  });

  it('adds and removes groups idempotently, and racing adds and removals end in one consistent state', async () => {
    const path = `/_auth/admin/users/${plainId}/groups/racers`;
    expect((await call(gate, 'PUT', path, { token: admin })).status).toBe(204);
    expect((await call(gate, 'PUT', path, { token: admin })).status).toBe(204);
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => call(gate, i % 2 ? 'PUT' : 'DELETE', path, { token: admin }).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([204]));
    const user = (await gate.services.store.findUserById(plainId))!;
    const rows = await gate.services.store.findUsers({ group: 'racers', limit: 10 });
    expect(user.groups.filter((g) => g === 'racers').length).toBeLessThanOrEqual(1);
    expect(rows.map((u) => u.id)).toEqual(user.groups.includes('racers') ? [plainId] : []);
    expect((await call(gate, 'DELETE', path, { token: admin })).status).toBe(204);
    expect((await call(gate, 'DELETE', path, { token: admin })).status).toBe(204);
    expect((await gate.services.store.findUserById(plainId))!.groups).not.toContain('racers');
  });
});

describe('a refresh racing with a change of groups', () => {
  it('signs the groups the store holds after the change, not those it read before', async () => {
    const gate = await startTestGatehouse();
    try {
      await registerUser(gate, 'boss');
      const racer = await registerUser(gate, 'racer');
      const { store, people, sessions } = gate.services;
      await people.addToGroup({ actor: CLI_ACTOR }, (await store.findUserByLogin('racer'))!, 'ops');
      gate.clock.advance(1000);
      // The refresh reads the user (still in ops), and the change commits before it signs.
      const rotate = store.rotateLiveRefresh.bind(store);
      store.rotateLiveRefresh = async (rotation) => {
        const user = await rotate(rotation);
        await people.removeFromGroup({ actor: CLI_ACTOR }, (await store.findUserByLogin('racer'))!, 'ops');
        return user;
      };
      const refreshed = await sessions.refresh(racer.refresh_token);
      expect(refreshed.claims.groups).toEqual([]);
    } finally {
      await gate.close();
    }
  });
});

describe('racing removals of the last two administrators', () => {
  it('leave at least one enabled administrator', async () => {
    const gate = await startTestGatehouse();
    try {
      const a = await registerUser(gate, 'adminA');
      const b = await registerUser(gate, 'adminB');
      const [aId, bId] = [await idOf(gate, 'adminA'), await idOf(gate, 'adminB')];
      await gate.services.store.setGroupMember({ userId: bId, group: 'admins', member: true, now: gate.clock.now() });
      gate.clock.advance(1000); // b's token below is minted after the change
      const bFresh = (await (await postJson(`${gate.url}/_auth/login`, { username: 'adminB', password: PASSWORD })).json()) as TokenBody;
      expect(b.access_token).toBeTruthy();
      const requests = Array.from({ length: 20 }, (_, i) => {
        const [token, target] = [i % 2 ? a : bFresh, i % 4 < 2 ? aId : bId];
        const path = i % 3 === 0 ? `/_auth/admin/users/${target}` : `/_auth/admin/users/${target}/groups/admins`;
        return call(gate, i % 3 === 0 ? 'PATCH' : 'DELETE', path, { token, body: i % 3 === 0 ? { disabled: true } : undefined }).then((r) => r.status);
      });
      const statuses = await Promise.all(requests);
      for (const status of statuses) expect([204, 200, 401, 403, 409]).toContain(status);
      expect(statuses.some((status) => status === 409)).toBe(true);
      expect(await adminsIn(gate)).toHaveLength(1);
    } finally {
      await gate.close();
    }
  });
});

/** The rule below lets only members of `ops` open /ops. */
const RULES = { trust_window: '2s', access_rules: [{ path: '/ops/**', groups: ['ops'], policy: 'authenticated' }] };

async function verify(gate: TestGatehouse, path: string, headers: Record<string, string>) {
  return fetch(`${gate.url}/_auth/verify`, {
    headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': path, ...headers },
    redirect: 'manual',
  });
}

async function until(check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

const databases: [string, () => Promise<{ url: string; drop(): Promise<void> }>][] = [
  ['one SQLite file', async () => ({ url: `file:${tempDir()}/shared.db`, drop: async () => {} })],
  ...(postgres.available
    ? [['one PostgreSQL database', async () => {
        const url = await createDatabase();
        return { url, drop: () => dropDatabase(url) };
      }] as [string, () => Promise<{ url: string; drop(): Promise<void> }>]]
    : []),
];

describe.each(databases)('a change of groups, with two instances on %s', (_name, database) => {
  let a: TestGatehouse;
  let b: TestGatehouse;
  let drop: () => Promise<void>;
  /** A fresh administrator's token: with a 2 s trust_window, one from an earlier test has expired. */
  const asAdmin = async () => (await (await postJson(`${a.url}/_auth/login`, { username: 'boss', password: PASSWORD })).json()) as TokenBody;
  beforeAll(async () => {
    const db = await database();
    drop = db.drop;
    a = await startTestGatehouse({ ...RULES, database_url: db.url });
    b = await startTestGatehouse({ ...RULES, database_url: db.url });
    await registerUser(a, 'boss');
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await drop?.();
  });

  it('refuses a cookie session at once on this instance without signing it out: it refreshes into the new groups', async () => {
    await registerUser(a, 'carol');
    const carolId = await idOf(a, 'carol');
    await a.services.people.addToGroup({ actor: { kind: 'cli' } }, (await a.services.store.findUserById(carolId))!, 'ops');
    a.clock.advance(1000);
    const login = await postJson(`${a.url}/_auth/login`, { username: 'carol', password: PASSWORD });
    const cookies = cookiesOf(login);
    expect((await verify(a, '/ops/panel', { cookie: cookieHeader(cookies) })).status).toBe(200);

    expect((await call(a, 'DELETE', `/_auth/admin/users/${carolId}/groups/ops`, { token: await asAdmin() })).status).toBe(204);
    // The next request, a second later (a refresh in the second of the change waits for the next; this clock only moves when told).
    a.clock.advance(1000);
    const refused = await verify(a, '/ops/panel', { cookie: cookieHeader(cookies) });
    expect(refused.status).toBe(403); // signed in, but no longer in ops
    const renewed = { ...cookies, ...cookiesOf(refused) };
    expect(renewed).not.toEqual(cookies); // the session refreshed rather than ended, and the browser holds the new cookie
    expect((await verify(a, '/elsewhere', { cookie: cookieHeader(renewed) })).status).toBe(200);
    expect((await verify(a, '/ops/panel', { cookie: cookieHeader(renewed) })).status).toBe(403);
  });

  it('refuses a bearer token minted before the change with 401 here at once and on the other instance within trust_window; a refreshed one works', async () => {
    await registerUser(a, 'dave');
    const daveId = await idOf(a, 'dave');
    await a.services.people.addToGroup({ actor: { kind: 'cli' } }, (await a.services.store.findUserById(daveId))!, 'ops');
    a.clock.advance(1000);
    b.clock.advance(1000);
    const tokens = (await (await postJson(`${a.url}/_auth/login`, { username: 'dave', password: PASSWORD })).json()) as TokenBody;
    expect((await verify(a, '/ops/x', bearer(tokens))).status).toBe(200);
    expect((await verify(b, '/ops/x', bearer(tokens))).status).toBe(200); // and now in b's cache of verified tokens

    expect((await call(a, 'DELETE', `/_auth/admin/users/${daveId}/groups/ops`, { token: await asAdmin() })).status).toBe(204);
    expect((await verify(a, '/ops/x', bearer(tokens))).status).toBe(401);
    const waited = await until(async () => (await verify(b, '/ops/x', bearer(tokens))).status === 401, 2_000);
    expect(waited).toBeLessThan(2_000);

    a.clock.advance(1000);
    const refreshed = await postJson(`${a.url}/_auth/refresh`, { refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    const fresh = (await refreshed.json()) as TokenBody;
    expect((await verify(b, '/elsewhere', bearer(fresh))).status).toBe(200);
    expect((await verify(b, '/ops/x', bearer(fresh))).status).toBe(403);
  });
});

describe('the audit of people changes', () => {
  it('names the user, the administrator and the client address of each action, and cli for the command line', async () => {
    const lines: Record<string, unknown>[] = [];
    const gate = await startTestGatehouse({ log_level: 'info' }, { log: createLogger('info', (line) => void lines.push(JSON.parse(line))) });
    try {
      const admin = await registerUser(gate, 'auditor');
      await registerUser(gate, 'subject');
      const subjectId = await idOf(gate, 'subject');
      const from = { 'x-forwarded-for': '203.0.113.9' };
      await call(gate, 'PUT', `/_auth/admin/users/${subjectId}/groups/ops`, { token: admin, headers: from });
      await call(gate, 'POST', `/_auth/admin/users/${subjectId}/unban`, { token: admin, headers: from });
      await call(gate, 'DELETE', `/_auth/admin/users/${subjectId}/factors`, { token: admin, headers: from });
      await call(gate, 'PATCH', `/_auth/admin/users/${subjectId}`, { token: admin, headers: from, body: { disabled: true } });
      await gate.services.people.removeFromGroup({ actor: CLI_ACTOR }, (await gate.services.store.findUserById(subjectId))!, 'ops');
      await call(gate, 'DELETE', `/_auth/admin/users/${subjectId}`, { token: admin, headers: from });
      const events = lines.filter((line) => line['audit'] === true && line['username'] === 'subject' && !['user_registered', 'login_succeeded'].includes(String(line['event'])));
      const byAdmin = { user_id: subjectId, actor: 'auditor', address: '203.0.113.9' };
      expect(events).toEqual([
        expect.objectContaining({ event: 'group_added', group: 'ops', ...byAdmin }),
        expect.objectContaining({ event: 'user_unbanned', ...byAdmin }),
        expect.objectContaining({ event: 'factors_reset', ...byAdmin }),
        expect.objectContaining({ event: 'user_disabled', ...byAdmin }),
        expect.objectContaining({ event: 'group_removed', group: 'ops', actor: 'cli' }),
        expect.objectContaining({ event: 'user_deleted', ...byAdmin }),
      ]);
    } finally {
      await gate.close();
    }
  });
});
