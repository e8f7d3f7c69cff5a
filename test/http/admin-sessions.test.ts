/** Sessions as people review them: device and address on the account page, and administrators' list and revocation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { createDatabase, dropDatabase, postgres } from '../helpers/postgres.js';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

let gate: TestGatehouse;
let replica: TestGatehouse;
let admin: TokenBody & { username: string };
let member: TokenBody & { username: string };
beforeAll(async () => {
  // trust_window 2s: the replica reads revocations every second.
  gate = await startTestGatehouse({ trust_window: '2s' });
  replica = await startTestGatehouse({ trust_window: '2s', database_url: gate.services.config.database_url });
  admin = await registerUser(gate, uniqueName('admin')); // the first account: an administrator
  member = await registerUser(gate, uniqueName('member'));
});
afterAll(async () => {
  await replica.close();
  await gate.close();
});

const bearer = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
const call = (method: string, path: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(`${gate.url}${path}`, { method, headers: token ? bearer(token, headers) : headers });
const userinfoStatus = async (on: TestGatehouse, token: string) => (await fetch(`${on.url}/_auth/userinfo`, { headers: bearer(token) })).status;

/** Signs in from a browser (its user agent) at a client address (X-Forwarded-For through the trusted loopback). */
async function signIn(username: string, userAgent: string | undefined, address: string): Promise<TokenBody> {
  const headers: Record<string, string> = { 'x-forwarded-for': address, ...(userAgent && { 'user-agent': userAgent }) };
  const res = await postJson(`${gate.url}/_auth/login`, { username, password: PASSWORD }, headers);
  expect(res.status).toBe(200);
  return (await res.json()) as TokenBody;
}

interface SessionJson {
  id: string;
  user: { id: string; username: string };
  device: string;
  address: string | null;
  created_at: string;
  last_used_at: string;
}
const sessionsOf = async (query: string) => {
  const res = await call('GET', `/_auth/admin/sessions${query}`, admin.access_token);
  expect(res.status).toBe(200);
  return (await res.json()) as { sessions: SessionJson[]; next_cursor: string | null };
};

describe('the routes for administrators', () => {
  const routes = [
    ['GET', '/_auth/admin/sessions'],
    ['DELETE', '/_auth/admin/sessions/AAAAAAAAAAAAAAAAAAAAAA'],
  ] as const;

  it.each(routes)('answer a stranger %s %s with 401', async (method, path) => {
    const res = await call(method, path);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthenticated' });
  });

  it.each(routes)('answer a signed-in non-administrator %s %s with 403', async (method, path) => {
    const res = await call(method, path, member.access_token);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'admin_required' });
  });

  it('refuses a revocation sent from another site', async () => {
    const res = await call('DELETE', '/_auth/admin/sessions/AAAAAAAAAAAAAAAAAAAAAA', admin.access_token, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'origin_forbidden' });
  });
});

