/**
 * Forward-auth through real reverse proxies: nginx 1.22 (auth_request), Caddy
 * 2.6 (forward_auth) and HAProxy 2.6 (a Lua action), configured from the
 * examples in deploy/, in front of an echo application, asking an in-process
 * gatehouse whose clock the tests move.
 *
 * What the proxies were observed to do (nginx 1.22.1, Caddy 2.6.2, HAProxy 2.6.12, Debian 12):
 * - nginx: the auth subrequest is a GET without body; the original URL and method
 *   reach gatehouse only as X-Original-URL / X-Original-Method. A renewal rides on
 *   the application's own answer as the single Set-Cookie gatehouse puts on its 200
 *   (auth_request_set + add_header ... always): one hop, no redirect. The login
 *   redirect and the fetch 401 are made by nginx itself (error_page 401 = @login),
 *   since a 302 from the auth endpoint would become a 500. An identity header whose
 *   value is empty (X-Auth-Groups of a user in no group, every header on a public
 *   path) is not sent to the application at all; client headers with "_" in their
 *   name are dropped by nginx; other client headers pass unless the config clears them.
 *   nginx cannot URL-encode: rd in @login is `$scheme://$http_host$request_uri`
 *   verbatim, so a query with "&" loses its tail (the query-string test fails behind
 *   nginx). auth_request_set does capture headers of a 401 answer, so a login URL that
 *   gatehouse put in a header of its 401 could be used as is; likewise on a 403, where the
 *   example's error_page 403 = @forbidden proxies to the page gatehouse names (a GET, with the
 *   browser's cookies), so a signed-in user without the group sees whom they are signed in as. Without `always` on
 *   add_header, a renewal is lost whenever the application answers 4xx/5xx. A path
 *   gatehouse refuses with 400 (encoded "/") reaches the browser as nginx's 500.
 *   The auth subrequest never carries Upgrade. A WebSocket handshake reaches the
 *   application as a plain GET (and is answered 200) unless the location passes
 *   Upgrade and Connection on by hand, over HTTP/1.1.
 * - Caddy: the verify call carries X-Forwarded-Method/-Proto/-Host/-Uri; on 2xx,
 *   copy_headers replaces the client's X-Auth-* of the same names and Set-Cookie is
 *   dropped; every non-2xx (gatehouse's 302 to the login page, 401, and the 307 that
 *   carries a renewal) goes to the browser as is. A renewal therefore costs one extra
 *   hop: 307 back to the same URL with the cookie, then 200 from the application; a
 *   POST is repeated with its body. Empty identity headers reach the application as
 *   empty headers. Client headers with "_" and other proxies' identity headers pass
 *   unless the config deletes them (request_header, which Caddy runs after forward_auth).
 *   If verify leaves out an empty identity header, the application receives the literal
 *   `{http.reverse_proxy.header.X-Auth-Groups}`. gatehouse's 400 reaches the browser as is.
 *   The verify call of a WebSocket handshake carries the client's Connection: Upgrade
 *   and Upgrade: websocket; once it is answered, reverse_proxy tunnels without more config.
 * - HAProxy (deploy/haproxy: a Lua action on core.httpclient): the check carries
 *   exactly the headers the Lua gives it, so X-Forwarded-* are set from the real request and
 *   a client's never arrive. Header names reach Lua in lower case, and del-header ignores case.
 *   Every non-2xx answer is replied as is, every Set-Cookie included: a renewal is the same
 *   307-then-200 as behind Caddy. An unreachable gatehouse comes back from the HTTP client as
 *   its own 503; it resolves a host name only by DNS (not /etc/hosts), so the Lua asks the
 *   address HAProxy resolved for the gatehouse backend's server. A Lua runtime error in an http-request action is logged and the next rule
 *   runs, i.e. the request would pass: the example denies whatever gatehouse did not allow.
 *   A boolean sample fetch (ssl_fc) is 0 or 1 in Lua, and 0 is true there.
 * - All three pass the whole Cookie header, gatehouse_session included, to the application
 *   (unlike proxy mode, which strips it).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { PASSWORD, registerUser, startTestGatehouse, uniqueName, type TestGatehouse } from '../helpers/gatehouse.js';
import { caddyPeer, haproxyPeer, nginxPeer, startCaddyFromExample, startEcho, startHaproxyFromExample, startNginxFromExample, freePort, type Echo, type Echoed, type RunningProxy, type Wiring } from '../helpers/proxies.js';

const MIN = 60_000;
/** Past trust_window (5m): the access token in the cookie has expired. */
const EXPIRE = 6 * MIN;
/** Past refresh_grace (10s): a spent refresh token would now count as theft. */
const PAST_GRACE = 11_000;

