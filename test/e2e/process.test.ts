import { request } from 'node:http';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, tempDir, type TokenBody } from '../helpers/gatehouse.js';
import { eventually, gatehouseEnv, LAUNCHER, runCli, spawnServer, type ServerProcess } from '../helpers/process.js';
import { startEchoUpstream } from '../helpers/upstream.js';
import WebSocket from 'ws';

const dirs: string[] = [];
const newDir = () => {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const login = async (server: ServerProcess, username: string, password = PASSWORD) =>
  postJson(`${server.url}/_auth/login`, { username, password });
const userinfoStatus = async (server: ServerProcess, token: string) =>
  (await fetch(`${server.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('durability', () => {
  it('keeps an acknowledged registration after kill -9', async () => {
    const env = gatehouseEnv(newDir());
    const first = await spawnServer(env);
    const res = await postJson(`${first.url}/_auth/register`, { username: 'durable', password: PASSWORD });
    expect(res.status).toBe(201);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await spawnServer(env);
    try {
      expect((await login(second, 'durable')).status).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});

describe('SIGTERM', () => {
  it('finishes a request in flight, then exits 0', async () => {
    const server = await spawnServer(gatehouseEnv(newDir()));
    const body = JSON.stringify({ username: 'drain', password: PASSWORD });
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/_auth/register`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      // Half the body now, the rest after the signal: the request is in flight when SIGTERM lands.
      req.write(body.slice(0, 10));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 200);
      }, 200);
    });
    expect(await answered).toBe(201);
    expect(await server.exited).toBe(0);
    expect(server.lines.some((line) => line.includes('"event":"stopped"'))).toBe(true);
  });
});

