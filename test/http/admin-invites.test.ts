/** Invites and accounts made by administrators (SPEC section 11), on a gatehouse whose registration is closed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ACTOR } from '../../src/audit.js';
import { createInvite } from '../../src/auth/invites.js';
import { createLogger } from '../../src/log.js';
import { cookiesOf, formCsrf, PASSWORD, postJson, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

const DAY = 24 * 3_600_000;
const lines: Record<string, unknown>[] = [];

let gate: TestGatehouse;
let admin: TokenBody & { username: string };
let member: TokenBody & { username: string };
beforeAll(async () => {
  const log = createLogger('info', (line) => void lines.push(JSON.parse(line) as Record<string, unknown>));
  gate = await startTestGatehouse({ registration: 'closed', public_url: 'https://auth.example.com', log_level: 'info' }, { log });
  admin = await registerUser(gate, uniqueName('admin')); // the first account, allowed while closed: an administrator
  const made = await adminPost('/_auth/admin/users', { username: uniqueName('member'), password: PASSWORD });
  expect(made.status).toBe(201);
  const username = ((await made.json()) as { username: string }).username;
  member = { ...((await (await login(username)).json()) as TokenBody), username };
});
afterAll(() => gate.close());

let clients = 0;
/** A client address of its own per registration: the per-address limit is tested on its own. */
const nextClient = () => `198.19.${(++clients >> 8) & 0xff}.${clients & 0xff}`;

function adminPost(path: string, body: unknown, token = admin.access_token, headers: Record<string, string> = {}) {
  return postJson(`${gate.url}${path}`, body, { authorization: `Bearer ${token}`, ...headers });
}
const login = (username: string, password = PASSWORD) => postJson(`${gate.url}/_auth/login`, { username, password });
const register = (body: Record<string, unknown>, client = nextClient()) => postJson(`${gate.url}/_auth/register`, { password: PASSWORD, ...body }, { 'x-forwarded-for': client });
const userinfo = async (token: string) =>
  (await (await fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${token}` } })).json()) as { username: string; email: string | null; email_verified: boolean; groups: string[] };

/** A new invite's token (from its URL). */
async function invite(body: Record<string, unknown> = {}): Promise<string> {
  const res = await adminPost('/_auth/admin/invites', body);
  expect(res.status).toBe(201);
  const { url } = (await res.json()) as { url: string };
  return new URL(url).searchParams.get('invite')!;
}

const expectError = async (res: Response, status: number, error: string) => {
  expect(res.status).toBe(status);
  expect(await res.json()).toMatchObject({ error });
};

describe('the routes for administrators', () => {
  const routes = [
    ['/_auth/admin/invites', {}],
    ['/_auth/admin/users', { username: 'nobody', password: PASSWORD }],
  ] as const;

  it.each(routes)('answer a stranger POST %s with 401', async (path, body) => {
    await expectError(await postJson(`${gate.url}${path}`, body), 401, 'unauthenticated');
  });

  it.each(routes)('answer a signed-in non-administrator POST %s with 403', async (path, body) => {
    await expectError(await adminPost(path, body, member.access_token), 403, 'admin_required');
  });

  it.each(routes)('refuse POST %s sent from another site', async (path, body) => {
    await expectError(await adminPost(path, body, admin.access_token, { origin: 'https://evil.example' }), 403, 'origin_forbidden');
  });

  it.each(routes)('refuse POST %s as a form, which any site could send', async (path) => {
    const res = await fetch(`${gate.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.access_token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=formed&password=correct+horse+battery+staple',
    });
    await expectError(res, 415, 'unsupported_media_type');
  });
});

