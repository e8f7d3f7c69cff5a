/** The admin page (SPEC section 11) over HTTP: who may open it, its forms, and what hostile posts get. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formCsrf, PASSWORD, registerUser, startTestGatehouse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

describe('the admin page', () => {
  let gate: TestGatehouse;
  let admin: TokenBody & { username: string };
  let member: TokenBody & { username: string };
  let csrf: { cookie: string; token: string };

  beforeAll(async () => {
    gate = await startTestGatehouse();
    admin = await registerUser(gate, 'boss');
    member = await registerUser(gate, 'member');
    csrf = await formCsrf(gate);
  });
  afterAll(() => gate.close());

  const bearer = (who: TokenBody) => ({ authorization: `Bearer ${who.access_token}` });
  const open = (query = '', who: TokenBody = admin) => fetch(`${gate.url}/_auth/admin${query}`, { headers: bearer(who), redirect: 'manual' });
  const act = (fields: Record<string, string>, { who = admin, token = csrf.token, headers = {} }: { who?: TokenBody; token?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${gate.url}/_auth/admin`, {
      method: 'POST',
      headers: { ...bearer(who), cookie: csrf.cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ csrf: token, ...fields }),
      redirect: 'manual',
    });
  const idOf = async (username: string) => (await gate.services.store.findUserByLogin(username))!.id;
  /** Straight into the store: registration would refuse some of the names tried here. */
  const createUser = async (username: string) =>
    gate.services.store.createUser({ username, passwordHash: await gate.services.passwords.hash(PASSWORD), now: Date.now() });

  it('sends a stranger to the login page, and shows a signed-in non-administrator the 403 page naming them', async () => {
    const stranger = await fetch(`${gate.url}/_auth/admin`, { redirect: 'manual' });
    expect(stranger.status).toBe(302);
    expect(stranger.headers.get('location')).toBe('/_auth/login?rd=%2F_auth%2Fadmin');
    const refused = await open('', member);
    expect(refused.status).toBe(403);
    const html = await refused.text();
    expect(html).toContain('<strong>member</strong>');
    expect(html).toContain('Sign out and switch account');
    expect(html).not.toContain('Find people');
  });

  it('lists people, finds them by name and by group, and shows one with groups, factors and sessions', async () => {
    const listed = await (await open()).text();
    expect(listed).toContain('>boss</a>');
    expect(listed).toContain('>member</a>');
    const found = await (await open('?query=memb')).text();
    expect(found).toContain('>member</a>');
    expect(found).not.toContain('>boss</a>');
    const admins = await (await open('?group=admins')).text();
    expect(admins).toContain('>boss</a>');
    expect(admins).not.toContain('>member</a>');
    const one = await (await open(`?user=${await idOf('member')}`)).text();
    expect(one).toContain('<h2 id="person">member</h2>');
    expect(one).toContain('Password: set');
    expect(one).toMatch(/<h3>Sessions<\/h3><table>/);
    expect(one).toContain('user_registered');
  });

  it('adds and removes a group, answering with a redirect that names what was done, and the user’s token is judged anew', async () => {
    const id = await idOf('member');
    const added = await act({ action: 'add_group', user: id, group: 'ops' });
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe(`/_auth/admin?user=${id}&notice=group_added`);
    expect((await gate.services.store.findUserById(id))!.groups).toContain('ops');
    expect((await open(`?user=${id}&notice=group_added`)).status).toBe(200);
    // Tokens minted before the change are no longer trusted here: the member must refresh to carry the new groups.
    expect((await fetch(`${gate.url}/_auth/userinfo`, { headers: bearer(member) })).status).toBe(401);
    const removed = await act({ action: 'remove_group', user: id, group: 'ops' });
    expect(removed.headers.get('location')).toBe(`/_auth/admin?user=${id}&notice=group_removed`);
    expect((await gate.services.store.findUserById(id))!.groups).not.toContain('ops');
  });

  it('makes an invite link and an account with a set-password link, each shown once on the page', async () => {
    const invited = await act({ action: 'invite', email: 'guest@example.com', groups: 'staff, ops' });
    expect(invited.status).toBe(200);
    const link = /<code id="made-link">([^<]+)<\/code>/.exec(await invited.text())?.[1];
    expect(link).toMatch(/\/_auth\/register\?invite=/);
    const [made] = await gate.services.store.listAuditEvents({ type: 'invite_created', limit: 1 });
    expect(made).toMatchObject({ actorKind: 'admin', actorUsername: 'boss', details: { email: 'guest@example.com', groups: ['staff', 'ops'] } });
    const added = await act({ action: 'add_user', username: 'newcomer', email: 'newcomer@example.com', groups: 'staff' });
    expect(added.status).toBe(200);
    expect(await added.text()).toMatch(/<code id="made-link">[^<]+\/_auth\/password\/reset\?token=/);
    const newcomer = await gate.services.store.findUserByLogin('newcomer');
    expect(newcomer).toMatchObject({ groups: ['staff'], emailVerified: true });
  });

  it('refuses to delete without the confirmation box, and deletes with it', async () => {
    const { id } = await createUser('doomed');
    const unconfirmed = await act({ action: 'delete', user: id });
    expect(unconfirmed.headers.get('location')).toBe(`/_auth/admin?user=${id}&error=missing_field`);
    expect(await gate.services.store.findUserById(id)).toBeDefined();
    const deleted = await act({ action: 'delete', user: id, confirm: 'yes' });
    expect(deleted.headers.get('location')).toBe('/_auth/admin?notice=deleted');
    expect(await gate.services.store.findUserById(id)).toBeUndefined();
  });

  it('never leaves the instance without an administrator: disabling the last one goes back with the refusal', async () => {
    const id = await idOf('boss');
    const refused = await act({ action: 'disable', user: id });
    expect(refused.headers.get('location')).toBe(`/_auth/admin?user=${id}&error=last_admin`);
    expect(await (await open(`?user=${id}&error=last_admin`)).text()).toContain('That would leave no enabled administrator.');
  });

  it('ends only a session of the person the form names', async () => {
    const other = await registerUser(gate);
    const otherSession = (await gate.services.store.listUserSessions(await idOf(other.username)))[0]!.id;
    const memberId = await idOf('member');
    const mismatched = await act({ action: 'revoke_session', user: memberId, session: otherSession });
    expect(mismatched.headers.get('location')).toBe(`/_auth/admin?user=${memberId}&error=session_not_found`);
    expect((await gate.services.store.findSession(otherSession))!.revokedAt).toBeNull();
  });

  it.each([
    ['a non-administrator', async () => ({ who: await registerUser(gate) }), 403, 'admin_required'],
    ['a missing CSRF token', async () => ({ token: '' }), 403, 'csrf_failed'],
    ['a wrong CSRF token', async () => ({ token: 'x'.repeat(32) }), 403, 'csrf_failed'],
    ['another site', async () => ({ headers: { origin: 'https://evil.example' } }), 403, 'origin_forbidden'],
  ])('refuses a post from %s, changing nothing', async (_name, options, status, code) => {
    const id = await idOf('member');
    const res = await act({ action: 'add_group', user: id, group: 'hijacked' }, await options());
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: code });
    expect((await gate.services.store.findUserById(id))!.groups).not.toContain('hijacked');
  });

  it('refuses a JSON post: the page posts forms only', async () => {
    const res = await fetch(`${gate.url}/_auth/admin`, {
      method: 'POST',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'disable', user: await idOf('member') }),
    });
    expect(res.status).toBe(415);
  });

  it.each([
    ['an unknown action', { action: 'promote' }, 'invalid_field'],
    ['no user', { action: 'disable' }, 'user_not_found'],
    ['an unknown user', { action: 'disable', user: 'nobody' }, 'user_not_found'],
    ['a bad group name', { action: 'add_group', group: '<script>' }, 'invalid_field'],
    ['a group name too long', { action: 'add_group', group: 'g'.repeat(65) }, 'invalid_field'],
  ])('goes back to the page with a clear refusal for %s', async (_name, fields, code) => {
    const id = await idOf('member');
    const res = await act({ user: fields.action === 'disable' && !('user' in fields) ? '' : id, ...fields });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(new RegExp(`error=${code}$`));
  });

  it('shows only catalogued notices and errors, never text from the address', async () => {
    const html = await (await open('?notice=<b>owned</b>&error=<i>owned</i>')).text();
    expect(html).not.toContain('owned');
    expect((await open('?group=bad%20name')).status).toBe(400);
  });

  it('pages through everyone with its "More people" link, each person once, a long Unicode name too', async () => {
    const passwordHash = await gate.services.passwords.hash(PASSWORD);
    // NFKC makes this 64-character name's key 18 times as long: the cursor must still lead on.
    const names = [...Array.from({ length: 55 }, (_, i) => `crowd${String(i).padStart(2, '0')}`), '\ufdfa'.repeat(64)];
    for (const username of names) await gate.services.store.createUser({ username, passwordHash, now: Date.now() });
    const seen: string[] = [];
    for (let next: string | undefined = '', pages = 0; next !== undefined; pages++) {
      expect(pages).toBeLessThan(10);
      const html: string = await (await open(next)).text();
      seen.push(...[...html.matchAll(/<td><a href="\/_auth\/admin\?user=[^"]+">([^<]+)<\/a><\/td>/g)].map((m) => m[1]!));
      const more: string | undefined = /<a href="\/_auth\/admin(\?[^"]+)">More people<\/a>/.exec(html)?.[1];
      next = more?.replaceAll('&amp;', '&');
    }
    expect(new Set(seen).size).toBe(seen.length);
    const everyone = await gate.services.store.findUsers({ limit: 200 });
    expect(seen.sort()).toEqual(everyone.map((user) => user.username).sort());
    expect(seen).toContain('\ufdfa'.repeat(64));
  });

  it('escapes a hostile username wherever it shows', async () => {
    const { id } = await createUser('x"><img src=x onerror=alert(1)>');
    const html = await (await open(`?user=${id}`)).text();
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('x&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
  });

  it('gives twenty racing group changes of one user one consistent end', async () => {
    const { id } = await createUser('raced');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => act({ action: i % 2 ? 'remove_group' : 'add_group', user: id, group: 'flip' })),
    );
    expect(answers.every((res) => res.status === 303)).toBe(true);
    const user = (await gate.services.store.findUserById(id))!;
    const rows = await gate.services.store.findUsers({ group: 'flip', limit: 10 });
    expect(rows.some((row) => row.id === id)).toBe(user.groups.includes('flip'));
  });
});
