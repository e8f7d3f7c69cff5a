/**
 * Signing in with another identity provider (SPEC section 12), against a real one:
 * oidc-provider on 127.0.0.1, its login and consent pages walked with fetch and a
 * cookie jar. Every failure is made by tampering with the real flow.
 */
import { CLI_ACTOR } from '../../src/audit.js';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import { generate } from 'otplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger, type Logger, type LogLevel } from '../../src/log.js';
import { openDatabase } from '../../src/store/sql-store.js';
import { cookieHeader, cookiesOf, PASSWORD, postJson, registerUser, startTestGatehouse, uniqueName, type Settings, type TestGatehouse } from '../helpers/gatehouse.js';
import { browse, closeServer, CookieJar, endProviderSession, freePort, passProviderPages, startTestIdp, type AccountClaims, type TestIdp } from '../helpers/oidc-provider.js';
import { softPasskey } from '../helpers/soft-passkey.js';

const SECRET_VARIABLE = 'GATEHOUSE_TEST_IDP_SECRET';

const ACCOUNTS: Record<string, AccountClaims> = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice A', preferred_username: 'alice', groups: ['idp-dev', 'idp-other'] },
  bob: { email: 'bob@example.com', email_verified: false, preferred_username: 'bob' },
  carol: { email: 'carol@elsewhere.org', email_verified: true, preferred_username: 'carol', groups: ['idp-dev'] },
  dave: { email: 'dave@example.com', email_verified: true, preferred_username: 'dave', groups: ['idp-ops'] },
  erin: { email: 'erin@example.com', email_verified: true, preferred_username: 'erin', realm_access: { roles: ['viewer', 'admins'] }, groups: ['idp-dev'] },
  mallory: { email: 'mallory@example.net', email_verified: true, preferred_username: 'mallory' },
};

interface Setup {
  gate: TestGatehouse;
  idp: TestIdp;
}

/** A provider and a gatehouse that knows it as `idp`; `provider` adds to (or overrides) its settings. */
function setUp(provider: Settings = {}, settings: Settings = {}, accounts = ACCOUNTS): Promise<Setup> {
  return setUpWithLog(provider, settings, silentLogger, [], accounts);
}

