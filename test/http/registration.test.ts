/**
 * Who may register (SPEC sections 2 and 4): `registration` (closed by default) and
 * `registration_domains`. The first account on an empty database always may, once,
 * and is the administrator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formCsrf, PASSWORD, postJson, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { linkIn, startSmtpSink, type SmtpSink } from '../helpers/smtp.js';

const gates: TestGatehouse[] = [];
afterAll(() => Promise.all(gates.map((gate) => gate.close())));
async function gatehouse(settings: Record<string, unknown>): Promise<TestGatehouse> {
  const gate = await startTestGatehouse(settings);
  gates.push(gate);
  return gate;
}

/** Each from its own client address (trusted loopback proxy), so no per-address limit mixes in. */
let lastOctet = 0;
const register = (gate: TestGatehouse, body: Record<string, unknown>) =>
  postJson(`${gate.url}/_auth/register`, { password: PASSWORD, ...body }, { 'x-forwarded-for': `198.51.100.${++lastOctet % 250}` });
const login = (gate: TestGatehouse, username: string) => postJson(`${gate.url}/_auth/login`, { username, password: PASSWORD });
const answer = async (res: Response) => `${res.status} ${JSON.stringify(await res.json())}`;
const groupsOf = async (gate: TestGatehouse, tokens: TokenBody) =>
  ((await (await fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()) as { groups: string[] }).groups;

/** Ten registrations at once on an empty database. */
async function race(gate: TestGatehouse, email: (i: number) => string | undefined = () => undefined) {
  const answers = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const res = await register(gate, { username: uniqueName('racer'), email: email(i) });
      return { status: res.status, body: (await res.json()) as TokenBody & { error?: string } };
    }),
  );
  return { created: answers.filter((a) => a.status === 201), refused: answers.filter((a) => a.status !== 201) };
}

