/**
 * Everything that starts with a mail, through a real SMTP server (npm
 * smtp-server on loopback): password reset, magic links, email verification,
 * the limits on asking for them, and a queue that survives an SMTP outage and a
 * restart without losing or repeating a message. SPEC section 7.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log.js';
import { startGatehouse, type RunningGatehouse } from '../../src/server.js';
import {
  cookieHeader,
  cookiesOf,
  formCsrf,
  PASSWORD,
  postJson,
  registerUser,
  startTestGatehouse,
  tempDir,
  testConfig,
  uniqueName,
  type Settings,
  type TestGatehouse,
  type TokenBody,
} from '../helpers/gatehouse.js';
import { freePort, linkIn, startSmtpSink, type ReceivedMail, type SmtpSink } from '../helpers/smtp.js';

const MIN = 60_000;
const NEW_PASSWORD = 'a brand new passphrase';
const RESET_SUBJECT = 'Reset your password';
const MAGIC_SUBJECT = 'Your sign-in link';
const VERIFY_SUBJECT = 'Confirm your email address';

let smtp: SmtpSink;
let gate: TestGatehouse;
beforeAll(async () => {
  smtp = await startSmtpSink();
  // max_retries is high: the wrong-password checks here are not about bans (test/http/lockout.test.ts is).
  gate = await startTestGatehouse({ smtp_url: smtp.url, max_retries: 1000 });
});
afterAll(async () => {
  await gate?.close();
  await smtp?.close();
});

const newEmail = () => `${uniqueName('mail')}@example.com`;
/** Each test asks from its own client address (trusted loopback proxy + X-Forwarded-For), so per-address limits stay apart. */
let lastOctet = 0;
const newAddress = () => ({ 'x-forwarded-for': `203.0.113.${++lastOctet}` });

const mailTo = (email: string, subject: string) => (mail: ReceivedMail) => mail.to.includes(email) && mail.subject === subject;
const received = (email: string, subject: string) => smtp.messages.filter(mailTo(email, subject));
/** Follows a link from a mail on the gatehouse under test (the mail names public_url, http://localhost:4180). */
const onGate = (on: { url: string }, link: string) => link.replace('http://localhost:4180', on.url);