const otherLastLetter = (value: string) => `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;

const isCallback = (gate: TestGatehouse) => (url: string) => url.startsWith(`${gate.url}/_auth/oidc/idp/callback`);

/** Start at gatehouse, pass the provider's pages as `login`; the callback URL, not yet visited. */
async function toCallback({ gate }: Setup, jar: CookieJar, login: string, query = 'rd=/after'): Promise<string> {
  const start = await browse(jar, `${gate.url}/_auth/oidc/idp/start?${query}`);
  expect(start.status).toBe(302);
  return passProviderPages(jar, start.headers.get('location')!, login, isCallback(gate));
}

async function signInAs(setup: Setup, login: string, jar = new CookieJar()): Promise<{ res: Response; jar: CookieJar; callback: string }> {
  const callback = await toCallback(setup, jar, login);
  return { res: await browse(jar, callback), jar, callback };
}

async function userinfo(gate: TestGatehouse, jar: CookieJar) {
  const res = await fetch(`${gate.url}/_auth/userinfo`, { headers: { cookie: jar.header(gate.url) } });
  return { status: res.status, body: (await res.json()) as { id: string; username: string; email: string | null; groups: string[] } };
}

describe('signing in with an OpenID Connect provider', () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp({ groups_claim: 'groups', group_map: { 'idp-dev': 'developers', 'idp-ops': 'operators' } });
    // The first account is the administrator; provider accounts come after it.
    await registerUser(setup.gate, 'first-admin');
  });
  afterAll(async () => {
    await setup.gate.close();
    await setup.idp.close();
  });

  it('shows a button for the provider on the login page', async () => {
    const html = await (await fetch(`${setup.gate.url}/_auth/login?rd=/x`)).text();
    expect(html).toContain('href="/_auth/oidc/idp/start?rd=%2Fx">Sign in with Test Provider</a>');
  });

  it('signs a new person in through the whole flow: an account, its confirmed address, its mapped groups, and back to rd', async () => {
    const { res, jar } = await signInAs(setup, 'alice');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/after');
    const { status, body } = await userinfo(setup.gate, jar);
    expect(status).toBe(200);
    // idp-other is in no group_map entry: dropped.
    expect(body).toMatchObject({ username: 'alice', email: 'alice@example.com', groups: ['developers'] });
  });

  it('signs the same person in to the same account the next time', async () => {
    const first = await userinfo(setup.gate, (await signInAs(setup, 'carol')).jar);
    const second = await userinfo(setup.gate, (await signInAs(setup, 'carol')).jar);
    expect(second.body.id).toBe(first.body.id);
  });

  it('sends the PKCE challenge (S256), a state and a nonce to the provider', async () => {
    const start = await browse(new CookieJar(), `${setup.gate.url}/_auth/oidc/idp/start`);
    const target = new URL(start.headers.get('location')!);
    expect(target.origin).toBe(setup.idp.issuer);
    expect(target.searchParams.get('code_challenge_method')).toBe('S256');
    expect(target.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(target.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(target.searchParams.get('nonce')).toBeTruthy();
    expect(target.searchParams.get('redirect_uri')).toBe(`${setup.gate.url}/_auth/oidc/idp/callback`);
  });

  it('judges rd like every return URL: another site becomes /', async () => {
    const jar = new CookieJar();
    const callback = await toCallback(setup, jar, 'dave', `rd=${encodeURIComponent('https://evil.example/')}`);
    const res = await browse(jar, callback);
    expect(res.headers.get('location')).toBe('/');
  });

  it('lets two sign-ins run side by side in two tabs of one browser', async () => {
    const jar = new CookieJar();
    const first = await toCallback(setup, jar, 'alice');
    const second = await toCallback(setup, jar, 'alice');
    expect((await browse(jar, second)).status).toBe(303);
    expect((await browse(jar, first)).status).toBe(303);
  });

  it('refuses a callback whose state this browser did not start, with a page and no session', async () => {
    const attacker = new CookieJar();
    const callback = await toCallback(setup, attacker, 'alice');
    // The victim follows the attacker's callback link (login CSRF): no cookie of that flow.
    const victim = new CookieJar();
    const res = await browse(victim, callback);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('started in another browser');
    expect(cookiesOf(res)['gatehouse_session']).toBeUndefined();
  });

  it.each([
    ['a state changed by one letter', (url: URL) => url.searchParams.set('state', otherLastLetter(url.searchParams.get('state')!))],
    ['no state', (url: URL) => url.searchParams.delete('state')],
  ])('refuses %s', async (_what, tamper) => {
    const jar = new CookieJar();
    const callback = new URL(await toCallback(setup, jar, 'alice'));
    tamper(callback);
    const res = await browse(jar, callback.href);
    expect(res.status).toBe(400);
    expect(cookiesOf(res)['gatehouse_session']).toBeUndefined();
  });

  it('refuses the same callback twice (a replayed state and code)', async () => {
    const { jar, callback } = await signInAs(setup, 'alice');
    const replay = await browse(jar, callback);
    expect(replay.status).toBe(400);
    expect(cookiesOf(replay)['gatehouse_session']).toBeUndefined();
  });

  it('refuses a used code brought back under a fresh state of the same browser (the provider refuses it)', async () => {
    const { jar, callback } = await signInAs(setup, 'alice');
    const fresh = new URL(await toCallback(setup, jar, 'alice'));
    fresh.searchParams.set('code', new URL(callback).searchParams.get('code')!);
    const res = await browse(jar, fresh.href);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('refused the sign-in');
  });

  it('refuses a callback with an error from the provider (the person said no)', async () => {
    const jar = new CookieJar();
    const callback = new URL(await toCallback(setup, jar, 'alice'));
    const denied = new URL(callback.pathname, callback);
    denied.searchParams.set('state', callback.searchParams.get('state')!);
    denied.searchParams.set('error', 'access_denied');
    denied.searchParams.set('iss', callback.searchParams.get('iss')!);
    const res = await browse(jar, denied.href);
    expect(res.status).toBe(400);
  });

  it('answers 404 for a provider it does not know', async () => {
    const res = await browse(new CookieJar(), `${setup.gate.url}/_auth/oidc/nobody/start`);
    expect(res.status).toBe(404);
  });
});

/** A logger that keeps its lines, for what the log says about a refusal. */
function captureLog(level: LogLevel = 'info') {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(level, (line) => void lines.push(JSON.parse(line) as Record<string, unknown>));
  return { log, lines, refusals: () => lines.filter((line) => line['event'] === 'oidc_sign_in_refused') };
}

describe('a sign-in that must be refused', () => {
  const started: Setup[] = [];
  afterEach(async () => {
    for (const { gate, idp } of started.splice(0)) {
      await gate.close();
      await idp.close();
    }
  });

  async function refusal(provider: Settings, settings: Settings, login: string) {
    const captured = captureLog();
    const setup = await setUpWithLog(provider, settings, captured.log);
    started.push(setup);
    await registerUser(setup.gate, uniqueName('admin'), { email: 'dave@example.com' });
    const { res, jar } = await signInAs(setup, login);
    return { res, jar, setup, refusals: captured.refusals() };
  }

  // [why, provider settings, gatehouse settings, who signs in, status, error code (in the log), the page says]
  const cases: [string, Settings, Settings, string, number, string, string][] = [
    ['a new person while registration is closed', {}, { registration: 'closed' }, 'alice', 403, 'oidc_registration_closed', 'none is created automatically'],
    ['a new person with auto_register off', { auto_register: false }, { registration: 'open' }, 'alice', 403, 'oidc_registration_closed', 'ask an administrator'],
    ['an address the provider has not verified, where domains are limited', { allowed_domains: ['example.com'] }, {}, 'bob', 403, 'oidc_email_unverified', 'not confirmed your email'],
    ['an address outside allowed_domains', { allowed_domains: ['example.com'] }, {}, 'carol', 403, 'oidc_domain_not_allowed', 'certain domains'],
    ['a person in none of allowed_groups', { groups_claim: 'groups', group_map: { 'idp-dev': 'developers', 'idp-ops': 'operators' }, allowed_groups: ['operators'] }, {}, 'alice', 403, 'oidc_group_not_allowed', 'none of the groups'],
    ['the address of an existing local account (no linking by address)', {}, { registration: 'open' }, 'dave', 409, 'oidc_email_in_use', 'link this provider from your account page'],
  ];
  it.each(cases)('refuses %s with a page, a log line and no session or account', async (_why, provider, settings, login, status, code, says) => {
    const { res, jar, setup, refusals } = await refusal(provider, settings, login);
    expect(res.status).toBe(status);
    expect(await res.text()).toContain(says);
    expect(jar.names(setup.gate.url)).not.toContain('gatehouse_session');
    expect(refusals).toEqual([expect.objectContaining({ error: code, provider: 'idp', audit: true })]);
    expect((await setup.gate.services.store.listUsers()).map((user) => user.username)).not.toContain(login);
  });

  it.each([
    ['an account has it', 'bob@example.com'],
    ['no account has it', null],
  ])('answers a first sign-in with an address the provider has not verified alike whether %s (no account enumeration)', async (_what, email) => {
    const captured = captureLog();
    const setup = await setUpWithLog({ auto_register: false }, { registration: 'closed' }, captured.log);
    started.push(setup);
    await registerUser(setup.gate, uniqueName('admin'), email ? { email } : {});
    const { res } = await signInAs(setup, 'bob');
    expect(res.status).toBe(403);
    expect(captured.refusals()).toEqual([expect.objectContaining({ error: 'oidc_registration_closed' })]);
  });

  it('creates an account without the unverified address with auto_register on, leaving the account that has the address alone', async () => {
    const setup = await setUp({ auto_register: true }, { registration: 'closed' });
    started.push(setup);
    const local = await registerUser(setup.gate, uniqueName('admin'), { email: 'bob@example.com' });
    const { res, jar } = await signInAs(setup, 'bob');
    expect(res.status).toBe(303);
    const { body } = await userinfo(setup.gate, jar);
    expect(body).toMatchObject({ username: 'bob', email: null });
    expect((await setup.gate.services.store.findUserByLogin('bob@example.com'))?.username).toBe(local.username);
  });

  it('creates the account with auto_register on even while registration is closed, and lets allowed groups in', async () => {
    const setup = await setUp({ auto_register: true, groups_claim: 'groups', group_map: { 'idp-ops': 'operators' }, allowed_groups: ['operators'] }, { registration: 'closed' });
    started.push(setup);
    await registerUser(setup.gate, uniqueName('admin'));
    const { res, jar } = await signInAs(setup, 'dave');
    expect(res.status).toBe(303);
    expect((await userinfo(setup.gate, jar)).body).toMatchObject({ username: 'dave', groups: ['operators'] });
  });

  it('registers by default under registration_domains only a verified address in them', async () => {
    const setup = await setUp({}, { registration: 'open', registration_domains: 'example.com' });
    started.push(setup);
    await registerUser(setup.gate, uniqueName('admin'), { email: 'admin@example.com' });
    expect((await signInAs(setup, 'carol')).res.status).toBe(403);
    expect((await signInAs(setup, 'bob')).res.status).toBe(403);
    expect((await signInAs(setup, 'alice')).res.status).toBe(303);
  });

  it('gives a new person whose username is taken another one, never the account that has it', async () => {
    const setup = await setUp({}, { registration: 'open' });
    started.push(setup);
    const local = await registerUser(setup.gate, 'alice');
    const { jar } = await signInAs(setup, 'alice');
    const { body } = await userinfo(setup.gate, jar);
    expect(body.username).toBe('alice-2');
    expect(body.id).not.toBe(JSON.parse(Buffer.from(local.access_token.split('.')[1]!, 'base64url').toString())['sub']);
  });

  it('refuses an ID token that has expired by the time the callback comes (on gatehouse\'s clock)', async () => {
    const captured = captureLog();
    const setup = await setUpWithLog({}, {}, captured.log);
    started.push(setup);
    await registerUser(setup.gate, uniqueName('admin'));
    const jar = new CookieJar();
    const callback = await toCallback(setup, jar, 'alice');
    setup.gate.clock.advance(5 * 60_000); // the provider's ID tokens live 60 s; the sign-in itself 10 minutes
    const res = await browse(jar, callback);
    expect(res.status).toBe(400);
    expect(captured.refusals()).toEqual([expect.objectContaining({ error: 'oidc_token_expired', reason: 'id_token_expired' })]);
  });

  it('refuses a code issued to another client (the provider refuses to exchange it)', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const idp = await startTestIdp({ gatehouseUrl: url, accounts: ACCOUNTS, otherClients: ['someone-else'] });
    process.env[SECRET_VARIABLE] = idp.clientSecret;
    const captured = captureLog();
    const gate = await startTestGatehouse(
      {
        listen: `127.0.0.1:${port}`,
        public_url: url,
        oidc_providers: [{ id: 'idp', issuer: idp.issuer, insecure_http: true, client_id: idp.clientId, client_secret_env: SECRET_VARIABLE }],
      },
      { log: captured.log },
    );
    started.push({ gate, idp });
    const jar = new CookieJar();
    const start = new URL((await browse(jar, `${url}/_auth/oidc/idp/start`)).headers.get('location')!);
    start.searchParams.set('client_id', 'someone-else');
    const callback = await passProviderPages(jar, start.href, 'alice', isCallback(gate));
    const res = await browse(jar, callback);
    expect(res.status).toBe(400);
    expect(jar.names(url)).not.toContain('gatehouse_session');
    expect(captured.refusals()).toEqual([expect.objectContaining({ error: 'oidc_provider_error', reason: 'token_endpoint_invalid_grant' })]);
  });

  it('refuses an answer from another issuer than the one configured (a mix-up)', async () => {
    // gatehouse is told of an issuer whose discovery document sends it to the real provider.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const idp = await startTestIdp({ gatehouseUrl: url, accounts: ACCOUNTS });
    const impostor = createServer();
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const impostorUrl = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
    const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    impostor.on('request', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...metadata, issuer: impostorUrl })));
    process.env[SECRET_VARIABLE] = idp.clientSecret;
    const captured = captureLog();
    const gate = await startTestGatehouse(
      {
        listen: `127.0.0.1:${port}`,
        public_url: url,
        oidc_providers: [{ id: 'idp', issuer: impostorUrl, insecure_http: true, client_id: idp.clientId, client_secret_env: SECRET_VARIABLE }],
      },
      { log: captured.log },
    );
    started.push({ gate, idp: { ...idp, close: async () => (await idp.close(), await closeServer(impostor)) } });
    const { res, jar } = await signInAs({ gate, idp }, 'alice');
    expect(res.status).toBe(400);
    expect(jar.names(url)).not.toContain('gatehouse_session');
    expect(captured.refusals()).toEqual([expect.objectContaining({ error: 'oidc_token_invalid', reason: 'iss_mismatch' })]);
  });

  it('answers 502 with a page when the provider cannot be reached at the start', async () => {
    const captured = captureLog();
    const setup = await setUpWithLog({}, {}, captured.log);
    started.push(setup);
    await setup.idp.close();
    const res = await browse(new CookieJar(), `${setup.gate.url}/_auth/oidc/idp/start`);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('could not be reached');
    expect(captured.refusals()).toEqual([expect.objectContaining({ error: 'oidc_provider_unreachable', reason: expect.stringContaining('unreachable') })]);
  });

  it('answers 502 when the provider goes down between its pages and the callback', async () => {
    const setup = await setUp();
    started.push(setup);
    await registerUser(setup.gate, uniqueName('admin'));
    const jar = new CookieJar();
    const callback = await toCallback(setup, jar, 'alice');
    await setup.idp.close();
    const res = await browse(jar, callback);
    expect(res.status).toBe(502);
  });
});

async function setUpWithLog(provider: Settings, settings: Settings, log: Logger, otherClients: string[] = [], accounts = ACCOUNTS): Promise<Setup> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp({ gatehouseUrl: url, accounts, otherClients });
  process.env[SECRET_VARIABLE] = idp.clientSecret;
  const gate = await startTestGatehouse(
    {
      listen: `127.0.0.1:${port}`,
      public_url: url,
      oidc_providers: [{ id: 'idp', name: 'Test Provider', issuer: idp.issuer, insecure_http: true, client_id: idp.clientId, client_secret_env: SECRET_VARIABLE, ...provider }],
      ...settings,
    },
    { log },
  );
  return { gate, idp };
}

describe('linking and unlinking providers', () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp({}, { registration: 'open' });
    await registerUser(setup.gate, 'first-admin');
  });
  afterAll(async () => {
    await setup.gate.close();
    await setup.idp.close();
  });

  /** A local account with a password, signed in just now in a fresh browser. */
  async function localAccount(email?: string) {
    const username = uniqueName('local');
    await registerUser(setup.gate, username, email ? { email } : {});
    const jar = new CookieJar();
    jar.store(setup.gate.url, await postJson(`${setup.gate.url}/_auth/login`, { username, password: PASSWORD }));
    return { username, jar, id: (await userinfo(setup.gate, jar)).body.id };
  }

  /** The CSRF token of a page of gatehouse, as that page's forms send it (the browser's cookie comes with it). */
  async function csrfOf(jar: CookieJar, page: string): Promise<string> {
    const html = await (await browse(jar, `${setup.gate.url}${page}`)).text();
    return /name="csrf" value="([^"]+)"/.exec(html)![1]!;
  }

  /** The account page's Link form for the provider, posted as the browser does; the answer, not followed. */
  async function startLink(jar: CookieJar, page = '/_auth/account'): Promise<Response> {
    return browse(jar, `${setup.gate.url}/_auth/oidc/idp/link`, { csrf: await csrfOf(jar, page) });
  }

  /** The link flow from the account page, through the provider's pages as `login`; the callback's answer. */
  async function link(jar: CookieJar, login: string): Promise<Response> {
    const start = await startLink(jar);
    expect(start.status).toBe(303);
    const callback = await passProviderPages(jar, start.headers.get('location')!, login, isCallback(setup.gate));
    return browse(jar, callback);
  }

  const linked = async (jar: CookieJar) =>
    ((await (await fetch(`${setup.gate.url}/_auth/account/oidc`, { headers: { cookie: jar.header(setup.gate.url) } })).json()) as { identities: { provider: string }[] }).identities;

  it('links a provider to the signed-in account, which the provider then signs in to, even with the same address', async () => {
    const local = await localAccount('dave@example.com');
    const before = await (await browse(local.jar, `${setup.gate.url}/_auth/account`)).text();
    expect(before).toContain('<form method="post" action="/_auth/oidc/idp/link"><input type="hidden" name="csrf"');
    expect(before).not.toContain('link=1');
    const res = await link(local.jar, 'dave');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/_auth/account');
    expect(await linked(local.jar)).toEqual([expect.objectContaining({ provider: 'idp', name: 'Test Provider' })]);
    const page = await (await fetch(`${setup.gate.url}/_auth/account`, { headers: { cookie: local.jar.header(setup.gate.url) } })).text();
    expect(page).toContain('data-unlink-provider="idp"');
    const { jar } = await signInAs(setup, 'dave');
    expect((await userinfo(setup.gate, jar)).body.id).toBe(local.id);
  });

  it('sends a stranger who wants to link to the login page first, and from there back to the account page, not on into the link', async () => {
    const res = await startLink(new CookieJar(), '/_auth/login');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/_auth/login?rd=%2F_auth%2Faccount');
  });

  it('asks for a recent sign-in before linking, and comes back to the account page after it', async () => {
    const local = await localAccount();
    setup.gate.clock.advance(11 * 60_000);
    const res = await startLink(local.jar);
    // Back in step with the provider's clock, for the ID tokens of the next tests.
    setup.gate.clock.advance(-11 * 60_000);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/_auth/login?rd=%2F_auth%2Faccount');
    expect(local.jar.names(setup.gate.url).filter((name) => name.includes('oidc'))).toEqual([]);
  });

  it('refuses to start a link from a plain link (a navigation any site can send a browser on), with a page, and links nothing', async () => {
    // The victim signed in just now; another site sends the browser to the old link address.
    const victim = await localAccount();
    const res = await browse(victim.jar, `${setup.gate.url}/_auth/oidc/idp/start?link=1&rd=%2F_auth%2Faccount`);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('Link button on your account page');
    expect(victim.jar.names(setup.gate.url).filter((name) => name.includes('oidc'))).toEqual([]);
    expect(await linked(victim.jar)).toEqual([]);
  });

  it.each([
    ['a wrong CSRF token', { csrf: 'x'.repeat(32) }, {}, 403, 'csrf_failed'],
    ['no CSRF token', {}, {}, 403, 'csrf_failed'],
    ['another site\'s Origin', undefined, { origin: 'https://evil.example' }, 403, 'origin_forbidden'],
  ] as const)('refuses a link form with %s, and starts nothing', async (_what, form, headers, status, error) => {
    const victim = await localAccount();
    const csrf = await csrfOf(victim.jar, '/_auth/account');
    const res = await fetch(`${setup.gate.url}/_auth/oidc/idp/link`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: victim.jar.header(setup.gate.url), ...headers },
      body: new URLSearchParams(form ?? { csrf }),
    });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toBe(error);
    expect(res.headers.getSetCookie().filter((line) => line.includes('oidc'))).toEqual([]);
  });

  it('refuses a link started as JSON (the page posts a form)', async () => {
    const victim = await localAccount();
    const res = await postJson(`${setup.gate.url}/_auth/oidc/idp/link`, {}, { cookie: victim.jar.header(setup.gate.url) });
    expect(res.status).toBe(415);
  });

  it('refuses to link an identity that another account holds', async () => {
    await signInAs(setup, 'carol'); // carol's own account now holds her identity
    const local = await localAccount();
    const res = await link(local.jar, 'carol');
    expect(res.status).toBe(409);
    expect(await linked(local.jar)).toEqual([]);
  });

  it('refuses to finish a link in a browser where another account has signed in meanwhile', async () => {
    const local = await localAccount();
    const start = await startLink(local.jar);
    const callback = await passProviderPages(local.jar, start.headers.get('location')!, 'bob', isCallback(setup.gate));
    const other = await localAccount();
    local.jar.set(setup.gate.url, 'gatehouse_session', other.jar.header(setup.gate.url).split('gatehouse_session=')[1]!.split(';')[0]!);
    const res = await browse(local.jar, callback);
    expect(res.status).toBe(400);
    expect(await linked(other.jar)).toEqual([]);
  });

  it('unlinks a provider from an account that keeps its password', async () => {
    const local = await localAccount();
    expect((await link(local.jar, 'alice')).status).toBe(303);
    const res = await fetch(`${setup.gate.url}/_auth/account/oidc/idp`, { method: 'DELETE', headers: { cookie: local.jar.header(setup.gate.url) } });
    expect(res.status).toBe(200);
    expect(await linked(local.jar)).toEqual([]);
    expect((await fetch(`${setup.gate.url}/_auth/account/oidc/idp`, { method: 'DELETE', headers: { cookie: local.jar.header(setup.gate.url) } })).status).toBe(404);
  });

  it('never unlinks the last way to sign in (no password, no passkey, no other link)', async () => {
    const { jar } = await signInAs(setup, 'bob');
    const res = await fetch(`${setup.gate.url}/_auth/account/oidc/idp`, { method: 'DELETE', headers: { cookie: jar.header(setup.gate.url) } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toBe('oidc_last_sign_in_method');
    expect(await linked(jar)).toHaveLength(1);
  });

  it('drops a provider linked before the address was proven: whoever registered someone else\'s address loses that way in too', async () => {
    // Someone registers the owner's address (unconfirmed) and links a provider account of their own.
    const squatter = await localAccount(`owner-${uniqueName()}@example.org`);
    expect((await link(squatter.jar, 'mallory')).status).toBe(303);
    // The owner proves the address with a magic link.
    const token = await setup.gate.services.oneTimeTokens.issue('magic_link', squatter.id, '/', 60_000);
    expect((await postJson(`${setup.gate.url}/_auth/magic-link/verify`, { token })).status).toBe(200);
    expect(await setup.gate.services.store.listOidcIdentities(squatter.id)).toEqual([]);
    const { jar } = await signInAs(setup, 'mallory');
    expect((await userinfo(setup.gate, jar)).body.id).not.toBe(squatter.id);
  });

  it('counts no link to a provider this gatehouse no longer knows as a way to sign in', async () => {
    const { jar } = await signInAs(setup, 'erin');
    const { id } = (await userinfo(setup.gate, jar)).body;
    // Linked once to a provider since removed from the configuration.
    await setup.gate.services.store.linkOidcIdentity({ issuer: 'https://gone.example', subject: 'erin', providerId: 'gone', userId: id, email: null, now: Date.now() });
    const res = await fetch(`${setup.gate.url}/_auth/account/oidc/idp`, { method: 'DELETE', headers: { cookie: jar.header(setup.gate.url) } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toBe('oidc_last_sign_in_method');
    expect((await signInAs(setup, 'erin')).res.status).toBe(303);
  });

  it('answers 401 to an unlink without a session', async () => {
    expect((await fetch(`${setup.gate.url}/_auth/account/oidc/idp`, { method: 'DELETE' })).status).toBe(401);
  });
});

describe('back-channel logout', () => {
  let setup: Setup;
  const captured = captureLog();
  beforeAll(async () => {
    setup = await setUpWithLog({}, { registration: 'open' }, captured.log, ['someone-else']);
    await registerUser(setup.gate, 'first-admin');
  });
  afterAll(async () => {
    await setup.gate.close();
    await setup.idp.close();
  });

  const refusedLogouts = () => captured.lines.filter((line) => line['event'] === 'oidc_logout_refused');
  const postLogout = (body: Record<string, string>) =>
    fetch(`${setup.gate.url}/_auth/oidc/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });

  async function untilSignedOut(jar: CookieJar): Promise<number> {
    for (let i = 0; i < 50; i++) {
      const { status } = await userinfo(setup.gate, jar);
      if (status === 401) return status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return 200;
  }

  it('ends the gatehouse session that came from the provider session the person signed out of, and no other', async () => {
    const laptop = (await signInAs(setup, 'alice')).jar;
    const phone = (await signInAs(setup, 'alice')).jar;
    expect((await userinfo(setup.gate, laptop)).status).toBe(200);
    const res = await endProviderSession(laptop, setup.idp.issuer);
    expect(res.status).toBeLessThan(400);
    expect(await untilSignedOut(laptop)).toBe(401);
    // The refresh token of that session is dead too, not only its access token.
    const refreshed = await fetch(`${setup.gate.url}/_auth/refresh`, { method: 'POST', headers: { cookie: laptop.header(setup.gate.url) } });
    expect(refreshed.status).toBe(401);
    expect((await userinfo(setup.gate, phone)).status).toBe(200);
  });

  it('refuses a logout token for another client (audience), and ends nothing', async () => {
    const { jar } = await signInAs(setup, 'carol');
    const captured: unknown[] = [];
    await setup.idp.backchannelLogout('carol', 'any-sid', 'someone-else').catch((error: unknown) => captured.push(error));
    expect(String(captured[0])).toContain('400');
    expect(refusedLogouts()).toContainEqual(expect.objectContaining({ reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED: aud' }));
    expect((await userinfo(setup.gate, jar)).status).toBe(200);
  });

  it.each([
    ['no token', {}],
    ['garbage', { logout_token: 'not-a-jwt' }],
    ['an unsigned token', { logout_token: `${b64({ alg: 'none' })}.${b64({ iss: 'x', sub: 'alice' })}.` }],
  ])('answers 400 to %s', async (_what, body) => {
    const res = await postLogout(body);
    expect(res.status).toBe(400);
  });

  it('answers 400 to a token from the provider\'s issuer signed with another key', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ sid: 'x', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })
      .setProtectedHeader({ alg: 'RS256', kid: 'forged', typ: 'logout+jwt' })
      .setIssuer(setup.idp.issuer)
      .setAudience(setup.idp.clientId)
      .setSubject('alice')
      .setIssuedAt()
      .sign(privateKey);
    const res = await postLogout({ logout_token: forged });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('oidc_logout_token_invalid');
  });
});