describe('POST /_auth/admin/invites', () => {
  it('answers 201 with a single-use link and its expiry, seven days by default', async () => {
    const res = await adminPost('/_auth/admin/invites', {});
    expect(res.status).toBe(201);
    const body = (await res.json()) as { url: string; expires_at: string };
    expect(body.url).toMatch(/^https:\/\/auth\.example\.com\/_auth\/register\?invite=[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(body.expires_at)).toBe(gate.clock.now() + 7 * DAY);
    const hours = (await (await adminPost('/_auth/admin/invites', { ttl: '12h' })).json()) as { expires_at: string };
    expect(Date.parse(hours.expires_at)).toBe(gate.clock.now() + 12 * 3_600_000);
  });

  it('stores only a hash of the token', async () => {
    const token = await invite();
    const db = (await import('@libsql/client')).createClient({ url: gate.services.config.database_url });
    const rows = (await db.execute(`SELECT hash, data FROM one_time_tokens WHERE purpose = 'invite'`)).rows;
    db.close();
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  it.each([
    ['a ttl below an hour', { ttl: '59m' }, 'invalid_field'],
    ['a ttl above 30 days', { ttl: '31d' }, 'invalid_field'],
    ['a ttl of zero', { ttl: '0s' }, 'invalid_field'],
    ['a ttl in words', { ttl: 'a week' }, 'invalid_field'],
    ['a ttl as a number', { ttl: 3600 }, 'invalid_field'],
    ['groups as a string', { groups: 'staff' }, 'invalid_field'],
    ['a group name with a space', { groups: ['the staff'] }, 'invalid_field'],
    ['a group that is not a string', { groups: [{}] }, 'invalid_field'],
    // One rule for group names wherever they come in (SPEC section 11): the API could not name these in a URL path.
    ['a group name beyond A-Z, a-z and digits', { groups: ['équipe'] }, 'invalid_field'],
    ['a group named ..', { groups: ['staff', '..'] }, 'invalid_field'],
    ['too many groups', { groups: Array.from({ length: 51 }, (_, i) => `g${i}`) }, 'invalid_field'],
    ['an email that is not one', { email: 'not an address' }, 'invalid_input'],
    ['an email as a list', { email: ['a@example.com'] }, 'invalid_field'],
  ])('answers 400 for %s', async (_what, body, error) => {
    await expectError(await adminPost('/_auth/admin/invites', body), 400, error);
  });

  it('answers 400 for a body that is not a JSON object', async () => {
    for (const body of ['{', '[]', '"x"']) {
      const res = await fetch(`${gate.url}/_auth/admin/invites`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.access_token}`, 'content-type': 'application/json' },
        body,
      });
      await expectError(res, 400, 'invalid_json');
    }
  });
});

describe('registering with an invite', () => {
  it('works while registration is closed, signs the new user in and puts them in the invite’s groups', async () => {
    expect((await register({ username: uniqueName('uninvited') })).status).toBe(403);
    const token = await invite({ groups: ['staff', 'ops'] });
    const res = await register({ username: uniqueName('invited'), invite: token });
    expect(res.status).toBe(201);
    const tokens = (await res.json()) as TokenBody;
    expect((await userinfo(tokens.access_token)).groups).toEqual(['staff', 'ops']);
  });

  it('refuses the same invite a second time with 403 invite_invalid', async () => {
    const token = await invite();
    expect((await register({ username: uniqueName('first'), invite: token })).status).toBe(201);
    await expectError(await register({ username: uniqueName('second'), invite: token }), 403, 'invite_invalid');
  });

  it('creates exactly one account of ten racing registrations with one invite', async () => {
    const token = await invite();
    const names = Array.from({ length: 10 }, () => uniqueName('racer'));
    const answers = await Promise.all(names.map((username) => register({ username, invite: token })));
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 403)).toHaveLength(9);
    const accounts = await Promise.all(names.map((username) => gate.services.store.findUserByLogin(username)));
    expect(accounts.filter(Boolean)).toHaveLength(1);
  });

  it.each([
    ['tampered', (token: string) => `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`],
    ['guessed', () => 'A'.repeat(43)],
    ['shortened', (token: string) => token.slice(0, 20)],
    ['padded', (token: string) => `${token}=`],
    ['not a string', () => 42],
  ])('refuses a %s invite with 403 invite_invalid, and the real one still works', async (_how, spoil) => {
    const token = await invite();
    const res = await register({ username: uniqueName('forger'), invite: spoil(token) });
    // A number is not a token at all: the field itself is wrong.
    if (typeof spoil(token) === 'number') await expectError(res, 400, 'invalid_field');
    else await expectError(res, 403, 'invite_invalid');
    expect((await register({ username: uniqueName('owner'), invite: token })).status).toBe(201);
  });

  it('refuses an expired invite', async () => {
    const token = await invite({ ttl: '1h' });
    gate.clock.advance(3_600_001);
    await expectError(await register({ username: uniqueName('late'), invite: token }), 403, 'invite_invalid');
    // The administrator's access token lived through trust_window only.
    admin = { ...((await (await login(admin.username)).json()) as TokenBody), username: admin.username };
  });

  it('leaves the invite unused when the account is refused (a taken name, a short password)', async () => {
    const token = await invite();
    await expectError(await register({ username: admin.username, invite: token }), 409, 'username_taken');
    await expectError(await register({ username: uniqueName('short'), invite: token, password: 'short' }), 400, 'invalid_input');
    expect((await register({ username: uniqueName('retry'), invite: token })).status).toBe(201);
  });

  it('takes the address an invite names as confirmed, in any letter case, and refuses any other address', async () => {
    const email = `${uniqueName('named')}@example.com`;
    const token = await invite({ email });
    await expectError(await register({ username: uniqueName('thief'), invite: token, email: 'thief@example.com' }), 403, 'invite_invalid');
    const res = await register({ username: uniqueName('named'), invite: token, email: email.toUpperCase() });
    expect(res.status).toBe(201);
    expect(await userinfo(((await res.json()) as TokenBody).access_token)).toMatchObject({ email, email_verified: true });
  });

  it('fills the address in when the registration leaves it out', async () => {
    const email = `${uniqueName('filled')}@example.com`;
    const res = await register({ username: uniqueName('filled'), invite: await invite({ email }) });
    expect(res.status).toBe(201);
    expect(await userinfo(((await res.json()) as TokenBody).access_token)).toMatchObject({ email, email_verified: true });
  });

  it('keeps an address the invitee chose unconfirmed until its link is followed', async () => {
    const res = await register({ username: uniqueName('chosen'), invite: await invite(), email: `${uniqueName('chosen')}@example.com` });
    expect(res.status).toBe(201);
    expect(await userinfo(((await res.json()) as TokenBody).access_token)).toMatchObject({ email: null, email_verified: false });
  });

  it('still counts registrations per client address (429 beyond the limit)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await register({ username: uniqueName('flood'), invite: 'A'.repeat(43) }, '198.18.250.1')).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(403));
    expect(statuses[20]).toBe(429);
  });
});

describe('the registration page with an invite', () => {
  it('carries the invite and shows the invited address fixed, although registration is closed', async () => {
    const email = `${uniqueName('page')}@example.com`;
    const token = await invite({ email });
    const res = await fetch(`${gate.url}/_auth/register?invite=${token}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<input type="hidden" name="invite" value="${token}">`);
    expect(html).toContain(`value="${email}" readonly>`);
  });

  it('says the invite does not work for a used or unknown one, and registration stays closed without one', async () => {
    const bad = await fetch(`${gate.url}/_auth/register?invite=${'A'.repeat(43)}`);
    expect(bad.status).toBe(403);
    expect(await bad.text()).toContain('This invitation is invalid, expired or already used.');
    expect((await fetch(`${gate.url}/_auth/register`)).status).toBe(403);
  });

  it('registers through the form (CSRF token included) and signs in with cookies', async () => {
    const token = await invite({ groups: ['readers'] });
    const { cookie, token: csrf } = await formCsrf(gate, `/_auth/register?invite=${token}`);
    const username = uniqueName('former');
    const res = await fetch(`${gate.url}/_auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, 'x-forwarded-for': nextClient() },
      body: new URLSearchParams({ csrf, invite: token, username, password: PASSWORD, rd: '/' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(cookiesOf(res)['gatehouse_session']).toBeTruthy();
    expect((await gate.services.store.findUserByLogin(username))?.groups).toEqual(['readers']);
  });

  it('refuses a form registration without the CSRF token, and the invite stays unused', async () => {
    const token = await invite();
    const res = await fetch(`${gate.url}/_auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': nextClient() },
      body: new URLSearchParams({ invite: token, username: uniqueName('csrf'), password: PASSWORD }),
      redirect: 'manual',
    });
    expect(res.status).toBe(403);
    expect((await register({ username: uniqueName('after-csrf'), invite: token })).status).toBe(201);
  });
});

describe('POST /_auth/admin/users', () => {
  it('creates a user with a password, groups and a confirmed address, and answers 201 with the user', async () => {
    const username = uniqueName('made');
    const email = `${username}@example.com`;
    const res = await adminPost('/_auth/admin/users', { username, email, groups: ['staff'], password: PASSWORD });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      id: expect.any(String),
      username,
      email,
      email_verified: true,
      display_name: null,
      groups: ['staff'],
      disabled: false,
      created_at: new Date(gate.clock.now()).toISOString(),
    });
    const tokens = (await (await login(email)).json()) as TokenBody;
    expect(await userinfo(tokens.access_token)).toMatchObject({ username, email, email_verified: true, groups: ['staff'] });
  });

  it('without a password answers a single-use link with which the user sets one and signs in', async () => {
    const username = uniqueName('linked');
    const res = await adminPost('/_auth/admin/users', { username });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { invite: { url: string; expires_at: string } };
    expect(body.invite.url).toMatch(/^https:\/\/auth\.example\.com\/_auth\/password\/reset\?token=[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(body.invite.expires_at)).toBe(gate.clock.now() + 7 * DAY);
    expect((await login(username, PASSWORD)).status).toBe(401);
    const token = new URL(body.invite.url).searchParams.get('token');
    const set = await postJson(`${gate.url}/_auth/password/reset`, { token, password: 'a password of my own' });
    expect(set.status).toBe(200);
    expect((await login(username, 'a password of my own')).status).toBe(200);
    await expectError(await postJson(`${gate.url}/_auth/password/reset`, { token, password: 'another password 2' }), 400, 'invalid_token');
  });

  it.each([
    ['a taken username', () => ({ username: admin.username, password: PASSWORD }), 409, 'username_taken'],
    ['a taken email', () => ({ username: uniqueName(), email: 'taken@example.com', password: PASSWORD }), 409, 'email_taken'],
    ['a short password', () => ({ username: uniqueName(), password: 'short' }), 400, 'invalid_input'],
    ['a username with a space', () => ({ username: 'two words', password: PASSWORD }), 400, 'invalid_input'],
    ['a username with a control character', () => ({ username: 'bell\u0007', password: PASSWORD }), 400, 'invalid_input'],
    ['no username', () => ({ password: PASSWORD }), 400, 'missing_field'],
    ['a username that is not a string', () => ({ username: ['x'], password: PASSWORD }), 400, 'invalid_field'],
    ['an email that is not one', () => ({ username: uniqueName(), email: 'nope' }), 400, 'invalid_input'],
    ['groups that are not a list', () => ({ username: uniqueName(), groups: 'admins' }), 400, 'invalid_field'],
    ['a group name beyond A-Z, a-z and digits', () => ({ username: uniqueName(), password: PASSWORD, groups: ['équipe'] }), 400, 'invalid_field'],
  ])('refuses %s', async (_what, body, status, error) => {
    if (error === 'email_taken') await adminPost('/_auth/admin/users', { username: uniqueName(), email: 'taken@example.com', password: PASSWORD });
    await expectError(await adminPost('/_auth/admin/users', body()), status, error);
  });
});

describe('the audit log', () => {
  it('records who created invites and users and who used an invite, without the token', async () => {
    const token = await invite({ groups: ['audited'] });
    const username = uniqueName('audited');
    await register({ username, invite: token });
    const audited = lines.filter((line) => line['audit'] === true);
    expect(audited).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'invite_created', actor: admin.username, groups: ['audited'] }),
        expect.objectContaining({ event: 'user_registered', actor: admin.username }),
        expect.objectContaining({ event: 'invite_used', username, actor: username }),
      ]),
    );
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});

describe('an invite where every address must be confirmed (require_verified_email)', () => {
  let strict: TestGatehouse;
  beforeAll(async () => {
    strict = await startTestGatehouse({ registration: 'closed', require_verified_email: true });
  });
  afterAll(() => strict.close());

  const invited = (terms: { email?: string }) => createInvite(strict.services, { ...terms, groups: [] }, DAY, { actor: CLI_ACTOR });
  const registerThere = (body: Record<string, unknown>) => postJson(`${strict.url}/_auth/register`, { password: PASSWORD, ...body }, { 'x-forwarded-for': nextClient() });

  it('signs in at once with the address the invite names: it is confirmed', async () => {
    const { url } = await invited({ email: 'confirmed@example.com' });
    const res = await registerThere({ username: 'confirmed', invite: new URL(url).searchParams.get('invite') });
    expect(res.status).toBe(201);
    expect(await res.json()).toHaveProperty('access_token');
  });

  it('asks first for a confirmation of an address the invitee chose', async () => {
    const { url } = await invited({});
    const res = await registerThere({ username: 'unconfirmed', email: 'chosen@example.com', invite: new URL(url).searchParams.get('invite') });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ verification_required: true });
  });
});
