/**
 * The account-takeover issue, through a real SMTP server: an address someone else
 * registered (pre-hijacking), and a change of address that took nothing but an
 * access token. SPEC section 7.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import {
  bearer,
  followByJson,
  liveSessions,
  login,
  mailbox,
  mailTo,
  newAddress,
  newEmail,
  onGate,
  RESET_SUBJECT,
  userinfo,
  VERIFY_SUBJECT,
} from '../helpers/mailbox.js';
import { linkIn, startSmtpSink, type SmtpSink } from '../helpers/smtp.js';

const MIN = 60_000;
const NEW_PASSWORD = 'a brand new passphrase';

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

const { received, confirmedUser, magicLink } = mailbox(
  () => smtp,
  () => gate,
);

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
