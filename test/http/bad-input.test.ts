import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, registerUser, startTestGatehouse, type TestGatehouse, postForm } from '../helpers/gatehouse.js';

let gate: TestGatehouse;
beforeAll(async () => {
  gate = await startTestGatehouse();
});
afterAll(() => gate.close());

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What every refusal must look like: a 4xx with a JSON {error, message} body and nothing from the inside. */
function expectCleanRefusal(answer: Answer, status: number, error?: string) {
  const context = `${answer.status} ${answer.body.slice(0, 300)}`;
  expect(answer.status, context).toBe(status);
  expect(answer.headers['content-type'], context).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  expect(body, context).toMatchObject({ error: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) });
  if (error) expect(body['error'], context).toBe(error);
  expect(answer.body).not.toMatch(/\bat \S*[/\\]\S+\.(ts|js|mjs|cjs):\d+/);
  expect(answer.body).not.toMatch(/\bat (async )?\S+ \(/);
  expect(answer.body).not.toContain('Error:');
  expect(answer.body).not.toContain(process.cwd());
  expect(answer.body).not.toContain('node_modules');
}

async function viaFetch(res: Promise<Response>): Promise<Answer> {
  const response = await res;
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

/** POSTs bytes as they are: a string with its content type, or a Buffer with none unless given. */
const post = (path: string, body: string | Buffer, contentType?: string) =>
  viaFetch(
    fetch(`${gate.url}${path}`, {
      method: 'POST',
      headers: contentType === undefined ? {} : { 'content-type': contentType },
      body: typeof body === 'string' ? body : new Uint8Array(body),
      redirect: 'manual',
    }),
  );

/**
 * One request over a plain TCP socket, byte for byte as given (fetch and
 * http.request would normalise the URL or refuse odd headers). `Connection: close`
 * is expected in the request, so the answer ends when the socket does.
 */
function rawRequest(request: string | Buffer): Promise<Answer> {
  const [host, port] = [gate.address.slice(0, gate.address.lastIndexOf(':')), Number(gate.address.slice(gate.address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A server that closes early may reset the socket while we still write; what it answered counts.
    socket.on('error', (error) => (chunks.length === 0 ? reject(error) : undefined));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`the connection was dropped without an answer: ${JSON.stringify(text)}`));
      const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
    socket.write(request);
  });
}

const requestHead = (method: string, target: string, headers: string[] = []) =>
  [`${method} ${target} HTTP/1.1`, `Host: ${gate.address}`, ...headers, 'Connection: close', '', ''].join('\r\n');

const POST_ENDPOINTS = ['/_auth/login', '/_auth/register', '/_auth/refresh', '/_auth/logout'];
const JSON_TYPE = 'application/json';
const LIMIT = 64 * 1024;
const deepArrays = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const withNested = (field: string, extra = '') => `{${extra}"${field}":${deepObject(8_000)}}`;

