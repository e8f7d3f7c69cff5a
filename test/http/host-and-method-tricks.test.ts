/**
 * Spellings of the Host header and method-override headers that would let a request
 * be judged as one thing and run by the upstream as another (SPEC section 5).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeHeaderName } from '../../src/auth/identity-headers.js';
import { rawRequest, registerUser, startTestGatehouse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

let upstream: EchoUpstream;
let gate: TestGatehouse;
let admin: TokenBody;
let user: TokenBody;

beforeAll(async () => {
  upstream = await startEchoUpstream();
  gate = await startTestGatehouse({
    upstream: upstream.url,
    access_rules: [
      { host: 'admin.example.com', policy: 'deny' },
      { path: '/forms', methods: ['POST'], policy: 'public' },
      { path: '/records', methods: ['DELETE'], policy: 'deny' },
    ],
  });
  admin = await registerUser(gate); // the first account is the administrator
  user = await registerUser(gate);
});
afterAll(async () => {
  await gate?.close();
  await upstream?.close();
});

const bearer = (token: TokenBody) => ({ authorization: `Bearer ${token.access_token}` });

/** The status of a request, and how many requests reached the upstream meanwhile. */
async function tried(path: string, { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {}) {
  const before = upstream.seen.length;
  const res = await rawRequest(`${gate.url}${path}`, { method, headers });
  return { status: res.status, body: res.body, reached: upstream.seen.length - before };
}

/** The status line's code of a WebSocket upgrade written byte for byte on the socket. */
function upgradeStatus(host: string, headers: Record<string, string> = {}, path = '/socket'): Promise<number> {
  const { port } = new URL(gate.url);
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (status) {
        socket.destroy();
        resolve(Number(status[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`no answer to the upgrade: ${JSON.stringify(text)}`)));
    socket.write(lines.join('\r\n') + '\r\n\r\n');
  });
}

/** Host values an upstream cuts at the first colon, reading admin.example.com. */
const BAD_HOSTS = ['admin.example.com:', 'admin.example.com:80:80', 'admin.example.com:x', 'admin.example.com.:'];
/** Spellings of the denied host that are well formed: judged as that host. */
const DENIED_SPELLINGS = ['admin.example.com', 'ADMIN.Example.com', 'admin.example.com.', 'admin.example.com:8080', 'Admin.Example.com.:443'];

