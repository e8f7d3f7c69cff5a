/**
 * The 403 page (SPEC section 11): a signed-in user whom an access rule refuses sees who
 * is signed in, that this account may not open the address, and a sign-out form that
 * leads to the login page for that address. API clients keep the JSON 403; strangers
 * are sent to sign in. In proxy mode, behind Traefik/Caddy-style verify, and at
 * /_auth/forbidden, where the nginx example sends nginx's 403.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieHeader, cookiesOf, PASSWORD, postJson, rawRequest, registerUser, startTestGatehouse, type RawResponse, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

const RULES = [
  { path: '/staff', groups: ['staff'], policy: 'authenticated' },
  { path: '/closed', policy: 'deny' },
];
const NAVIGATE = { 'sec-fetch-mode': 'navigate', accept: 'text/html' };
const HOSTILE_NAME = '<img src=x onerror=alert(1)>"\'&';
const HOSTILE_PATH = "/staff/<script>alert('x')</script>&\"";

let upstream: EchoUpstream;
let gate: TestGatehouse;
let member: TokenBody & { username: string };
let hostile: TokenBody;

const session = (tokens: TokenBody) => `gatehouse_session=${tokens.access_token}~${tokens.refresh_token}`;
const forward = (host: string, uri: string) => ({ 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'http', 'x-forwarded-host': host, 'x-forwarded-uri': uri });

beforeAll(async () => {
  upstream = await startEchoUpstream();
  gate = await startTestGatehouse({ upstream: upstream.url, access_rules: RULES });
  await registerUser(gate); // the administrator
  member = await registerUser(gate);
  // Registration refuses such a name; one from the store (a provider, an import) must still be shown as text.
  await gate.services.store.createUser({ username: HOSTILE_NAME, passwordHash: await gate.services.passwords.hash(PASSWORD), now: Date.now() });
  hostile = (await (await postJson(`${gate.url}/_auth/login`, { username: HOSTILE_NAME, password: PASSWORD })).json()) as TokenBody;
});
afterAll(async () => {
  await gate?.close();
  await upstream?.close();
});

function expectRefusalPage(res: RawResponse, username: string, address: string) {
  expect(res.status).toBe(403);
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.body).toContain(`You are signed in as <strong>${username}</strong>`);
  expect(res.body).toContain(`This account may not open <strong>${address}</strong>`);
  expect(res.body).toMatch(/<form method="post" action="\/_auth\/logout"><input type="hidden" name="csrf" value="[\w-]+">/);
  // Works without JavaScript: no script of any kind.
  expect(res.body).not.toMatch(/<script|<[^>]*\son\w+=/i);
}

describe('a signed-in user refused by a group rule, navigating', () => {
  it('sees, in proxy mode, who is signed in and the address this account may not open', async () => {
    const res = await rawRequest(gate.url, { path: '/staff/report?q=1', headers: { ...NAVIGATE, host: 'app.example.com', cookie: session(member) } });
    expectRefusalPage(res, member.username, 'app.example.com/staff/report');
    expect(upstream.seen.some((seen) => seen.url.startsWith('/staff'))).toBe(false);
  });

  it('sees the same page through verify in the Traefik/Caddy style', async () => {
    const res = await rawRequest(`${gate.url}/_auth/verify`, { headers: { ...NAVIGATE, ...forward('app.example.com', '/staff/x'), cookie: session(member) } });
    expectRefusalPage(res, member.username, 'app.example.com/staff/x');
  });

  it('gets JSON with the page named in Location from verify in the nginx style (nginx shows its own 403 page otherwise)', async () => {
    const headers = { ...NAVIGATE, 'x-original-url': 'http://app.example.com/staff/x?a=1&b=2', 'x-original-method': 'GET', cookie: session(member) };
    const res = await rawRequest(`${gate.url}/_auth/verify`, { headers });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'forbidden' });
    expect(res.headers.location).toBe(`/_auth/forbidden?rd=${encodeURIComponent('http://app.example.com/staff/x?a=1&b=2')}`);
  });

  // The judged path arrives with < and " percent-encoded already; ' and & stay, and are escaped here.
  it('is shown a hostile username and path as text', async () => {
    const res = await rawRequest(gate.url, { path: HOSTILE_PATH, headers: { ...NAVIGATE, host: 'app.example.com', cookie: session(hostile) } });
    expectRefusalPage(res, '&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;', 'app.example.com/staff/%3Cscript%3Ealert(&#39;x&#39;)%3C/script%3E&amp;%22');
    expect(res.body).not.toContain('<img src=x');
  });

  it('signs out with the form and is sent to sign in again for the same address; the old session is over', async () => {
    const page = await rawRequest(gate.url, { path: '/staff/report?q=1', headers: { ...NAVIGATE, host: '127.0.0.1', cookie: session(member) } });
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const rd = /name="rd" value="([^"]+)"/.exec(page.body)![1]!;
    const csrfCookie = String(page.headers['set-cookie']).split(';')[0]!;
    const fresh = (await (await postJson(`${gate.url}/_auth/login`, { username: member.username, password: PASSWORD })).json()) as TokenBody;
    const res = await fetch(`${gate.url}/_auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${csrfCookie}; ${session(fresh)}` },
      body: new URLSearchParams({ csrf, rd }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/_auth/login?rd=${encodeURIComponent('/staff/report?q=1')}`);
    expect(cookieHeader(cookiesOf(res))).toBe('');
    expect((await postJson(`${gate.url}/_auth/refresh`, { refresh_token: fresh.refresh_token })).status).toBe(401);
  });

  it('cannot be signed out by a form without the token of the page', async () => {
    const res = await fetch(`${gate.url}/_auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: session(member) },
      body: new URLSearchParams({ rd: '/staff' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(403);
    expect((await postJson(`${gate.url}/_auth/refresh`, { refresh_token: member.refresh_token })).status).toBe(200);
  });
});

describe('others refused', () => {
  it('an API client keeps the JSON 403', async () => {
    const res = await rawRequest(gate.url, { path: '/staff/report', headers: { host: 'app.example.com', accept: 'application/json', authorization: `Bearer ${member.access_token}` } });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ error: 'forbidden', message: 'Your account may not open this page.' });
  });

  it('a stranger is sent to sign in, not shown the page', async () => {
    const res = await rawRequest(gate.url, { path: '/staff/report', headers: { ...NAVIGATE, host: 'app.example.com' } });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/_auth/login?rd=%2Fstaff%2Freport');
  });

  it('a path denied to everyone gets the plain refusal page, naming nobody', async () => {
    const res = await rawRequest(gate.url, { path: '/closed', headers: { ...NAVIGATE, host: 'app.example.com', cookie: session(member) } });
    expect(res.status).toBe(403);
    expect(res.body).toContain('Your account may not open this page.');
    expect(res.body).not.toContain(member.username);
  });
});

describe('GET /_auth/forbidden?rd=', () => {
  it('renders the page for the signed-in caller, with the address of rd', async () => {
    const rd = `${gate.services.config.public_url}/staff/x?y=1`;
    const res = await rawRequest(`${gate.url}/_auth/forbidden?rd=${encodeURIComponent(rd)}`, { headers: { ...NAVIGATE, cookie: session(member) } });
    expectRefusalPage(res, member.username, `${new URL(rd).host}/staff/x`);
    expect(res.body).toContain(`name="rd" value="${rd}"`);
  });

  it('sends a stranger to the login page for that address', async () => {
    const res = await rawRequest(`${gate.url}/_auth/forbidden?rd=%2Fstaff%2Fx`, { headers: NAVIGATE });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/_auth/login?rd=%2Fstaff%2Fx');
  });

  it.each([
    ['another site', 'https://evil.example/phish', '/'],
    ['a script URL', 'javascript:alert(1)', '/'],
    ['a hostile path', '/staff/"><script>x</script>', '/staff/%22%3E%3Cscript%3Ex%3C/script%3E'],
  ])('shows and returns to only a safe address: %s', async (_name, rd, shownPath) => {
    const res = await rawRequest(`${gate.url}/_auth/forbidden?rd=${encodeURIComponent(rd)}`, { headers: { ...NAVIGATE, cookie: session(member) } });
    expect(res.status).toBe(403);
    expect(res.body).toContain(`may not open <strong>${new URL(gate.services.config.public_url).host}${shownPath}</strong>`);
    expect(res.body).not.toMatch(/<script|evil\.example|javascript:/);
  });
});
