import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ACTOR } from '../../src/audit.js';
import { cookieHeader, cookiesOf, PASSWORD, postJson, registerUser, startTestGatehouse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

let gate: TestGatehouse;
let replica: TestGatehouse;
beforeAll(async () => {
  gate = await startTestGatehouse();
  // A second instance on the same database, as a replica would be.
  replica = await startTestGatehouse({ database_url: gate.services.config.database_url });
});
afterAll(async () => {
  await replica.close();
  await gate.close();
});

const advance = (ms: number) => {
  gate.clock.advance(ms);
  replica.clock.advance(ms);
};
const refresh = (on: TestGatehouse, refresh_token: string) => postJson(`${on.url}/_auth/refresh`, { refresh_token });
const userinfo = (on: TestGatehouse, headers: Record<string, string>) => fetch(`${on.url}/_auth/userinfo`, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const body = async (res: Response) => (await res.json()) as TokenBody;

describe('refresh tokens', () => {
  it('rotates the refresh token on every use and the new one works', async () => {
    const first = await registerUser(gate);
    const second = await body(await refresh(gate, first.refresh_token));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    const third = await refresh(gate, second.refresh_token);
    expect(third.status).toBe(200);
  });

  it('gives a request racing with the previous token, inside the grace, the same new token', async () => {
    const first = await registerUser(gate);
    const rotated = await body(await refresh(gate, first.refresh_token));
    advance(5_000);
    const racing = await refresh(replica, first.refresh_token);
    expect(racing.status).toBe(200);
    expect((await body(racing)).refresh_token).toBe(rotated.refresh_token);
  });

  it('lets 30 racing refreshes with one token all pass and leaves one working token', async () => {
    const first = await registerUser(gate);
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => refresh(i % 2 ? replica : gate, first.refresh_token)),
    );
    expect(answers.map((res) => res.status)).toEqual(Array(30).fill(200));
    const tokens = new Set(await Promise.all(answers.map(async (res) => (await body(res)).refresh_token)));
    expect(tokens.size).toBe(1);
    advance(11_000);
    expect((await refresh(gate, [...tokens][0]!)).status).toBe(200);
  });

  it('treats the previous token after the grace as theft and ends the whole session', async () => {
    const first = await registerUser(gate);
    const rotated = await body(await refresh(gate, first.refresh_token));
    advance(10_001);
    const replay = await refresh(gate, first.refresh_token);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'refresh_token_invalid' });
    expect((await refresh(gate, rotated.refresh_token)).status).toBe(401);
    expect((await userinfo(gate, bearer(rotated.access_token))).status).toBe(401);
  });

  it('refuses a well-formed token whose secret does not match, without ending the session', async () => {
    const first = await registerUser(gate);
    const [sessionId] = first.refresh_token.split('.');
    const forged = `${sessionId}.${'A'.repeat(43)}`;
    expect((await refresh(gate, forged)).status).toBe(401);
    expect((await refresh(gate, first.refresh_token)).status).toBe(200);
  });

  it('ends a session left idle longer than idle_timeout', async () => {
    const first = await registerUser(gate);
    advance(7 * DAY + MIN);
    expect((await refresh(gate, first.refresh_token)).status).toBe(401);
  });

  it('ends even an active session at session_lifetime', async () => {
    let tokens: TokenBody = await registerUser(gate);
    for (let day = 6; day < 30; day += 6) {
      advance(6 * DAY);
      const res = await refresh(gate, tokens.refresh_token);
      expect(res.status, `day ${day}`).toBe(200);
      tokens = await body(res);
    }
    advance(6 * DAY + MIN);
    expect((await refresh(gate, tokens.refresh_token)).status).toBe(401);
  });

  it('takes the refresh token from the cookie when the body has none', async () => {
    const first = await registerUser(gate);
    const res = await fetch(`${gate.url}/_auth/refresh`, { method: 'POST', headers: { cookie: `gatehouse_session=${first.access_token}~${first.refresh_token}` } });
    expect(res.status).toBe(200);
    const renewed = await body(res);
    expect(cookiesOf(res)['gatehouse_session']).toBe(`${renewed.access_token}~${renewed.refresh_token}`);
  });

  it('answers 401 when there is no refresh token at all', async () => {
    const res = await fetch(`${gate.url}/_auth/refresh`, { method: 'POST' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'refresh_token_missing' });
  });
});