describe('SIGTERM right after start', () => {
  it('drains and exits 0 however soon after the listening line it comes', async () => {
    for (let i = 0; i < 5; i++) {
      const server = await spawnServer(gatehouseEnv(newDir()));
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });
});

describe('SIGTERM with a websocket open', () => {
  it('closes the websocket and exits 0 instead of waiting for it', async () => {
    const upstream = await startEchoUpstream();
    const server = await spawnServer(gatehouseEnv(newDir(), { GATEHOUSE_UPSTREAM: upstream.url, GATEHOUSE_PUBLIC_PATHS: '/socket' }));
    try {
      const socket = new WebSocket(`${server.url.replace('http', 'ws')}/socket`);
      await new Promise((resolve, reject) => socket.once('message', resolve).once('error', reject));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      await closed;
    } finally {
      await upstream.close();
    }
  });
});

describe('the CLI beside a running server', () => {
  let server: ServerProcess;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    env = gatehouseEnv(newDir());
    server = await spawnServer(env);
    expect((await runCli(['user', 'add', 'root', '--email', 'root@example.com'], env, `${PASSWORD}\n`)).status).toBe(0);
  });
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });

  it('adds users the server can sign in, the first one an administrator', async () => {
    const result = await runCli(['user', 'add', 'bob'], env, `${PASSWORD}\n`);
    expect(result.stdout).toContain('created bob');
    expect((await login(server, 'root@example.com')).status).toBe(200);
    expect((await login(server, 'bob')).status).toBe(200);
    const list = (await runCli(['user', 'list'], env)).stdout;
    expect(list).toMatch(/^root\troot@example\.com\tadmins\tactive\t/m);
    expect(list).toMatch(/^bob\t-\t-\tactive\t/m);
  });

  it('counts the address an administrator gave as confirmed, so it reaches apps as the email', async () => {
    const tokens = (await (await login(server, 'root')).json()) as TokenBody;
    const me = await fetch(`${server.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await me.json()).toMatchObject({ username: 'root', email: 'root@example.com', email_verified: true });
  });

  it('refuses a second user of the same name, with a clear line and exit 1', async () => {
    const result = await runCli(['user', 'add', 'BOB'], env, `${PASSWORD}\n`);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/username is already taken/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('revokes sessions so that the running server refuses them within seconds', async () => {
    await runCli(['user', 'add', 'carol'], env, `${PASSWORD}\n`);
    const tokens = (await (await login(server, 'carol')).json()) as TokenBody;
    expect(await userinfoStatus(server, tokens.access_token)).toBe(200);
    expect((await runCli(['sessions', 'revoke', '--user', 'carol'], env)).stdout).toContain('ended 1 session');
    await eventually(async () => ((await userinfoStatus(server, tokens.access_token)) === 401 ? true : undefined), 10_000);
  });

  it('disables and re-enables a user', async () => {
    const cli = async (...args: string[]) => {
      const result = await runCli(args, env, `${PASSWORD}\n`);
      expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    };
    const loginAnswer = async () => {
      const res = await login(server, 'dave');
      return `${res.status} ${await res.text()}`;
    };
    await cli('user', 'add', 'dave');
    await cli('user', 'disable', 'dave');
    expect(await loginAnswer()).toMatch(/^401 /);
    await cli('user', 'enable', 'dave');
    expect(await loginAnswer()).toMatch(/^200 /);
  });

  it('changes a password from stdin and ends the old sessions', async () => {
    await runCli(['user', 'add', 'erin'], env, `${PASSWORD}\n`);
    const tokens = (await (await login(server, 'erin')).json()) as TokenBody;
    expect((await runCli(['user', 'passwd', 'erin'], env, 'an entirely new password\n')).status).toBe(0);
    expect((await login(server, 'erin')).status).toBe(401);
    expect((await login(server, 'erin', 'an entirely new password')).status).toBe(200);
    expect((await postJson(`${server.url}/_auth/refresh`, { refresh_token: tokens.refresh_token })).status).toBe(401);
  });

  it('rotates the signing key: the server signs with it within 30 seconds and keeps the old key published', async () => {
    await runCli(['user', 'add', 'frank'], env, `${PASSWORD}\n`);
    const before = (await (await fetch(`${server.url}/_auth/jwks.json`)).json()) as { keys: { kid: string }[] };
    const oldToken = ((await (await login(server, 'frank')).json()) as TokenBody).access_token;
    const rotated = await runCli(['keys', 'rotate'], env);
    const newKid = /signing key ([\w-]+)/.exec(rotated.stdout)![1]!;
    const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
    await eventually(async () => {
      const token = ((await (await login(server, 'frank')).json()) as TokenBody).access_token;
      return kidOf(token) === newKid ? true : undefined;
    }, 30_000, 1_000);
    const after = (await (await fetch(`${server.url}/_auth/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(after.keys.map((k) => k.kid)).toEqual([...before.keys.map((k) => k.kid), newKid]);
    expect(await userinfoStatus(server, oldToken)).toBe(200);
  }, 45_000);

  it('answers healthz and readyz on the management port only', async () => {
    expect((await fetch(`${server.managementUrl}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${server.managementUrl}/readyz`)).json()).toEqual({ status: 'ready' });
    const metrics = await (await fetch(`${server.managementUrl}/metrics`)).text();
    expect(metrics).toMatch(/^gatehouse_logins_total\{result="success"\} \d+/m);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
  });
});

describe('configuration errors', () => {
  it('stops with every problem on its own line, exit 2, and no stack trace', async () => {
    const env = gatehouseEnv(newDir(), { GATEHOUSE_TRUST_WINDOW: '5 minutes', GATEHOUSE_REGISTRATION: 'maybe' });
    const result = await runCli(['serve', '--listen', 'nowhere'], env);
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^gatehouse: listen: "nowhere" is not valid \(from --listen\); expected host:port/),
      expect.stringMatching(/^gatehouse: trust_window: "5 minutes" is not valid \(from GATEHOUSE_TRUST_WINDOW\); expected a duration/),
      expect.stringMatching(/^gatehouse: registration: "maybe" is not valid \(from GATEHOUSE_REGISTRATION\); expected one of open, closed/),
    ]);
  });

  it('stops on a misspelt YAML key, naming the nearest setting', async () => {
    const dir = newDir();
    writeFileSync(`${dir}/gatehouse.yaml`, 'registraton: open\n');
    const result = await runCli(['serve', '--config', `${dir}/gatehouse.yaml`], gatehouseEnv(dir));
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(`gatehouse: ${dir}/gatehouse.yaml: unknown setting \`registraton\`; did you mean \`registration\`?`);
  });

  it('warns on stderr about a misspelt GATEHOUSE_ variable in the other commands', async () => {
    const result = await runCli(['config', 'check'], gatehouseEnv(newDir(), { GATEHOUSE_TRUST_WINDW: '1m' }));
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('gatehouse: warning: GATEHOUSE_TRUST_WINDW is not a setting and is ignored; did you mean GATEHOUSE_TRUST_WINDOW?\n');
    expect(result.stdout).toContain('trust_window: 300000');
  });

  it('prints the effective config with secrets redacted', async () => {
    const env = gatehouseEnv(newDir(), { GATEHOUSE_SMTP_URL: 'smtp://mailer:hunter22@mail.example.com:587', GATEHOUSE_PASSWORD_PEPPER: 'pepper-secret' });
    const result = await runCli(['config', 'check'], env);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('smtp_url: smtp://mailer:(redacted)@mail.example.com:587');
    expect(result.stdout).toContain('trust_window: 300000');
    expect(result.stdout).not.toContain('hunter22');
    expect(result.stdout).not.toContain('pepper-secret');
  });
});

