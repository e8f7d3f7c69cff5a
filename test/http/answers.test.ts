/**
 * What every answer of gatehouse's own carries (SPEC section 8): every cookie a
 * response sets reaches the client, a refused large body is readable, and the
 * security headers are there.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peer } from '../helpers/peers.js';
import { cookieHeader, cookiesOf, PASSWORD, postJson, startTestGatehouse, uniqueName, type TestGatehouse } from '../helpers/gatehouse.js';

const MIN = 60_000;
const curlPeer = peer('curl', () => spawnSync('curl', ['--version']).status === 0, 'apt-get install -y curl');

describe('cookies set by several steps of one request', () => {
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await startTestGatehouse({ trust_window: '5m', refresh_grace: '10s' });
  });
  afterAll(() => gate?.close());

  it('sends both the renewed session cookie and a new CSRF cookie on the account page, and the renewed session keeps working after the grace', async () => {
    const res = await postJson(`${gate.url}/_auth/register`, { username: uniqueName(), password: PASSWORD });
    const session = cookiesOf(res)['gatehouse_session']!;
    gate.clock.advance(5 * MIN + 1_000);

    // An expired access token and no CSRF cookie yet: the page renews the session and hands out a CSRF token.
    const page = await fetch(`${gate.url}/_auth/account`, { headers: { cookie: `gatehouse_session=${session}` }, redirect: 'manual' });
    expect(page.status).toBe(200);
    const set = cookiesOf(page);
    expect(Object.keys(set).sort()).toEqual(['gatehouse_csrf', 'gatehouse_session']);
    expect(set['gatehouse_session']).not.toBe(session);

    // Past refresh_grace, the old refresh token would be judged theft; the new one must be what the browser holds.
    gate.clock.advance(11_000);
    const again = await fetch(`${gate.url}/_auth/account`, { headers: { cookie: cookieHeader(set) }, redirect: 'manual' });
    expect(again.status).toBe(200);
  });
});

/** A raw upload of `size` bytes, so the test sees exactly what the server does to the connection. */
function upload(url: string, size: number, { chunked = false } = {}): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/json' };
    if (!chunked) headers['content-length'] = size;
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('a body over the limit', () => {
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await startTestGatehouse();
  });
  afterAll(() => gate?.close());

  it.each([
    ['declared by Content-Length', { chunked: false }],
    ['found while reading a chunked body', { chunked: true }],
  ])('gets a 413 the client can read when %s (5 MB)', async (_name, options) => {
    const answer = await upload(`${gate.url}/_auth/register`, 5 * 1024 * 1024, options);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'body_too_large' });
  });

  it.runIf(curlPeer.available)('lets curl read the 413 of a 5 MB upload every time, instead of a reset connection', async () => {
    const file = join(gate.dir, 'large.json');
    writeFileSync(file, Buffer.alloc(5 * 1024 * 1024, 'a'));
    const curl = () =>
      new Promise<string>((resolve) => {
        // Expect: (empty) so curl sends at once, as most clients do; -w appends the status it read.
        const child = spawn('curl', ['-sS', '-o', '-', '-w', '%{http_code}', '-H', 'content-type: application/json', '-H', 'Expect:', '--data-binary', `@${file}`, `${gate.url}/_auth/register`]);
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk));
        child.stderr.on('data', (chunk: Buffer) => (out += chunk));
        child.on('close', () => resolve(out));
      });
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await curl());
    expect(answers.filter((answer) => !answer.endsWith('413'))).toEqual([]);
    expect(answers[0]).toContain('"error":"body_too_large"');
  });

  it('keeps serving others while and after it drains refused bodies', async () => {
    const uploads = Array.from({ length: 3 }, () => upload(`${gate.url}/_auth/login`, 2 * 1024 * 1024));
    expect((await fetch(`${gate.url}/_auth/jwks.json`)).status).toBe(200);
    expect((await Promise.all(uploads)).map((answer) => answer.status)).toEqual([413, 413, 413]);
  });
});

describe('security headers', () => {
  let https: TestGatehouse;
  let http: TestGatehouse;
  beforeAll(async () => {
    https = await startTestGatehouse({ public_url: 'https://auth.example.com' });
    http = await startTestGatehouse({ public_url: 'http://localhost:4180' });
  });
  afterAll(async () => {
    await https?.close();
    await http?.close();
  });

  const answers = (gate: TestGatehouse) => [
    fetch(`${gate.url}/_auth/login`),
    fetch(`${gate.url}/_auth/jwks.json`),
    fetch(`${gate.url}/_auth/userinfo`),
    postJson(`${gate.url}/_auth/login`, { username: 'nobody', password: 'wrong password' }),
    fetch(`${gate.url}/_auth/nowhere`),
  ];

  it('sends Strict-Transport-Security on every answer of its own when public_url is https', async () => {
    for (const res of await Promise.all(answers(https))) {
      expect(res.headers.get('strict-transport-security'), res.url).toBe('max-age=31536000');
    }
  });

  it('sends no Strict-Transport-Security over plain http', async () => {
    for (const res of await Promise.all(answers(http))) expect(res.headers.get('strict-transport-security'), res.url).toBeNull();
  });

  it('sends nosniff on every JSON answer, the key set included', async () => {
    for (const res of await Promise.all(answers(http))) {
      if (!res.headers.get('content-type')?.includes('json')) continue;
      expect(res.headers.get('x-content-type-options'), res.url).toBe('nosniff');
    }
    expect((await fetch(`${http.url}/_auth/jwks.json`)).headers.get('x-content-type-options')).toBe('nosniff');
  });
});