describe('the device and address of a session', () => {
  it('are those of the sign-in, and the account page shows them and which session is this one', async () => {
    const username = uniqueName('devices');
    await registerUser(gate, username);
    const firefox = await signIn(username, FIREFOX, '203.0.113.7');
    await signIn(username, undefined, '2001:db8::1');
    const own = await fetch(`${gate.url}/_auth/account/sessions`, { headers: bearer(firefox.access_token) });
    const { sessions } = (await own.json()) as { sessions: (SessionJson & { current: boolean })[] };
    expect(sessions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ device: 'Firefox 128 on Windows', address: '203.0.113.7', current: true }),
        expect.objectContaining({ device: 'unknown', address: '2001:db8::1', current: false }),
      ]),
    );
    const page = await (await fetch(`${gate.url}/_auth/account`, { headers: { cookie: `gatehouse_session=${firefox.access_token}~${firefox.refresh_token}` } })).text();
    expect(page).toMatch(/<strong>Firefox 128 on Windows<\/strong> from 203\.0\.113\.7 <strong>\(this one\)<\/strong>/);
    expect(page).toContain('<strong>unknown</strong> from 2001:db8::1<br>');
    const other = sessions.find((s) => !s.current)!;
    expect(page).toContain(`data-end-session="${other.id}"`);
  });

  it('keeps a hostile user agent as text, never as markup', async () => {
    const username = uniqueName('hostile');
    await registerUser(gate, username);
    const tokens = await signIn(username, '<img src=x onerror=alert(1)>/1.0 (<script>)', '203.0.113.8');
    const page = await (await fetch(`${gate.url}/_auth/account`, { headers: { cookie: `gatehouse_session=${tokens.access_token}~${tokens.refresh_token}` } })).text();
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('<script>');
  });

  it('lets the account page end another of its own sessions, still', async () => {
    const username = uniqueName('ending');
    await registerUser(gate, username);
    const mine = await signIn(username, FIREFOX, '203.0.113.9');
    const other = await signIn(username, CHROME, '203.0.113.10');
    const { sessions } = (await (await fetch(`${gate.url}/_auth/account/sessions`, { headers: bearer(mine.access_token) })).json()) as { sessions: (SessionJson & { current: boolean })[] };
    const chrome = sessions.find((s) => s.device === 'Chrome 131 on Linux')!;
    expect((await fetch(`${gate.url}/_auth/account/sessions/${chrome.id}`, { method: 'DELETE', headers: bearer(mine.access_token) })).status).toBe(200);
    expect(await userinfoStatus(gate, other.access_token)).toBe(401);
    expect(await userinfoStatus(gate, mine.access_token)).toBe(200);
  });
});

describe('GET /_auth/admin/sessions', () => {
  it('lists live sessions with user, device, address, created and last used, and one user’s by id', async () => {
    const username = uniqueName('listed');
    const registered = await registerUser(gate, username);
    await signIn(username, CHROME, '198.51.100.4');
    const me = (await (await fetch(`${gate.url}/_auth/userinfo`, { headers: bearer(registered.access_token) })).json()) as { id: string };
    const { sessions, next_cursor } = await sessionsOf(`?user=${me.id}`);
    expect(next_cursor).toBeNull();
    expect(sessions).toHaveLength(2);
    expect(sessions.find((s) => s.device !== 'unknown')).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      user: { id: me.id, username },
      device: 'Chrome 131 on Linux',
      address: '198.51.100.4',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      last_used_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const everyone = await sessionsOf('?limit=200');
    expect(everyone.sessions.map((s) => s.user.username)).toEqual(expect.arrayContaining([admin.username, member.username, username]));
  });

  it('pages through every live session exactly once, newest first', async () => {
    const all = (await sessionsOf('?limit=200')).sessions.map((s) => s.id);
    expect(all.length).toBeGreaterThan(3);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await sessionsOf(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  it('leaves out ended sessions', async () => {
    const username = uniqueName('gone');
    const registered = await registerUser(gate, username);
    const me = (await (await fetch(`${gate.url}/_auth/userinfo`, { headers: bearer(registered.access_token) })).json()) as { id: string };
    await postJson(`${gate.url}/_auth/logout`, { refresh_token: registered.refresh_token });
    expect((await sessionsOf(`?user=${me.id}`)).sessions).toEqual([]);
  });

  it.each([
    ['limit=0'],
    ['limit=201'],
    ['limit=abc'],
    ['limit=-1'],
    ['limit=1.5'],
    ['cursor=!!!'],
    ['cursor=bm9uc2Vuc2U'], // "nonsense"
    [`cursor=${Buffer.from('12.a.b').toString('base64url')}`],
    [`cursor=${'A'.repeat(5000)}`],
    ['limit=5&limit=6'],
    ['cursor=MTIuYWJ'], // "12.ab" with other unused bits than this server writes (MTIuYWI)
  ])('answers 400 invalid_field for %s', async (query) => {
    const res = await call('GET', `/_auth/admin/sessions?${query}`, admin.access_token);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_field' });
  });

  it('takes empty parameters as absent ones', async () => {
    const all = await sessionsOf('?limit=200');
    expect((await sessionsOf('?user=&cursor=&limit=')).sessions).toEqual(all.sessions.slice(0, 50));
  });

  it('answers 404 user_not_found for an unknown user id', async () => {
    const res = await call('GET', `/_auth/admin/sessions?user=${crypto.randomUUID()}`, admin.access_token);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'user_not_found' });
  });
});

describe('DELETE /_auth/admin/sessions/{id}', () => {
  it('ends the session at once here, on another instance within trust_window, and answers 404 the second time', async () => {
    const username = uniqueName('revoked');
    await registerUser(gate, username);
    const victim = await signIn(username, FIREFOX, '203.0.113.20');
    const bystander = await signIn(username, CHROME, '203.0.113.21');
    expect(await userinfoStatus(replica, victim.access_token)).toBe(200);
    const id = victim.refresh_token.split('.')[0]!;

    const res = await call('DELETE', `/_auth/admin/sessions/${id}`, admin.access_token);
    expect(res.status).toBe(204);
    expect(await userinfoStatus(gate, victim.access_token)).toBe(401);
    expect((await postJson(`${gate.url}/_auth/refresh`, { refresh_token: victim.refresh_token })).status).toBe(401);
    await expect.poll(() => userinfoStatus(replica, victim.access_token), { timeout: 4_000, interval: 100 }).toBe(401);
    expect(await userinfoStatus(gate, bystander.access_token)).toBe(200);

    const again = await call('DELETE', `/_auth/admin/sessions/${id}`, admin.access_token);
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: 'session_not_found' });
  });

  it.each([['AAAAAAAAAAAAAAAAAAAAAA'],  ['not%20a%20session'], ['x'.repeat(2000)]])('answers 404 session_not_found for the id %s', async (id) => {
    const res = await call('DELETE', `/_auth/admin/sessions/${id}`, admin.access_token);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'session_not_found' });
  });
});