describe.each(POST_ENDPOINTS)('POST %s with a body it cannot use', (path) => {
  const cases: [string, string | Buffer, string | undefined, number, string][] = [
    ['malformed JSON', '{"username":', JSON_TYPE, 400, 'invalid_json'],
    ['JSON with trailing garbage', '{"username":"ann"} x', JSON_TYPE, 400, 'invalid_json'],
    ['JSON with single quotes', "{'username':'ann'}", JSON_TYPE, 400, 'invalid_json'],
    ['an empty JSON body', '', JSON_TYPE, 400, 'invalid_json'],
    // RFC 8259 section 8.1: JSON is UTF-8. Decoding bad bytes to U+FFFD makes different passwords equal.
    ['invalid UTF-8 in JSON', Buffer.from('{"username":"ann\xff","password":"\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe"}', 'latin1'), JSON_TYPE, 400, 'invalid_encoding'],
    ['a JSON array', '[]', JSON_TYPE, 400, 'invalid_json'],
    ['a JSON array of an object', '[{"username":"ann","password":"x"}]', JSON_TYPE, 400, 'invalid_json'],
    ['a JSON string', '"username"', JSON_TYPE, 400, 'invalid_json'],
    ['JSON null', 'null', JSON_TYPE, 400, 'invalid_json'],
    ['a JSON number', '42', JSON_TYPE, 400, 'invalid_json'],
    ['JSON true', 'true', JSON_TYPE, 400, 'invalid_json'],
    ['20,000 nested JSON arrays', deepArrays, JSON_TYPE, 400, 'invalid_json'],
    ['text/plain', '{"username":"ann","password":"x"}', 'text/plain', 415, 'unsupported_media_type'],
    ['text/plain as fetch sends a string', '{"username":"ann"}', 'text/plain;charset=UTF-8', 415, 'unsupported_media_type'],
    [
      'multipart/form-data',
      '--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nann\r\n--x--\r\n',
      'multipart/form-data; boundary=x',
      415,
      'unsupported_media_type',
    ],
    ['application/xml', '<login><username>ann</username></login>', 'application/xml', 415, 'unsupported_media_type'],
    ['a JSON look-alike type', '{}', 'application/json-patch+json', 415, 'unsupported_media_type'],
    ['a body without any content type', Buffer.from('{"username":"ann"}'), undefined, 415, 'unsupported_media_type'],
    ['a 70 KiB JSON body', JSON.stringify({ username: 'x'.repeat(70 * 1024) }), JSON_TYPE, 413, 'body_too_large'],
    ['a 70 KiB text body', 'x'.repeat(70 * 1024), 'text/plain', 413, 'body_too_large'],
  ];
  it.each(cases)('refuses %s', async (_what, body, type, status, error) => {
    expectCleanRefusal(await post(path, body, type), status, error);
  });

  it('refuses a chunked body over 64 KiB that never declared its length with 413', async () => {
    const chunk = `{"refresh_token":"${'x'.repeat(1000)}",`;
    const chunks = Array.from({ length: 70 }, () => `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`).join('');
    const head = requestHead('POST', path, [`Content-Type: ${JSON_TYPE}`, 'Transfer-Encoding: chunked']);
    expectCleanRefusal(await rawRequest(`${head}${chunks}0\r\n\r\n`), 413, 'body_too_large');
  });

  it('refuses a declared Content-Length over 64 KiB before the body is sent', async () => {
    const head = requestHead('POST', path, [`Content-Type: ${JSON_TYPE}`, `Content-Length: ${LIMIT + 1}`]);
    expectCleanRefusal(await rawRequest(head), 413, 'body_too_large');
  });
});

