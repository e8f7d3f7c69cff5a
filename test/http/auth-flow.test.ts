import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieHeader, cookiesOf, formCsrf, PASSWORD, postForm, postJson, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

let gate: TestGatehouse;
beforeAll(async () => {
  gate = await startTestGatehouse();
});
afterAll(() => gate.close());

const userinfo = (headers: Record<string, string>) => fetch(`${gate.url}/_auth/userinfo`, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('registration and login', () => {
  it('makes the first account an administrator and later ones plain users', async () => {
    const first = await registerUser(gate);
    const second = await registerUser(gate);
    const info = async (t: TokenBody) => (await (await userinfo(bearer(t.access_token))).json()) as { groups: string[] };
    expect((await info(first)).groups).toEqual(['admins']);
    expect((await info(second)).groups).toEqual([]);
  });

  it('answers registration with 201, the token body and one session cookie holding both tokens', async () => {
    const res = await postJson(`${gate.url}/_auth/register`, { username: uniqueName(), password: PASSWORD, email: `${uniqueName()}@example.com` });
    expect(res.status).toBe(201);
    const body = (await res.json()) as TokenBody;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 300 });
    expect(body.refresh_token).toMatch(/^[\w-]{22}\.[\w-]{43}$/);
    const [line, ...more] = res.headers.getSetCookie();
    expect(more).toEqual([]);
    expect(line).toMatch(/HttpOnly/i);
    expect(line).toMatch(/SameSite=Lax/i);
    expect(line).toContain(`gatehouse_session=${body.access_token}~${body.refresh_token};`);
  });

  it('refuses a taken username in any letter case, and a taken email, with 409', async () => {
    const name = uniqueName('Case');
    const email = `${name}@example.com`;
    await registerUser(gate, name, { email });
    const again = await postJson(`${gate.url}/_auth/register`, { username: name.toLowerCase(), password: PASSWORD });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'username_taken' });
    const sameEmail = await postJson(`${gate.url}/_auth/register`, { username: uniqueName(), password: PASSWORD, email: email.toUpperCase() });
    expect(sameEmail.status).toBe(409);
    expect(await sameEmail.json()).toMatchObject({ error: 'email_taken' });
  });

  it.each([
    ['a short password', { password: 'short' }],
    ['a control character in the username', { username: 'bad\u0007name' }],
    ['a space in the username', { username: 'two words' }],
    ['an @ in the username', { username: 'a@b' }],
    ['a username of 65 characters', { username: 'x'.repeat(65) }],
    ['an invalid email', { email: 'not-an-email' }],
    ['a number as username', { username: 42 }],
    ['a password over 4096 bytes', { password: 'é'.repeat(2049) }],
  ])('refuses %s with 400', async (_name, override) => {
    const res = await postJson(`${gate.url}/_auth/register`, { username: uniqueName(), password: PASSWORD, ...override });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: expect.stringMatching(/invalid_input|invalid_field/) });
  });

  it('accepts a 1,024-byte password', async () => {
    const password = 'p'.repeat(1024);
    const username = uniqueName();
    expect((await postJson(`${gate.url}/_auth/register`, { username, password })).status).toBe(201);
    expect((await postJson(`${gate.url}/_auth/login`, { username, password })).status).toBe(200);
  });

  it('logs in with the username or the email, in any letter case', async () => {
    const name = uniqueName();
    await registerUser(gate, name, { email: `${name}@Example.com` });
    for (const login of [name, name.toUpperCase(), `${name}@example.com`]) {
      const res = await postJson(`${gate.url}/_auth/login`, { username: login, password: PASSWORD });
      expect(res.status, login).toBe(200);
    }
  });

  it('gives an unknown user and a wrong password the same answer', async () => {
    const { username } = await registerUser(gate);
    const wrong = await postJson(`${gate.url}/_auth/login`, { username, password: 'wrong password!' });
    const unknown = await postJson(`${gate.url}/_auth/login`, { username: uniqueName('ghost'), password: PASSWORD });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
  });
});

