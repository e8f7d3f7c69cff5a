/**
 * Brute-force bans (SPEC section 2: max_retries, find_time, ban_time; section 7: a
 * banned account answers exactly as a wrong password does) and the breached-password
 * check against a k-anonymity range API. Failures count per account and per client
 * address; the test client is always 127.0.0.1, a trusted proxy by default, so each
 * attempt names its client in X-Forwarded-For to keep the two counters apart.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from 'otplib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import type { Logger } from '../../src/log.js';
import { startGatehouse } from '../../src/server.js';
import { PASSWORD, postJson, registerUser, startTestGatehouse, tempDir, testConfig, uniqueName, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort } from '../helpers/smtp.js';

const MIN = 60_000;
const BAN = { max_retries: 3, find_time: '2m', ban_time: '5m' };

let clients = 0;
/**
 * A client address of its own: the right-most X-Forwarded-For entry that is not a
 * trusted proxy. Hundreds are needed, so from 10.0.0.0/8 (an invalid entry would
 * silently make the client 127.0.0.1 for all of them).
 */
const newClient = () => {
  const n = ++clients;
  return `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`;
};

describe('bans after repeated failures', () => {
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await startTestGatehouse(BAN);
  });
  afterAll(() => gate?.close());

  const login = (username: string, password: string, client: string) =>
    postJson(`${gate.url}/_auth/login`, { username, password }, { 'x-forwarded-for': client });
  const answer = async (res: Response) => ({ status: res.status, body: await res.json() });

  it('counts wrong passwords for the username and the email of one account together, then refuses even the right one exactly like a wrong one', async () => {
    const email = `${uniqueName('ban')}@example.com`;
    const user = await registerUser(gate, uniqueName(), { email });
    const wrong = await answer(await login(user.username, 'wrong password 1', newClient()));
    expect(wrong.status).toBe(401);
    await login(email, 'wrong password 2', newClient());
    await login(user.username, 'wrong password 3', newClient());

    const banned = await answer(await login(user.username, PASSWORD, newClient()));
    expect(banned).toEqual(wrong);
    expect(await answer(await login(email, PASSWORD, newClient()))).toEqual(wrong);
  });

  it('lifts an account ban when ban_time has passed', async () => {
    const user = await registerUser(gate);
    for (let i = 0; i < 3; i++) await login(user.username, `wrong password ${i}`, newClient());
    gate.clock.advance(5 * MIN - 1_000);
    expect((await login(user.username, PASSWORD, newClient())).status).toBe(401);
    gate.clock.advance(2_000);
    expect((await login(user.username, PASSWORD, newClient())).status).toBe(200);
  });

  it('forgets failures older than find_time', async () => {
    const user = await registerUser(gate);
    await login(user.username, 'wrong password 1', newClient());
    await login(user.username, 'wrong password 2', newClient());
    gate.clock.advance(2 * MIN + 1_000);
    await login(user.username, 'wrong password 3', newClient());
    expect((await login(user.username, PASSWORD, newClient())).status).toBe(200);
  });

  it('keeps refusing after a ban shorter than find_time ends, until the failures leave the window', async () => {
    const short = await startTestGatehouse({ max_retries: 3, find_time: '10m', ban_time: '1m' });
    try {
      const user = await registerUser(short);
      const attempt = (password: string) => postJson(`${short.url}/_auth/login`, { username: user.username, password }, { 'x-forwarded-for': newClient() });
      for (let i = 0; i < 3; i++) expect((await attempt(`wrong password ${i}`)).status).toBe(401);
      short.clock.advance(MIN + 1_000);
      expect((await attempt('wrong password 4')).status).toBe(401);
      expect((await attempt(PASSWORD)).status).toBe(401);
      short.clock.advance(9 * MIN);
      expect((await attempt(PASSWORD)).status).toBe(200);
    } finally {
      await short.close();
    }
  });

  it('bans a client address that fails against several accounts, for every account, but not the accounts themselves', async () => {
    const accounts = [await registerUser(gate), await registerUser(gate), await registerUser(gate)];
    const attacker = newClient();
    for (const account of accounts) expect((await login(account.username, 'not the password', attacker)).status).toBe(401);

    const innocent = await registerUser(gate);
    expect((await login(innocent.username, PASSWORD, attacker)).status).toBe(401);
    expect((await login(innocent.username, PASSWORD, newClient())).status).toBe(200);
    expect((await login(accounts[0]!.username, PASSWORD, newClient())).status).toBe(200);
  });

  it('counts failures on unknown usernames against the address only: the name can still be registered and used', async () => {
    const ghost = uniqueName('ghost');
    const attacker = newClient();
    for (let i = 0; i < 3; i++) expect((await login(ghost, `guess ${i}`, attacker)).status).toBe(401);

    const bystander = await registerUser(gate);
    expect((await login(bystander.username, PASSWORD, attacker)).status).toBe(401);
    await registerUser(gate, ghost);
    expect((await login(ghost, PASSWORD, newClient())).status).toBe(200);
  });

  /** A user with TOTP on. otplib computes the codes here: the subject is counting, not TOTP (test/e2e/totp.test.ts checks that against oathtool). */
  async function userWithTotp() {
    const user = await registerUser(gate);
    const bearer = { authorization: `Bearer ${user.access_token}` };
    const { secret } = (await (await postJson(`${gate.url}/_auth/totp/enroll`, {}, bearer)).json()) as { secret: string };
    const codeNow = () => generate({ secret, epoch: Math.floor(gate.clock.now() / 1000) });
    expect((await postJson(`${gate.url}/_auth/totp/confirm`, { code: await codeNow() }, bearer)).status).toBe(200);
    gate.clock.advance(MIN);
    const wrongCode = async () => ((await codeNow()) === '000000' ? '000001' : '000000');
    const pending = async (client: string) =>
      ((await (await login(user.username, PASSWORD, client)).json()) as { mfa_token: string }).mfa_token;
    const secondStep = (mfaToken: string, code: string, client: string) =>
      postJson(`${gate.url}/_auth/mfa/totp`, { mfa_token: mfaToken, code }, { 'x-forwarded-for': client });
    return { user, codeNow, wrongCode, pending, secondStep };
  }

  it('counts wrong TOTP codes like wrong passwords: the account is banned, even for the right code', async () => {
    const { user, codeNow, wrongCode, pending, secondStep } = await userWithTotp();
    const mfaToken = await pending(newClient());
    for (let i = 0; i < 3; i++) expect((await secondStep(mfaToken, await wrongCode(), newClient())).status).toBe(401);

    expect((await secondStep(mfaToken, await codeNow(), newClient())).status).toBe(401);
    expect((await login(user.username, PASSWORD, newClient())).status).toBe(401);
  });

  it('keeps counting wrong TOTP codes across fresh password sign-ins (the right password must not wipe them)', async () => {
    const { user, codeNow, wrongCode, pending, secondStep } = await userWithTotp();
    for (let i = 0; i < 3; i++) {
      expect((await secondStep(await pending(newClient()), await wrongCode(), newClient())).status).toBe(401);
    }
    expect((await login(user.username, PASSWORD, newClient())).status).toBe(401);
    expect((await secondStep(await pending(newClient()), await codeNow(), newClient())).status).toBe(401);
  });
});

