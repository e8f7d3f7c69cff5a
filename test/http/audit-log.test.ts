/** Security events are log lines with a stable `event`, and never carry passwords, codes or tokens. */
import { rmSync } from 'node:fs';
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
  });
});
