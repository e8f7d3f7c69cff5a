/**
 * Attacks on the administration API, invites and sign-in with another provider
 * (SPEC sections 11 and 12): each test is a hole that was open, shown from outside.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type RawSettings } from '../../src/config.js';
import { PASSWORD, postJson, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { browse, CookieJar, freePort, passProviderPages, startTestIdp, type AccountClaims, type TestIdp } from '../helpers/oidc-provider.js';

describe('groups an administrator grants', () => {
  let gate: TestGatehouse;
  let admin: TokenBody;
  beforeAll(async () => {
    gate = await startTestGatehouse({ registration: 'closed' });
    admin = await registerUser(gate, uniqueName('admin'));
  });
  afterAll(() => gate.close());

  const asAdmin = (path: string, body: unknown) => postJson(`${gate.url}${path}`, body, { authorization: `Bearer ${admin.access_token}` });

  // Each of these names is refused by PUT/DELETE /_auth/admin/users/{id}/groups/{group} and `gatehouse group`:
  // granted anyway, it could never be taken away again.
  const unremovable = [['a name outside A-Z a-z 0-9 . _ -', 'Ωmega'], ['a dot segment', '..'], ['a single dot', '.']];

  it.each(unremovable)('refuses an invite into a group with %s', async (_what, group) => {
    const res = await asAdmin('/_auth/admin/invites', { groups: [group] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_field' });
  });

  it.each(unremovable)('refuses a new user in a group with %s', async (_what, group) => {
    const res = await asAdmin('/_auth/admin/users', { username: uniqueName('member'), password: PASSWORD, groups: [group] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_field' });
  });

  it('still grants groups the group endpoints can remove', async () => {
    const res = await asAdmin('/_auth/admin/users', { username: uniqueName('member'), password: PASSWORD, groups: ['ops.eu-1_a'] });
    expect(res.status).toBe(201);
    const { id, groups } = (await res.json()) as { id: string; groups: string[] };
    expect(groups).toEqual(['ops.eu-1_a']);
    const removed = await fetch(`${gate.url}/_auth/admin/users/${id}/groups/ops.eu-1_a`, { method: 'DELETE', headers: { authorization: `Bearer ${admin.access_token}` } });
    expect(removed.status).toBe(204);
  });
});

describe('a configuration error in oidc_providers', () => {
  it('never repeats a client_secret written inline in a mapping that should have been a list', () => {
    const provider = { id: 'google', preset: 'google', client_id: 'app', client_secret: 'inline-secret-value' };
    const { errors } = validateConfig(new Map([['oidc_providers', { value: provider, source: 'gatehouse.yaml' }]]) as RawSettings);
    expect(errors?.join('\n')).toMatch(/oidc_providers.*list/);
    expect(errors?.join('\n')).not.toContain('inline-secret-value');
  });
});

describe('groups a provider takes away', () => {
  const SECRET_VARIABLE = 'GATEHOUSE_ATTACK_IDP_SECRET';
  const accounts: Record<string, AccountClaims> = { olga: { email: 'olga@example.com', email_verified: true, preferred_username: 'olga', groups: ['idp-ops'] } };
  let gate: TestGatehouse;
  let idp: TestIdp;
  beforeAll(async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    idp = await startTestIdp({ gatehouseUrl: url, accounts });
    process.env[SECRET_VARIABLE] = idp.clientSecret;
    gate = await startTestGatehouse({
      listen: `127.0.0.1:${port}`,
      public_url: url,
      access_rules: [{ path: '/ops/**', groups: ['ops'], policy: 'authenticated' }],
      oidc_providers: [
        { id: 'idp', name: 'Test Provider', issuer: idp.issuer, insecure_http: true, client_id: idp.clientId, client_secret_env: SECRET_VARIABLE, groups_claim: 'groups', group_map: { 'idp-ops': 'ops' } },
      ],
    });
    await registerUser(gate, uniqueName('admin'));
  });
  afterAll(async () => {
    await gate.close();
    await idp.close();
  });

  async function signIn(jar: CookieJar): Promise<void> {
    const start = await browse(jar, `${gate.url}/_auth/oidc/idp/start?rd=/`);
    const callback = await passProviderPages(jar, start.headers.get('location')!, 'olga', (url) => url.startsWith(`${gate.url}/_auth/oidc/idp/callback`));
    expect((await browse(jar, callback)).status).toBe(303);
  }

  const opsAnswer = async (jar: CookieJar) =>
    (
      await fetch(`${gate.url}/_auth/verify`, {
        headers: { cookie: jar.header(gate.url), 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/ops/x' },
        redirect: 'manual',
      })
    ).status;

  it('stops trusting the tokens of the person\'s other sessions at once, as when an administrator removes the group', async () => {
    const laptop = new CookieJar();
    await signIn(laptop);
    expect(await opsAnswer(laptop)).toBe(200);
    accounts['olga']!.groups = [];
    gate.clock.advance(1000);
    await signIn(new CookieJar());
    expect(await opsAnswer(laptop)).toBe(403);
  });
});

describe('a provider nobody configured', () => {
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await startTestGatehouse();
  });
  afterAll(() => gate.close());

  it.each(['start', 'callback'])('gets a 404 from /_auth/oidc/{id}/%s and writes nothing of its name into the audit log', async (step) => {
    const name = `made-up-${'x'.repeat(8000)}`;
    const res = await fetch(`${gate.url}/_auth/oidc/${name}/${step}?state=s&code=c`);
    expect(res.status).toBe(404);
    await gate.services.audit.flush();
    const events = await gate.services.store.listAuditEvents({ limit: 50 });
    expect(JSON.stringify(events)).not.toContain('made-up-');
  });
});

describe('the sessions an administrator is shown for a user', () => {
  let gate: TestGatehouse;
  let admin: TokenBody & { username: string };
  beforeAll(async () => {
    gate = await startTestGatehouse({ idle_timeout: '1h', session_lifetime: '1d' });
    admin = await registerUser(gate, uniqueName('admin'));
  });
  afterAll(() => gate.close());

  const DAY = 24 * 3_600_000;
  const sessionsOf = async (id: string) => {
    // The administrator signs in afresh: their own session is as old as the clock says, too.
    const login = await postJson(`${gate.url}/_auth/login`, { username: admin.username, password: PASSWORD });
    const { access_token } = (await login.json()) as TokenBody;
    const res = await fetch(`${gate.url}/_auth/admin/users/${id}`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { sessions: { id: string }[] }).sessions;
  };

  it.each([
    ['idle for longer than idle_timeout', 2 * 3_600_000],
    ['older than session_lifetime', 2 * DAY],
  ])('leaves out a session %s, as GET /_auth/admin/sessions does', async (_what, ms) => {
    const { username } = await registerUser(gate);
    const id = (await gate.services.store.findUserByLogin(username))!.id;
    expect(await sessionsOf(id)).toHaveLength(1);
    gate.clock.advance(ms);
    expect(await sessionsOf(id)).toEqual([]);
  });
});