const login = (on: { url: string }, username: string, password: string) => postJson(`${on.url}/_auth/login`, { username, password });
const userinfo = (on: { url: string }, headers: Record<string, string>) => fetch(`${on.url}/_auth/userinfo`, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function userWithEmail(on: { url: string } = gate) {
  const email = newEmail();
  return { ...(await registerUser(on, uniqueName(), { email })), email };
}

/** A user who followed the confirmation link of the registration. */
async function confirmedUser(on: { url: string } = gate) {
  const user = await userWithEmail(on);
  const { url } = linkIn(await smtp.waitFor(mailTo(user.email, VERIFY_SUBJECT)), '/_auth/email/verify');
  expect((await fetch(onGate(on, url))).status).toBe(200);
  return user;
}

describe('password reset by mail', () => {
  it('mails a link that sets a new password and ends every session of the user', async () => {
    const user = await userWithEmail();
    const asked = await postJson(`${gate.url}/_auth/password/forgot`, { email: user.email }, newAddress());
    expect(asked.status).toBe(202);
    expect(await asked.json()).toEqual({ status: 'accepted' });

    const { url, token } = linkIn(await smtp.waitFor(mailTo(user.email, RESET_SUBJECT)), '/_auth/password/reset');
    expect(url).toBe(`http://localhost:4180/_auth/password/reset?token=${token}`);
    const page = await fetch(onGate(gate, url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`name="token" value="${token}"`);

    const reset = await postJson(`${gate.url}/_auth/password/reset`, { token, password: NEW_PASSWORD });
    expect(reset.status).toBe(200);
    expect((await login(gate, user.username, PASSWORD)).status).toBe(401);
    expect((await login(gate, user.username, NEW_PASSWORD)).status).toBe(200);
    expect((await userinfo(gate, bearer(user.access_token))).status).toBe(401);
    expect((await postJson(`${gate.url}/_auth/refresh`, { refresh_token: user.refresh_token })).status).toBe(401);
  });

  it('refuses the same link a second time with 400 invalid_token', async () => {
    const user = await userWithEmail();
    await postJson(`${gate.url}/_auth/password/forgot`, { email: user.email }, newAddress());
    const { token } = linkIn(await smtp.waitFor(mailTo(user.email, RESET_SUBJECT)), '/_auth/password/reset');
    expect((await postJson(`${gate.url}/_auth/password/reset`, { token, password: NEW_PASSWORD })).status).toBe(200);
    const again = await postJson(`${gate.url}/_auth/password/reset`, { token, password: 'yet another passphrase' });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_token' });
    expect((await login(gate, user.username, NEW_PASSWORD)).status).toBe(200);
  });

  it('lets exactly one of two racing resets with one link win', async () => {
    const user = await userWithEmail();
    await postJson(`${gate.url}/_auth/password/forgot`, { email: user.email }, newAddress());
    const { token } = linkIn(await smtp.waitFor(mailTo(user.email, RESET_SUBJECT)), '/_auth/password/reset');
    const passwords = ['first racing passphrase', 'second racing passphrase'];
    const answers = await Promise.all(passwords.map((password) => postJson(`${gate.url}/_auth/password/reset`, { token, password })));
    expect(answers.map((res) => res.status).sort()).toEqual([200, 400]);
    const winner = passwords[answers.findIndex((res) => res.status === 200)]!;
    const loser = passwords.find((password) => password !== winner)!;
    expect((await login(gate, user.username, winner)).status).toBe(200);
    expect((await login(gate, user.username, loser)).status).toBe(401);
  });
});

describe('no account enumeration', () => {
  it.each([
    ['/_auth/password/forgot', RESET_SUBJECT],
    ['/_auth/magic-link', MAGIC_SUBJECT],
  ])('answers %s for an unknown address exactly as for a known one, and mails only the known one', async (path, subject) => {
    const known = await userWithEmail();
    const unknown = newEmail();
    const address = newAddress();
    const forUnknown = await postJson(`${gate.url}${path}`, { email: unknown }, address);
    const forKnown = await postJson(`${gate.url}${path}`, { email: known.email }, address);
    expect(forUnknown.status).toBe(202);
    expect(forKnown.status).toBe(202);
    expect(await forUnknown.text()).toBe(await forKnown.text());
    await smtp.waitFor(mailTo(known.email, subject));
    await sleep(300);
    expect(smtp.messages.filter((mail) => mail.to.includes(unknown))).toEqual([]);
  });
});

describe('limits on asking for mail', () => {
  it('sends one reset mail per account per two minutes, answering 202 every time', async () => {
    const user = await userWithEmail();
    const address = newAddress();
    const ask = () => postJson(`${gate.url}/_auth/password/forgot`, { email: user.email }, address);
    expect((await ask()).status).toBe(202);
    expect((await ask()).status).toBe(202);
    await smtp.waitFor(mailTo(user.email, RESET_SUBJECT));
    await sleep(500);
    expect(received(user.email, RESET_SUBJECT)).toHaveLength(1);

    gate.clock.advance(2 * MIN + 1_000);
    expect((await ask()).status).toBe(202);
    await smtp.waitForAll(mailTo(user.email, RESET_SUBJECT), 2);
  });

  it('answers the 11th request from one client address within ten minutes with 429', async () => {
    const address = newAddress();
    for (let i = 0; i < 10; i++) {
      expect((await postJson(`${gate.url}/_auth/password/forgot`, { email: newEmail() }, address)).status).toBe(202);
    }
    const flood = await postJson(`${gate.url}/_auth/password/forgot`, { email: newEmail() }, address);
    expect(flood.status).toBe(429);
    expect(await flood.json()).toMatchObject({ error: 'too_many_requests' });
    expect((await postJson(`${gate.url}/_auth/password/forgot`, { email: newEmail() }, newAddress())).status).toBe(202);
  });
});

/** Asks for a magic link from a fresh client address and returns the link of the `nth` mail to `email` with it. */
async function magicLink(email: string, on: { url: string } = gate, body: Record<string, unknown> = {}, nth = 1) {
  expect((await postJson(`${on.url}/_auth/magic-link`, { email, ...body }, newAddress())).status).toBe(202);
  const mails = await smtp.waitForAll(mailTo(email, MAGIC_SUBJECT), nth);
  return linkIn(mails[nth - 1]!, '/_auth/magic-link/verify');
}
const followByJson = (on: { url: string }, token: unknown) => postJson(`${on.url}/_auth/magic-link/verify`, { token });
const sessionCookieOf = (res: Response) => cookiesOf(res)['gatehouse_session'];
const liveSessions = async (on: TestGatehouse, username: string) =>
  (await on.services.store.listUserSessions((await on.services.store.findUserByLogin(username))!.id)).length;

/** Opens a magic link as a browser does: the page, then its button (a form post with the page's CSRF token). */
async function followInBrowser(on: { url: string }, url: string, { csrf = true } = {}) {
  const { cookie, token: csrfToken } = await formCsrf(on, url.slice('http://localhost:4180'.length));
  const token = new URL(url).searchParams.get('token')!;
  return fetch(`${on.url}/_auth/magic-link/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ ...(csrf && { csrf: csrfToken }), token }),
    redirect: 'manual',
  });
}

describe('magic links', () => {
  it('shows a page with one button on GET and HEAD, using nothing up and setting no session cookie', async () => {
    const user = await userWithEmail();
    const { url, token } = await magicLink(user.email, gate, { rd: '/after' });
    const before = await liveSessions(gate, user.username);
    for (const method of ['GET', 'HEAD', 'GET']) {
      const res = await fetch(onGate(gate, url), { method, redirect: 'manual' });
      expect(res.status, method).toBe(200);
      expect(sessionCookieOf(res), method).toBeUndefined();
      expect(cookiesOf(res)['gatehouse_mfa'], method).toBeUndefined();
      if (method === 'GET') {
        const html = await res.text();
        expect(html).toContain('<form method="post" action="/_auth/magic-link/verify">');
        expect(html).toContain(`name="token" value="${token}"`);
        expect(html.match(/<button/g)).toHaveLength(1);
      }
    }
    expect(await liveSessions(gate, user.username)).toBe(before);

    const signedIn = await followInBrowser(gate, url);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/after');
    const me = await userinfo(gate, { cookie: cookieHeader({ gatehouse_session: sessionCookieOf(signedIn)! }) });
    expect(await me.json()).toMatchObject({ username: user.username, email: user.email, email_verified: true });
  });

  it('refuses the button without the CSRF token with 403, and the link still works afterwards', async () => {
    const user = await userWithEmail();
    const { url } = await magicLink(user.email);
    const forged = await followInBrowser(gate, url, { csrf: false });
    expect(forged.status).toBe(403);
    expect(sessionCookieOf(forged)).toBeUndefined();
    expect((await followInBrowser(gate, url)).status).toBe(303);

    const replayed = await followInBrowser(gate, url);
    expect(replayed.status).toBe(400);
    expect(replayed.headers.get('content-type')).toContain('text/html');
    expect(await replayed.text()).not.toContain('<form');
    expect(sessionCookieOf(replayed)).toBeUndefined();
  });

  it('answers a JSON POST {"token"} with the token body, and the same token again with 400 invalid_token', async () => {
    const user = await userWithEmail();
    const { token } = await magicLink(user.email);
    const res = await followByJson(gate, token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as TokenBody;
    expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String) });
    expect((await userinfo(gate, bearer(body.access_token))).status).toBe(200);

    const again = await followByJson(gate, token);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_token' });
    expect(sessionCookieOf(again)).toBeUndefined();
  });

  it('signs in exactly once when one link is posted twice at the same moment', async () => {
    const user = await confirmedUser();
    const { token } = await magicLink(user.email);
    const before = await liveSessions(gate, user.username);
    const answers = await Promise.all([followByJson(gate, token), followByJson(gate, token)]);
    expect(answers.map((res) => res.status).sort()).toEqual([200, 400]);
    expect(await liveSessions(gate, user.username)).toBe(before + 1);
  });

  it.each([
    ['a number', { token: 12345 }, 'invalid_field'],
    ['an array', { token: ['a', 'b'] }, 'invalid_field'],
    ['an object', { token: { $ne: null } }, 'invalid_field'],
    ['no token', {}, 'missing_field'],
    ['a huge token', { token: 'A'.repeat(60_000) }, 'invalid_field'],
    ['a token of the right length that was never issued', { token: 'A'.repeat(43) }, 'invalid_token'],
  ])('refuses %s with a 400 and a stable code', async (_what, body, code) => {
    const res = await postJson(`${gate.url}/_auth/magic-link/verify`, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: code });
  });

  it.each([
    ['no token', ''],
    ['markup', `?token=${encodeURIComponent('"><script>alert(1)</script>')}`],
    ['a huge token', `?token=${'A'.repeat(8_000)}`],
  ])('answers the page with %s with 400 and no form', async (_what, query) => {
    const res = await fetch(`${gate.url}/_auth/magic-link/verify${query}`);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain('<form');
    expect(html).not.toContain('<script>');
  });
});

/**
 * Pre-hijacking (SPEC section 7): someone registers the owner's address with a password
 * of their own and arms the account with what they can (TOTP, recovery codes, a passkey,
 * a pending change of address, sessions), before the owner ever uses it.
 */
describe('an account registered with somebody else’s address', () => {
  const ATTACKER_TOTP = 'JBSWY3DPEHPK3PXP';

  async function armedByAttacker(on: TestGatehouse) {
    const email = newEmail();
    const username = uniqueName('squatter');
    const registered = await postJson(`${on.url}/_auth/register`, { username, email, password: PASSWORD });
    expect(registered.status).toBe(201);
    const tokens = (await registered.json()) as Partial<TokenBody>;
    const { store } = on.services;
    const user = (await store.findUserByLogin(username))!;
    await store.setTotp(user.id, ATTACKER_TOTP, true);
    await store.replaceRecoveryCodes(user.id, ['attacker recovery code hash']);
    await store.addCredential({ id: `key-${user.id}`, userId: user.id, publicKey: 'attacker key', counter: 0, transports: [], name: 'Attacker', createdAt: Date.now(), lastUsedAt: null });
    const pendingChange = await on.services.oneTimeTokens.issue('email_verify', user.id, `${uniqueName('squatter')}@example.net`, 60 * MIN);
    return { email, username, id: user.id, tokens, pendingChange };
  }

  async function expectNothingOfTheAttackerLeft(on: TestGatehouse, attacker: Awaited<ReturnType<typeof armedByAttacker>>) {
    const { store } = on.services;
    expect((await login(on, attacker.username, PASSWORD)).status).toBe(401);
    if (attacker.tokens.access_token) expect((await userinfo(on, bearer(attacker.tokens.access_token))).status).toBe(401);
    if (attacker.tokens.refresh_token) expect((await postJson(`${on.url}/_auth/refresh`, { refresh_token: attacker.tokens.refresh_token })).status).toBe(401);
    expect(await store.findUserById(attacker.id)).toMatchObject({ emailVerified: true, totpEnabled: false, totpSecret: null });
    expect(await store.useRecoveryCode(attacker.id, 'attacker recovery code hash', Date.now())).toBe(false);
    expect(await store.listCredentials(attacker.id)).toEqual([]);
    const change = await fetch(`${on.url}/_auth/email/verify?token=${attacker.pendingChange}`, { headers: { accept: 'application/json' } });
    expect(change.status).toBe(400);
    expect((await store.findUserById(attacker.id))!.email).toBe(attacker.email);
  }

  it('loses the password, TOTP, recovery codes, passkeys, pending change and sessions the registrant set when the owner signs in by magic link', async () => {
    const attacker = await armedByAttacker(gate);
    const { token } = await magicLink(attacker.email);
    const owner = await followByJson(gate, token);
    expect(owner.status).toBe(200);
    const body = (await owner.json()) as TokenBody;
    // No second step: the attacker's authenticator app is not the owner's.
    expect(body.access_token).toEqual(expect.any(String));
    await expectNothingOfTheAttackerLeft(gate, attacker);
    expect(await (await userinfo(gate, bearer(body.access_token))).json()).toMatchObject({ email: attacker.email, email_verified: true });
    expect(await liveSessions(gate, attacker.username)).toBe(1);
  });

  it('loses everything the registrant set when the owner resets the password, and keeps the new password', async () => {
    const attacker = await armedByAttacker(gate);
    await postJson(`${gate.url}/_auth/password/forgot`, { email: attacker.email }, newAddress());
    const { token } = linkIn(await smtp.waitFor(mailTo(attacker.email, RESET_SUBJECT)), '/_auth/password/reset');
    expect((await postJson(`${gate.url}/_auth/password/reset`, { token, password: NEW_PASSWORD })).status).toBe(200);
    await expectNothingOfTheAttackerLeft(gate, attacker);
    const owner = await login(gate, attacker.email, NEW_PASSWORD);
    expect(owner.status).toBe(200);
    expect(await owner.json()).toMatchObject({ token_type: 'Bearer' });
  });

  it('keeps every credential of an account whose address was confirmed before', async () => {
    const user = await confirmedUser();
    const id = (await gate.services.store.findUserByLogin(user.username))!.id;
    await gate.services.store.setTotp(id, ATTACKER_TOTP, true);
    const { token } = await magicLink(user.email);
    const res = await followByJson(gate, token);
    expect(await res.json()).toMatchObject({ mfa_required: true, methods: ['totp', 'recovery'] });
    expect((await userinfo(gate, bearer(user.access_token))).status).toBe(200);
    expect(await login(gate, user.username, PASSWORD).then((r) => r.json())).toMatchObject({ mfa_required: true });
  });

  describe('with require_verified_email', () => {
    let strict: TestGatehouse;
    beforeAll(async () => {
      strict = await startTestGatehouse({ smtp_url: smtp.url, require_verified_email: true, max_retries: 1000 });
    });
    afterAll(() => strict?.close());

    it('confirms the address by the owner’s magic link and the registrant’s password stops working', async () => {
      const attacker = await armedByAttacker(strict);
      expect((await login(strict, attacker.username, PASSWORD)).status).toBe(403);
      const { token } = await magicLink(attacker.email, strict);
      expect((await followByJson(strict, token)).status).toBe(200);
      await expectNothingOfTheAttackerLeft(strict, attacker);
    });
  });
});

describe('changing the email address', () => {
  const CHANGING_SUBJECT = 'Your email address is being changed';
  const CHANGED_SUBJECT = 'Your email address was changed';
  const patch = (on: { url: string }, accessToken: string, body: unknown) =>
    fetch(`${on.url}/_auth/account`, { method: 'PATCH', headers: { ...bearer(accessToken), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const confirm = (on: { url: string }, url: string) => fetch(onGate(on, url), { headers: { accept: 'application/json' } });

  it.each([
    ['without the current password', {}],
    ['with a wrong current password', { current_password: 'not the password at all' }],
  ])('refuses a new address %s with 401, mailing nobody', async (_how, extra) => {
    const user = await confirmedUser();
    const wanted = newEmail();
    const res = await patch(gate, user.access_token, { email: wanted, ...extra });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'reauthentication_failed' });
    await sleep(300);
    expect(smtp.messages.filter((mail) => mail.to.includes(wanted))).toEqual([]);
    expect(received(user.email, CHANGING_SUBJECT)).toEqual([]);
  });

  it('with the current password, mails a link to the new address and a notice without a link to the old one, and again once confirmed', async () => {
    const user = await confirmedUser();
    const wanted = newEmail();
    const res = await patch(gate, user.access_token, { email: wanted, current_password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'updated', email_pending: wanted });

    const notice = await smtp.waitFor(mailTo(user.email, CHANGING_SUBJECT));
    expect(notice.body).toContain(wanted);
    expect(notice.body).not.toMatch(/https?:/);
    const { url } = linkIn(await smtp.waitFor(mailTo(wanted, VERIFY_SUBJECT)), '/_auth/email/verify');
    expect((await gate.services.store.findUserByLogin(user.username))!.email).toBe(user.email);

    expect((await confirm(gate, url)).status).toBe(200);
    const told = await smtp.waitFor(mailTo(user.email, CHANGED_SUBJECT));
    expect(told.body).toContain(wanted);
    expect(told.body).not.toMatch(/https?:/);
    expect((await gate.services.store.findUserByLogin(user.username))!.email).toBe(wanted);
  });

  it('refuses an older pending change confirmed after a newer one was asked for', async () => {
    const user = await confirmedUser();
    const [older, newer] = [newEmail(), newEmail()];
    expect((await patch(gate, user.access_token, { email: older, current_password: PASSWORD })).status).toBe(200);
    const olderLink = linkIn(await smtp.waitFor(mailTo(older, VERIFY_SUBJECT)), '/_auth/email/verify').url;
    expect((await patch(gate, user.access_token, { email: newer, current_password: PASSWORD })).status).toBe(200);
    const newerLink = linkIn(await smtp.waitFor(mailTo(newer, VERIFY_SUBJECT)), '/_auth/email/verify').url;

    const late = await confirm(gate, olderLink);
    expect(late.status).toBe(400);
    expect(await late.json()).toMatchObject({ error: 'invalid_token' });
    expect((await confirm(gate, newerLink)).status).toBe(200);
    expect((await confirm(gate, olderLink)).status).toBe(400);
    expect((await gate.services.store.findUserByLogin(user.username))!.email).toBe(newer);
  });

  it('leaves exactly one live link when two changes are asked for at the same moment', async () => {
    const user = await confirmedUser();
    const wanted = [newEmail(), newEmail()];
    const answers = await Promise.all(wanted.map((email) => patch(gate, user.access_token, { email, current_password: PASSWORD })));
    expect(answers.map((res) => res.status)).toEqual([200, 200]);
    const tokens = await Promise.all(wanted.map(async (email) => linkIn(await smtp.waitFor(mailTo(email, VERIFY_SUBJECT)), '/_auth/email/verify').token));
    const live = await Promise.all(tokens.map((token) => gate.services.oneTimeTokens.peek(token, 'email_verify')));
    expect(live.filter(Boolean)).toHaveLength(1);
  });

  it('retires a pending change issued before another one is confirmed, even one made outside the endpoint', async () => {
    const user = await confirmedUser();
    const id = (await gate.services.store.findUserByLogin(user.username))!.id;
    // Two live links at once, as a store from before this rule may hold.
    const first = await gate.services.oneTimeTokens.issue('email_verify', id, newEmail(), 60 * MIN);
    const second = await gate.services.oneTimeTokens.issue('email_verify', id, newEmail(), 60 * MIN);
    expect((await confirm(gate, `http://localhost:4180/_auth/email/verify?token=${second}`)).status).toBe(200);
    expect((await confirm(gate, `http://localhost:4180/_auth/email/verify?token=${first}`)).status).toBe(400);
  });

  it('lets an account without a password change its address only within ten minutes of signing in', async () => {
    const email = newEmail();
    const squatter = uniqueName('squatter');
    expect((await postJson(`${gate.url}/_auth/register`, { username: squatter, email, password: PASSWORD })).status).toBe(201);
    const { token } = await magicLink(email);
    const owner = (await (await followByJson(gate, token)).json()) as TokenBody;

    const fresh = await patch(gate, owner.access_token, { email: newEmail() });
    expect(fresh.status).toBe(200);
    gate.clock.advance(11 * MIN);
    const renewed = (await (await postJson(`${gate.url}/_auth/refresh`, { refresh_token: owner.refresh_token })).json()) as TokenBody;
    const stale = await patch(gate, renewed.access_token, { email: newEmail(), current_password: PASSWORD });
    expect(stale.status).toBe(403);
    expect(await stale.json()).toMatchObject({ error: 'reauthentication_required' });
  });
});