describe.runIf(postgres.available)('on two replicas of one PostgreSQL database', () => {
  let url: string;
  let a: TestGatehouse;
  let b: TestGatehouse;
  beforeAll(async () => {
    url = await createDatabase();
    // A long trust window: what b learns here, it hears by LISTEN, not by the periodic read.
    a = await startTestGatehouse({ database_url: url, trust_window: '5m' });
    b = await startTestGatehouse({ database_url: url, trust_window: '5m' });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    if (url) await dropDatabase(url);
  });

  it('lists sessions a page at a time and ends one on the other replica at once', async () => {
    const root = await registerUser(a, uniqueName('pgadmin'));
    const username = uniqueName('pguser');
    const victim = await registerUser(a, username);
    const page = await fetch(`${b.url}/_auth/admin/sessions?limit=1`, { headers: bearer(root.access_token) });
    const first = (await page.json()) as { sessions: SessionJson[]; next_cursor: string };
    const next = (await (await fetch(`${b.url}/_auth/admin/sessions?limit=1&cursor=${first.next_cursor}`, { headers: bearer(root.access_token) })).json()) as {
      sessions: SessionJson[];
      next_cursor: string | null;
    };
    expect([...first.sessions, ...next.sessions].map((s) => s.user.username).sort()).toEqual([root.username, username].sort());
    expect(next.next_cursor).toBeNull();

    expect(await userinfoStatus(b, victim.access_token)).toBe(200);
    const id = victim.refresh_token.split('.')[0]!;
    const res = await fetch(`${a.url}/_auth/admin/sessions/${id}`, { method: 'DELETE', headers: bearer(root.access_token) });
    expect(res.status).toBe(204);
    await expect.poll(() => userinfoStatus(b, victim.access_token), { timeout: 1_000, interval: 20 }).toBe(401);
  });
});
