/** Security events are log lines with a stable `event`, and never carry passwords, codes or tokens. */
import { rmSync } from 'node:fs';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { startGatehouse, type RunningGatehouse } from '../../src/server.js';
import { PASSWORD, postJson, tempDir, testConfig, type TokenBody } from '../helpers/gatehouse.js';

const lines: Record<string, unknown>[] = [];
const dir = tempDir();
let gate: RunningGatehouse;
let url: string;
const clock = fixedClock(Date.now());

beforeAll(async () => {
  const log = createLogger('debug', (line) => void lines.push(JSON.parse(line)));
  gate = await startGatehouse(testConfig({ log_level: 'debug' }, dir), { clock, log });
  url = `http://${gate.address}`;
});
afterAll(async () => {
  await gate.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the audit log', () => {
  it('records sign-ins, failures, reuse and password changes without a secret in any line', async () => {
    const secrets: string[] = [PASSWORD, 'wrong password!', 'a changed password 2'];
    const registered = (await (await postJson(`${url}/_auth/register`, { username: 'audited', password: PASSWORD })).json()) as TokenBody;
    await postJson(`${url}/_auth/login`, { username: 'audited', password: 'wrong password!' });
    const login = (await (await postJson(`${url}/_auth/login`, { username: 'audited', password: PASSWORD })).json()) as TokenBody;
    await postJson(`${url}/_auth/refresh`, { refresh_token: login.refresh_token });
    clock.advance(11_000);
    await postJson(`${url}/_auth/refresh`, { refresh_token: login.refresh_token }); // reuse after the grace
    await fetch(`${url}/_auth/account/password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${registered.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ current_password: PASSWORD, new_password: 'a changed password 2' }),
    });
    secrets.push(registered.access_token, registered.refresh_token, login.access_token, login.refresh_token);
    secrets.push(...[registered, login].map((t) => t.refresh_token.split('.')[1]!));

    const audit = lines.filter((line) => line['audit'] === true).map((line) => line['event']);
    expect(audit).toEqual(expect.arrayContaining(['user_registered', 'login_failed', 'login_succeeded', 'refresh_token_reuse', 'password_changed']));
    expect(lines.find((line) => line['event'] === 'login_failed')).toMatchObject({ reason: 'wrong_password' });
    const everything = lines.map((line) => JSON.stringify(line)).join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    const stored = JSON.stringify(await gate.services.store.listAuditEvents({ limit: 200 }));
    for (const secret of secrets) expect(stored).not.toContain(secret);
  });

  it('keeps each event in the store with the user by id and name, the actor and the client address, before answering', async () => {
    const registered = (await (await postJson(`${url}/_auth/register`, { username: 'kept', password: PASSWORD })).json()) as TokenBody;
    const user = (await gate.services.store.findUserByLogin('kept'))!;
    await postJson(`${url}/_auth/login`, { username: 'kept', password: 'wrong password!' });
    await fetch(`${url}/_auth/account/password`, {
      method: 'POST',
      headers: { authorization: `Bearer ${registered.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ current_password: PASSWORD, new_password: 'a changed password 3' }),
    });
    // Awaited before the answer: already there, without waiting for anything.
    const [latest] = await gate.services.store.listAuditEvents({ userId: user.id, limit: 1 });
    expect(latest).toMatchObject({ type: 'password_changed', userId: user.id, username: 'kept', actorKind: 'user', actorId: user.id, actorUsername: 'kept', address: '127.0.0.1' });
    await gate.services.audit.flush();
    const events = await gate.services.store.listAuditEvents({ userId: user.id, limit: 50 });
    expect(events.map((e) => e.type).reverse()).toEqual(['user_registered', 'login_succeeded', 'login_failed', 'password_changed']);
    expect(events.find((e) => e.type === 'login_failed')).toMatchObject({ username: 'kept', address: '127.0.0.1', details: { reason: 'wrong_password' } });
    expect(events.find((e) => e.type === 'login_succeeded')).toMatchObject({ details: { method: 'registration' } });
  });

  it('stores no password, code, token or cookie of the sign-in, reset and TOTP flows', async () => {
    const newPassword = 'a reset password 4';
    const signUp = await postJson(`${url}/_auth/register`, { username: 'secretive', password: PASSWORD });
    const registered = (await signUp.json()) as TokenBody;
    const secrets: string[] = [PASSWORD, newPassword, registered.access_token, registered.refresh_token, ...(signUp.headers.getSetCookie() ?? [])];
    const bearer = { authorization: `Bearer ${registered.access_token}` };
    const enrolled = (await (await postJson(`${url}/_auth/totp/enroll`, {}, bearer)).json()) as { secret: string };
    const code = await generate({ secret: enrolled.secret, epoch: Math.floor(clock.now() / 1000) });
    const confirmed = (await (await postJson(`${url}/_auth/totp/confirm`, { code }, bearer)).json()) as { recovery_codes: string[] };
    secrets.push(enrolled.secret, code, ...confirmed.recovery_codes);
    const pending = (await (await postJson(`${url}/_auth/login`, { username: 'secretive', password: PASSWORD })).json()) as { mfa_token: string };
    secrets.push(pending.mfa_token);
    await postJson(`${url}/_auth/mfa/totp`, { mfa_token: pending.mfa_token, code: '000000' });
    const signedIn = await postJson(`${url}/_auth/mfa/recovery`, { mfa_token: pending.mfa_token, code: confirmed.recovery_codes[0] });
    expect(signedIn.status).toBe(200);
    secrets.push(...(signedIn.headers.getSetCookie() ?? []).map((cookie) => cookie.split(';')[0]!.split('=')[1]!));
    const user = (await gate.services.store.findUserByLogin('secretive'))!;
    const resetToken = await gate.services.oneTimeTokens.issue('password_reset', user.id, null, 60_000);
    secrets.push(resetToken);
    expect((await postJson(`${url}/_auth/password/reset`, { token: resetToken, password: newPassword })).status).toBe(200);
    await gate.services.audit.flush();

    const events = await gate.services.store.listAuditEvents({ userId: user.id, limit: 50 });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['totp_enabled', 'login_failed', 'recovery_code_used', 'login_succeeded', 'password_reset', 'password_changed']));
    const stored = JSON.stringify(events);
    for (const secret of secrets.filter((s) => s.length >= 6)) expect(stored).not.toContain(secret);
  });

  it('names gatehouse itself as the actor of a ban and of a detected refresh-token reuse', async () => {
    // Last: it bans this test's client address.
    const login = (await (await postJson(`${url}/_auth/register`, { username: 'robbed', password: PASSWORD })).json()) as TokenBody;
    await postJson(`${url}/_auth/refresh`, { refresh_token: login.refresh_token });
    clock.advance(11_000);
    await postJson(`${url}/_auth/refresh`, { refresh_token: login.refresh_token });
    // From a new address each time (through the trusted proxy): only the account runs out of guesses.
    for (let i = 0; i < 6; i++) await postJson(`${url}/_auth/login`, { username: 'robbed', password: `wrong ${i}` }, { 'x-forwarded-for': `198.51.100.${i + 1}` });
    await gate.services.audit.flush();
    const audited = (await gate.services.store.findUserByLogin('robbed'))!;
    const reuse = await gate.services.store.listAuditEvents({ type: 'refresh_token_reuse', userId: audited.id, limit: 5 });
    expect(reuse[0]).toMatchObject({ username: 'robbed', actorKind: 'system', actorId: null, address: '127.0.0.1' });
    const bans = await gate.services.store.listAuditEvents({ type: 'ban', limit: 5 });
    expect(bans).toEqual([expect.objectContaining({ actorKind: 'system', userId: audited.id, username: 'robbed', details: expect.objectContaining({ key: `account:${audited.id}` }) })]);
    const failures = await gate.services.store.listAuditEvents({ type: 'login_failed', userId: audited.id, limit: 10 });
    expect(failures.map((e) => e.address)).toContain('198.51.100.1');
  });
});