describe('email verification', () => {
  it('mails a confirmation link on registration that confirms the address once', async () => {
    const user = await userWithEmail();
    const { url } = linkIn(await smtp.waitFor(mailTo(user.email, VERIFY_SUBJECT)), '/_auth/email/verify');
    const confirmed = await fetch(onGate(gate, url), { headers: { accept: 'application/json' } });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.json()).toEqual({ status: 'verified', email: user.email });
    expect((await fetch(onGate(gate, url))).status).toBe(400);
  });

  describe('with require_verified_email', () => {
    let strict: TestGatehouse;
    beforeAll(async () => {
      strict = await startTestGatehouse({ smtp_url: smtp.url, require_verified_email: true });
    });
    afterAll(() => strict?.close());

    it('registers without tokens and refuses sign-in with 403 until the link is followed', async () => {
      const username = uniqueName();
      const email = newEmail();
      const registered = await postJson(`${strict.url}/_auth/register`, { username, email, password: PASSWORD });
      expect(registered.status).toBe(201);
      expect(await registered.json()).toEqual({ verification_required: true });
      expect(registered.headers.getSetCookie().filter((line) => line.startsWith('gatehouse_session='))).toEqual([]);

      const early = await login(strict, username, PASSWORD);
      expect(early.status).toBe(403);
      expect(await early.json()).toMatchObject({ error: 'email_not_verified' });

      const { url } = linkIn(await smtp.waitFor(mailTo(email, VERIFY_SUBJECT)), '/_auth/email/verify');
      const page = await fetch(onGate(strict, url));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(`${email} is confirmed`);

      const later = await login(strict, username, PASSWORD);
      expect(later.status).toBe(200);
      expect(await later.json()).toMatchObject({ token_type: 'Bearer' });
    });
  });
});

