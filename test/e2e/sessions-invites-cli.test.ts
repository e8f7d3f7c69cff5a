/** The administration commands (SPEC section 11) of the built CLI, beside a running server that sees their effect. */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, tempDir, type TokenBody } from '../helpers/gatehouse.js';
import { eventually, gatehouseEnv, runCli, spawnServer, type ServerProcess } from '../helpers/process.js';

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';

const dir = tempDir();
let server: ServerProcess;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  // Registration closed (the default): only invites and the CLI make accounts.
  env = gatehouseEnv(dir, { GATEHOUSE_PUBLIC_URL: 'https://auth.example.com', GATEHOUSE_TRUST_WINDOW: '2s' });
  server = await spawnServer(env);
  expect((await runCli(['user', 'add', 'root', '--email', 'root@example.com'], env, `${PASSWORD}\n`)).status).toBe(0);
});
afterAll(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

const login = async (username: string, password = PASSWORD, headers: Record<string, string> = {}) => postJson(`${server.url}/_auth/login`, { username, password }, headers);
const userinfo = (token: string) => fetch(`${server.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${token}` } });
/** A link the CLI printed for https://auth.example.com, sent to the running server instead. */
const onServer = (link: string) => `${server.url}${new URL(link).pathname}${new URL(link).search}`;
const printedLink = (stdout: string) => /^https:\/\/auth\.example\.com\/\S+$/m.exec(stdout)?.[0];

describe('gatehouse invite create', () => {
  it('prints a single-use link and its expiry; the link registers into the groups while registration is closed', async () => {
    const result = await runCli(['invite', 'create', '--group', 'staff', '--group', 'ops', '--ttl', '2d'], env);
    expect(result.status, result.stderr).toBe(0);
    const link = printedLink(result.stdout)!;
    expect(link).toMatch(/\/_auth\/register\?invite=[A-Za-z0-9_-]{43}$/);
    const expiry = Date.parse(/expires (\S+)/.exec(result.stdout)![1]!);
    expect(Math.abs(expiry - (Date.now() + 2 * 86_400_000))).toBeLessThan(60_000);
    expect((await fetch(onServer(link))).status).toBe(200);

    const invite = new URL(link).searchParams.get('invite');
    expect((await postJson(`${server.url}/_auth/register`, { username: 'uninvited', password: PASSWORD })).status).toBe(403);
    const res = await postJson(`${server.url}/_auth/register`, { username: 'invitee', password: PASSWORD, invite });
    expect(res.status).toBe(201);
    const me = await (await userinfo(((await res.json()) as TokenBody).access_token)).json();
    expect(me).toMatchObject({ username: 'invitee', groups: ['staff', 'ops'] });
    expect((await postJson(`${server.url}/_auth/register`, { username: 'second', password: PASSWORD, invite })).status).toBe(403);
  });

  it('binds the invite to --email', async () => {
    const link = printedLink((await runCli(['invite', 'create', '--email', 'guest@example.com'], env)).stdout)!;
    const invite = new URL(link).searchParams.get('invite');
    expect((await postJson(`${server.url}/_auth/register`, { username: 'guest', password: PASSWORD, invite, email: 'other@example.com' })).status).toBe(403);
    const res = await postJson(`${server.url}/_auth/register`, { username: 'guest', password: PASSWORD, invite });
    expect(await (await userinfo(((await res.json()) as TokenBody).access_token)).json()).toMatchObject({ email: 'guest@example.com', email_verified: true });
  });

  it.each([
    [['--ttl', '31d'], /ttl must be a duration from 1h to 30d/],
    [['--ttl', 'soon'], /ttl must be a duration/],
    [['--group', 'two words'], /A group name has 1 to 64 letters/],
    [['--group', 'été'], /A group name has 1 to 64 letters/],
    [['--email', 'not-an-address'], /not an email address/],
  ])('refuses %j with a clear line and exit 1', async (args, message) => {
    const result = await runCli(['invite', 'create', ...args], env);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('gatehouse user add', () => {
  it('puts the user in every --group given', async () => {
    expect((await runCli(['user', 'add', 'grouped', '--group', 'staff', '--group', 'ops'], env, `${PASSWORD}\n`)).status).toBe(0);
    const tokens = (await (await login('grouped')).json()) as TokenBody;
    expect(await (await userinfo(tokens.access_token)).json()).toMatchObject({ groups: ['staff', 'ops'] });
  });

  it('with an empty stdin creates the user without a password and prints a link with which the user sets one', async () => {
    const result = await runCli(['user', 'add', 'linked', '--email', 'linked@example.com'], env, '');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('linked has no password yet');
    expect((await login('linked')).status).toBe(401);
    const link = printedLink(result.stdout)!;
    expect(link).toMatch(/\/_auth\/password\/reset\?token=[A-Za-z0-9_-]{43}$/);
    const token = new URL(link).searchParams.get('token');
    expect((await postJson(`${server.url}/_auth/password/reset`, { token, password: 'my very own password' })).status).toBe(200);
    expect((await login('linked@example.com', 'my very own password')).status).toBe(200);
  });
});

describe('gatehouse sessions', () => {
  it('lists live sessions as a table with id, user, device, address, created and last used', async () => {
    await runCli(['user', 'add', 'lister'], env, `${PASSWORD}\n`);
    const tokens = (await (await login('lister', PASSWORD, { 'user-agent': FIREFOX })).json()) as TokenBody;
    const id = tokens.refresh_token.split('.')[0]!;
    const result = await runCli(['sessions', 'list', '--user', 'lister'], env);
    expect(result.status, result.stderr).toBe(0);
    const [header, ...rows] = result.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+USER\s+DEVICE\s+ADDRESS\s+CREATED\s+LAST USED$/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(new RegExp(`^${id}\\s+lister\\s+Firefox 128 on Windows\\s+127\\.0\\.0\\.1\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+\\d{4}-`));
    expect((await runCli(['sessions', 'list'], env)).stdout).toContain(id);
  });

  it('revokes one session by --id: the running server refuses it within trust_window, and the other goes on', async () => {
    await runCli(['user', 'add', 'revokee'], env, `${PASSWORD}\n`);
    const doomed = (await (await login('revokee')).json()) as TokenBody;
    const spared = (await (await login('revokee')).json()) as TokenBody;
    const id = doomed.refresh_token.split('.')[0]!;
    const result = await runCli(['sessions', 'revoke', '--id', id], env);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`ended session ${id}`);
    await eventually(async () => ((await userinfo(doomed.access_token)).status === 401 ? true : undefined), 5_000, 100);
    expect((await userinfo(spared.access_token)).status).toBe(200);
    const again = await runCli(['sessions', 'revoke', '--id', id], env);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/no live session/);
  });

  it('refuses --id together with --user', async () => {
    expect((await runCli(['sessions', 'revoke', '--id', 'x', '--user', 'root'], env)).status).toBe(2);
  });
});