describe('fields of the wrong type or size', () => {
  const cases: [string, string, unknown, number, string][] = [
    ['/_auth/login', 'no fields', {}, 400, 'missing_field'],
    ['/_auth/login', 'no password', { username: 'ann' }, 400, 'missing_field'],
    ['/_auth/login', 'no username', { password: PASSWORD }, 400, 'missing_field'],
    ['/_auth/login', 'a null password', { username: 'ann', password: null }, 400, 'missing_field'],
    ['/_auth/login', 'a number as username', { username: 42, password: PASSWORD }, 400, 'invalid_field'],
    ['/_auth/login', 'an object as username', { username: { $ne: '' }, password: PASSWORD }, 400, 'invalid_field'],
    ['/_auth/login', 'an array as username', { username: ['ann'], password: PASSWORD }, 400, 'invalid_field'],
    ['/_auth/login', 'a boolean as password', { username: 'ann', password: true }, 400, 'invalid_field'],
    ['/_auth/login', 'an array as password', { username: 'ann', password: [PASSWORD] }, 400, 'invalid_field'],
    ['/_auth/login', 'a username of 321 characters', { username: 'a'.repeat(321), password: PASSWORD }, 400, 'invalid_field'],
    ['/_auth/login', 'a password of 8,193 characters', { username: 'ann', password: 'p'.repeat(8193) }, 400, 'invalid_field'],
    ['/_auth/login', 'an object as rd, without a password', { username: 'ann', rd: { href: '//evil.com' } }, 400, 'missing_field'],
    ['/_auth/register', 'no fields', {}, 400, 'missing_field'],
    ['/_auth/register', 'no password', { username: 'newbie' }, 400, 'missing_field'],
    ['/_auth/register', 'no username', { password: PASSWORD }, 400, 'missing_field'],
    ['/_auth/register', 'a number as username', { username: 7, password: PASSWORD }, 400, 'invalid_field'],
    ['/_auth/register', 'an object as password', { username: 'newbie', password: { length: 12 } }, 400, 'invalid_field'],
    ['/_auth/register', 'a number as email', { username: 'newbie', password: PASSWORD, email: 42 }, 400, 'invalid_field'],
    ['/_auth/register', 'an array as email', { username: 'newbie', password: PASSWORD, email: ['a@example.com'] }, 400, 'invalid_field'],
    ['/_auth/register', 'a username of 257 characters', { username: 'u'.repeat(257), password: PASSWORD }, 400, 'invalid_field'],
    ['/_auth/register', 'an email of 321 characters', { username: 'newbie', password: PASSWORD, email: `${'e'.repeat(309)}@example.com` }, 400, 'invalid_field'],
    ['/_auth/refresh', 'a number as refresh_token', { refresh_token: 42 }, 400, 'invalid_field'],
    ['/_auth/refresh', 'an object as refresh_token', { refresh_token: {} }, 400, 'invalid_field'],
    ['/_auth/refresh', 'an array as refresh_token', { refresh_token: ['a.b'] }, 400, 'invalid_field'],
    ['/_auth/refresh', 'a refresh_token of 513 characters', { refresh_token: 'r'.repeat(513) }, 400, 'invalid_field'],
    ['/_auth/refresh', 'no refresh_token and no cookie', {}, 401, 'refresh_token_missing'],
    ['/_auth/refresh', 'a refresh_token that is not one', { refresh_token: 'a.b' }, 401, 'refresh_token_invalid'],
    ['/_auth/refresh', 'a well-formed refresh_token nobody issued', { refresh_token: `${'A'.repeat(22)}.${'B'.repeat(43)}` }, 401, 'refresh_token_invalid'],
    ['/_auth/logout', 'a number as refresh_token', { refresh_token: 42 }, 400, 'invalid_field'],
    ['/_auth/logout', 'an object as refresh_token', { refresh_token: { all: true } }, 400, 'invalid_field'],
    ['/_auth/logout', 'a refresh_token of 513 characters', { refresh_token: 'r'.repeat(513) }, 400, 'invalid_field'],
  ];
  it.each(cases)('POST %s refuses %s', async (path, _what, body, status, error) => {
    expectCleanRefusal(await post(path, JSON.stringify(body), JSON_TYPE), status, error);
  });

  it.each([
    ['/_auth/login', 'username', '', 400],
    ['/_auth/login', 'password', '"username":"ann",', 400],
    ['/_auth/register', 'username', '', 400],
    ['/_auth/register', 'email', '"username":"newbie","password":"correct horse battery staple",', 400],
    ['/_auth/refresh', 'refresh_token', '', 400],
    ['/_auth/logout', 'refresh_token', '', 400],
  ])('POST %s refuses 8,000 nested objects as %s', async (path, field, extra, status) => {
    expectCleanRefusal(await post(path, withNested(field, extra), JSON_TYPE), status, 'invalid_field');
  });

  it('created no account from any of the refused registrations', async () => {
    const login = await post('/_auth/login', JSON.stringify({ username: 'newbie', password: PASSWORD }), JSON_TYPE);
    expectCleanRefusal(login, 401);
  });
});