describe('the trust window', () => {
  it('accepts an access token until trust_window ends, then refuses it', async () => {
    const { access_token } = await registerUser(gate);
    advance(5 * MIN - 1_000);
    expect((await userinfo(gate, bearer(access_token))).status).toBe(200);
    advance(1_000);
    expect((await userinfo(gate, bearer(access_token))).status).toBe(401);
  });

  it('refreshes a browser session transparently once the access token has expired', async () => {
    const login = await registerUser(gate);
    advance(6 * MIN);
    const cookies = { gatehouse_session: `${login.access_token}~${login.refresh_token}` };
    const res = await userinfo(gate, { cookie: cookieHeader(cookies) });
    expect(res.status).toBe(200);
    const [access, refreshToken] = cookiesOf(res)['gatehouse_session']!.split('~');
    expect(refreshToken).not.toBe(login.refresh_token);
    expect((await userinfo(gate, bearer(access!))).status).toBe(200);
    expect((await refresh(gate, refreshToken!)).status).toBe(200);
  });
});

describe('ending sessions', () => {
  it('logout ends the session at once, and only that session', async () => {
    const mine = await registerUser(gate);
    const other = await body(await postJson(`${gate.url}/_auth/login`, { username: mine.username, password: PASSWORD }));
    const res = await postJson(`${gate.url}/_auth/logout`, { refresh_token: mine.refresh_token });
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie().every((line) => /Max-Age=0/i.test(line))).toBe(true);
    expect((await userinfo(gate, bearer(mine.access_token))).status).toBe(401);
    expect((await refresh(gate, mine.refresh_token)).status).toBe(401);
    expect((await userinfo(gate, bearer(other.access_token))).status).toBe(200);
  });

  it('logout with {"all":true} ends every session of the user', async () => {
    const mine = await registerUser(gate);
    const other = await body(await postJson(`${gate.url}/_auth/login`, { username: mine.username, password: PASSWORD }));
    await postJson(`${gate.url}/_auth/logout`, { all: true }, bearer(mine.access_token));
    expect((await userinfo(gate, bearer(other.access_token))).status).toBe(401);
    expect((await refresh(gate, other.refresh_token)).status).toBe(401);
  });

  it.each([
    ['disabling the user', (t: TestGatehouse, name: string) => t.services.store.findUserByLogin(name).then((u) => t.services.people.setDisabled({ actor: CLI_ACTOR }, u!, true))],
    ['a password change', (t: TestGatehouse, name: string) => t.services.store.findUserByLogin(name).then((u) => t.services.accounts.changePassword(u!, 'a brand new password'))],
    ['an admin revocation', (t: TestGatehouse, name: string) => t.services.store.findUserByLogin(name).then((u) => t.services.sessions.endAllOfUser(u!.id, 'admin_revoked'))],
  ])('%s ends every session here at once and on a replica within a trust window', async (_name, act) => {
    const user = await registerUser(gate);
    expect((await userinfo(replica, bearer(user.access_token))).status).toBe(200);
    await act(gate, user.username);
    expect((await userinfo(gate, bearer(user.access_token))).status).toBe(401);
    // The replica learns of it at its next sync (every few seconds), long before the token expires.
    await replica.services.revocations.sync();
    expect((await userinfo(replica, bearer(user.access_token))).status).toBe(401);
    expect((await refresh(replica, user.refresh_token)).status).toBe(401);
  });

  it('lets nobody sign in as a disabled user, with the same answer as a wrong password', async () => {
    const user = await registerUser(gate);
    await gate.services.people.setDisabled({ actor: CLI_ACTOR }, (await gate.services.store.findUserByLogin(user.username))!, true);
    const res = await postJson(`${gate.url}/_auth/login`, { username: user.username, password: PASSWORD });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_credentials' });
  });
});
