/** Settings a user relies on that change what goes on the wire: cookie attributes and identity header names. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, postJson, startTestGatehouse, uniqueName, type TestGatehouse } from '../helpers/gatehouse.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

describe('the session cookie', () => {
  it.each([
    ['an http public_url: not Secure, host-only', { public_url: 'http://localhost:4180' }, { secure: false, domain: undefined }],
    ['an https public_url: Secure', { public_url: 'https://auth.example.com' }, { secure: true, domain: undefined }],
    ['cookie_domain set: for every subdomain', { public_url: 'https://auth.example.com', cookie_domain: 'example.com' }, { secure: true, domain: 'example.com' }],
    ['cookie_secure forced off', { public_url: 'https://auth.example.com', cookie_secure: false }, { secure: false, domain: undefined }],
  ])('with %s', async (_name, settings, expected) => {
    const gate = await startTestGatehouse(settings);
    try {
      const res = await postJson(`${gate.url}/_auth/register`, { username: uniqueName(), password: PASSWORD });
      const [line] = res.headers.getSetCookie();
      expect(line).toMatch(/^gatehouse_session=[^;]+~[^;]+;/);
      expect(line).toMatch(/; HttpOnly/i);
      expect(line).toMatch(/; SameSite=Lax/i);
      expect(/; Secure/i.test(line!)).toBe(expected.secure);
      expect(/; Domain=([^;]+)/i.exec(line!)?.[1]).toBe(expected.domain);
      expect(line).toMatch(/; Max-Age=2592000/); // session_lifetime 30d
    } finally {
      await gate.close();
    }
  });
});

describe('identity_headers: remote', () => {
  let upstream: EchoUpstream;
  let gate: TestGatehouse;
  beforeAll(async () => {
    upstream = await startEchoUpstream();
    gate = await startTestGatehouse({ upstream: upstream.url, identity_headers: 'remote' });
  });
  afterAll(async () => {
    await gate.close();
    await upstream.close();
  });

  it('sends Authelia-style Remote-* headers upstream and strips client copies of both sets', async () => {
    const username = uniqueName();
    const email = `${username}@example.com`;
    expect((await postJson(`${gate.url}/_auth/register`, { username, password: PASSWORD, email })).status).toBe(201);
    // Confirmed, as by the mailed link: only a confirmed address reaches the app (SPEC section 5).
    await gate.services.store.setEmail((await gate.services.store.findUserByLogin(username))!.id, email, true);
    const tokens = (await (await postJson(`${gate.url}/_auth/login`, { username, password: PASSWORD })).json()) as { access_token: string };
    const res = await fetch(`${gate.url}/app`, {
      headers: { authorization: `Bearer ${tokens.access_token}`, 'remote-user': 'spoofed', 'x-auth-user': 'spoofed' },
    });
    const { headers } = (await res.json()) as { headers: Record<string, string> };
    expect(headers).toMatchObject({ 'remote-user': username, 'remote-name': username, 'remote-email': email, 'remote-groups': 'admins' }); // the first account
    expect(JSON.stringify(headers)).not.toContain('spoofed');
  });
});
