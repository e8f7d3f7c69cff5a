/** `gatehouse audit` and the audit events of the other CLI actions (SPEC sections 6 and 11), as an operator runs them. */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { PASSWORD, tempDir } from '../helpers/gatehouse.js';
import { gatehouseEnv, runCli } from '../helpers/process.js';

const dir = tempDir();
const env = gatehouseEnv(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = async (...args: string[]) => {
  const result = await runCli(args, env, `${PASSWORD}-new\n`);
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
};
const columns = (line: string) => line.split('\t');

describe('gatehouse audit', () => {
  it('lists the CLI actions with the cli actor, newest first, and filters by user, type and time', async () => {
    expect((await runCli(['user', 'add', 'root', '--admin'], env, `${PASSWORD}\n`)).status).toBe(0);
    await cli('user', 'add', 'ann');
    await cli('user', 'passwd', 'ann');
    await cli('user', 'disable', 'ann');
    await cli('user', 'enable', 'ann');
    await cli('sessions', 'revoke', '--user', 'ann');
    await cli('keys', 'rotate');

    const lines = (await cli('audit')).trim().split('\n');
    expect(lines.map((line) => columns(line)[1])).toEqual([
      'signing_key_added',
      'sessions_revoked',
      'user_enabled',
      'user_disabled',
      'password_changed',
      'user_registered',
      'user_registered',
    ]);
    for (const line of lines) {
      const [time, , , actor, address] = columns(line);
      expect(new Date(time!).toISOString()).toBe(time);
      expect(actor).toBe('cli');
      expect(address).toBe('-');
    }
    expect(columns(lines[1]!)).toEqual([expect.any(String), 'sessions_revoked', 'ann', 'cli', '-', '{"count":0}']);
    expect(columns(lines[0]!)[5]).toMatch(/^\{"kid":"[^"]+"\}$/);

    expect((await cli('audit', '--user', 'ann')).trim().split('\n')).toHaveLength(5);
    expect((await cli('audit', '--type', 'user_registered')).trim().split('\n').map((line) => columns(line)[2])).toEqual(['ann', 'root']);
    expect((await cli('audit', '--since', '1h')).trim().split('\n')).toHaveLength(7);
    expect((await cli('audit', '--since', '2999-01-01T00:00:00Z'))).toBe('');
  });

  it('prints nothing for a name no event recorded, and refuses a malformed --since as a usage error', async () => {
    expect((await cli('audit', '--user', 'nobody'))).toBe('');
    const bad = await runCli(['audit', '--since', 'yesterday'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--since is a duration/);
  });
});