describe('registration: closed', () => {
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await gatehouse({ registration: 'closed' });
  });

  it('offers the registration page while no account exists', async () => {
    const page = await fetch(`${gate.url}/_auth/register`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="password"');
  });

  it('lets the first account register, as administrator, with tokens', async () => {
    const res = await register(gate, { username: 'founder' });
    expect(res.status).toBe(201);
    expect(await groupsOf(gate, (await res.json()) as TokenBody)).toEqual(['admins']);
  });

  it('refuses every later registration with 403 registration_closed, and creates no account', async () => {
    const username = uniqueName('late');
    expect(await answer(await register(gate, { username }))).toMatch(/^403 \{"error":"registration_closed","message":"Registration is closed/);
    expect((await login(gate, username)).status).toBe(401);
    expect((await gate.services.store.listUsers()).map((user) => user.username)).toEqual(['founder']);
  });

  it('refuses a later registration before reading anything else: bad input gets the same 403', async () => {
    expect((await register(gate, { username: 'has space', password: 'short' })).status).toBe(403);
  });

  it('no longer offers the page, and refuses the form post too', async () => {
    const page = await fetch(`${gate.url}/_auth/register`);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('Registration is closed');
    const { cookie, token } = await formCsrf(gate);
    const form = await fetch(`${gate.url}/_auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ csrf: token, username: uniqueName(), password: PASSWORD }),
      redirect: 'manual',
    });
    expect(form.status).toBe(403);
    expect(await form.text()).toContain('Registration is closed');
  });
});

describe('the first account when many register at once on an empty database', () => {
  it('with registration closed: exactly one is created, as administrator; the rest get 403 registration_closed', async () => {
    const gate = await gatehouse({ registration: 'closed' });
    const { created, refused } = await race(gate);
    expect(created).toHaveLength(1);
    expect(await groupsOf(gate, created[0]!.body)).toEqual(['admins']);
    expect(refused.map((a) => `${a.status} ${a.body.error}`)).toEqual(Array(9).fill('403 registration_closed'));
    expect(await gate.services.store.listUsers()).toHaveLength(1);
  });

  it('with registration open: all are created, exactly one of them administrator', async () => {
    const gate = await gatehouse({ registration: 'open' });
    const { created } = await race(gate);
    expect(created).toHaveLength(10);
    const groups = await Promise.all(created.map((a) => groupsOf(gate, a.body)));
    expect(groups.filter((g) => g.includes('admins'))).toHaveLength(1);
  });

  it('with registration_domains: the one first is created; the others are judged by the domain rule', async () => {
    const gate = await gatehouse({ registration: 'open', registration_domains: 'example.com' });
    const { created, refused } = await race(gate, (i) => `racer${i}@elsewhere.net`);
    expect(created).toHaveLength(1);
    expect(await groupsOf(gate, created[0]!.body)).toEqual(['admins']);
    expect(refused.map((a) => `${a.status} ${a.body.error}`)).toEqual(Array(9).fill('403 registration_domain_not_allowed'));
  });
});

describe('registration: open with registration_domains', () => {
  let smtp: SmtpSink;
  let gate: TestGatehouse;
  beforeAll(async () => {
    smtp = await startSmtpSink();
    gate = await gatehouse({ registration: 'open', registration_domains: 'example.com, Example.ORG', smtp_url: smtp.url });
    expect((await register(gate, { username: 'founder' })).status).toBe(201); // the first account, free of the domain rule
  });
  afterAll(() => smtp?.close());

  it.each([
    ['another domain', 'someone@elsewhere.net'],
    ['a subdomain of an allowed one', 'someone@mail.example.com'],
    ['an allowed domain as a prefix', 'someone@example.com.evil.net'],
    ['an allowed domain in the local part', '"someone@example.com"@evil.net'],
    ['an allowed domain with a trailing dot', 'someone@example.com.'],
  ])('refuses %s with 403 registration_domain_not_allowed', async (_what, email) => {
    const username = uniqueName();
    expect(await answer(await register(gate, { username, email }))).toMatch(/^403 \{"error":"registration_domain_not_allowed"/);
    expect(await gate.services.store.findUserByLogin(username)).toBeUndefined();
  });

  it.each([
    ['an address that is only a domain', '@example.com', /^403 \{"error":"registration_domain_not_allowed"/],
    ['an address ending in @', 'someone@example.com@', /^403 \{"error":"registration_domain_not_allowed"/],
    ['an address with a NUL after the domain', 'someone@example.com\u0000', /^403 \{"error":"registration_domain_not_allowed"/],
    ['an address that is a list', ['someone@example.com'], /^400 \{"error":"invalid_field"/],
    ['an address that is a number', 42, /^400 \{"error":"invalid_field"/],
    ['an address too long to be one', `${'a'.repeat(320)}@example.com`, /^400 \{"error":"invalid_field"/],
  ])('answers %s with a clear 4xx and creates nothing', async (_what, email, expected) => {
    const username = uniqueName();
    expect(await answer(await register(gate, { username, email }))).toMatch(expected);
    expect(await gate.services.store.findUserByLogin(username)).toBeUndefined();
  });

  it('requires an address', async () => {
    expect(await answer(await register(gate, { username: uniqueName() }))).toMatch(/^400 \{"error":"email_required"/);
  });

  it('registers an address of an allowed domain, in any letter case, without tokens until it is confirmed', async () => {
    const username = uniqueName();
    const email = `${username}@EXAMPLE.org`;
    const res = await register(gate, { username, email });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ verification_required: true });
    expect(res.headers.getSetCookie().filter((line) => line.startsWith('gatehouse_session='))).toEqual([]);

    expect(await answer(await login(gate, username))).toMatch(/^403 \{"error":"email_not_verified"/);

    const mail = await smtp.waitFor((m) => m.to.some((to) => to.toLowerCase() === email.toLowerCase()));
    const { url } = linkIn(mail, '/_auth/email/verify');
    expect((await fetch(url.replace('http://localhost:4180', gate.url))).status).toBe(200);
    const later = await login(gate, username);
    expect(later.status).toBe(200);
    expect(await groupsOf(gate, (await later.json()) as TokenBody)).toEqual([]);
  });

  it('lets the administrator who registered first sign in without confirming', async () => {
    expect((await login(gate, 'founder')).status).toBe(200);
  });
});

describe('registration: open without domains', () => {
  it('lets anyone register, with tokens at once', async () => {
    const gate = await gatehouse({ registration: 'open' });
    await register(gate, { username: uniqueName() });
    const res = await register(gate, { username: uniqueName(), email: `${uniqueName()}@anywhere.net` });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ token_type: 'Bearer' });
  });
});
