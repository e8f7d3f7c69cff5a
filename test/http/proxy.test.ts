import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { fixedClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { startGatehouse } from '../../src/server.js';
import { cookiesOf, rawRequest, registerUser, startTestGatehouse, tempDir, testConfig, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { freePort } from '../helpers/proxies.js';
import { rawConnection, requestHead } from '../helpers/raw-socket.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

let upstream: EchoUpstream;
let gate: TestGatehouse;
let user: TokenBody & { username: string };
let admin: TokenBody & { username: string };

beforeAll(async () => {
  upstream = await startEchoUpstream();
  gate = await startTestGatehouse({ upstream: upstream.url, public_paths: '/public', upstream_timeout: '1s' });
  admin = await registerUser(gate); // the first account is the administrator
  user = await registerUser(gate);
});
afterAll(async () => {
  await gate.close();
  await upstream.close();
});

const sessionCookie = (t: TokenBody) => `gatehouse_session=${t.access_token}~${t.refresh_token}`;
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${gate.url}${path}`, { headers, redirect: 'manual' });
const echoed = async (res: Response) => (await res.json()) as { url: string; headers: Record<string, string> };

describe('identity headers', () => {
  it('tells the upstream who the caller is', async () => {
    const res = await get('/app', { cookie: sessionCookie(user) });
    expect(res.status).toBe(200);
    const { headers } = await echoed(res);
    expect(headers).toMatchObject({ 'x-auth-user': user.username, 'x-auth-email': '', 'x-auth-groups': '' });
    expect(headers['x-auth-user-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends the groups of an administrator', async () => {
    const { headers } = await echoed(await get('/app', { authorization: `Bearer ${admin.access_token}` }));
    expect(headers['x-auth-groups']).toBe('admins');
  });

  const spoofs = [
    'X-Auth-User',
    'x-auth-user',
    'X_AUTH_USER',
    'x.auth.user',
    'X-Auth-User-Id',
    'X-Auth-Email',
    'X-Auth-Groups',
    'X-Forwarded-User',
    'X-Forwarded-Email',
    'X-Forwarded-Groups',
    'X-Forwarded-Preferred-Username',
    'X-Auth-Request-User',
    'X-Auth-Request-Email',
    'Remote-User',
    'Remote_Groups',
    'REMOTE-EMAIL',
  ];
  it.each(spoofs)('never passes a client-sent %s to the upstream, signed in or not', async (name) => {
    const signedIn: Record<string, string> = { cookie: sessionCookie(user) };
    for (const headers of [signedIn, {} as Record<string, string>]) {
      const res = await get(headers['cookie'] ? '/app' : '/public/page', { ...headers, [name]: 'admin-spoofed' });
      expect(res.status).toBe(200);
      const seen = await echoed(res);
      expect(JSON.stringify(seen.headers)).not.toContain('admin-spoofed');
    }
  });

  it('never shows the upstream the session cookie, but keeps the application its own cookies', async () => {
    const { headers } = await echoed(await get('/app', { cookie: `theme=dark; ${sessionCookie(user)}; lang=en` }));
    expect(headers['cookie']).toBe('theme=dark; lang=en');
  });

  it('drops hop-by-hop headers and those the Connection header names', async () => {
    const res = await rawRequest(`${gate.url}/app`, { headers: { cookie: sessionCookie(user), connection: 'keep-alive, x-private', 'x-private': 'secret', te: 'trailers' } });
    const { headers } = JSON.parse(res.body) as { headers: Record<string, string> };
    expect(headers['x-private']).toBeUndefined();
    expect(headers['te']).toBeUndefined();
  });

  it('sets X-Forwarded-For, -Proto and -Host', async () => {
    const { headers } = await echoed(await get('/app', { cookie: sessionCookie(user) }));
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe(new URL(gate.url).host);
  });
});

describe('strangers', () => {
  it('redirects a browser navigation to the login page with the path to come back to', async () => {
    const res = await rawRequest(`${gate.url}/app/page?x=1`, { headers: { 'sec-fetch-mode': 'navigate', accept: 'text/html' } });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/_auth/login?rd=%2Fapp%2Fpage%3Fx%3D1');
  });

  it.each([
    ['fetch', { 'sec-fetch-mode': 'cors', accept: 'text/html' }],
    ['an API client', { accept: 'application/json' }],
    ['an image load', { 'sec-fetch-mode': 'no-cors', accept: 'image/avif,image/webp' }],
  ])('answers %s with 401 and a JSON body naming the login URL', async (_name, headers) => {
    const res = await rawRequest(`${gate.url}/app`, { headers });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthenticated', login_url: '/_auth/login?rd=%2Fapp' });
    expect(upstream.seen.some((s) => s.url === '/app' && !s.headers['x-auth-user'])).toBe(false);
  });

  it('lets anybody through to a public path, with empty identity headers', async () => {
    const res = await get('/public/x');
    expect(res.status).toBe(200);
    expect((await echoed(res)).headers['x-auth-user']).toBe('');
  });
});

describe('bodies stream both ways', () => {
  it('uploads 32 MiB without buffering and the upstream receives every byte', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 'y');
    let sent = 0;
    const body = new Readable({
      read() {
        this.push(sent++ < 32 ? chunk : null);
      },
    });
    const res = await fetch(`${gate.url}/upload`, {
      method: 'POST',
      headers: { cookie: sessionCookie(user), 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(body) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    const { size } = (await res.json()) as { size: number };
    expect(size).toBe(32 * 1024 * 1024);
  });

  it('passes the first chunk of a download on before the upstream has sent the rest', async () => {
    const res = await get('/download?mb=4&gate=1', { cookie: sessionCookie(user) });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 1024 * 1024) received += (await reader.read()).value!.length;
    // The upstream is still holding back the rest: the first MiB arrived while it waited.
    await get('/release', { cookie: sessionCookie(user) });
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
    }
    expect(received).toBe(4 * 1024 * 1024);
  });
});

describe('websockets', () => {
  const connect = (headers: Record<string, string>) => new WebSocket(`${gate.url.replace('http', 'ws')}/socket?room=1`, { headers });

  it('pipes an authenticated websocket to the upstream with the identity headers', async () => {
    const socket = connect({ cookie: sessionCookie(user), 'x-auth-user': 'spoofed' });
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(data.toString()));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send('hello');
    await vi.waitFor(() => expect(messages.length).toBeGreaterThanOrEqual(2));
    const hello = JSON.parse(messages[0]!) as { url: string; headers: Record<string, string> };
    expect(hello.url).toBe('/socket?room=1');
    expect(hello.headers['x-auth-user']).toBe(user.username);
    expect(messages[1]).toBe('echo:hello');
    socket.close();
  });

  it('refuses an anonymous websocket with 401', async () => {
    const socket = connect({});
    const status = await new Promise<number>((resolve) => socket.on('unexpected-response', (_req, res) => resolve(res.statusCode!)));
    expect(status).toBe(401);
  });
});

describe('a failing upstream', () => {
  it('answers 504 when the upstream does not answer within upstream_timeout', async () => {
    const res = await get('/hang', { cookie: sessionCookie(user) });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: 'upstream_timeout' });
  });

  it('answers 502 when the upstream resets the connection', async () => {
    const res = await get('/reset', { cookie: sessionCookie(user) });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: 'upstream_unreachable' });
  });

  it('answers a browser with a 502 page, and keeps serving', async () => {
    const res = await rawRequest(`${gate.url}/reset`, { headers: { cookie: sessionCookie(user), 'sec-fetch-mode': 'navigate' } });
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect((await get('/app', { cookie: sessionCookie(user) })).status).toBe(200);
  });

  it('answers 502 while the upstream is down and recovers when it is back', async () => {
    const down = await startEchoUpstream();
    const port = down.port;
    await down.close();
    const other = await startTestGatehouse({ upstream: `http://127.0.0.1:${port}`, database_url: gate.services.config.database_url });
    try {
      const headers = { authorization: `Bearer ${user.access_token}` };
      expect((await fetch(`${other.url}/app`, { headers })).status).toBe(502);
      const back = await startEchoUpstream(port);
      try {
        expect((await fetch(`${other.url}/app`, { headers })).status).toBe(200);
      } finally {
        await back.close();
      }
    } finally {
      await other.close();
    }
  });
});

