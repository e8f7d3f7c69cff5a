import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, registerUser, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

let upstream: EchoUpstream;
let gate: TestGatehouse;
beforeAll(async () => {
  upstream = await startEchoUpstream();
  gate = await startTestGatehouse({ upstream: upstream.url, public_paths: '/public' });
});
afterAll(async () => {
  await gate?.close();
  await upstream?.close();
});

/**
 * One request with the target written byte for byte on the socket: node:http and fetch
 * refuse or rewrite many of the targets below before they ever leave the client.
 */
function sendRaw(target: string, headers: Record<string, string> = {}): Promise<{ status: number; head: string }> {
  const { port } = new URL(gate.url);
  const lines = [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...Object.entries(headers).map(([n, v]) => `${n}: ${v}`)];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!status) return reject(new Error(`no HTTP answer to ${JSON.stringify(target)}: ${JSON.stringify(text.slice(0, 200))}`));
      resolve({ status: Number(status[1]), head: text.slice(0, text.indexOf('\r\n\r\n')) });
    });
    socket.write(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
  });
}

/** The paths the upstream received while `action` ran. */
async function seenDuring(action: () => Promise<unknown>): Promise<string[]> {
  const before = upstream.seen.length;
  await action();
  return upstream.seen.slice(before).map((seen) => seen.url);
}

const isAdmin = (url: string) => /^\/admin(\/|\?|$)/i.test(url);

describe('proxy mode, anonymous client', () => {
  it('serves a public path and the upstream sees that path', async () => {
    let status = 0;
    const seen = await seenDuring(async () => ({ status } = await sendRaw('/public/x')));
    expect(status).toBe(200);
    expect(seen).toEqual(['/public/x']);
  });

  it('refuses /admin itself with 401 and does not contact the upstream', async () => {
    let status = 0;
    const seen = await seenDuring(async () => ({ status } = await sendRaw('/admin')));
    expect(status).toBe(401);
    expect(seen).toEqual([]);
  });

  it.each([
    '/public/../admin',
    '/public/%2e%2e/admin',
    '/public/%2E%2E/admin',
    '/public/..%2fadmin',
    '/public%2f..%2fadmin',
    '/public/..;/admin',
    '/public;/../admin',
    '/public/..\\admin',
    '/public/%5c../admin',
    '//public/../admin',
    '/./admin',
    '/public/./../admin',
    '/PUBLIC/../admin',
    '/public%00/../admin',
    '/public/%c0%ae%c0%ae/admin',
    '/public/%ff',
    '/public/. ./admin',
    '/public/.%2e/admin',
    '/public/%2e./admin',
    '/public/..%5cadmin',
    '/public/..%255cadmin',
    '/public/%252e%252e/admin',
    '/public/..',
    '/public/x/../../admin',
    '/public/../admin?x=/public/',
    '/public/..%00/admin',
    '/public/%e0%80%ae%e0%80%ae/admin',
    '/_auth/../admin',
    '/_auth/%2e%2e/admin',
    '/_auth/..\\admin',
  ])('does not let %j reach /admin anonymously', async (target) => {
    let status = 0;
    const seen = await seenDuring(async () => ({ status } = await sendRaw(target)));
    expect(status).toBeLessThan(500);
    expect(seen.filter(isAdmin)).toEqual([]);
    if (status === 200) {
      // Served only if what the upstream received really is under /public, with no way back up.
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/^\/public\//);
      const segments = seen[0]!.split('?')[0]!.split('/');
      expect(segments.filter((segment) => segment === '.' || segment === '..')).toEqual([]);
      expect(seen[0]).not.toMatch(/%2e|%2f|%5c|\\|;/i);
    } else {
      expect([400, 401]).toContain(status);
      expect(seen).toEqual([]);
    }
  });

  it('never forwarded any request on or under /admin during the anonymous tricks', () => {
    expect(upstream.seen.map((seen) => seen.url).filter(isAdmin)).toEqual([]);
  });
});

