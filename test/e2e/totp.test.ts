/**
 * TOTP as the second step of a password sign-in, with codes from oathtool (OATH
 * Toolkit), which shares no code with gatehouse's otplib. gatehouse runs on a
 * fixed clock; oathtool is told that same time with --now. SPEC section 7.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cookieHeader,
  cookiesOf,
  PASSWORD,
  postForm,
  postJson,
  rawRequest,
  registerUser,
  startTestGatehouse,
  type TestGatehouse,
  type TokenBody,
} from '../helpers/gatehouse.js';
import { peer } from '../helpers/peers.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

const oathtoolPeer = peer('oathtool', () => spawnSync('oathtool', ['--version']).status === 0, 'apt-get install -y oathtool');
const run = promisify(execFile);

const STEP = 30_000;

/** The code oathtool computes for `secret` at `atMs` (async: the server under test shares this event loop). */
async function oathtool(secret: string, atMs: number): Promise<string> {
  const { stdout } = await run('oathtool', ['--totp', '--base32', secret, '--now', `@${Math.floor(atMs / 1000)}`]);
  return stdout.trim();
}

interface PendingSignIn {
  mfa_required: boolean;
  mfa_token: string;
  methods: string[];
}

describe.runIf(oathtoolPeer.available)('TOTP with codes from oathtool', () => {
  let upstream: EchoUpstream;
  let gate: TestGatehouse;
  beforeAll(async () => {
    upstream = await startEchoUpstream();
    // Proxy mode on, so the pending state can be tried there too; bans are test/http/lockout.test.ts's subject.
    gate = await startTestGatehouse({ upstream: upstream.url, max_retries: 1000 });
  });
  afterAll(async () => {
    await gate?.close();
    await upstream?.close();
  });

  const now = () => gate.clock.now();
  const code = (secret: string, offsetMs = 0) => oathtool(secret, now() + offsetMs);
  const bearerPost = (path: string, token: string, body: unknown = {}) => postJson(`${gate.url}${path}`, body, { authorization: `Bearer ${token}` });
  const login = (username: string, password = PASSWORD) => postJson(`${gate.url}/_auth/login`, { username, password });
  const userinfo = (headers: Record<string, string>) => fetch(`${gate.url}/_auth/userinfo`, { headers });
  const totpStep = (mfa_token: string, code: string) => postJson(`${gate.url}/_auth/mfa/totp`, { mfa_token, code });

  async function pendingSignIn(username: string): Promise<string> {
    const res = await login(username);
    expect(res.status).toBe(200);
    return ((await res.json()) as PendingSignIn).mfa_token;
  }

  /**
   * A user with TOTP confirmed. The confirming code's step counts as used, so the
   * clock then moves on three steps: every code a test asks for afterwards, even
   * one step back, is fresh.
   */
  async function userWithTotp() {
    const user = await registerUser(gate);
    const { secret } = (await (await bearerPost('/_auth/totp/enroll', user.access_token)).json()) as { secret: string };
    const confirmed = await bearerPost('/_auth/totp/confirm', user.access_token, { code: await code(secret) });
    expect(confirmed.status).toBe(200);
    const { recovery_codes } = (await confirmed.json()) as { recovery_codes: string[] };
    gate.clock.advance(3 * STEP);
    return { ...user, secret, recoveryCodes: recovery_codes };
  }

  describe('turning it on', () => {
    it('hands out a secret, an otpauth URL carrying it and a PNG QR code', async () => {
      const user = await registerUser(gate);
      const res = await bearerPost('/_auth/totp/enroll', user.access_token);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { secret: string; otpauth_url: string; qr_code: string };
      expect(body.secret).toMatch(/^[A-Z2-7]{16,}=*$/);
      expect(body.otpauth_url.startsWith('otpauth://totp/')).toBe(true);
      expect(new URL(body.otpauth_url).searchParams.get('secret')).toBe(body.secret);
      expect(body.qr_code.startsWith('data:image/png;base64,')).toBe(true);
      const png = Buffer.from(body.qr_code.slice('data:image/png;base64,'.length), 'base64');
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    });

    it('asks nothing more at sign-in until a code confirms it, then gives ten recovery codes', async () => {
      const user = await registerUser(gate);
      const { secret } = (await (await bearerPost('/_auth/totp/enroll', user.access_token)).json()) as { secret: string };
      expect(await (await login(user.username)).json()).toMatchObject({ token_type: 'Bearer' });

      const wrong = await bearerPost('/_auth/totp/confirm', user.access_token, { code: await code(secret, 10 * 60_000) });
      expect(wrong.status).toBe(400);
      const confirmed = await bearerPost('/_auth/totp/confirm', user.access_token, { code: await code(secret) });
      expect(confirmed.status).toBe(200);
      const { recovery_codes } = (await confirmed.json()) as { recovery_codes: string[] };
      expect(recovery_codes).toHaveLength(10);
      expect(new Set(recovery_codes).size).toBe(10);
      expect(await (await login(user.username)).json()).toMatchObject({ mfa_required: true });
    });
  });

  describe('the pending sign-in', () => {
    let mfaToken: string;
    beforeAll(async () => {
      mfaToken = await pendingSignIn((await userWithTotp()).username);
    });
    const nginxVerify = (headers: Record<string, string>) =>
      rawRequest(`${gate.url}/_auth/verify`, { headers: { 'x-original-url': 'http://app.example/private', 'x-original-method': 'GET', ...headers } });
    const proxied = async (headers: Record<string, string>) => {
      const before = upstream.seen.length;
      const res = await fetch(`${gate.url}/private`, { headers, redirect: 'manual' });
      // Whatever the answer, the application must not have been reached.
      return upstream.seen.length === before ? res.status : 200;
    };

    it('answers a password sign-in with mfa_required, a pending token, the methods, and no session cookie', async () => {
      const user = await userWithTotp();
      const res = await login(user.username);
      expect(res.status).toBe(200);
      const body = (await res.json()) as PendingSignIn & Partial<TokenBody>;
      expect(body).toMatchObject({ mfa_required: true, mfa_token: expect.any(String) });
      expect(body.methods).toContain('totp');
      expect(body.access_token).toBeUndefined();
      expect(body.refresh_token).toBeUndefined();
      expect(cookiesOf(res)['gatehouse_session']).toBeUndefined();
    });

    it.each<[string, (token: string) => Promise<number>]>([
      ['as a Bearer token on /_auth/userinfo', async (t) => (await userinfo({ authorization: `Bearer ${t}` })).status],
      ['as the session cookie on /_auth/userinfo', async (t) => (await userinfo({ cookie: `gatehouse_session=${t}` })).status],
      ['as both halves of the session cookie', async (t) => (await userinfo({ cookie: `gatehouse_session=${t}~${t}` })).status],
      ['as the gatehouse_mfa cookie on /_auth/userinfo', async (t) => (await userinfo({ cookie: `gatehouse_mfa=${t}` })).status],
      ['as a refresh token on /_auth/refresh', async (t) => (await postJson(`${gate.url}/_auth/refresh`, { refresh_token: t })).status],
      ['as the session cookie on /_auth/refresh', async (t) => (await postJson(`${gate.url}/_auth/refresh`, {}, { cookie: `gatehouse_session=${t}~${t}` })).status],
      ['as a Bearer token on nginx-style /_auth/verify', async (t) => (await nginxVerify({ authorization: `Bearer ${t}` })).status],
      ['as cookies on nginx-style /_auth/verify', async (t) => (await nginxVerify({ cookie: `gatehouse_session=${t}~${t}; gatehouse_mfa=${t}` })).status],
      ['as a Bearer token in proxy mode', (t) => proxied({ authorization: `Bearer ${t}` })],
      ['as cookies in proxy mode', (t) => proxied({ cookie: `gatehouse_session=${t}~${t}; gatehouse_mfa=${t}` })],
    ])('authenticates nothing %s (401)', async (_, attempt) => {
      expect(await attempt(mfaToken)).toBe(401);
    });
  });

  describe('the second step', () => {
    it('refuses a wrong code with 401 and completes the sign-in with the code from oathtool', async () => {
      const user = await userWithTotp();
      const mfaToken = await pendingSignIn(user.username);
      const wrong = await totpStep(mfaToken, await code(user.secret, 10 * 60_000));
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toMatchObject({ error: 'invalid_code' });

      const right = await totpStep(mfaToken, await code(user.secret));
      expect(right.status).toBe(200);
      const tokens = (await right.json()) as TokenBody;
      expect(tokens).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String) });
      expect(cookiesOf(right)['gatehouse_session']).toBeTruthy();
      const me = await userinfo({ authorization: `Bearer ${tokens.access_token}` });
      expect(await me.json()).toMatchObject({ username: user.username });
    });

    it('ends the pending sign-in once it is complete', async () => {
      const user = await userWithTotp();
      const mfaToken = await pendingSignIn(user.username);
      expect((await totpStep(mfaToken, await code(user.secret))).status).toBe(200);
      gate.clock.advance(STEP);
      expect((await totpStep(mfaToken, await code(user.secret))).status).toBe(401);
    });

    it('refuses a used code on a new pending sign-in, and takes the next one 30 seconds later', async () => {
      const user = await userWithTotp();
      const used = await code(user.secret);
      expect((await totpStep(await pendingSignIn(user.username), used)).status).toBe(200);
      const replay = await totpStep(await pendingSignIn(user.username), used);
      expect(replay.status).toBe(401);

      gate.clock.advance(STEP);
      const next = await code(user.secret);
      expect(next).not.toBe(used);
      expect((await totpStep(await pendingSignIn(user.username), next)).status).toBe(200);
    });

    it('accepts a code one step behind or ahead, and refuses one two steps away', async () => {
      const user = await userWithTotp();
      const mfaToken = await pendingSignIn(user.username);
      // Refusals first: an accepted code makes every earlier step count as used.
      expect((await totpStep(mfaToken, await code(user.secret, -2 * STEP))).status).toBe(401);
      expect((await totpStep(mfaToken, await code(user.secret, 2 * STEP))).status).toBe(401);
      expect((await totpStep(mfaToken, await code(user.secret, -STEP))).status).toBe(200);
      expect((await totpStep(await pendingSignIn(user.username), await code(user.secret, STEP))).status).toBe(200);
    });

    it('takes each recovery code once', async () => {
      const user = await userWithTotp();
      const [first, second] = user.recoveryCodes;
      const recover = async (recoveryCode: string) =>
        postJson(`${gate.url}/_auth/mfa/recovery`, { mfa_token: await pendingSignIn(user.username), code: recoveryCode });
      const used = await recover(first!);
      expect(used.status).toBe(200);
      expect(await used.json()).toMatchObject({ token_type: 'Bearer' });
      expect((await recover(first!)).status).toBe(401);
      expect((await recover(second!)).status).toBe(200);
    });
  });

  describe('turning it off', () => {
    it('needs the password, and afterwards a password alone signs in', async () => {
      const user = await userWithTotp();
      expect((await bearerPost('/_auth/totp/disable', user.access_token, { password: 'not the password' })).status).toBe(401);
      expect((await bearerPost('/_auth/totp/disable', user.access_token, {})).status).toBe(401);
      expect(await (await login(user.username)).json()).toMatchObject({ mfa_required: true });

      expect((await bearerPost('/_auth/totp/disable', user.access_token, { password: PASSWORD })).status).toBe(200);
      const res = await login(user.username);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
    });

    it('takes a current code instead of the password', async () => {
      const user = await userWithTotp();
      expect((await bearerPost('/_auth/totp/disable', user.access_token, { code: await code(user.secret, 10 * 60_000) })).status).toBe(401);
      expect((await bearerPost('/_auth/totp/disable', user.access_token, { code: await code(user.secret) })).status).toBe(200);
      expect(await (await login(user.username)).json()).toMatchObject({ token_type: 'Bearer' });
    });
  });

  describe('in the browser forms', () => {
    it('sends a form sign-in to the code page and, with the code, on to rd with a session', async () => {
      const user = await userWithTotp();
      const signIn = await postForm(gate, '/_auth/login', { username: user.username, password: PASSWORD, rd: '/after' });
      expect(signIn.status).toBe(303);
      expect(signIn.headers.get('location')).toBe('/_auth/mfa');
      const pending = cookiesOf(signIn);
      expect(pending['gatehouse_mfa']).toBeTruthy();
      expect(pending['gatehouse_session']).toBeUndefined();

      const page = await fetch(`${gate.url}/_auth/mfa`, { headers: { cookie: cookieHeader({ gatehouse_mfa: pending['gatehouse_mfa']! }) } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('action="/_auth/mfa/totp"');
      expect(html).toContain('name="code"');
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
      const csrfCookie = cookiesOf(page)['gatehouse_csrf']!;

      const done = await fetch(`${gate.url}/_auth/mfa/totp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: cookieHeader({ gatehouse_mfa: pending['gatehouse_mfa']!, gatehouse_csrf: csrfCookie }),
        },
        body: new URLSearchParams({ csrf, code: await code(user.secret) }),
        redirect: 'manual',
      });
      expect(done.status).toBe(303);
      expect(done.headers.get('location')).toBe('/after');
      const session = cookiesOf(done)['gatehouse_session'];
      expect(session).toBeTruthy();
      const me = await userinfo({ cookie: cookieHeader({ gatehouse_session: session! }) });
      expect(await me.json()).toMatchObject({ username: user.username });
    });

    it('shows the code page without a pending sign-in only as a redirect to the login page', async () => {
      const res = await fetch(`${gate.url}/_auth/mfa`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/_auth/login');
    });
  });
});