describe('guesses sent all at once (SPEC section 7: every guess is counted before it is checked)', () => {
  const MAX = 5;
  const BURST = 30;
  const audit: { event: string; fields: Record<string, unknown> }[] = [];
  const log: Logger = { debug: () => {}, info: (event, fields = {}) => void audit.push({ event, fields }), warn: () => {}, error: () => {} };
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await startTestGatehouse({ max_retries: MAX, find_time: '2m', ban_time: '5m' }, { log });
  });
  afterAll(() => gate?.close());
  afterEach(() => vi.restoreAllMocks());

  const login = (username: string, password: string, client: string) =>
    postJson(`${gate.url}/_auth/login`, { username, password }, { 'x-forwarded-for': client });
  /** Every argon2 verification from now on; the test gatehouse runs in this process. */
  const argon2Runs = () => vi.spyOn(gate.services.passwords, 'verify');
  /** BURST wrong guesses and then the right one, all in flight at once; the answers in the same order. */
  const burst = (send: (guess: string, i: number) => Promise<Response>, wrong: (i: number) => string, right: string) =>
    Promise.all([...Array.from({ length: BURST }, (_, i) => send(wrong(i), i)), send(right, BURST)]);

  it('checks at most max_retries of 30 wrong passwords for one account, and refuses the right one at the end of the burst like a wrong one', async () => {
    const user = await registerUser(gate);
    const runs = argon2Runs();
    const answers = await burst((password) => login(user.username, password, newClient()), (i) => `wrong password ${i}`, PASSWORD);

    expect(runs).toHaveBeenCalledTimes(MAX);
    const bodies = await Promise.all(answers.map(async (res) => ({ status: res.status, body: await res.json() })));
    expect(new Set(bodies.map((answer) => JSON.stringify(answer)))).toEqual(new Set([JSON.stringify(bodies[0])]));
    expect(bodies[BURST]!.status).toBe(401);
    expect((await login(user.username, PASSWORD, newClient())).status).toBe(401);
  });

  it('logs every checked wrong password as login_failed, and the guesses refused unchecked as banned', async () => {
    const user = await registerUser(gate);
    audit.length = 0;
    await burst((password) => login(user.username, password, newClient()), (i) => `wrong password ${i}`, PASSWORD);
    const failures = audit.filter((entry) => entry.event === 'login_failed' && entry.fields['user_id'] !== undefined);
    expect(failures.filter((entry) => entry.fields['reason'] === 'wrong_password')).toHaveLength(MAX);
    expect(failures.filter((entry) => entry.fields['reason'] === 'banned')).toHaveLength(BURST + 1 - MAX);
    expect(audit.some((entry) => entry.event === 'login_succeeded')).toBe(false);
  });

  it('checks at most max_retries wrong passwords from one address spread over several accounts, and refuses the right one from it', async () => {
    const accounts = await Promise.all(Array.from({ length: 6 }, () => registerUser(gate)));
    const attacker = newClient();
    const runs = argon2Runs();
    const answers = await burst(
      (password, i) => login(accounts[i % accounts.length]!.username, password, attacker),
      (i) => `wrong password ${i}`,
      PASSWORD,
    );

    expect(runs.mock.calls.length).toBeLessThanOrEqual(MAX);
    expect(answers.map((res) => res.status)).toEqual(Array(BURST + 1).fill(401));
    expect((await login(accounts[0]!.username, PASSWORD, attacker)).status).toBe(401);
    expect((await login(accounts[0]!.username, PASSWORD, newClient())).status).toBe(200);
  });

  it('counts guesses from one IPv6 /64 together, and an IPv4-mapped address as its IPv4 address', async () => {
    const accounts = await Promise.all(Array.from({ length: MAX + 2 }, () => registerUser(gate)));
    for (let i = 0; i < MAX; i++) expect((await login(accounts[i]!.username, 'not the password', `2001:db8:77:1::${i + 1}`)).status).toBe(401);
    expect((await login(accounts[MAX]!.username, PASSWORD, '2001:db8:77:1:ffff::9')).status).toBe(401);
    expect((await login(accounts[MAX]!.username, PASSWORD, '2001:db8:77:2::1')).status).toBe(200);

    const v4 = newClient();
    for (let i = 0; i < MAX; i++) expect((await login(accounts[i]!.username, 'not the password', `::ffff:${v4}`)).status).toBe(401);
    expect((await login(accounts[MAX + 1]!.username, PASSWORD, v4)).status).toBe(401);
  });

  /** A user signed in with a bearer token, who may have TOTP on. */
  async function signedInUser({ totp = false } = {}) {
    const user = await registerUser(gate);
    const bearer = { authorization: `Bearer ${user.access_token}` };
    if (totp) {
      const { secret } = (await (await postJson(`${gate.url}/_auth/totp/enroll`, {}, bearer)).json()) as { secret: string };
      const code = await generate({ secret, epoch: Math.floor(gate.clock.now() / 1000) });
      expect((await postJson(`${gate.url}/_auth/totp/confirm`, { code }, bearer)).status).toBe(200);
    }
    return { user, bearer };
  }

  it.each([
    ['a password change', 'POST', '/_auth/account/password', (password: string) => ({ current_password: password, new_password: 'a brand new passphrase' })],
    ['an account deletion', 'DELETE', '/_auth/account', (password: string) => ({ password })],
    ['turning TOTP off', 'POST', '/_auth/totp/disable', (password: string) => ({ password })],
  ])('checks at most max_retries wrong current passwords for %s sent at once, and refuses the right one at the end', async (_what, method, path, body) => {
    const { bearer } = await signedInUser({ totp: path === '/_auth/totp/disable' });
    const send = (password: string) =>
      fetch(`${gate.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-forwarded-for': newClient(), ...bearer },
        body: JSON.stringify(body(password)),
      });
    const runs = argon2Runs();
    const answers = await burst(send, (i) => `wrong password ${i}`, PASSWORD);

    expect(runs).toHaveBeenCalledTimes(MAX);
    expect(answers.map((res) => res.status)).toEqual(Array(BURST + 1).fill(401));
    expect(await answers[BURST]!.json()).toMatchObject({ error: 'reauthentication_failed' });
    expect((await fetch(`${gate.url}/_auth/account/sessions`, { headers: bearer })).status).toBe(200);
  });

  /** A pending second step of a user with TOTP and recovery codes. */
  async function pendingSecondStep() {
    const user = await registerUser(gate);
    const bearer = { authorization: `Bearer ${user.access_token}` };
    const { secret } = (await (await postJson(`${gate.url}/_auth/totp/enroll`, {}, bearer)).json()) as { secret: string };
    const codeAt = (offsetMs: number) => generate({ secret, epoch: Math.floor((gate.clock.now() + offsetMs) / 1000) });
    const confirmed = await postJson(`${gate.url}/_auth/totp/confirm`, { code: await codeAt(0) }, bearer);
    const { recovery_codes } = (await confirmed.json()) as { recovery_codes: string[] };
    const { mfa_token } = (await (await login(user.username, PASSWORD, newClient())).json()) as { mfa_token: string };
    const secondStep = (method: 'totp' | 'recovery', code: string) =>
      postJson(`${gate.url}/_auth/mfa/${method}`, { mfa_token, code }, { 'x-forwarded-for': newClient() });
    return { user, codeAt, recoveryCodes: recovery_codes, secondStep };
  }

  /**
   * Counts the calls of a store check and makes each take 20 ms, as with a remote
   * database: the guesses then overlap, as they would across replicas.
   */
  function slowStoreCheck(name: 'useTotpStep' | 'useRecoveryCode') {
    const { store } = gate.services;
    const check = (store[name] as (...args: unknown[]) => Promise<boolean>).bind(store);
    const slow = async (...args: unknown[]) => {
      await sleep(20);
      return check(...args);
    };
    return vi.spyOn(store, name).mockImplementation(slow as never);
  }

  it('checks at most max_retries TOTP codes sent at once (here replays of a used one), and refuses a fresh one at the end', async () => {
    const { codeAt, secondStep } = await pendingSecondStep();
    const used = await codeAt(0); // used up by the confirmation; still within the window, so each replay reaches the store
    const checks = slowStoreCheck('useTotpStep');
    const answers = await burst((code) => secondStep('totp', code), () => used, await codeAt(30_000));

    expect(checks.mock.calls.length).toBeLessThanOrEqual(MAX);
    expect(answers.map((res) => res.status)).toEqual(Array(BURST + 1).fill(401));
  });

  it('checks at most max_retries recovery codes sent at once, and refuses a right one at the end', async () => {
    const { recoveryCodes, secondStep } = await pendingSecondStep();
    const checks = slowStoreCheck('useRecoveryCode');
    const answers = await burst((code) => secondStep('recovery', code), (i) => `DEAD-BEEF-0000-${String(i).padStart(4, '0')}`, recoveryCodes[0]!);

    expect(checks).toHaveBeenCalledTimes(MAX);
    expect(answers.map((res) => res.status)).toEqual(Array(BURST + 1).fill(401));
  });
});

/** A stand-in for api.pwnedpasswords.com: GET /range/<5 hex> answers `SUFFIX:COUNT` lines, padded with zero counts. */
async function startRangeApi(breached: string[], padding: string[]) {
  const seen: { url: string; headers: Record<string, unknown>; body: string }[] = [];
  const sha1 = (password: string) => createHash('sha1').update(password).digest('hex').toUpperCase();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ url: req.url!, headers: req.headers, body });
      const prefix = /^\/range\/([0-9A-F]{5})$/i.exec(req.url ?? '')?.[1]?.toUpperCase();
      if (!prefix) return void res.writeHead(404).end();
      const lines = [
        ...breached.map(sha1).filter((hash) => hash.startsWith(prefix)).map((hash) => `${hash.slice(5)}:3861493`),
        ...padding.map(sha1).filter((hash) => hash.startsWith(prefix)).map((hash) => `${hash.slice(5)}:0`),
        '0018A45C4D1DEF81644B54AB7F969B88D65:1',
      ];
      res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    sha1,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('against a local stand-in for the HIBP range API (the real service is not reachable here)', () => {
  const BREACHED = 'password1234';
  const CLEAN = 'violet anchor drifts slowly';
  const PADDED = 'a padded but unbreached phrase';
  let api: Awaited<ReturnType<typeof startRangeApi>>;
  let gate: TestGatehouse;
  beforeAll(async () => {
    api = await startRangeApi([BREACHED], [PADDED]);
    gate = await startTestGatehouse({ hibp_url: api.url });
  });
  afterAll(async () => {
    await gate?.close();
    await api?.close();
  });

  const register = (password: string) => postJson(`${gate.url}/_auth/register`, { username: uniqueName(), password });

  it('refuses a breached password at registration with 400 breached_password', async () => {
    const res = await register(BREACHED);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'breached_password' });
  });

  it('accepts a password the range does not list, and one listed only as padding (count 0)', async () => {
    expect((await register(CLEAN)).status).toBe(201);
    expect((await register(PADDED)).status).toBe(201);
  });

  it('sends the service only the first five characters of the SHA-1, never the rest or the password', async () => {
    await register(BREACHED);
    await register(CLEAN);
    expect(api.seen.length).toBeGreaterThanOrEqual(2);
    for (const request of api.seen) expect(request.url).toMatch(/^\/range\/[0-9A-F]{5}$/);
    expect(api.seen.map((request) => request.url)).toEqual(expect.arrayContaining([`/range/${api.sha1(BREACHED).slice(0, 5)}`, `/range/${api.sha1(CLEAN).slice(0, 5)}`]));
    const everything = JSON.stringify(api.seen);
    for (const password of [BREACHED, CLEAN, PADDED]) {
      expect(everything).not.toContain(password);
      expect(everything.toUpperCase()).not.toContain(api.sha1(password).slice(5));
    }
  });
});

describe('with the range API unreachable', () => {
  it('allows the registration and logs the decision', async () => {
    const warnings: { event: string; fields: Record<string, unknown> }[] = [];
    const log: Logger = { debug: () => {}, info: () => {}, warn: (event, fields = {}) => void warnings.push({ event, fields }), error: () => {} };
    const dir = tempDir();
    const gate = await startGatehouse(testConfig({ hibp_url: `http://127.0.0.1:${await freePort()}` }, dir), { clock: fixedClock(Date.now()), log });
    try {
      const res = await postJson(`http://${gate.address}/_auth/register`, { username: uniqueName(), password: 'password1234' });
      expect(res.status).toBe(201);
      expect(warnings).toContainEqual(expect.objectContaining({ event: 'breach_check_unavailable', fields: expect.objectContaining({ decision: 'allowed' }) }));
    } finally {
      await gate.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
