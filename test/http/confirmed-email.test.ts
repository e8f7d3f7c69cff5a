/**
 * Regression for "unconfirmed addresses reach upstreams as identity": anyone may register
 * ceo@victimcorp.example without owning it, so X-Auth-Email, the token's `email` claim
 * and userinfo carry an address only once it is confirmed (SPEC section 5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/upstream.js';

let upstream: EchoUpstream;
let gate: TestGatehouse;
beforeAll(async () => {
  upstream = await startEchoUpstream();
  gate = await startTestGatehouse({ upstream: upstream.url });
  await registerUser(gate); // the administrator, so that the users below are ordinary ones
});
afterAll(async () => {
  await gate.close();
  await upstream.close();
});

const bearer = (tokens: TokenBody) => ({ authorization: `Bearer ${tokens.access_token}` });
const claimsOf = (tokens: TokenBody) => JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
const upstreamSees = async (tokens: TokenBody) =>
  ((await (await fetch(`${gate.url}/app`, { headers: bearer(tokens) })).json()) as { headers: Record<string, string> }).headers;
const verifyAnswers = async (tokens: TokenBody) =>
  (await fetch(`${gate.url}/_auth/verify`, { headers: { 'x-original-url': 'http://app.example.com/', 'x-original-method': 'GET', ...bearer(tokens) } })).headers;
const userinfo = async (tokens: TokenBody) => (await (await fetch(`${gate.url}/_auth/userinfo`, { headers: bearer(tokens) })).json()) as Record<string, unknown>;

async function confirm(username: string, email: string) {
  const user = (await gate.services.store.findUserByLogin(username))!;
  const token = await gate.services.oneTimeTokens.issue('email_verify', user.id, email, 60_000);
  expect((await fetch(`${gate.url}/_auth/email/verify?token=${token}`)).status).toBe(200);
}

describe('an address nobody has confirmed', () => {
  const email = `ceo-${uniqueName()}@victimcorp.example`;
  let tokens: TokenBody & { username: string };
  beforeAll(async () => {
    tokens = await registerUser(gate, uniqueName(), { email });
  });

  it('reaches the app as an empty X-Auth-Email, in proxy mode and from /verify, while X-Auth-User-Id names the user', async () => {
    const proxied = await upstreamSees(tokens);
    expect(proxied['x-auth-email']).toBe('');
    expect(proxied['x-auth-user-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((await verifyAnswers(tokens)).get('x-auth-email')).toBe('');
  });

  it('is not in the token: email is null and email_verified false', () => {
    expect(claimsOf(tokens)).toMatchObject({ email: null, email_verified: false });
  });

  it('is not in userinfo either', async () => {
    expect(await userinfo(tokens)).toMatchObject({ username: tokens.username, email: null, email_verified: false });
  });

  it('reaches the app once confirmed, in the token that the next refresh brings', async () => {
    await confirm(tokens.username, email);
    const renewed = (await (await postJson(`${gate.url}/_auth/refresh`, { refresh_token: tokens.refresh_token })).json()) as TokenBody;
    expect(claimsOf(renewed)).toMatchObject({ email, email_verified: true });
    expect((await upstreamSees(renewed))['x-auth-email']).toBe(email);
    expect((await verifyAnswers(renewed)).get('x-auth-email')).toBe(email);
    expect(await userinfo(renewed)).toMatchObject({ email, email_verified: true });
  });
});

describe('an account without an address', () => {
  it('has email null and email_verified false, and an empty X-Auth-Email', async () => {
    const tokens = await registerUser(gate);
    expect(claimsOf(tokens)).toMatchObject({ email: null, email_verified: false });
    expect((await upstreamSees(tokens))['x-auth-email']).toBe('');
  });
});