const PROXIES = [
  {
    name: 'nginx',
    peer: nginxPeer(),
    start: startNginxFromExample,
    /** Statuses a browser sees while a renewal reaches it: the new cookie rides on the app's answer. */
    renewalHops: [200],
  },
  {
    name: 'Caddy',
    peer: caddyPeer(),
    start: startCaddyFromExample,
    /** 307 from gatehouse with the new cookie, then the app's answer. */
    renewalHops: [307, 200],
  },
  {
    name: 'HAProxy',
    peer: haproxyPeer(),
    start: startHaproxyFromExample,
    /** As Caddy: the Lua action replies with gatehouse's 307 and its cookie, then the app answers. */
    renewalHops: [307, 200],
  },
] satisfies { name: string; peer: { available: boolean }; start: (w: Wiring) => Promise<RunningProxy>; renewalHops: number[] }[];

const NAVIGATE = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const FETCH = { 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty', accept: 'application/json' };
const SPOOFED = 'spoofed-admin';
const SPOOFED_HEADERS = {
  'X-Auth-User': SPOOFED,
  'X-Auth-Groups': SPOOFED,
  // Header names are case-insensitive: a proxy that replaces only its own spelling lets these through.
  'x-AUTH-user-ID': SPOOFED,
  'X-AUTH-EMAIL': SPOOFED,
  x_auth_user: SPOOFED,
  'X-Forwarded-User': SPOOFED,
  'Remote-User': SPOOFED,
  'Remote-Groups': SPOOFED,
  'X-Auth-Request-User': SPOOFED,
};

interface Answer {
  status: number;
  url: string;
  headers: import('node:http').IncomingHttpHeaders;
  body: string;
}

/** One HTTP exchange, headers exactly as given (fetch would drop Sec-Fetch-*), no redirects followed. */
function send(url: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, method, path: target.pathname + target.search, headers: { ...headers, ...(body !== undefined && { 'content-length': String(Buffer.byteLength(body)) }) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, url, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A browser's cookies for one origin: updated from every Set-Cookie, sent on every request. */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(lines: string[] | undefined): void {
    for (const line of lines ?? []) {
      const [pair = '', ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const expired = attributes.some((attribute) => /^\s*max-age\s*=\s*0\s*$/i.test(attribute));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }

  get session(): { access: string; refresh: string } {
    const [access = '', refresh = ''] = (this.cookies.get('gatehouse_session') ?? '').split('~');
    return { access, refresh };
  }
}

/** What a browser does: send, store the cookies, follow redirects (at most 5 hops), re-POST on 307. */
async function browse(url: string, jar: CookieJar, { method = 'GET', headers = NAVIGATE, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const hops: Answer[] = [];
  for (let hop = 0; hop < 5; hop++) {
    const answer = await send(url, { method, body, headers: { ...headers, ...jar.header(), ...(body !== undefined && { 'content-type': 'application/x-www-form-urlencoded' }) } });
    jar.store(answer.headers['set-cookie']);
    hops.push(answer);
    if (![301, 302, 303, 307, 308].includes(answer.status)) return { final: answer, hops, statuses: hops.map((h) => h.status) };
    url = new URL(answer.headers.location!, url).href;
    if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
    }
  }
  throw new Error(`more than 5 redirects: ${hops.map((h) => `${h.status} ${h.url}`).join(' -> ')}`);
}

/** The request as the application received it, from the echo's answer. */
function appSaw(answer: Answer): Echoed {
  expect(answer.headers['content-type'], `not the application's answer: ${answer.status} ${answer.body.slice(0, 200)}`).toBe('application/json');
  const echoed = JSON.parse(answer.body) as Echoed;
  expect(echoed.path, 'not the application\'s answer').toBeDefined();
  return echoed;
}

describe.each(PROXIES)('behind $name', ({ name, peer, start, renewalHops }) => {
  describe.runIf(peer.available)(`${name} with the deploy example's configuration`, () => {
    let echo: Echo;
    let gate: TestGatehouse;
    let proxy: RunningProxy;
    let admin: { username: string; email: string; id: string };
    let member: { username: string; email: string; id: string };

    beforeAll(async () => {
      echo = await startEcho();
      const port = await freePort();
      gate = await startTestGatehouse({
        public_url: `http://127.0.0.1:${port}`,
        public_paths: '/public',
        access_rules: [
          { path: '/admin', groups: ['admins'], policy: 'authenticated' },
          { path: '/feed', methods: ['GET', 'HEAD'], policy: 'public' },
          { path: '/forms', methods: ['POST'], policy: 'public' },
        ],
      });
      proxy = await start({ port, gatehouse: gate.address, app: new URL(echo.url).host });
      const account = async (prefix: string) => {
        const username = uniqueName(prefix);
        const email = `${username}@example.com`;
        const tokens = await registerUser(gate, username, { email });
        const info = (await (await fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()) as { id: string };
        // Confirmed, as by the mailed link: only a confirmed address reaches the app (SPEC section 5).
        await gate.services.store.setEmail(info.id, email, true);
        return { username, email, id: info.id };
      };
      // The first account is the administrator, in group admins; the second is in no group.
      admin = await account('admin');
      member = await account('member');
    });
    afterAll(async () => {
      await proxy?.stop();
      await gate?.close();
      await echo?.close();
    });

    /** A browser that signed in through the proxy (JSON login; the cookie is what a form login sets too). */
    async function signedIn(username: string): Promise<CookieJar> {
      const jar = new CookieJar();
      const res = await send(`${proxy.url}/_auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username, password: PASSWORD }),
      });
      expect(res.status, res.body).toBe(200);
      jar.store(res.headers['set-cookie']);
      expect(jar.session.refresh).not.toBe('');
      return jar;
    }

    const refreshThroughProxy = (refresh_token: string) =>
      send(`${proxy.url}/_auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token }) });

    const appRequestsFor = (path: string) => echo.seen.filter((seen) => seen.path === path).length;

    describe('a stranger', () => {
      it('is redirected from a page to the login page, with rd the URL of that page', async () => {
        const { statuses, hops, final } = await browse(`${proxy.url}/app/reports?tab=2`, new CookieJar());
        expect(statuses).toEqual([302, 200]);
        const login = new URL(hops[0]!.headers.location!);
        expect(login.origin + login.pathname).toBe(`${proxy.url}/_auth/login`);
        expect(login.searchParams.get('rd')).toBe(`${proxy.url}/app/reports?tab=2`);
        // The login page itself comes through the proxy, same origin, and will send the browser back.
        expect(final.body).toContain(`name="rd" value="${proxy.url}/app/reports?tab=2"`);
        expect(appRequestsFor('/app/reports?tab=2')).toBe(0);
      });

      it('keeps every query parameter of the page in rd', async () => {
        const { hops } = await browse(`${proxy.url}/app/search?q=gate&page=2`, new CookieJar());
        expect(hops[0]!.status).toBe(302);
        expect(new URL(hops[0]!.headers.location!).searchParams.get('rd')).toBe(`${proxy.url}/app/search?q=gate&page=2`);
      });

      it('signs in on the login page and lands on the page they asked for, as themselves', async () => {
        const jar = new CookieJar();
        const { final: page } = await browse(`${proxy.url}/app/inbox`, jar);
        const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
        const rd = /name="rd" value="([^"]+)"/.exec(page.body)?.[1];
        expect(csrf).toBeDefined();
        const form = new URLSearchParams({ csrf: csrf!, rd: rd!.replace(/&amp;/g, '&'), username: member.username, password: PASSWORD }).toString();
        const { statuses, final } = await browse(`${proxy.url}/_auth/login`, jar, { method: 'POST', body: form });
        expect(statuses).toEqual([303, 200]);
        const seen = appSaw(final);
        expect(seen.path).toBe('/app/inbox');
        expect(seen.headers['x-auth-user']).toBe(member.username);
      });

      it('gets 401 JSON, not a redirect, when the request is a fetch', async () => {
        const res = await send(`${proxy.url}/api/items`, { headers: FETCH });
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthenticated' });
        expect(appRequestsFor('/api/items')).toBe(0);
      });

      it('reaches a public path without signing in', async () => {
        const res = await send(`${proxy.url}/public/about`, { headers: NAVIGATE });
        expect(res.status).toBe(200);
        expect(appSaw(res).path).toBe('/public/about');
      });

      it('is judged by the method they really use: a path public for GET is not public for POST', async () => {
        expect((await send(`${proxy.url}/feed`, { headers: FETCH })).status).toBe(200);
        const post = await send(`${proxy.url}/feed`, { method: 'POST', headers: { ...FETCH, 'content-type': 'text/plain' }, body: 'x' });
        expect(post.status).toBe(401);
        expect(echo.seen.filter((seen) => seen.path === '/feed' && seen.method === 'POST')).toEqual([]);
      });

      it('cannot pass a POST-only public path as a DELETE with a method-override header, which the proxy passes to gatehouse too', async () => {
        const post = (headers: Record<string, string>) =>
          send(`${proxy.url}/forms/contact`, { method: 'POST', headers: { ...FETCH, 'content-type': 'text/plain', ...headers }, body: 'x' });
        expect((await post({})).status).toBe(200);
        for (const name of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
          expect((await post({ [name]: 'DELETE' })).status, name).toBe(401);
        }
        expect(appRequestsFor('/forms/contact')).toBe(1);
      });

      it.each([
        ['/public/../app/secret', 'a dot segment'],
        ['/public/%2e%2e/app/secret', 'an encoded dot segment'],
        ['/public/..%2fapp/secret', 'an encoded slash'],
      ])('cannot climb out of a public path into a protected page with %s (%s)', async (path) => {
        const before = echo.seen.length;
        const res = await send(`${proxy.url}${path}`, { headers: FETCH });
        // 401 (judged where it lands), or a refusal; never the application's answer.
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(echo.seen.slice(before).filter((seen) => seen.path.includes('secret'))).toEqual([]);
      });

      it('cannot make a protected page public with forwarded headers of their own', async () => {
        const forged = {
          'X-Original-URL': `${proxy.url}/public/x`,
          'X-Original-Method': 'GET',
          'X-Forwarded-Uri': '/public/x',
          'X-Forwarded-Method': 'GET',
          'X-Forwarded-Host': new URL(proxy.url).host,
          'X-Forwarded-Proto': 'http',
        };
        const res = await send(`${proxy.url}/app/forged`, { headers: { ...FETCH, ...forged } });
        // The proxy replaces or removes them: gatehouse judges the real URL (401), rather than refusing a mix (400/500).
        expect(res.status).toBe(401);
        expect(appRequestsFor('/app/forged')).toBe(0);
      });
    });

    describe('a signed-in user', () => {
      it('reaches the application with X-Auth-User, -User-Id, -Email and -Groups set by gatehouse', async () => {
        const jar = await signedIn(admin.username);
        const { statuses, final } = await browse(`${proxy.url}/app/dashboard`, jar);
        expect(statuses).toEqual([200]);
        const { headers } = appSaw(final);
        expect(headers['x-auth-user']).toBe(admin.username);
        expect(headers['x-auth-user-id']).toBe(admin.id);
        expect(headers['x-auth-email']).toBe(admin.email);
        expect(headers['x-auth-groups']).toBe('admins');
      });

      it('reaches the application with an empty X-Auth-Groups when in no group, never a placeholder', async () => {
        const jar = await signedIn(member.username);
        const { headers } = appSaw((await browse(`${proxy.url}/app/dashboard`, jar)).final);
        expect(headers['x-auth-user']).toBe(member.username);
        // nginx leaves an empty header out; Caddy sends it empty. Either way: no "{http.reverse_proxy...}".
        expect(headers['x-auth-groups'] ?? '').toBe('');
        expect(Object.values(headers).join('\n')).not.toContain('{http.');
      });

      it('gets 403 on a path for a group they are not in, and the application never sees the request', async () => {
        const jar = await signedIn(member.username);
        const res = await send(`${proxy.url}/admin/users`, { headers: { ...NAVIGATE, ...jar.header() } });
        expect(res.status).toBe(403);
        expect(appRequestsFor('/admin/users')).toBe(0);
        const allowed = await browse(`${proxy.url}/admin/users`, await signedIn(admin.username));
        expect(appSaw(allowed.final).headers['x-auth-user']).toBe(admin.username);
      });

      it('sees, on a path for a group they are not in, the page naming them, and switches account from it', async () => {
        const jar = await signedIn(member.username);
        const refused = await browse(`${proxy.url}/admin/settings?tab=2&sort=name`, jar);
        expect(refused.statuses).toEqual([403]);
        const page = refused.final;
        expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(page.body).toContain(`You are signed in as <strong>${member.username}</strong>`);
        expect(page.body).toContain(`This account may not open <strong>${new URL(proxy.url).host}/admin/settings</strong>`);
        const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
        const rd = /name="rd" value="([^"]+)"/.exec(page.body)?.[1];
        expect(rd?.replaceAll('&amp;', '&')).toBe(`${proxy.url}/admin/settings?tab=2&sort=name`);

        // The button: a form post through the proxy, with the CSRF cookie the page set.
        const signedOut = await browse(`${proxy.url}/_auth/logout`, jar, { method: 'POST', body: new URLSearchParams({ csrf: csrf!, rd: rd!.replaceAll('&amp;', '&') }).toString() });
        expect(signedOut.statuses).toEqual([303, 200]);
        expect(signedOut.hops[0]!.headers.location).toBe(`/_auth/login?rd=${encodeURIComponent(`${proxy.url}/admin/settings?tab=2&sort=name`)}`);
        expect(jar.session.refresh).toBe('');
        expect(appRequestsFor('/admin/settings')).toBe(0);
      });

      it('gets the JSON 403, not the page, when the request is a fetch', async () => {
        const jar = await signedIn(member.username);
        const res = await send(`${proxy.url}/admin/users`, { headers: { ...FETCH, ...jar.header() } });
        expect(res.status).toBe(403);
        expect(JSON.parse(res.body)).toMatchObject({ error: 'forbidden' });
      });

      it('signs out through the proxy, and the old cookie opens nothing any more', async () => {
        const jar = await signedIn(member.username);
        const old = jar.header();
        const res = await send(`${proxy.url}/_auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json', ...old }, body: '{}' });
        expect(res.status).toBe(204);
        jar.store(res.headers['set-cookie']);
        expect(jar.header()).toEqual({});
        expect((await browse(`${proxy.url}/app/after-logout`, jar)).hops[0]!.status).toBe(302);
        // A copy of the cookie taken before the logout, still inside its trust window.
        expect((await send(`${proxy.url}/app/after-logout`, { headers: { ...FETCH, ...old } })).status).toBe(401);
        expect(appRequestsFor('/app/after-logout')).toBe(0);
      });

      it('can call the application with fetch', async () => {
        const jar = await signedIn(member.username);
        const res = await send(`${proxy.url}/api/items`, { headers: { ...FETCH, ...jar.header() } });
        expect(res.status).toBe(200);
        expect(appSaw(res).headers['x-auth-user']).toBe(member.username);
      });
    });

    describe('identity headers sent by the client', () => {
      /** No header the application received carries the spoofed value, whatever its name. */
      const expectNothingSpoofed = (seen: Echoed) => {
        const spoofed = Object.entries(seen.headers).filter(([, value]) => String(value).includes(SPOOFED));
        expect(spoofed).toEqual([]);
      };

      it('never reach the application for a signed-in user: gatehouse\'s values do', async () => {
        const jar = await signedIn(member.username);
        const { final } = await browse(`${proxy.url}/app/settings`, jar, { headers: { ...NAVIGATE, ...SPOOFED_HEADERS } });
        const seen = appSaw(final);
        expectNothingSpoofed(seen);
        expect(seen.headers['x-auth-user']).toBe(member.username);
        expect(seen.headers['x-auth-groups'] ?? '').toBe('');
      });

      it('never reach the application for a stranger on a public path', async () => {
        const res = await send(`${proxy.url}/public/spoof`, { headers: { ...NAVIGATE, ...SPOOFED_HEADERS } });
        expect(res.status).toBe(200);
        const seen = appSaw(res);
        expectNothingSpoofed(seen);
        expect(seen.headers['x-auth-user'] ?? '').toBe('');
      });

      it('do not let a stranger into a protected page', async () => {
        const res = await send(`${proxy.url}/app/admin`, { headers: { ...FETCH, ...SPOOFED_HEADERS } });
        expect(res.status).toBe(401);
        expect(appRequestsFor('/app/admin')).toBe(0);
      });
    });

    describe('an expiring session', () => {
      it(`stays signed in across five trust windows, each renewal reaching the browser (${renewalHops.join(' then ')})`, async () => {
        const jar = await signedIn(member.username);
        const seenTokens = [jar.session.refresh];
        for (let window = 1; window <= 5; window++) {
          gate.clock.advance(EXPIRE);
          const { statuses, hops, final } = await browse(`${proxy.url}/app/window/${window}`, jar);
          expect(statuses, `window ${window}`).toEqual(renewalHops);
          // The renewed cookie arrives on exactly one answer, as one Set-Cookie.
          expect(hops.map((hop) => hop.headers['set-cookie']?.length ?? 0), `window ${window}`).toEqual(renewalHops.map((_, i) => (i === 0 ? 1 : 0)));
          const seen = appSaw(final);
          expect(seen.path).toBe(`/app/window/${window}`);
          expect(seen.headers['x-auth-user'], `window ${window}`).toBe(member.username);
          expect(seenTokens, `window ${window}: the refresh token was not renewed`).not.toContain(jar.session.refresh);
          seenTokens.push(jar.session.refresh);
        }
        // Long past refresh_grace: only the live token of the session still refreshes.
        gate.clock.advance(PAST_GRACE);
        const res = await refreshThroughProxy(jar.session.refresh);
        expect(res.status, res.body).toBe(200);
      });

      it('delivers the renewal to the browser even when the application answers 404', async () => {
        const jar = await signedIn(member.username);
        const before = jar.session.refresh;
        gate.clock.advance(EXPIRE);
        const { final } = await browse(`${proxy.url}/missing/page`, jar);
        expect(final.status).toBe(404);
        expect(appSaw(final).headers['x-auth-user']).toBe(member.username);
        expect(jar.session.refresh).not.toBe(before);
        gate.clock.advance(PAST_GRACE);
        expect((await refreshThroughProxy(jar.session.refresh)).status).toBe(200);
      });

      it('lets a form POST through once, with its body, when the access token has expired', async () => {
        const jar = await signedIn(member.username);
        gate.clock.advance(EXPIRE);
        const path = `/app/form/${uniqueName('post')}`;
        const { final } = await browse(`${proxy.url}${path}`, jar, { method: 'POST', body: 'title=hello&body=world' });
        expect(final.status).toBe(200);
        const seen = appSaw(final);
        expect(seen).toMatchObject({ method: 'POST', path, body: 'title=hello&body=world' });
        expect(seen.headers['x-auth-user']).toBe(member.username);
        expect(appRequestsFor(path)).toBe(1);
      });

      it('lets 30 parallel requests with the same expired cookie all reach the application, and the session lives on', async () => {
        const jar = await signedIn(member.username);
        const before = jar.session.refresh;
        gate.clock.advance(EXPIRE);
        // One browser, one jar: every answer updates it as it arrives, as a page loading 30 assets would.
        const loads = await Promise.all(Array.from({ length: 30 }, (_, i) => browse(`${proxy.url}/app/asset/${i}`, jar, { headers: { ...FETCH, accept: '*/*' } })));
        expect(loads.map((load) => load.final.status)).toEqual(Array(30).fill(200));
        for (const load of loads) expect(appSaw(load.final).headers['x-auth-user']).toBe(member.username);
        // Racing renewals mint no second branch: every Set-Cookie carries the same new refresh token.
        const issued = new Set(loads.flatMap((load) => load.hops.flatMap((hop) => hop.headers['set-cookie'] ?? [])).map((line) => /gatehouse_session=[^~;]*~([^;]*)/.exec(line)?.[1]));
        expect(issued.size).toBe(1);
        expect(issued).not.toContain(before);
        expect(issued).toContain(jar.session.refresh);
        // Not revoked: after the grace the browser's token still refreshes, and the next page still opens.
        gate.clock.advance(PAST_GRACE);
        const res = await refreshThroughProxy(jar.session.refresh);
        expect(res.status, res.body).toBe(200);
        jar.store(res.headers['set-cookie']);
        gate.clock.advance(EXPIRE);
        const { final } = await browse(`${proxy.url}/app/after-the-burst`, jar);
        expect(appSaw(final).headers['x-auth-user']).toBe(member.username);
      });
    });

    describe('a WebSocket', () => {
      type Handshake = { opened: true; socket: WebSocket; messages: string[] } | { opened: false; status: number };

      /** A WebSocket handshake through the proxy; one left unanswered fails within 5 s instead of hanging. */
      function handshake(path: string, headers: Record<string, string>): Promise<Handshake> {
        const socket = new WebSocket(`${proxy.url.replace('http', 'ws')}${path}`, { headers, handshakeTimeout: 5_000 });
        const messages: string[] = [];
        socket.on('message', (data) => messages.push(data.toString()));
        return new Promise((resolve, reject) => {
          socket.once('open', () => resolve({ opened: true, socket, messages }));
          socket.once('unexpected-response', (req, res) => {
            req.destroy();
            resolve({ opened: false, status: res.statusCode! });
          });
          socket.once('error', reject);
        });
      }

      it('opens for a signed-in user, who talks with the application as themselves', async () => {
        const jar = await signedIn(member.username);
        const shake = await handshake('/live/updates', { ...jar.header(), 'X-Auth-User': SPOOFED });
        expect(shake.opened, JSON.stringify(shake)).toBe(true);
        const { socket, messages } = shake as Extract<Handshake, { opened: true }>;
        await vi.waitFor(() => expect(messages.length).toBeGreaterThan(0));
        const seen = JSON.parse(messages[0]!) as Echoed;
        expect(seen.path).toBe('/live/updates');
        expect(seen.headers['x-auth-user']).toBe(member.username);
        socket.send('ping');
        await vi.waitFor(() => expect(messages).toContain('echo:ping'));
        socket.close();
      });

      it('is refused to a stranger with 401, and the application never sees it', async () => {
        expect(await handshake('/live/stranger', {})).toEqual({ opened: false, status: 401 });
        expect(appRequestsFor('/live/stranger')).toBe(0);
      });
    });
  });
});

describe.each(PROXIES)('behind $name, with gatehouse down', ({ name, peer, start }) => {
  describe.runIf(peer.available)(`${name} with the deploy example's configuration`, () => {
    let echo: Echo;
    let proxy: RunningProxy;

    beforeAll(async () => {
      echo = await startEcho();
      // Nobody listens where gatehouse should be.
      proxy = await start({ port: await freePort(), gatehouse: `127.0.0.1:${await freePort()}`, app: new URL(echo.url).host });
    });
    afterAll(async () => {
      await proxy?.stop();
      await echo?.close();
    });

    it.each([
      ['a page', '/app/page', NAVIGATE],
      ['an API call', '/api/items', FETCH],
      ['a public path, which nobody is there to call public', '/public/about', NAVIGATE],
      ['a request with identity headers of its own', '/app/page', { ...FETCH, ...SPOOFED_HEADERS }],
    ])('refuses %s with a 5xx or 401, never passing it to the application', async (_, path, headers) => {
      const res = await send(`${proxy.url}${path}`, { headers });
      expect(res.status === 401 || res.status >= 500, `${res.status} ${res.body.slice(0, 200)}`).toBe(true);
      expect(echo.seen).toEqual([]);
    });
  });
});

describe.runIf(PROXIES.find((proxy) => proxy.name === 'HAProxy')!.peer.available)('behind HAProxy, with a Lua action that fails', () => {
  let echo: Echo;
  let gate: TestGatehouse;
  let proxy: RunningProxy;

  beforeAll(async () => {
    echo = await startEcho();
    const port = await freePort();
    gate = await startTestGatehouse({ public_url: `http://127.0.0.1:${port}`, public_paths: '/public' });
    // HAProxy logs a Lua runtime error and goes on with the next rule: the configuration must refuse.
    const broken = `core.register_action('gatehouse_auth', { 'http-req' }, function(txn, gatehouse) error('unreachable: ' .. gatehouse) end, 1)\n`;
    proxy = await startHaproxyFromExample({ port, gatehouse: gate.address, app: new URL(echo.url).host }, broken);
  });
  afterAll(async () => {
    await proxy?.stop();
    await gate?.close();
    await echo?.close();
  });

  it.each([
    ['a page', '/app/page', NAVIGATE],
    ['an API call', '/api/items', FETCH],
    ['a public path', '/public/about', NAVIGATE],
  ])('refuses %s with 500, never passing it to the application', async (_, path, headers) => {
    const res = await send(`${proxy.url}${path}`, { headers });
    expect(res.status, proxy.log()).toBe(500);
    expect(echo.seen).toEqual([]);
  });

  it('still serves gatehouse\'s own pages', async () => {
    expect((await send(`${proxy.url}/_auth/login`, { headers: NAVIGATE })).status).toBe(200);
  });
});