describe('back-channel logout with two provider entries on one issuer (two clients)', () => {
  let setup: Setup;
  beforeAll(async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const idp = await startTestIdp({ gatehouseUrl: url, accounts: ACCOUNTS, otherClients: ['second-client'], otherProviderIds: ['idp2'] });
    process.env[SECRET_VARIABLE] = idp.clientSecret;
    const entry = { issuer: idp.issuer, insecure_http: true, client_secret_env: SECRET_VARIABLE };
    const gate = await startTestGatehouse({
      listen: `127.0.0.1:${port}`,
      public_url: url,
      registration: 'open',
      oidc_providers: [
        { id: 'idp', client_id: idp.clientId, ...entry },
        { id: 'idp2', client_id: 'second-client', ...entry },
      ],
    });
    setup = { gate, idp };
    await registerUser(gate, 'first-admin');
  });
  afterAll(async () => {
    await setup.gate.close();
    await setup.idp.close();
  });

  /** A sign-in as alice through the entry `id`, in a fresh browser. */
  async function signInThrough(id: string): Promise<CookieJar> {
    const jar = new CookieJar();
    const start = await browse(jar, `${setup.gate.url}/_auth/oidc/${id}/start`);
    const callback = await passProviderPages(jar, start.headers.get('location')!, 'alice', (url) => url.startsWith(`${setup.gate.url}/_auth/oidc/${id}/callback`));
    expect((await browse(jar, callback)).status).toBe(303);
    return jar;
  }

  it.each([
    ['the second entry', 'idp2', 'idp'],
    ['the first entry', 'idp', 'idp2'],
  ])('ends a session signed in through %s when its provider session ends, and no other', async (_what, id, otherId) => {
    const ended = await signInThrough(id);
    const other = await signInThrough(otherId);
    expect((await endProviderSession(ended, setup.idp.issuer)).status).toBeLessThan(400);
    expect((await userinfo(setup.gate, ended)).status).toBe(401);
    expect((await userinfo(setup.gate, other)).status).toBe(200);
  });
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('the local second factor after a provider sign-in', () => {
  const started: Setup[] = [];
  afterAll(async () => {
    for (const { gate, idp } of started) {
      await gate.close();
      await idp.close();
    }
  });

  /** A provider account (alice) that has turned TOTP on; the setup, and its codes for the next second steps. */
  async function withTotp(provider: Settings) {
    const setup = await setUp(provider, { registration: 'open' });
    started.push(setup);
    await registerUser(setup.gate, 'first-admin');
    const { jar } = await signInAs(setup, 'alice');
    const post = (path: string, body: unknown = {}) =>
      fetch(`${setup.gate.url}${path}`, { method: 'POST', headers: { cookie: jar.header(setup.gate.url), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const { secret } = (await (await post('/_auth/totp/enroll')).json()) as { secret: string };
    const code = await generate({ secret, epoch: Math.floor(setup.gate.clock.now() / 1000) });
    const confirmed = await post('/_auth/totp/confirm', { code });
    expect(confirmed.status).toBe(200);
    const { recovery_codes: recoveryCodes } = (await confirmed.json()) as { recovery_codes: string[] };
    // A fresh TOTP step for the next code (each is accepted once), still well inside the ID tokens' minute.
    setup.gate.clock.advance(31_000);
    /** A code of the factor: the authenticator app's for this step, or an unused recovery code. */
    const codeFor = async (factor: 'totp' | 'recovery') => (factor === 'totp' ? generate({ secret, epoch: Math.floor(setup.gate.clock.now() / 1000) }) : recoveryCodes.pop()!);
    return { setup, codeFor };
  }

  /** Through the provider as alice in a fresh browser, to gatehouse's second-step page; that browser and the page's CSRF token. */
  async function toSecondStep(setup: Setup): Promise<{ jar: CookieJar; csrf: string }> {
    const { res, jar } = await signInAs(setup, 'alice');
    expect(res.headers.get('location')).toBe('/_auth/mfa');
    const page = await browse(jar, `${setup.gate.url}/_auth/mfa`);
    expect(page.status).toBe(200);
    return { jar, csrf: /name="csrf" value="([^"]+)"/.exec(await page.text())![1]! };
  }

  /** The second step as the page's form sends it. */
  const secondStep = (setup: Setup, { jar, csrf }: { jar: CookieJar; csrf: string }, factor: 'totp' | 'recovery', code: string, more: Record<string, string> = {}) =>
    browse(jar, `${setup.gate.url}/_auth/mfa/${factor}`, { csrf, code, ...more });

  const refresh = (setup: Setup, jar: CookieJar) => fetch(`${setup.gate.url}/_auth/refresh`, { method: 'POST', headers: { cookie: jar.header(setup.gate.url) } });

  it('completes a provider sign-in by itself by default, second factor or not', async () => {
    const { setup } = await withTotp({});
    const { res, jar } = await signInAs(setup, 'alice');
    expect(res.headers.get('location')).toBe('/after');
    expect(jar.names(setup.gate.url)).toContain('gatehouse_session');
  });

  it('asks for the local second step with require_local_mfa, and only then starts a session', async () => {
    const { setup, codeFor } = await withTotp({ require_local_mfa: true });
    const { res, jar } = await signInAs(setup, 'alice');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/_auth/mfa');
    expect(jar.names(setup.gate.url)).not.toContain('gatehouse_session');
    const mfa = jar.header(setup.gate.url).match(/gatehouse_mfa=([^;]+)/)![1]!;
    const done = await postJson(`${setup.gate.url}/_auth/mfa/totp`, { mfa_token: mfa, code: await codeFor('totp') });
    expect(done.status).toBe(200);
    expect(((await done.json()) as { redirect_to: string }).redirect_to).toBe('/after');
  });

  it.each([
    ['a code from the authenticator app', 'totp', 'recovery'],
    ['a recovery code', 'recovery', 'totp'],
  ] as const)('ends a session whose second step was %s when its provider session ends (back-channel logout), and no other', async (_how, factor, otherFactor) => {
    const { setup, codeFor } = await withTotp({ require_local_mfa: true });
    const laptop = await toSecondStep(setup);
    const done = await secondStep(setup, laptop, factor, await codeFor(factor));
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/after');
    const phone = await toSecondStep(setup);
    expect((await secondStep(setup, phone, otherFactor, await codeFor(otherFactor))).status).toBe(303);
    expect((await userinfo(setup.gate, laptop.jar)).status).toBe(200);

    expect((await endProviderSession(laptop.jar, setup.idp.issuer)).status).toBeLessThan(400);
    // The provider waits for gatehouse's answer to its logout token: by then the session is over here.
    expect((await userinfo(setup.gate, laptop.jar)).status).toBe(401);
    expect((await refresh(setup, laptop.jar)).status).toBe(401);
    expect((await userinfo(setup.gate, phone.jar)).status).toBe(200);
  });

  it('ends a session whose second step was a passkey when its provider session ends', async () => {
    const setup = await setUp({ require_local_mfa: true }, { registration: 'open' });
    started.push(setup);
    await registerUser(setup.gate, 'first-admin');
    const post = (jar: CookieJar, path: string, body: unknown) => postJson(`${setup.gate.url}${path}`, body, { cookie: jar.header(setup.gate.url) });
    // No second factor yet, so the provider's sign-in is complete by itself; then a passkey is added.
    const { jar } = await signInAs(setup, 'alice');
    const options = (await (await post(jar, '/_auth/webauthn/register/options', {})).json()) as { challenge: string; rp: { id: string } };
    const passkey = softPasskey(randomBytes(32), options.rp.id, new URL(setup.gate.url).origin);
    expect((await post(jar, '/_auth/webauthn/register/verify', { response: passkey.registration(options.challenge), name: 'Key' })).status).toBe(201);

    const laptop = await signInAs(setup, 'alice');
    expect(laptop.res.headers.get('location')).toBe('/_auth/mfa');
    const { challenge } = (await (await post(laptop.jar, '/_auth/webauthn/login/options', {})).json()) as { challenge: string };
    const done = await post(laptop.jar, '/_auth/webauthn/login/verify', { response: passkey.assertion(challenge) });
    expect(done.status).toBe(200);
    laptop.jar.store(setup.gate.url, done);
    expect((await userinfo(setup.gate, laptop.jar)).status).toBe(200);

    await endProviderSession(laptop.jar, setup.idp.issuer);
    expect((await userinfo(setup.gate, laptop.jar)).status).toBe(401);
    expect((await userinfo(setup.gate, jar)).status).toBe(200);
  });

  it('keeps the pending second step with the browser that signed in at the provider: another one cannot complete it, even with the right code', async () => {
    const { setup, codeFor } = await withTotp({ require_local_mfa: true });
    const { res, jar } = await signInAs(setup, 'alice');
    // An opaque random token in a cookie no script can read; the provider session stays on the server.
    const pendingCookie = res.headers.getSetCookie().find((line) => line.startsWith('gatehouse_mfa='))!;
    expect(pendingCookie).toMatch(/^gatehouse_mfa=[A-Za-z0-9_-]{43};/);
    expect(pendingCookie).toMatch(/; HttpOnly/i);
    expect(pendingCookie).toMatch(/; Path=\/_auth/i);
    expect(res.headers.get('location')).toBe('/_auth/mfa');
    const code = await codeFor('totp');

    const stranger = new CookieJar();
    expect((await browse(stranger, `${setup.gate.url}/_auth/mfa`)).headers.get('location')).toBe('/_auth/login');
    const loginPage = await (await browse(stranger, `${setup.gate.url}/_auth/login`)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(loginPage)![1]!;
    const byForm = await browse(stranger, `${setup.gate.url}/_auth/mfa/totp`, { csrf, code });
    expect(byForm.headers.get('location')).toBe('/_auth/login');
    const byJson = await postJson(`${setup.gate.url}/_auth/mfa/totp`, { code }, { cookie: stranger.header(setup.gate.url) });
    expect(byJson.status).toBe(401);
    expect(stranger.names(setup.gate.url)).not.toContain('gatehouse_session');

    // The code was not spent on those: the browser that signed in still completes with it.
    const page = await (await browse(jar, `${setup.gate.url}/_auth/mfa`)).text();
    const done = await secondStep(setup, { jar, csrf: /name="csrf" value="([^"]+)"/.exec(page)![1]! }, 'totp', code);
    expect(done.headers.get('location')).toBe('/after');
    expect(jar.names(setup.gate.url)).toContain('gatehouse_session');
  });

  it('records the provider session the provider named, whatever the request that completes the second step says', async () => {
    const { setup, codeFor } = await withTotp({ require_local_mfa: true });
    const laptop = await toSecondStep(setup);
    const forged = { issuer: setup.idp.issuer, subject: 'bob', sid: 'forged-sid' };
    const done = await secondStep(setup, laptop, 'totp', await codeFor('totp'), { ...forged, providerSession: JSON.stringify(forged), rd: '/elsewhere' });
    expect(done.headers.get('location')).toBe('/after');
    // A logout token for the forged provider session ends nothing; one for the real one ends it.
    await setup.idp.backchannelLogout('bob', 'forged-sid');
    expect((await userinfo(setup.gate, laptop.jar)).status).toBe(200);
    await endProviderSession(laptop.jar, setup.idp.issuer);
    expect((await userinfo(setup.gate, laptop.jar)).status).toBe(401);
  });
});

describe('hostile and concurrent use of the flow', () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp({}, { registration: 'open' });
    await registerUser(setup.gate, 'first-admin');
  });
  afterAll(async () => {
    await setup.gate.close();
    await setup.idp.close();
  });

  it('lets exactly one of two racing uses of the same callback sign in', async () => {
    const jar = new CookieJar();
    const callback = await toCallback(setup, jar, 'alice');
    const headers = { cookie: jar.header(setup.gate.url) };
    const answers = await Promise.all([1, 2].map(() => fetch(callback, { headers, redirect: 'manual' })));
    expect(answers.map((res) => res.status).sort()).toEqual([303, 400]);
  });

  it('keeps at most five sign-in cookies in a browser that starts many', async () => {
    const jar = new CookieJar();
    for (let i = 0; i < 8; i++) await browse(jar, `${setup.gate.url}/_auth/oidc/idp/start`);
    const flows = jar.names(setup.gate.url).filter((name) => name.startsWith('gatehouse_oidc_'));
    expect(flows.length).toBeGreaterThan(0);
    expect(flows.length).toBeLessThanOrEqual(5);
  });

  it('limits how many sign-ins one address may start (each writes to the database)', async () => {
    const starts = await Promise.all(
      Array.from({ length: 35 }, () => fetch(`${setup.gate.url}/_auth/oidc/idp/start`, { redirect: 'manual', headers: { 'x-forwarded-for': '198.51.100.7' } })),
    );
    const statuses = starts.map((res) => res.status);
    expect(statuses.filter((status) => status === 302)).toHaveLength(30);
    expect(statuses.filter((status) => status === 429)).toHaveLength(5);
  });

  it.each([
    ['a state of the wrong shape', 'state=%00%ff&code=x'],
    ['a huge state', `state=${'A'.repeat(5000)}&code=x`],
    ['two states', 'state=a&state=b'],
    ['no query at all', ''],
  ])('answers %s with 400, never a 5xx', async (_what, query) => {
    const res = await browse(new CookieJar(), `${setup.gate.url}/_auth/oidc/idp/callback${query ? `?${query}` : ''}`);
    expect(res.status).toBe(400);
  });

  it('refuses the callback without a code after a real start, with a page', async () => {
    const jar = new CookieJar();
    const callback = new URL(await toCallback(setup, jar, 'alice'));
    callback.searchParams.delete('code');
    const res = await browse(jar, callback.href);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('text/html');
  });

  it('refuses a disabled account', async () => {
    const { jar } = await signInAs(setup, 'carol');
    const { body } = await userinfo(setup.gate, jar);
    await setup.gate.services.people.setDisabled({ actor: CLI_ACTOR }, (await setup.gate.services.store.findUserById(body.id))!, true);
    const { res } = await signInAs(setup, 'carol');
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('disabled');
  });
});

describe('the sign-in cookie under an https public_url', () => {
  let setup: Setup;
  let publicUrl: string;
  beforeAll(async () => {
    // gatehouse is reached over plain http here, but names and sets its cookies for the https address it is told.
    const port = await freePort();
    publicUrl = `https://127.0.0.1:${port}`;
    const idp = await startTestIdp({ gatehouseUrl: publicUrl, accounts: ACCOUNTS });
    process.env[SECRET_VARIABLE] = idp.clientSecret;
    const gate = await startTestGatehouse({
      listen: `127.0.0.1:${port}`,
      public_url: publicUrl,
      cookie_domain: 'example.com',
      registration: 'open',
      oidc_providers: [{ id: 'idp', issuer: idp.issuer, insecure_http: true, client_id: idp.clientId, client_secret_env: SECRET_VARIABLE }],
    });
    setup = { gate, idp };
    await registerUser(gate, 'first-admin');
  });
  afterAll(async () => {
    await setup.gate.close();
    await setup.idp.close();
  });

  it('is __Host- prefixed: Secure, path /, no Domain even with cookie_domain (a sibling subdomain cannot plant one)', async () => {
    const start = await browse(new CookieJar(), `${setup.gate.url}/_auth/oidc/idp/start`);
    expect(start.status).toBe(302);
    const [line, ...more] = start.headers.getSetCookie();
    expect(more).toEqual([]);
    expect(line).toMatch(/^__Host-gatehouse_oidc_[A-Za-z0-9]{16}=[A-Za-z0-9_-]{43}; /);
    expect(line).toMatch(/; Path=\/(;|$)/);
    expect(line).toMatch(/; Secure/i);
    expect(line).toMatch(/; HttpOnly/i);
    expect(line).toMatch(/; SameSite=Lax/i);
    expect(line).not.toMatch(/; Domain=/i);
  });

  it('binds the sign-in through that cookie, and refuses a callback with only an unprefixed one', async () => {
    const jar = new CookieJar();
    const start = await browse(jar, `${setup.gate.url}/_auth/oidc/idp/start?rd=/after`);
    const callback = await passProviderPages(jar, start.headers.get('location')!, 'alice', (url) => url.startsWith(`${publicUrl}/_auth/oidc/idp/callback`));
    const here = callback.replace(publicUrl, setup.gate.url);
    // What a sibling subdomain could set: the same binder under the unprefixed name.
    const planted = new CookieJar();
    const [name] = jar.names(setup.gate.url).filter((cookie) => cookie.startsWith('__Host-gatehouse_oidc_'));
    planted.set(setup.gate.url, name!.replace('__Host-', ''), jar.header(setup.gate.url).split(`${name}=`)[1]!.split(';')[0]!);
    expect((await browse(planted, here)).status).toBe(400);
    const res = await browse(jar, here);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/after');
  });

  it('keeps at most five of them in a browser that starts many', async () => {
    const jar = new CookieJar();
    for (let i = 0; i < 8; i++) await browse(jar, `${setup.gate.url}/_auth/oidc/idp/start`);
    const flows = jar.names(setup.gate.url).filter((name) => name.startsWith('__Host-gatehouse_oidc_'));
    expect(flows.length).toBeGreaterThan(0);
    expect(flows.length).toBeLessThanOrEqual(5);
  });
});

describe('groups from the provider', () => {
  const started: Setup[] = [];
  afterAll(async () => {
    for (const { gate, idp } of started) {
      await gate.close();
      await idp.close();
    }
  });

  it('warns in the log when the provider leaves the groups out for too many of them (Entra ID), and grants none', async () => {
    // What Entra ID sends for someone in more than 200 groups: a pointer to Microsoft Graph instead of the claim.
    const overage = { ...ACCOUNTS['dave'], groups: undefined, _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/dave/getMemberObjects' } } };
    const captured = captureLog();
    const setup = await setUpWithLog({ groups_claim: 'groups' }, { registration: 'open' }, captured.log, [], { ...ACCOUNTS, dave: overage as AccountClaims });
    started.push(setup);
    await registerUser(setup.gate, 'first-admin');
    const { res, jar } = await signInAs(setup, 'dave');
    expect(res.status).toBe(303);
    expect((await userinfo(setup.gate, jar)).body.groups).toEqual([]);
    expect(captured.lines.filter((line) => line['event'] === 'oidc_groups_overage')).toEqual([expect.objectContaining({ level: 'warn', provider: 'idp', subject: 'dave' })]);
  });

  it('reads a dotted claim path and takes its values as they are without group_map, except admins', async () => {
    const setup = await setUp({ groups_claim: 'realm_access.roles' }, { registration: 'open' });
    started.push(setup);
    await registerUser(setup.gate, 'first-admin');
    const { jar } = await signInAs(setup, 'erin');
    expect((await userinfo(setup.gate, jar)).body.groups).toEqual(['viewer']);
  });

  it('takes without group_map only values that are group names, never admins in any spelling, and logs the rest once', async () => {
    const accounts = { ...ACCOUNTS, dave: { ...ACCOUNTS['dave'], groups: [' admins', 'Admins', '/x', 'a, b', 'ops.eu-1_a'] } };
    const captured = captureLog('debug');
    const setup = await setUpWithLog({ groups_claim: 'groups' }, { registration: 'open' }, captured.log, [], accounts);
    started.push(setup);
    await registerUser(setup.gate, 'first-admin');
    const { res, jar } = await signInAs(setup, 'dave');
    expect(res.status).toBe(303);
    expect((await userinfo(setup.gate, jar)).body.groups).toEqual(['ops.eu-1_a']);
    expect(captured.lines.filter((line) => line['event'] === 'oidc_groups_dropped')).toEqual([
      expect.objectContaining({ level: 'debug', provider: 'idp', subject: 'dave', count: 4, values: [' admins', 'Admins', '/x', 'a, b'] }),
    ]);
  });

  it('keeps admins the provider stops granting while the person is the last enabled administrator, and takes it once there is another', async () => {
    const accounts = { ...ACCOUNTS, dave: { ...ACCOUNTS['dave'], groups: ['idp-admins'] } };
    const captured = captureLog();
    const setup = await setUpWithLog({ groups_claim: 'groups', group_map: { 'idp-admins': 'admins' } }, { registration: 'open' }, captured.log, [], accounts);
    started.push(setup);
    const { people, store } = setup.gate.services;
    await registerUser(setup.gate, 'first-admin');
    const first = (await store.findUserByLogin('first-admin'))!;
    expect((await userinfo(setup.gate, (await signInAs(setup, 'dave')).jar)).body.groups).toEqual(['admins']);
    await people.removeFromGroup({ actor: CLI_ACTOR }, first, 'admins');
    // The provider takes the role away from the only administrator left.
    accounts['dave'] = { ...accounts['dave'], groups: [] };
    const kept = await signInAs(setup, 'dave');
    expect(kept.res.status).toBe(303);
    expect((await userinfo(setup.gate, kept.jar)).body.groups).toEqual(['admins']);
    expect(captured.lines.filter((line) => line['event'] === 'oidc_last_admin_kept')).toEqual([expect.objectContaining({ level: 'warn', provider: 'idp' })]);
    // Another administrator again: the next sign-in removes it, as the provider says.
    await people.addToGroup({ actor: CLI_ACTOR }, (await store.findUserByLogin('first-admin'))!, 'admins');
    const removed = await signInAs(setup, 'dave');
    expect((await userinfo(setup.gate, removed.jar)).body.groups).toEqual([]);
    expect((await store.findUserByLogin('first-admin'))!.groups).toEqual(['admins']);
  });

  it('replaces the groups the provider granted at each sign-in and keeps those an administrator set', async () => {
    const accounts = { ...ACCOUNTS };
    const setup = await setUp({ groups_claim: 'groups' }, { registration: 'open' }, accounts);
    started.push(setup);
    await registerUser(setup.gate, 'first-admin');
    const { jar } = await signInAs(setup, 'dave');
    const { id } = (await userinfo(setup.gate, jar)).body;
    expect((await userinfo(setup.gate, jar)).body.groups).toEqual(['idp-ops']);
    // An administrator adds a group of their own (straight in the database); the provider moves dave from idp-ops to idp-dev.
    const db = await openDatabase(setup.gate.services.config.database_url);
    await db.run('UPDATE users SET groups = ? WHERE id = ?', [JSON.stringify(['idp-ops', 'auditors']), id]);
    await db.close();
    accounts['dave'] = { ...accounts['dave'], groups: ['idp-dev'] };
    const again = await signInAs(setup, 'dave');
    expect((await userinfo(setup.gate, again.jar)).body.groups.sort()).toEqual(['auditors', 'idp-dev']);
  });
});
