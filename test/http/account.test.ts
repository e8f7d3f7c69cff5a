import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookiesOf, PASSWORD, postJson, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

let gate: TestGatehouse;
beforeAll(async () => {
  gate = await startTestGatehouse();
});
afterAll(() => gate.close());

const call = (method: string, path: string, token: string, body?: unknown) =>
  fetch(`${gate.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const login = async (username: string, password = PASSWORD) => postJson(`${gate.url}/_auth/login`, { username, password });
const userinfoStatus = async (token: string) => (await fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('the account page', () => {
  it('sends a stranger to the login page first', async () => {
    const res = await fetch(`${gate.url}/_auth/account`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/_auth/login?rd=%2F_auth%2Faccount');
  });

  it('shows the profile, sessions and second factors of a signed-in user', async () => {
    const user = await registerUser(gate, uniqueName(), { email: `${uniqueName()}@example.com` });
    const res = await fetch(`${gate.url}/_auth/account`, { headers: { cookie: `gatehouse_session=${user.access_token}~${user.refresh_token}` } });
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain(`Username: <strong>${user.username}</strong>`);
    expect(html).toContain('(not confirmed yet)');
    expect(html).toContain('(this one)');
    expect(html).toContain('Set up an authenticator app');
  });
});

describe('changing the password', () => {
  it('needs the current password, ends the other sessions and keeps this one going', async () => {
    const mine = await registerUser(gate);
    const other = (await (await login(mine.username)).json()) as TokenBody;
    expect((await call('POST', '/_auth/account/password', mine.access_token, { current_password: 'wrong password', new_password: 'a new password 1' })).status).toBe(401);
    const res = await call('POST', '/_auth/account/password', mine.access_token, { current_password: PASSWORD, new_password: 'a new password 1' });
    expect(res.status).toBe(200);
    expect(await userinfoStatus(other.access_token)).toBe(401);
    const renewed = cookiesOf(res)['gatehouse_session']!.split('~')[0]!;
    expect(await userinfoStatus(renewed)).toBe(200);
    expect((await login(mine.username, 'a new password 1')).status).toBe(200);
    expect((await login(mine.username)).status).toBe(401);
  });

  it('refuses a new password that is too short with 400', async () => {
    const mine = await registerUser(gate);
    const res = await call('POST', '/_auth/account/password', mine.access_token, { current_password: PASSWORD, new_password: 'short' });
    expect(res.status).toBe(400);
  });
});

describe('profile changes', () => {
  it('sets the display name at once', async () => {
    const mine = await registerUser(gate);
    expect((await call('PATCH', '/_auth/account', mine.access_token, { display_name: 'Ann Example' })).status).toBe(200);
    expect((await gate.services.store.findUserByLogin(mine.username))!.displayName).toBe('Ann Example');
  });

  it('keeps the old email until the new one is confirmed', async () => {
    const email = `${uniqueName()}@example.com`;
    const mine = await registerUser(gate, uniqueName(), { email });
    const res = await call('PATCH', '/_auth/account', mine.access_token, { email: `${uniqueName()}@example.org`, current_password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'updated', email_pending: expect.stringContaining('@example.org') });
    expect((await gate.services.store.findUserByLogin(mine.username))!.email).toBe(email);
  });

  it('asks for at most five new addresses an hour, then answers 429', async () => {
    const mine = await registerUser(gate);
    const change = () => call('PATCH', '/_auth/account', mine.access_token, { email: `${uniqueName()}@example.org`, current_password: PASSWORD });
    for (let i = 0; i < 5; i++) expect((await change()).status).toBe(200);
    const sixth = await change();
    expect(sixth.status).toBe(429);
    expect(await sixth.json()).toMatchObject({ error: 'too_many_requests' });
    gate.clock.advance(61 * 60_000);
    const fresh = (await (await login(mine.username)).json()) as TokenBody;
    expect((await call('PATCH', '/_auth/account', fresh.access_token, { email: `${uniqueName()}@example.org`, current_password: PASSWORD })).status).toBe(200);
  });

  it('refuses an email another account has with 409', async () => {
    const taken = `${uniqueName()}@example.com`;
    await registerUser(gate, uniqueName(), { email: taken });
    const mine = await registerUser(gate);
    expect((await call('PATCH', '/_auth/account', mine.access_token, { email: taken.toUpperCase(), current_password: PASSWORD })).status).toBe(409);
  });

  it('does not say whether an address is taken to a caller without the password', async () => {
    const taken = `${uniqueName()}@example.com`;
    await registerUser(gate, uniqueName(), { email: taken });
    const mine = await registerUser(gate);
    const res = await call('PATCH', '/_auth/account', mine.access_token, { email: taken, display_name: 'Changed' });
    expect(res.status).toBe(401);
    expect((await gate.services.store.findUserByLogin(mine.username))!.displayName).toBeNull();
  });

  it.each([
    ['something that is not an email address', { email: 'not an email' }],
    ['a display name with a control character', { display_name: 'bad\u0007name' }],
    ['a current password that is not a string', { email: 'new@example.com', current_password: 12345 }],
    ['a current password longer than any password', { email: 'new@example.com', current_password: 'x'.repeat(9000) }],
    ['an email that is not a string', { email: ['new@example.com'], current_password: PASSWORD }],
  ])('refuses %s with 400', async (_name, payload) => {
    const mine = await registerUser(gate);
    expect((await call('PATCH', '/_auth/account', mine.access_token, payload)).status).toBe(400);
  });
});

describe('own sessions', () => {
  it('lists the sessions and ends one of them, not another user’s', async () => {
    const mine = await registerUser(gate);
    const other = (await (await login(mine.username)).json()) as TokenBody;
    const list = (await (await call('GET', '/_auth/account/sessions', mine.access_token)).json()) as { sessions: { id: string; current: boolean }[] };
    expect(list.sessions).toHaveLength(2);
    const otherId = list.sessions.find((s) => !s.current)!.id;
    const stranger = await registerUser(gate);
    expect((await call('DELETE', `/_auth/account/sessions/${otherId}`, stranger.access_token)).status).toBe(404);
    expect((await call('DELETE', `/_auth/account/sessions/${otherId}`, mine.access_token)).status).toBe(200);
    expect(await userinfoStatus(other.access_token)).toBe(401);
    expect(await userinfoStatus(mine.access_token)).toBe(200);
  });
});

describe('deleting the account', () => {
  it('needs the password, then the account and its sessions are gone', async () => {
    const mine = await registerUser(gate);
    expect((await call('DELETE', '/_auth/account', mine.access_token, { password: 'wrong password' })).status).toBe(401);
    const res = await call('DELETE', '/_auth/account', mine.access_token, { password: PASSWORD });
    expect(res.status).toBe(200);
    expect(await userinfoStatus(mine.access_token)).toBe(401);
    expect((await postJson(`${gate.url}/_auth/refresh`, { refresh_token: mine.refresh_token })).status).toBe(401);
    expect((await login(mine.username)).status).toBe(401);
    expect(await gate.services.store.findUserByLogin(mine.username)).toBeUndefined();
  });
});

describe('guards found in review', () => {
  it('adds a second factor only within ten minutes of signing in, so a stolen session cannot outlast a reset', async () => {
    const mine = await registerUser(gate);
    gate.clock.advance(11 * 60_000);
    const renewed = (await (await postJson(`${gate.url}/_auth/refresh`, { refresh_token: mine.refresh_token })).json()) as TokenBody;
    for (const path of ['/_auth/totp/enroll', '/_auth/webauthn/register/options']) {
      const res = await call('POST', path, renewed.access_token, {});
      expect(res.status, path).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'reauthentication_required' });
    }
    const fresh = (await (await login(mine.username)).json()) as TokenBody;
    expect((await call('POST', '/_auth/totp/enroll', fresh.access_token, {})).status).toBe(200);
  });

  it('adds no second factor from a session revoked elsewhere, while its access token is still within the trust window', async () => {
    const mine = await registerUser(gate);
    const user = (await gate.services.store.findUserByLogin(mine.username))!;
    // Revoked as another instance does it: in the store, before this instance's revocation list hears of it.
    await gate.services.store.revokeUserSessions(user.id, gate.clock.now());
    const res = await call('POST', '/_auth/totp/enroll', mine.access_token, {});
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'reauthentication_required' });
  });

  it('counts wrong current passwords towards a ban, like failed sign-ins', async () => {
    const mine = await registerUser(gate);
    const address = { 'x-forwarded-for': '203.0.113.77' };
    const attempt = (current_password: string) =>
      fetch(`${gate.url}/_auth/account/password`, {
        method: 'POST',
        headers: { authorization: `Bearer ${mine.access_token}`, 'content-type': 'application/json', ...address },
        body: JSON.stringify({ current_password, new_password: 'another new password' }),
      });
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong guess ${i}`)).status).toBe(401);
    expect((await attempt(PASSWORD)).status).toBe(401);
  });

  it('answers 409, not 500, when a confirmed address was taken meanwhile by another account', async () => {
    const mine = await registerUser(gate);
    const address = `${uniqueName()}@example.com`;
    const user = (await gate.services.store.findUserByLogin(mine.username))!;
    const token = await gate.services.oneTimeTokens.issue('email_verify', user.id, address, 60_000);
    await registerUser(gate, uniqueName(), { email: address });
    const res = await fetch(`${gate.url}/_auth/email/verify?token=${token}`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(409);
  });

  it('does not let a refresh token from before the last rotation end sessions after the grace', async () => {
    const mine = await registerUser(gate);
    await postJson(`${gate.url}/_auth/refresh`, { refresh_token: mine.refresh_token });
    gate.clock.advance(11_000);
    const other = (await (await login(mine.username)).json()) as TokenBody;
    await postJson(`${gate.url}/_auth/logout`, { refresh_token: mine.refresh_token, all: true });
    expect(await userinfoStatus(other.access_token)).toBe(200);
  });
});
