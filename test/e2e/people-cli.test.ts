/**
 * The people commands of the real `gatehouse` binary beside a running server
 * (SPEC section 11): users, groups, bans and second factors, and a group change
 * the server applies to tokens it issued before.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, tempDir, type TokenBody } from '../helpers/gatehouse.js';
import { eventually, gatehouseEnv, runCli, spawnServer, type ServerProcess } from '../helpers/process.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the people commands beside a running server', () => {
  let server: ServerProcess;
  const env = gatehouseEnv(dir, { GATEHOUSE_TRUST_WINDOW: '4s' });
  const cli = (...args: string[]) => runCli(args, env, `${PASSWORD}\n`);
  const ok = async (...args: string[]) => {
    const result = await cli(...args);
    expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  /** From a client address of its own (the loopback is a trusted proxy), so that only the account is banned, never the address. */
  const login = async (username: string, password = PASSWORD, from = '198.51.100.200') =>
    postJson(`${server.url}/_auth/login`, { username, password }, { 'x-forwarded-for': from });
  const userinfo = async (token: string) => fetch(`${server.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  beforeAll(async () => {
    server = await spawnServer(env);
    for (const name of ['root', 'bob', 'carol']) await ok('user', 'add', name);
  });
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });

  it('adds several users to a group, reporting each, and lists groups and the users of one', async () => {
    expect(await ok('group', 'add', 'ops', 'bob', 'carol')).toBe('added bob to ops\nadded carol to ops\n');
    expect(await ok('group', 'add', 'ops', 'bob')).toBe('bob was in ops already\n');
    expect(await ok('group', 'list')).toBe('admins\t1\nops\t2\n');
    const members = await ok('user', 'list', '--group', 'ops');
    expect(members).toMatch(/^bob\t-\tops\tactive\t/m);
    expect(members).toMatch(/^carol\t-\tops\tactive\t/m);
    expect(members).not.toMatch(/^root/m);
  });

  it('changes nothing when one of the users is unknown, and says which, with exit 1', async () => {
    const result = await cli('group', 'add', 'qa', 'bob', 'nobody');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no user named nobody');
    expect(result.stdout).toBe('');
    expect(await ok('group', 'list')).not.toContain('qa');
  });

  it.each([['keys', 'rotate'], ['sessions', 'list'], ['user', 'list'], ['group', 'list'], ['invite', 'create'], ['config', 'check']])(
    'refuses a word after %s %s as a usage error (exit 2), doing nothing',
    async (...command) => {
      const result = await cli(...command, 'extra');
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/^gatehouse: unexpected argument: extra\n/);
      expect(result.stdout).toBe('');
    },
  );

  it('refuses a malformed group name and the removal of the last administrator with exit 1', async () => {
    const malformed = await cli('group', 'add', 'has space', 'bob');
    expect(malformed.status).toBe(1);
    expect(malformed.stderr).toMatch(/group name/);
    const last = await cli('group', 'remove', 'admins', 'root');
    expect(last.status).toBe(1);
    expect(last.stderr).toMatch(/root: That would leave no enabled administrator/);
    expect((await cli('user', 'disable', 'root')).status).toBe(1);
    expect((await cli('user', 'delete', 'root')).status).toBe(1);
    expect(await ok('user', 'list', '--group', 'admins')).toMatch(/^root\t-\tadmins\tactive\t/m);
  });

  it('makes the running server refuse a token minted before a group change, and a refresh carries the new groups', async () => {
    const tokens = (await (await login('bob')).json()) as TokenBody;
    expect(await (await userinfo(tokens.access_token)).json()).toMatchObject({ groups: ['ops'] });
    expect(await ok('group', 'remove', 'ops', 'bob')).toBe('removed bob from ops\n');
    await eventually(async () => ((await userinfo(tokens.access_token)).status === 401 ? true : undefined), 4_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // past the second of the change
    const refreshed = (await (await postJson(`${server.url}/_auth/refresh`, { refresh_token: tokens.refresh_token })).json()) as TokenBody;
    expect(await (await userinfo(refreshed.access_token)).json()).toMatchObject({ groups: [] });
  });

  it('shows a user, lifts their ban, resets their factors, disables, enables and deletes them', async () => {
    for (let i = 0; i < 6; i++) await login('carol', `wrong ${i}`, `198.51.100.${i + 1}`);
    expect((await login('carol')).status).toBe(401);
    const shown = await ok('user', 'show', 'carol');
    expect(shown).toMatch(/^username:\s+carol$/m);
    expect(shown).toMatch(/^groups:\s+ops$/m);
    expect(shown).toMatch(/^factors:\s+password yes, TOTP off, 0 recovery codes, 0 passkeys$/m);
    expect(shown).toMatch(/^banned until:\s+\d{4}-/m);
    expect(await ok('user', 'unban', 'carol')).toContain('lifted');
    expect(await ok('user', 'show', 'carol')).toMatch(/^banned until:\s+-$/m);
    const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
    expect((await postJson(`${server.url}/_auth/login`, { username: 'carol', password: PASSWORD }, { 'x-forwarded-for': '198.51.100.200', 'user-agent': chrome })).status).toBe(200);
    const withSession = await ok('user', 'show', 'carol');
    expect(withSession).toMatch(/^sessions:\s+1$/m);
    expect(withSession).toMatch(/^ {2}\S+\tChrome 131 on Linux\t198\.51\.100\.200\tstarted \d{4}-\S+\tlast used \d{4}-/m);
    expect(await ok('user', 'reset-factors', 'carol')).toContain('removed the second factors of carol');
    expect(await ok('user', 'disable', 'carol')).toBe('carol disabled\n');
    expect(await ok('user', 'disable', 'carol')).toBe('carol was disabled already\n');
    expect(await ok('user', 'enable', 'carol')).toBe('carol enabled\n');
    expect(await ok('user', 'delete', 'carol')).toContain('deleted carol');
    const gone = await cli('user', 'show', 'carol');
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain('no user named carol');
  });
});
