/**
 * A real OpenID provider for the tests: npm oidc-provider (certified) on 127.0.0.1,
 * with one static client whose redirect URI is gatehouse's callback, accounts with
 * fixed claims (groups among them), its development login and consent pages,
 * PKCE required and back-channel logout on. `signIn` walks those pages with fetch
 * and a cookie jar, as a browser would.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface AccountClaims {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  groups?: string[];
  realm_access?: { roles: string[] };
}

export interface TestIdpOptions {
  /** Gatehouse's public URL: the callback and the back-channel logout endpoint hang off it. */
  gatehouseUrl: string;
  providerId?: string;
  clientId?: string;
  clientSecret?: string;
  /** More clients, alike but for their id (for a code issued to another client). */
  otherClients?: string[];
  /** More ids gatehouse knows this provider by (one entry per client): every client may return to each one's callback. */
  otherProviderIds?: string[];
  accounts: Record<string, AccountClaims>;
  /** Seconds an ID token lives. */
  idTokenTtl?: number;
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  provider: Provider;
  /** Sends a logout token to gatehouse, as the provider does when its session ends (as `client`, by default gatehouse's). */
  backchannelLogout(accountId: string, sid: string, client?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startTestIdp(options: TestIdpOptions): Promise<TestIdp> {
  const { gatehouseUrl, providerId = 'idp', clientId = 'gatehouse', clientSecret = 'idp-client-secret-for-tests', accounts, idTokenTtl = 60, otherClients = [], otherProviderIds = [] } = options;
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = quietly(() => new Provider(issuer, {
    clients: [clientId, ...otherClients].map((id) => ({
        client_id: id,
        client_secret: clientSecret,
        redirect_uris: [providerId, ...otherProviderIds].map((name) => `${gatehouseUrl}/_auth/oidc/${name}/callback`),
        response_types: ['code'],
        grant_types: ['authorization_code'],
        backchannel_logout_uri: `${gatehouseUrl}/_auth/oidc/backchannel-logout`,
        backchannel_logout_session_required: true,
      })),
    async findAccount(_ctx, id) {
      const claims = accounts[id];
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'groups', 'realm_access'] },
    features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true } },
    pkce: { required: () => true },
    ttl: { IdToken: idTokenTtl, AccessToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    cookies: { keys: ['test-cookie-key-test-cookie-key'] },
    // Its guard against requests to special-use addresses would stop the logout tokens to gatehouse on 127.0.0.1.
    fetch: (url: string, { dispatcher: _loopbackRefused, ...options }: RequestInit & { dispatcher?: unknown }) => fetch(url, options),
  }));
  provider.on('server_error', () => {});

  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    provider,
    async backchannelLogout(accountId, sid, client_id = clientId) {
      const client = await provider.Client.find(client_id);
      await client!.backchannelLogout(accountId, sid);
    },
    close: () => closeServer(server),
  };
}

/** Without the provider's warnings about its development keys and pages, which are meant for exactly this. */
function quietly<T>(make: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void (String(args[0]).startsWith('oidc-provider WARNING') || warn(...args));
  try {
    return make();
  } finally {
    console.warn = warn;
  }
}

/** Stops listening and cuts open connections: a provider that is down. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Cookies per origin, as a browser keeps them (paths ignored: the tests never need them). */
export class CookieJar {
  #cookies = new Map<string, Map<string, string>>();

  header(url: string): string {
    return [...(this.#cookies.get(new URL(url).host) ?? new Map<string, string>())].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  store(url: string, res: Response): void {
    const host = new URL(url).host;
    const jar = this.#cookies.get(host) ?? new Map<string, string>();
    this.#cookies.set(host, jar);
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      const expired = /max-age=0\b/i.test(line) || /expires=thu, 01 jan 1970/i.test(line);
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  names(url: string): string[] {
    return [...(this.#cookies.get(new URL(url).host)?.keys() ?? [])];
  }

  set(url: string, name: string, value: string): void {
    const host = new URL(url).host;
    this.#cookies.set(host, (this.#cookies.get(host) ?? new Map<string, string>()).set(name, value));
  }
}

/** A GET or form POST with the jar's cookies, not following redirects. */
export async function browse(jar: CookieJar, url: string, form?: Record<string, string>): Promise<Response> {
  const headers: Record<string, string> = { cookie: jar.header(url), accept: 'text/html' };
  const init: RequestInit = { redirect: 'manual', headers };
  if (form) Object.assign(init, { method: 'POST', body: new URLSearchParams(form) });
  if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(url, init);
  jar.store(url, res);
  return res;
}

/** Follows redirects with the jar until a page, or a redirect to `stopAt` (left unfollowed). */
export async function follow(jar: CookieJar, url: string, stopAt?: (url: string) => boolean): Promise<{ url: string; res: Response }> {
  let current = url;
  for (let hops = 0; hops < 20; hops++) {
    const res = await browse(jar, current);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return { url: current, res };
    const next = new URL(location, current).href;
    if (stopAt?.(next)) return { url: next, res };
    current = next;
  }
  throw new Error(`too many redirects from ${url}`);
}

/**
 * At the provider: the login form (as `login`), then consent. Returns gatehouse's
 * callback URL the provider redirects to, not yet followed.
 */
export async function passProviderPages(jar: CookieJar, authorizationUrl: string, login: string, isCallback: (url: string) => boolean): Promise<string> {
  let { url, res } = await follow(jar, authorizationUrl, isCallback);
  for (let step = 0; step < 4 && !isCallback(url); step++) {
    const html = await res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no form at ${url}: ${res.status} ${html.slice(0, 300)}`);
    const fields = Object.fromEntries([...html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const target = new URL(action.replaceAll('&amp;', '&'), url).href;
    const posted = await browse(jar, target, html.includes('name="login"') ? { ...fields, login, password: 'any' } : fields);
    const next = new URL(posted.headers.get('location')!, target).href;
    if (isCallback(next)) return next;
    ({ url, res } = await follow(jar, next, isCallback));
  }
  if (!isCallback(url)) throw new Error(`the provider did not send us back: ${url}`);
  return url;
}

/** A port free just now, for a gatehouse whose public URL must be known before it starts. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Signs out at the provider (its end-session page, confirmed), which sends back-channel logout tokens to its clients. */
export async function endProviderSession(jar: CookieJar, issuer: string): Promise<Response> {
  const page = await browse(jar, `${issuer}/session/end`);
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no logout form: ${page.status} ${html.slice(0, 300)}`);
  const fields = Object.fromEntries([...html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  return browse(jar, new URL(action, issuer).href, { ...fields, logout: 'yes' });
}