describe('the start line', () => {
  const event = (server: ServerProcess, name: string) =>
    server.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['event'] === name);
  const stop = async (server: ServerProcess) => {
    server.child.kill('SIGTERM');
    await server.exited;
  };

  it('names URLs, mode, database, policy, and where to create the administrator until an account exists', async () => {
    const dir = newDir();
    const env = gatehouseEnv(dir, { GATEHOUSE_PUBLIC_URL: 'https://auth.example.com' });
    const fresh = await spawnServer(env);
    try {
      const [listening] = event(fresh, 'listening');
      expect(listening).toMatchObject({
        level: 'info',
        url: fresh.url,
        management_url: fresh.managementUrl,
        mode: 'forward-auth / endpoints only',
        database: `file:${dir}/gatehouse.db`,
        registration: 'closed',
      });
      await eventually(async () => (event(fresh, 'no_account_yet').length > 0 ? true : undefined), 5000);
      expect(event(fresh, 'no_account_yet')).toEqual([expect.objectContaining({ url: 'https://auth.example.com/_auth/register' })]);
      // The hint is true: closed registration still lets the first account in, as administrator, and nobody after it.
      expect((await postJson(`${fresh.url}/_auth/register`, { username: 'founder', password: PASSWORD })).status).toBe(201);
      const second = await postJson(`${fresh.url}/_auth/register`, { username: 'second', password: PASSWORD });
      expect(`${second.status} ${((await second.json()) as { error: string }).error}`).toBe('403 registration_closed');
    } finally {
      await stop(fresh);
    }
    const again = await spawnServer(env);
    await stop(again);
    expect(event(again, 'listening')).toHaveLength(1);
    expect(event(again, 'no_account_yet')).toEqual([]);
  });

  it('names the upstream in proxy mode and the open policy with its domains', async () => {
    const server = await spawnServer(
      gatehouseEnv(newDir(), { GATEHOUSE_UPSTREAM: 'http://127.0.0.1:9', GATEHOUSE_REGISTRATION: 'open', GATEHOUSE_REGISTRATION_DOMAINS: 'example.com' }),
    );
    await stop(server);
    expect(event(server, 'listening')[0]).toMatchObject({
      mode: 'proxy → http://127.0.0.1:9',
      registration: 'open to example.com (address confirmation required)',
    });
  });

  it('starts with trust_window 5s alone: refresh_grace follows it down', async () => {
    const env = gatehouseEnv(newDir(), { GATEHOUSE_TRUST_WINDOW: '5s' });
    const server = await spawnServer(env);
    await stop(server);
    expect(event(server, 'listening')).toHaveLength(1);
    expect((await runCli(['config', 'check'], env)).stdout).toMatch(/^refresh_grace: 5000$/m);
  });

  it('warns in its log about a misspelt GATEHOUSE_ variable, with the nearest name, and starts', async () => {
    const server = await spawnServer(gatehouseEnv(newDir(), { GATEHOUSE_REGISTRATON: 'open' }));
    await stop(server);
    expect(event(server, 'config_warning')).toEqual([
      expect.objectContaining({ level: 'warn', message: 'GATEHOUSE_REGISTRATON is not a setting and is ignored; did you mean GATEHOUSE_REGISTRATION?' }),
    ]);
    expect(event(server, 'listening')[0]).toMatchObject({ registration: 'closed' });
  });

  it('says nothing about the variables Kubernetes injects for a Service named gatehouse', async () => {
    const links = {
      GATEHOUSE_SERVICE_HOST: '10.0.0.1',
      GATEHOUSE_SERVICE_PORT: '4180',
      GATEHOUSE_SERVICE_PORT_HTTP: '4180',
      GATEHOUSE_PORT: 'tcp://10.0.0.1:4180',
      GATEHOUSE_PORT_4180_TCP: 'tcp://10.0.0.1:4180',
      GATEHOUSE_PORT_4180_TCP_PROTO: 'tcp',
      GATEHOUSE_PORT_4180_TCP_PORT: '4180',
      GATEHOUSE_PORT_4180_TCP_ADDR: '10.0.0.1',
    };
    const server = await spawnServer(gatehouseEnv(newDir(), links));
    await stop(server);
    expect(server.lines.filter((line) => !line.includes('"level":"info"'))).toEqual([]);
    const check = await runCli(['config', 'check'], gatehouseEnv(newDir(), links));
    expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: '' });
  });
});