describe('the Host header in proxy mode', () => {
  it.each(BAD_HOSTS)('refuses Host %j with 400, and the upstream never sees it, even for an administrator', async (host) => {
    for (const headers of [{ host }, { host, ...bearer(admin) }]) {
      const { status, body, reached } = await tried('/page', { headers });
      expect(status).toBe(400);
      expect(JSON.parse(body)).toMatchObject({ error: 'invalid_host' });
      expect(reached).toBe(0);
    }
  });

  it.each(DENIED_SPELLINGS)('judges Host %j as the denied host: 403', async (host) => {
    const { status, reached } = await tried('/page', { headers: { host, ...bearer(admin) } });
    expect(status).toBe(403);
    expect(reached).toBe(0);
  });

  it('lets a well-formed Host of another name through', async () => {
    expect(await tried('/page', { headers: { host: 'app.example.com:8080', ...bearer(user) } })).toMatchObject({ status: 200, reached: 1 });
  });

  it('refuses an HTTP/1.0 request without a Host with 400', async () => {
    const { port } = new URL(gate.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write(`GET /page HTTP/1.0\r\nAuthorization: Bearer ${admin.access_token}\r\n\r\n`);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe('the Host header of a WebSocket upgrade', () => {
  it.each(BAD_HOSTS)('refuses Host %j with 400, even for an administrator', async (host) => {
    expect(await upgradeStatus(host, bearer(admin))).toBe(400);
  });

  it.each(DENIED_SPELLINGS)('judges Host %j as the denied host: 403', async (host) => {
    expect(await upgradeStatus(host, bearer(admin))).toBe(403);
  });

  it('tunnels an upgrade with a well-formed Host of another name', async () => {
    expect(await upgradeStatus('app.example.com', bearer(user))).toBe(101);
  });
});

const OVERRIDES = ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override'];

describe('method-override headers in proxy mode', () => {
  it('serves a POST to the POST-only public path to a stranger', async () => {
    expect(await tried('/forms/contact', { method: 'POST' })).toMatchObject({ status: 200, reached: 1 });
  });

  it.each(OVERRIDES)('judges a POST with %s: DELETE as a DELETE too: a stranger gets 401', async (name) => {
    const { status, reached } = await tried('/forms/contact', { method: 'POST', headers: { [name]: 'DELETE' } });
    expect(status).toBe(401);
    expect(reached).toBe(0);
  });

  it.each(OVERRIDES)('refuses a POST with %s: delete (any letter case) where DELETE is denied, even to an administrator', async (name) => {
    const { status, reached } = await tried('/records/7', { method: 'POST', headers: { [name]: 'delete', ...bearer(admin) } });
    expect(status).toBe(403);
    expect(reached).toBe(0);
  });

  it.each([...OVERRIDES, 'x_http_method_override', 'X.HTTP.Method'])('never passes %s to the upstream, even on an allowed request', async (name) => {
    const before = upstream.seen.length;
    const res = await rawRequest(`${gate.url}/forms/contact`, { method: 'POST', headers: { [name]: 'PUT', ...bearer(user) } });
    expect(res.status).toBe(200);
    const [seen] = upstream.seen.slice(before);
    expect(seen?.method).toBe('POST');
    const names = Object.keys(seen!.headers).map(normalizeHeaderName);
    expect(names.filter((header) => header.includes('method'))).toEqual([]);
  });

  it.each([
    ['names two methods', { 'X-HTTP-Method-Override': 'GET, DELETE' }, 'invalid_method_override'],
    ['names no method', { 'X-HTTP-Method-Override': '' }, 'invalid_method_override'],
    ['comes beside another', { 'X-HTTP-Method-Override': 'GET', 'X-HTTP-Method': 'DELETE' }, 'duplicate_method_override'],
  ])('refuses an override that %s with 400', async (_what, headers, code) => {
    const { status, body, reached } = await tried('/forms/contact', { method: 'POST', headers });
    expect(status).toBe(400);
    expect(JSON.parse(body)).toMatchObject({ error: code });
    expect(reached).toBe(0);
  });

  it('judges the override of a WebSocket upgrade too', async () => {
    expect(await upgradeStatus('app.example.com', bearer(admin), '/records/socket')).toBe(101);
    expect(await upgradeStatus('app.example.com', { ...bearer(admin), 'X-HTTP-Method-Override': 'DELETE' }, '/records/socket')).toBe(403);
  });
});

describe('forward-auth checks', () => {
  const traefik = (method: string | undefined, uri: string, extra: Record<string, string> = {}) => ({
    ...(method === undefined ? {} : { 'x-forwarded-method': method }),
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'app.example.com',
    'x-forwarded-uri': uri,
    ...extra,
  });
  const nginx = (method: string, uri: string, extra: Record<string, string> = {}) => ({
    'x-original-method': method,
    'x-original-url': `https://app.example.com${uri}`,
    ...extra,
  });
  const verify = async (headers: Record<string, string>) => {
    const res = await rawRequest(`${gate.url}/_auth/verify`, { headers });
    return { status: res.status, error: res.body === '' ? undefined : (JSON.parse(res.body) as { error: string }).error };
  };

  it('refuses a Traefik-style check without X-Forwarded-Method with 400 rather than judging a GET', async () => {
    expect(await verify(traefik(undefined, '/page'))).toEqual({ status: 400, error: 'missing_forwarded_method' });
    expect(await verify({ ...traefik(undefined, '/page'), ...bearer(user) })).toEqual({ status: 400, error: 'missing_forwarded_method' });
  });

  it.each([
    ['Traefik', traefik],
    ['nginx', nginx],
  ] as const)('in the %s style, allows a POST to the POST-only public path and judges an override too', async (_style, style) => {
    expect((await verify(style('POST', '/forms/contact'))).status).toBe(200);
    for (const name of OVERRIDES) {
      expect(await verify(style('POST', '/forms/contact', { [name]: 'DELETE' })), name).toMatchObject({ status: 401 });
      expect(await verify(style('POST', '/records/7', { [name]: 'DELETE', ...bearer(admin) })), name).toMatchObject({ status: 403 });
    }
  });

  it('judges the override in any spelling, since the proxy may pass it on to the application', async () => {
    expect((await verify(traefik('POST', '/forms/contact', { x_http_method_override: 'DELETE' }))).status).toBe(401);
  });

  it.each(BAD_HOSTS)('refuses the forwarded host %j with 400', async (host) => {
    expect(await verify(traefik('GET', '/page', { 'x-forwarded-host': host, ...bearer(admin) }))).toEqual({ status: 400, error: 'invalid_forwarded_host' });
  });
});