describe('proxy mode, signed-in client', () => {
  let token: string;
  beforeAll(async () => {
    token = (await registerUser(gate)).access_token;
  });

  it.each([
    ['/a/./b//c?x=1', '/a/b/c?x=1'],
    ['/a/b/../c', '/a/c'],
    ['//a///b/', '/a/b/'],
    ['/%7Euser/caf%c3%a9', '/~user/caf%C3%A9'],
    ['/a%20b/%41', '/a%20b/A'],
    ['/public/../admin', '/admin'],
    ['/x/..', '/'],
  ])('sends %j upstream as exactly %j', async (target, expected) => {
    let status = 0;
    const seen = await seenDuring(async () => ({ status } = await sendRaw(target, { authorization: `Bearer ${token}` })));
    expect(status).toBe(200);
    expect(seen).toEqual([expected]);
  });

  it.each(['/public/%2e%2e/admin', '/a%2fb', '/a;b', '/a\\b', '/%c0%ae'])('still refuses the ambiguous %j with 400, signed in or not', async (target) => {
    let status = 0;
    const seen = await seenDuring(async () => ({ status } = await sendRaw(target, { authorization: `Bearer ${token}` })));
    expect(status).toBe(400);
    expect(seen).toEqual([]);
  });
});

describe('paths encoded more than once', () => {
  // Some upstreams (PHP, some Java containers, apps behind a second proxy) decode again:
  // what reaches them after that decoding was never judged.
  const ENCODED_TWICE_OR_MORE = [
    '/public/%252e%252e/admin',
    '/public/%25252e%25252e/admin',
    '/public/%2525252e%2525252e/admin',
    '/public/..%252fadmin',
    '/%2541dmin',
    '/files/a%2525b',
  ];

  it.each(ENCODED_TWICE_OR_MORE)('refuses %j with 400 in proxy mode, even signed in, before the upstream', async (target) => {
    const token = (await registerUser(gate)).access_token;
    let status = 0;
    const seen = await seenDuring(async () => ({ status } = await sendRaw(target, { authorization: `Bearer ${token}` })));
    expect(status).toBe(400);
    expect(seen).toEqual([]);
  });

  it.each(ENCODED_TWICE_OR_MORE)('refuses %j with 400 in a forward-auth check', async (target) => {
    const res = await rawRequest(`${gate.url}/_auth/verify`, { headers: { 'x-original-url': `http://localhost${target}`, 'x-original-method': 'GET' } });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'ambiguous_path' });
  });

  it('still serves a literal percent sign, encoded once', async () => {
    const token = (await registerUser(gate)).access_token;
    const seen = await seenDuring(() => sendRaw('/files/100%25%20off', { authorization: `Bearer ${token}` }));
    expect(seen).toEqual(['/files/100%25%20off']);
  });
});

describe('forward-auth in the nginx style', () => {
  const verify = (originalUrl: string) => rawRequest(`${gate.url}/_auth/verify`, { headers: { 'x-original-url': originalUrl, 'x-original-method': 'GET' } });

  it('allows an anonymous caller on a public path with 200', async () => {
    const res = await verify('http://localhost/public/ok');
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
  });

  it('answers an anonymous caller on /admin with 401', async () => {
    expect((await verify('http://localhost/admin')).status).toBe(401);
  });

  it.each([
    'http://localhost/public/../admin',
    'http://localhost/public/%2e%2e/admin',
    'http://localhost/public/%2E%2E/admin',
    'http://localhost/public/..%2fadmin',
    'http://localhost/public%2f..%2fadmin',
    'http://localhost/public/..;/admin',
    'http://localhost/public;/../admin',
    'http://localhost/public/..\\admin',
    'http://localhost/public/%5c../admin',
    'http://localhost//public/../admin',
    'http://localhost/./admin',
    'http://localhost/PUBLIC/../admin',
    'http://localhost/public%00/../admin',
    'http://localhost/public/%c0%ae%c0%ae/admin',
    'http://localhost/public/%ff',
    'http://localhost/public/.%2e/admin',
    'http://localhost/public/x/../../admin',
    'http://localhost/public/../admin?next=/public/ok',
    'http://localhost/public/%zz',
  ])('never answers 200 to an anonymous caller for %s', async (originalUrl) => {
    const res = await verify(originalUrl);
    expect([400, 401]).toContain(res.status);
  });
});