describe('garbage cookies on GET /_auth/userinfo', () => {
  const userinfo = (headers: Record<string, string>) => viaFetch(fetch(`${gate.url}/_auth/userinfo`, { headers }));

  it.each([
    // The one cookie gatehouse sets holds both tokens as access~refresh: garbage in either half, or around it.
    ['a session cookie of bad percent-encoding', 'gatehouse_session=%%%'],
    ['a session cookie of truncated percent-encoding', 'gatehouse_session=%E0%A4%A'],
    ['a 4 KB session cookie', `gatehouse_session=${'A'.repeat(4096)}`],
    ['a 4 KB access half', `gatehouse_session=${'A'.repeat(4096)}~x`],
    ['a 4 KB refresh half', `gatehouse_session=~${'A'.repeat(4096)}`],
    ['a refresh half that is not a token', 'gatehouse_session=~a.b'],
    ['a session cookie with a well-formed refresh nobody issued', `gatehouse_session=~${'A'.repeat(22)}.${'B'.repeat(43)}`],
    ['a session cookie of garbage halves', 'gatehouse_session=a.b.c~x.y'],
    ['an unsigned (alg none) access half', 'gatehouse_session=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.~'],
    ['an access half of empty objects', 'gatehouse_session=e30.e30.e30'],
    ['a session cookie of only its separator', 'gatehouse_session=~'],
    ['a session cookie of three parts', 'gatehouse_session=a~b~c'],
    ['an unterminated quote', 'gatehouse_session="abc'],
    ['the cookie twice', 'gatehouse_session=a~b; gatehouse_session=c~d'],
    ['the cookie name with no value', 'gatehouse_session'],
    ['an empty session cookie', 'gatehouse_session='],
    ['an unparsable cookie header', ';;;=='],
    ['only an equals sign', '='],
  ])('answers %s with 401 JSON', async (_what, cookie) => {
    expectCleanRefusal(await userinfo({ cookie }), 401, 'unauthenticated');
  });

  it.each([
    ['UTF-8 in the access half', 'gatehouse_session=ü€😀'],
    ['UTF-8 in the refresh half', 'gatehouse_session=~ключ.значение'],
    ['UTF-8 in the cookie name', 'gätehouse_session=x; gatehouse_session=ü'],
    ['UTF-8 in the session cookie', 'gatehouse_session=ключ~значение'],
  ])('answers %s (raw bytes on the wire) with 401 JSON', async (_what, cookie) => {
    const request = Buffer.concat([Buffer.from(requestHead('GET', '/_auth/userinfo', [`Cookie: ${cookie}`]), 'utf8')]);
    expectCleanRefusal(await rawRequest(request), 401, 'unauthenticated');
  });

  it('answers Latin-1 bytes in the cookie with 401 JSON', async () => {
    const head = requestHead('GET', '/_auth/userinfo', ['Cookie: gatehouse_session=\xff\xfe\x80']);
    expectCleanRefusal(await rawRequest(Buffer.from(head, 'latin1')), 401, 'unauthenticated');
  });

  it.each([
    ['a bare scheme', 'Bearer'],
    ['a scheme and a space', 'Bearer '],
    ['Basic credentials', 'Basic dXNlcjpwYXNz'],
    ['another scheme', 'Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg'],
    ['a token of three garbage parts', 'Bearer a.b.c'],
    ['an unsigned (alg none) token', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
    ['a token whose header names a path as kid', 'Bearer eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLy4uL2V0Yy9wYXNzd2QifQ.e30.AAAA'],
    ['a token of empty objects', 'Bearer e30.e30.e30'],
    ['two tokens', 'Bearer a.b.c d.e.f'],
    ['percent signs', 'Bearer %%%'],
    ['an 8 KB token', `Bearer ${'A'.repeat(8192)}`],
    ['only spaces after the scheme', 'Bearer      '],
    ['a lowercase scheme and garbage', 'bearer !!!'],
  ])('answers an Authorization header of %s with 401 JSON', async (_what, authorization) => {
    expectCleanRefusal(await userinfo({ authorization }), 401, 'unauthenticated');
  });

  it('answers an empty Authorization header with 401 JSON', async () => {
    expectCleanRefusal(await rawRequest(requestHead('GET', '/_auth/userinfo', ['Authorization:'])), 401, 'unauthenticated');
  });

  it.each([
    ['/_auth/refresh', 'gatehouse_session=~a.b', 401],
    ['/_auth/refresh', 'gatehouse_session=%%%', 401],
    ['/_auth/refresh', 'gatehouse_session=a.b.c~x.y', 401],
    ['/_auth/refresh', ';;;==', 401],
  ])('POST %s answers the cookie %j with 401 JSON', async (path, cookie, status) => {
    const answer = await viaFetch(fetch(`${gate.url}${path}`, { method: 'POST', headers: { cookie } }));
    expectCleanRefusal(answer, status);
  });

  it.each(['gatehouse_session=~a.b', 'gatehouse_session=a~b~c', ';;;==', `gatehouse_session=${'A'.repeat(4096)}~`])(
    'POST /_auth/logout with the cookie %j still ends cleanly with 204 and clears the cookies',
    async (cookie) => {
      const res = await fetch(`${gate.url}/_auth/logout`, { method: 'POST', headers: { cookie, authorization: 'Bearer a.b.c' } });
      expect(res.status).toBe(204);
      const cleared = res.headers.getSetCookie();
      expect(cleared.length).toBeGreaterThan(0);
      for (const line of cleared) expect(line).toMatch(/^gatehouse_\w+=;.*Max-Age=0/i);
    },
  );
});

describe('request targets that cannot be parsed', () => {
  it.each([
    ['a bad percent-escape in the query', '/_auth/login?rd=%zz'],
    ['a truncated percent-escape in the path', '/_auth/%E0%A4%A'],
    ['an overlong UTF-8 encoding of /', '/%c0%af'],
    ['a lone percent sign', '/_auth/userinfo%'],
    ['an invalid UTF-8 byte', '/_auth/%ff'],
    ['a UTF-16 surrogate encoded as UTF-8', '/_auth/%ED%A0%80'],
  ])('answers %s (%s) with 400 JSON', async (_what, target) => {
    expectCleanRefusal(await rawRequest(requestHead('GET', target)), 400);
  });

  // An origin-form target that starts with // is a path, not a scheme-relative URL with
  // a host: parsing it as one throws on a bad host or port (a 500), and routes
  // //evil.com/_auth/jwks.json as if it were /_auth/jwks.json.
  it.each([
    ['a bad host', '//[/'],
    ['a bad port', '//gatehouse:99999/_auth/userinfo'],
    ['another host in front of a known path', '//evil.com/_auth/jwks.json'],
    ['another host in front of a POST endpoint', '//evil.com/_auth/refresh'],
  ])('answers a target that starts with // and holds %s (%s) as a path gatehouse does not serve', async (_what, target) => {
    const answer = await rawRequest(requestHead('GET', target));
    expect([400, 404], `${answer.status} ${answer.body}`).toContain(answer.status);
    expectCleanRefusal(answer, answer.status);
  });
});

describe('paths and methods gatehouse does not serve', () => {
  it.each(['/_auth/../etc/passwd', '/_auth/./login', '/_auth//login', '/_auth/%6Cogin'])('refuses the non-canonical path %s with 400', async (path) => {
    expectCleanRefusal(await rawRequest(requestHead('GET', path)), 400, 'ambiguous_path');
  });

  it.each(['/_auth/nope', '/_auth/', '/_auth', '/_auth/login/', '/_auth/LOGIN', '/_auth/jwks', '/_auth/userinfo/x'])(
    'answers GET %s with 404 JSON',
    async (path) => {
      expectCleanRefusal(await rawRequest(requestHead('GET', path)), 404, 'not_found');
    },
  );

  it.each([
    ['DELETE', '/_auth/login'],
    ['PUT', '/_auth/register'],
    ['GET', '/_auth/refresh'],
    ['GET', '/_auth/logout'],
    ['POST', '/_auth/userinfo'],
    ['PATCH', '/_auth/jwks.json'],
    ['OPTIONS', '/_auth/login'],
  ])('answers %s %s with 405 JSON', async (method, path) => {
    expectCleanRefusal(await viaFetch(fetch(`${gate.url}${path}`, { method })), 405, 'method_not_allowed');
  });

  // RFC 9110 section 15.5.6: a 405 MUST carry an Allow header listing the methods the resource supports.
  it.each([
    ['DELETE', '/_auth/login', 'GET, HEAD, POST'],
    ['GET', '/_auth/refresh', 'POST'],
    ['POST', '/_auth/userinfo', 'GET, HEAD'],
  ])('names what is allowed when answering %s %s with 405', async (method, path, allowed) => {
    const res = await fetch(`${gate.url}${path}`, { method });
    expect(res.status).toBe(405);
    const allow = (res.headers.get('allow') ?? '').split(/\s*,\s*/).filter(Boolean).sort();
    expect(allow).toEqual(allowed.split(', ').sort());
  });
});

describe('a return URL that leaves gatehouse', () => {
  // Removing the dot segment from "/.//evil.com" leaves "//evil.com", which a browser follows to evil.com.
  it.each(['/.//evil.com', '/..//evil.com', '/%2e//evil.com'])('sends a form sign-in with rd %j back to gatehouse', async (rd) => {
    const { username } = await registerUser(gate);
    const res = await postForm(gate, '/_auth/login', { username, password: PASSWORD, rd });
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    expect(new URL(location, `${gate.url}/_auth/login`).host).toBe(gate.address);
  });
});

describe('after all of the above', () => {
  it('still answers GET /_auth/jwks.json with 200 and its keys', async () => {
    const res = await fetch(`${gate.url}/_auth/jwks.json`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
  });

  it('still signs a user in', async () => {
    const { access_token } = await registerUser(gate);
    const res = await fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(200);
  });
});