/** Resident memory of a process, in MiB (Linux). */
const residentMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const peakMiB = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const onLinux = process.platform === 'linux';
if (!onLinux) console.warn('SKIPPING the launcher memory test: it reads /proc, which only Linux has');

describe.runIf(onLinux)('the bin/gatehouse launcher (npm start, the package bin)', () => {
  it('runs node with its flags and glibc setting, and concurrent sign-ins leave no argon2 memory behind', async () => {
    const { MALLOC_MMAP_THRESHOLD_: _threshold, GATEHOUSE_NODE_FLAGS: _flags, ...env } = gatehouseEnv(newDir()) as NodeJS.ProcessEnv;
    const server = await spawnServer(env, [LAUNCHER, 'serve']);
    try {
      const pid = server.child.pid!;
      // exec, not a child: the launcher's PID is gatehouse itself, so signals and probes reach it.
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['--max-semi-space-size=4', '--max-old-space-size=1024', '--liftoff-only', 'serve']));
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_MMAP_THRESHOLD_=131072');

      expect((await postJson(`${server.url}/_auth/register`, { username: 'memory', password: PASSWORD })).status).toBe(201);
      expect((await login(server, 'memory')).status).toBe(200);
      const before = residentMiB(pid);
      writeFileSync(`/proc/${pid}/clear_refs`, '5'); // peak (VmHWM) := now
      // Each argon2id hash takes 19 MiB. With glibc's default, every libuv thread that ran one keeps it.
      for (let round = 0; round < 2; round++) {
        const statuses = await Promise.all([1, 2, 3, 4].map(async () => (await login(server, 'memory')).status));
        expect(statuses).toEqual([200, 200, 200, 200]);
      }
      // No more hashes at once than cores, and one of libuv's 4 threads left free: the rest waited without memory.
      const hashesAtOnce = Math.max(1, Math.min(availableParallelism(), 3));
      expect(peakMiB(pid) - before).toBeLessThan(19 * hashesAtOnce + 15);
      const after = await eventually(async () => (residentMiB(pid) < before + 20 ? residentMiB(pid) : undefined), 5000);
      expect(after).toBeLessThan(before + 20);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  });

  it.each([
    ['forward-auth mode', undefined, '--max-semi-space-size=4'],
    ['proxy mode (GATEHOUSE_UPSTREAM set)', 'http://127.0.0.1:9', '--max-semi-space-size=8'],
  ])('caps the young generation by mode: %s', async (_mode, upstream, semiSpace) => {
    const { GATEHOUSE_NODE_FLAGS: _flags, GATEHOUSE_UPSTREAM: _upstream, ...env } = gatehouseEnv(newDir()) as NodeJS.ProcessEnv;
    const server = await spawnServer(upstream ? { ...env, GATEHOUSE_UPSTREAM: upstream } : env, [LAUNCHER, 'serve']);
    try {
      const flags = readFileSync(`/proc/${server.child.pid!}/cmdline`, 'utf8').split('\0');
      expect(flags.filter((flag) => flag.startsWith('--max-semi-space-size='))).toEqual([semiSpace]);
      expect(flags).toEqual(expect.arrayContaining(['--max-old-space-size=1024', '--liftoff-only']));
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  });
});