/**
 * The queue measures its backoff on gatehouse's clock, so these gatehouses run on
 * the system clock: a test clock that never moves would never make a retry due.
 */
interface RealTimeGatehouse extends RunningGatehouse {
  url: string;
  managementUrl: string;
  /** The names of the warn and error events logged so far, with their fields. */
  events: { event: string; fields: Record<string, unknown> }[];
}

async function startOnSystemClock(settings: Settings, dir: string): Promise<RealTimeGatehouse> {
  const events: RealTimeGatehouse['events'] = [];
  const keep = (event: string, fields: Record<string, unknown> = {}) => void events.push({ event, fields });
  const log: Logger = { debug: () => {}, info: () => {}, warn: keep, error: keep };
  const running = await startGatehouse(testConfig(settings, dir), { log });
  return { ...running, url: `http://${running.address}`, managementUrl: `http://${running.managementAddress}`, events };
}

/** An account created the way `gatehouse user add NAME --email E` does: no verification mail in the queue. */
async function addUser(on: RunningGatehouse) {
  const email = newEmail();
  await on.services.accounts.register({ username: uniqueName(), email, password: PASSWORD });
  return email;
}

async function eventually(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const failedSends = (on: RealTimeGatehouse) => new Set(on.events.filter((e) => e.event === 'mail_retry').map((e) => e.fields['id'])).size;

describe('the mail queue', () => {
  it('delivers every mail exactly once after the SMTP server comes up late', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const dir = tempDir();
    const down = await startOnSystemClock({ smtp_url: `smtp://127.0.0.1:${port}` }, dir);
    let sink: SmtpSink | undefined;
    try {
      const emails = [await addUser(down), await addUser(down), await addUser(down)];
      for (const email of emails) {
        expect((await postJson(`${down.url}/_auth/password/forgot`, { email }, newAddress())).status).toBe(202);
      }
      // Every mail has met the outage at least once before the server appears.
      await eventually(() => failedSends(down) === 3, 15_000, 'three failed sends');

      sink = await startSmtpSink(port);
      const isReset = (mail: ReceivedMail) => mail.subject === RESET_SUBJECT;
      await sink.waitForAll(isReset, 3, 25_000);
      await sleep(2_500);
      expect(sink.messages.flatMap((mail) => mail.to).sort()).toEqual([...emails].sort());
      expect(new Set(sink.messages.map((mail) => mail.messageId)).size).toBe(3);

      const metrics = await (await fetch(`${down.managementUrl}/metrics`)).text();
      expect(metrics).toMatch(/^gatehouse_mail_sent_total 3$/m);
    } finally {
      await down.close();
      await sink?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends a mail queued before a restart exactly once, from the next process', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const dir = tempDir();
    const settings = { smtp_url: `smtp://127.0.0.1:${port}` };
    let first: RealTimeGatehouse | undefined = await startOnSystemClock(settings, dir);
    let second: RealTimeGatehouse | undefined;
    let sink: SmtpSink | undefined;
    try {
      const email = await addUser(first);
      expect((await postJson(`${first.url}/_auth/password/forgot`, { email }, newAddress())).status).toBe(202);
      await eventually(() => failedSends(first!) === 1, 10_000, 'a failed send');
      await first.close();
      first = undefined;

      sink = await startSmtpSink(port);
      second = await startOnSystemClock(settings, dir);
      const mail = await sink.waitFor(mailTo(email, RESET_SUBJECT), 25_000);
      linkIn(mail, '/_auth/password/reset');
      await sleep(2_500);
      expect(sink.messages).toHaveLength(1);
    } finally {
      await first?.close();
      await second?.close();
      await sink?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