describe('an upstream failure', () => {
  interface Logged {
    url: string;
    lines: Record<string, unknown>[];
    /** A series of the management port's /metrics, 0 when absent. */
    series(line: string): Promise<number>;
  }

  /** A gatehouse in front of `upstreamUrl` whose log lines the test reads, sharing the main database (and so its users). */
  async function withLoggedGatehouse(upstreamUrl: string, test: (gatehouse: Logged) => Promise<void>): Promise<void> {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', (line) => void lines.push(JSON.parse(line) as Record<string, unknown>));
    const dir = tempDir();
    const settings = { upstream: upstreamUrl, upstream_timeout: '1s', database_url: gate.services.config.database_url, log_level: 'info' };
    const running = await startGatehouse(testConfig(settings, dir), { clock: fixedClock(gate.clock.now()), log });
    const series = async (line: string) => {
      const text = await (await fetch(`http://${running.managementAddress}/metrics`)).text();
      const found = text.split('\n').find((candidate) => candidate.startsWith(`${line} `));
      return found === undefined ? 0 : Number(found.slice(line.length + 1));
    };
    try {
      await test({ url: `http://${running.address}`, lines, series });
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const failures = (lines: Record<string, unknown>[]) => lines.filter((line) => line['event'] === 'upstream_failed');

  it('is logged with its cause, and counted', async () => {
    await withLoggedGatehouse(upstream.url, async ({ url, lines, series }) => {
      const res = await fetch(`${url}/reset`, { headers: { cookie: sessionCookie(user) } });
      expect(res.status).toBe(502);
      expect(failures(lines)).toEqual([expect.objectContaining({ level: 'warn', reason: 'upstream_unreachable', cause: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET|closed/) })]);
      expect(await series('gatehouse_upstream_errors_total{reason="upstream_unreachable"}')).toBe(1);
      // The cause names the failure, never the caller's credentials.
      expect(JSON.stringify(lines)).not.toContain(user.access_token);
    });
  });

  it('answers an upload the upstream hangs up on with 502, not a cut connection', async () => {
    await withLoggedGatehouse(upstream.url, async ({ url, lines, series }) => {
      const res = await fetch(`${url}/reset`, { method: 'POST', headers: { cookie: sessionCookie(user), 'content-type': 'text/plain' }, body: 'hello' });
      expect(res.status).toBe(502);
      expect(failures(lines)).toHaveLength(1);
      expect(await series('gatehouse_upstream_errors_total{reason="upstream_unreachable"}')).toBe(1);
    });
  });

  it('is logged and counted when the upstream breaks off in the middle of an answer', async () => {
    const breaking = await startEchoUpstream();
    await withLoggedGatehouse(breaking.url, async ({ url, lines, series }) => {
      const res = await fetch(`${url}/download?mb=4&gate=1`, { headers: { cookie: sessionCookie(user) } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read();
      await breaking.close();
      const readToEnd = async () => {
        for (;;) if ((await reader.read()).done) return;
      };
      await expect(readToEnd()).rejects.toThrow();
      await vi.waitFor(async () => expect(await series('gatehouse_upstream_errors_total{reason="upstream_unreachable"}')).toBe(1));
      expect(failures(lines)).toEqual([expect.objectContaining({ reason: 'upstream_unreachable', cause: expect.any(String) })]);
    });
  });

  it('refuses a WebSocket with 502 while the upstream is down, logged and counted', async () => {
    await withLoggedGatehouse(`http://127.0.0.1:${await freePort()}`, async ({ url, lines, series }) => {
      const socket = new WebSocket(`${url.replace('http', 'ws')}/live`, { headers: { cookie: sessionCookie(user) } });
      const status = await new Promise<number>((resolve, reject) =>
        socket
          .once('unexpected-response', (req, res) => {
            req.destroy();
            resolve(res.statusCode!);
          })
          .once('error', reject),
      );
      expect(status).toBe(502);
      expect(failures(lines)).toEqual([expect.objectContaining({ reason: 'websocket_failed', cause: expect.stringContaining('ECONNREFUSED') })]);
      expect(await series('gatehouse_upstream_errors_total{reason="websocket_failed"}')).toBe(1);
    });
  });
});

describe('Expect: 100-continue', () => {
  it('is answered by gatehouse, and the upstream receives the body without Expect', async () => {
    const body = 'hello, upload';
    const connection = await rawConnection(gate.url);
    try {
      const headers = { host: new URL(gate.url).host, cookie: sessionCookie(user), 'content-type': 'text/plain', 'content-length': String(body.length), expect: '100-continue' };
      const upstreamSaw = upstream.nextRequest();
      connection.write(requestHead('POST', '/upload', headers));
      // The client waits for the 100 before it sends a byte of the body.
      expect(await connection.readUntil(/\r\n\r\n/)).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
      connection.write(body);
      const answer = await connection.readUntil(/\r\n\r\n.*\}$/s);
      expect(answer).toMatch(/\r\n\r\nHTTP\/1\.1 200 /);
      expect(JSON.parse(answer.slice(answer.lastIndexOf('\r\n\r\n') + 4))).toEqual({ size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      expect((await upstreamSaw).headers).not.toHaveProperty('expect');
    } finally {
      connection.close();
    }
  });

  it('refuses any other expectation with 417, and the upstream never sees the request', async () => {
    const connection = await rawConnection(gate.url);
    try {
      const before = upstream.seen.length;
      connection.write(requestHead('POST', '/upload', { host: new URL(gate.url).host, cookie: sessionCookie(user), 'content-length': '5', expect: 'teapot' }));
      expect(await connection.readUntil(/\r\n\r\n/)).toMatch(/^HTTP\/1\.1 417 /);
      expect(upstream.seen.length).toBe(before);
    } finally {
      connection.close();
    }
  });
});

describe('transparent refresh', () => {
  it('refreshes an expired session inside the request and adds the cookie to the upstream answer', async () => {
    const fresh = await registerUser(gate);
    gate.clock.advance(6 * 60_000);
    const res = await get('/set-cookie', { cookie: sessionCookie(fresh) });
    expect(res.status).toBe(200);
    expect((await echoed(res)).headers['x-auth-user']).toBe(fresh.username);
    const cookies = cookiesOf(res);
    expect(cookies['app']).toBe('1');
    expect(cookies['gatehouse_session']).toMatch(/~/);
    expect(cookies['gatehouse_session']!.split('~')[1]).not.toBe(fresh.refresh_token);
  });

  it('lets 30 requests racing with one expired cookie all pass, leaving one live refresh token', async () => {
    const fresh = await registerUser(gate);
    gate.clock.advance(6 * 60_000);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => get(`/asset/${i}`, { cookie: sessionCookie(fresh) })));
    expect(answers.map((res) => res.status)).toEqual(Array(30).fill(200));
    const refreshTokens = new Set(answers.map((res) => cookiesOf(res)['gatehouse_session']!.split('~')[1]));
    expect(refreshTokens.size).toBe(1);
    gate.clock.advance(60_000);
    const [next] = [...refreshTokens];
    const res = await fetch(`${gate.url}/_auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: next }),
    });
    expect(res.status).toBe(200);
  });
});

describe('access rules in proxy mode', () => {
  let ruled: TestGatehouse;
  beforeAll(async () => {
    ruled = await startTestGatehouse({
      upstream: upstream.url,
      database_url: gate.services.config.database_url,
      access_rules: [
        { path: '/admin', groups: ['admins'], policy: 'authenticated' },
        { path: '/blocked/**', policy: 'deny' },
        { path: '/open/*.css', policy: 'public' },
      ],
    });
  });
  afterAll(() => ruled.close());
  const at = (path: string, token?: TokenBody) =>
    fetch(`${ruled.url}${path}`, { headers: token ? { authorization: `Bearer ${token.access_token}` } : {}, redirect: 'manual' });

  it.each([
    ['/admin/users', 'admin', 200],
    ['/admin/users', 'user', 403],
    ['/admin/users', 'nobody', 401],
    ['/blocked/a/b', 'admin', 403],
    ['/blocked/a/b', 'nobody', 403],
    ['/open/site.css', 'nobody', 200],
    ['/open/deeper/site.css', 'nobody', 401],
    ['/anything', 'user', 200],
  ] as const)('%s as %s → %i', async (path, who, status) => {
    const token = who === 'admin' ? admin : who === 'user' ? user : undefined;
    expect((await at(path, token)).status).toBe(status);
  });
});