describe('forms', () => {
  it('signs in by form post, sets cookies and redirects to a safe rd', async () => {
    const { username } = await registerUser(gate);
    const res = await postForm(gate, '/_auth/login', { username, password: PASSWORD, rd: '/app/page?x=1' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/app/page?x=1');
    expect(Object.keys(cookiesOf(res))).toEqual(['gatehouse_session']);
  });

  it.each(['https://evil.example/', '//evil.example/', '/\\evil.example', 'javascript:alert(1)', 'http://localhost:4180@evil.example/'])(
    'redirects to / instead of the unsafe rd %s',
    async (rd) => {
      const { username } = await registerUser(gate);
      const res = await postForm(gate, '/_auth/login', { username, password: PASSWORD, rd });
      expect(res.headers.get('location')).toBe('/');
    },
  );

  describe('with a redirect host that names a port', () => {
    let ported: TestGatehouse;
    beforeAll(async () => {
      ported = await startTestGatehouse({ redirect_hosts: 'app.test:8443, wiki.test' });
    });
    afterAll(() => ported.close());

    it.each([
      ['the named port', 'https://app.test:8443/x', 'https://app.test:8443/x'],
      ['a host without a port, on the default port', 'https://wiki.test/x', 'https://wiki.test/x'],
      ['another port of the host that names one', 'https://app.test:9443/x', '/'],
      ['another port of a host that names none', 'https://wiki.test:8443/x', '/'],
      ["another port of gatehouse's own host", 'http://localhost:9999/x', '/'],
    ])('after sign-in, sends an rd to %s (%s) to %s', async (_what, rd, location) => {
      const { username } = await registerUser(ported);
      const res = await postForm(ported, '/_auth/login', { username, password: PASSWORD, rd });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(location);
    });
  });

  it('shows the login page again with the error in place after a wrong password', async () => {
    const res = await postForm(gate, '/_auth/login', { username: 'nobody', password: 'wrong password', rd: '/x' });
    expect(res.status).toBe(401);
    const html = await res.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('value="/x"');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it.each([
    ['without a CSRF token', (t: { cookie: string; token: string }) => ({ cookie: t.cookie, csrf: '' })],
    ['without the CSRF cookie', (t: { cookie: string; token: string }) => ({ cookie: '', csrf: t.token })],
    ['with a token that does not match the cookie', (t: { cookie: string; token: string }) => ({ cookie: t.cookie, csrf: 'A'.repeat(32) })],
  ])('refuses a sign-in form %s with 403 and a fresh form', async (_name, tamper) => {
    const { username } = await registerUser(gate);
    const { cookie, csrf } = tamper(await formCsrf(gate));
    const res = await fetch(`${gate.url}/_auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie && { cookie }) },
      body: new URLSearchParams({ username, password: PASSWORD, csrf }),
      redirect: 'manual',
    });
    expect(res.status).toBe(403);
    expect(res.headers.getSetCookie().some((line) => line.startsWith('gatehouse_session='))).toBe(false);
    expect(await res.text()).toMatch(/name="csrf" value="[\w-]{32}"/);
  });

  it('registers by form post with the CSRF token and lands on rd signed in', async () => {
    const res = await postForm(gate, '/_auth/register', { username: uniqueName(), password: PASSWORD, rd: '/welcome' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/welcome');
    expect(cookiesOf(res)['gatehouse_session']).toMatch(/~/);
  });

  it('refuses a form post from another site with 403', async () => {
    const res = await fetch(`${gate.url}/_auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ username: 'x', password: 'y' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(403);
  });
});

describe('cookies and userinfo', () => {
  it('answers userinfo from the access cookie', async () => {
    const { username } = await registerUser(gate);
    const login = await postJson(`${gate.url}/_auth/login`, { username, password: PASSWORD });
    const res = await userinfo({ cookie: cookieHeader(cookiesOf(login)) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ username, email: null, groups: [] });
  });

  it('answers userinfo with 401 and the login URL when nobody is signed in', async () => {
    const res = await userinfo({});
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthenticated', login_url: '/_auth/login?rd=%2F' });
  });
});

describe('password hashes', () => {
  it('rehashes a password stored with weaker parameters at the next login', async () => {
    const { username } = await registerUser(gate);
    const argon2 = await import('argon2');
    const weak = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    const { store } = gate.services;
    const user = (await store.findUserByLogin(username))!;
    await store.setPasswordHash(user.id, weak);
    expect((await postJson(`${gate.url}/_auth/login`, { username, password: PASSWORD })).status).toBe(200);
    expect((await store.findUserByLogin(username))!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});
