/**
 * GET /_auth/openapi.json (SPEC section 11): a valid OpenAPI 3.1 document, in step
 * with the route table and the error catalogue, and true of the live server: every
 * operation is driven here, on a success and an error, and each answer is checked
 * against what the document says.
 */
import { randomBytes } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import { signedIn } from '../../src/handlers/common.js';
import { buildDocument, errorsOf } from '../../src/openapi/document.js';
import { OPERATIONS } from '../../src/openapi/operations.js';
import { routes, type Route } from '../../src/routes.js';
import type { Scope } from '../../src/scope.js';
import { cookieHeader, cookiesOf, formCsrf, PASSWORD, postForm, postJson, rawRequest, registerUser, startTestGatehouse, uniqueName, type TestGatehouse, type TokenBody } from '../helpers/gatehouse.js';
import { apiDocument, checked, expectDocumented, liveAnswer, type LiveAnswer } from '../helpers/openapi.js';
import { browse, CookieJar, freePort, passProviderPages, startTestIdp, type TestIdp } from '../helpers/oidc-provider.js';
import { softPasskey } from '../helpers/soft-passkey.js';

const SECRETS = {
  smtp_url: 'smtp://mailer:sm7p-s3cret-value@mail.internal.example:587',
  public_url: 'http://gatehouse-openapi.internal.example:4180',
  email_from: 'noreply@private-openapi.example',
  access_rules: [{ host: 'staff.example.com', groups: ['staff-only-group'], policy: 'authenticated' }],
};

/** Every `error` enum of an error answer, and every list of codes answered as a page, anywhere in the document. */
function errorEnums(node: unknown): string[][] {
  if (typeof node !== 'object' || node === null) return [];
  const own = (node as { properties?: { error?: { enum?: string[] } } }).properties?.error?.enum;
  const pages = (node as { 'x-error-codes'?: string[] })['x-error-codes'];
  return [...(own ? [own] : []), ...(pages ? [pages] : []), ...Object.values(node).flatMap(errorEnums)];
}

describe('the document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(structuredClone(apiDocument));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(apiDocument['openapi']).toBe('3.1.0');
  });

  it('describes every route of the table, and nothing else', () => {
    const documented = Object.entries(apiDocument.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace('{file}', '')}`));
    expect(documented.sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
  });

  it('refuses to build when a route has no description', () => {
    const fake: Route = { method: 'POST', path: '/_auth/undocumented', handler: () => undefined };
    expect(() => buildDocument([...routes, fake], OPERATIONS)).toThrow(/undocumented \["POST \/_auth\/undocumented"\]/);
  });

  it('refuses to build when a description has no route', () => {
    const stale = { ...OPERATIONS, 'GET /_auth/gone': OPERATIONS['GET /_auth/login']! };
    expect(() => buildDocument(routes, stale)).toThrow(/without a route \["GET \/_auth\/gone"\]/);
  });

  it('refuses to build when a route takes a step it cannot describe', () => {
    const unknownStep = async (_scope: Scope) => undefined;
    const table = routes.map((route) => (route.path === '/_auth/account/sessions' ? { ...route, before: [signedIn, unknownStep] } : route));
    expect(() => buildDocument(table, OPERATIONS)).toThrow(/the route step unknownStep is not described/);
  });

  it('lists only codes of the catalogue', () => {
    for (const [name, operation] of Object.entries(OPERATIONS)) {
      for (const code of operation.errors) expect(ERRORS, name).toHaveProperty(code);
    }
  });

  it('carries the whole catalogue, each code with its status', () => {
    const catalogue = (apiDocument.components['schemas'] as Record<string, { oneOf: { const: string; description: string }[] }>)['ErrorCode']!.oneOf;
    expect(catalogue.map((entry) => entry.const).sort()).toEqual(Object.keys(ERRORS).sort());
    for (const entry of catalogue) expect(entry.description.startsWith(`${ERRORS[entry.const as ErrorCode].status}: `)).toBe(true);
  });

  /** Codes of the catalogue that no HTTP endpoint answers yet (the CLI does); a code that gains one must leave this list. */
  const NOT_ANSWERED_OVER_HTTP: string[] = [];

  it('answers every code of the catalogue on some operation, at its status', () => {
    const answered = new Set(errorEnums(apiDocument).flat());
    expect(Object.keys(ERRORS).filter((code) => !answered.has(code)).sort()).toEqual(NOT_ANSWERED_OVER_HTTP);
    for (const route of routes) {
      const responses = apiDocument.paths[route.prefix ? `${route.path}{file}` : route.path]![route.method.toLowerCase()]!['responses'] as Record<string, unknown>;
      for (const code of errorsOf(route, OPERATIONS[`${route.method} ${route.path}`]!)) expect(JSON.stringify(responses[ERRORS[code].status]), `${route.path} ${code}`).toContain(`"${code}"`);
    }
  });

  it('marks the operations that need a session with both ways of presenting one', () => {
    const account = apiDocument.paths['/_auth/account/sessions']!['get']!;
    expect(account['security']).toEqual([{ session: [] }, { bearer: [] }]);
    expect(apiDocument.paths['/_auth/login']!['post']!['security']).toBeUndefined();
  });
});

describe('serving it', () => {
  let gate: TestGatehouse;
  beforeAll(async () => {
    gate = await startTestGatehouse(SECRETS);
  });
  afterAll(() => gate?.close());

  it('answers GET with the document, to anyone', async () => {
    const res = await fetch(`${gate.url}/_auth/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual(apiDocument);
  });

  it('answers HEAD with the same headers and no body', async () => {
    const get = await rawRequest(`${gate.url}/_auth/openapi.json`);
    const head = await rawRequest(`${gate.url}/_auth/openapi.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
  });

  it.each(['POST', 'PUT', 'DELETE'])('refuses %s with 405 and Allow', async (method) => {
    const res = await fetch(`${gate.url}/_auth/openapi.json`, { method, body: method === 'DELETE' ? undefined : '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
  });

  it('ignores a query and credentials: the same document for every caller', async () => {
    const user = await registerUser(gate);
    const res = await fetch(`${gate.url}/_auth/openapi.json?format=yaml&x=${'a'.repeat(2000)}`, { headers: { authorization: `Bearer ${user.access_token}` } });
    expect(await res.json()).toEqual(apiDocument);
  });

  it('answers many callers at once with the same bytes', async () => {
    const bodies = await Promise.all(Array.from({ length: 40 }, async () => (await fetch(`${gate.url}/_auth/openapi.json`)).text()));
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0]!)).toEqual(apiDocument);
  });

  it('holds no value of the configuration', async () => {
    const text = await (await fetch(`${gate.url}/_auth/openapi.json`)).text();
    for (const secret of ['sm7p-s3cret-value', 'mail.internal.example', 'gatehouse-openapi.internal.example', 'private-openapi.example', 'staff-only-group', gate.dir]) {
      expect(text).not.toContain(secret);
    }
  });
});

let clients = 0;

/** A request to the gatehouse at `base()`, whose answer must be as the document describes it for `method template`. */
const asker = (base: () => string) => async (method: string, template: string, path: string, init: RequestInit & { bearer?: string; json?: unknown } = {}) => {
  const headers = new Headers(init.headers);
  // A client address of its own for each call: the wrong passwords here must not ban the next test's client.
  if (!headers.has('x-forwarded-for')) headers.set('x-forwarded-for', `198.19.9.${++clients % 250}`);
  if (init.bearer) headers.set('authorization', `Bearer ${init.bearer}`);
  if (init.json !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(`${base()}${path}`, { ...init, method, headers, body: init.json === undefined ? init.body : JSON.stringify(init.json), redirect: 'manual' });
  const answer = await liveAnswer(res);
  expectDocumented(method, template, answer);
  return { ...answer, res, json: () => JSON.parse(answer.body) as Record<string, unknown> };
};

describe('live answers, as the document describes them', () => {
  let gate: TestGatehouse;
  let origin: string;
  const ask = asker(() => gate.url);
  /** A non-canonical spelling of a page's path: 400 ambiguous_path, which every operation documents. */
  const unCanonical = async (template: string, path = template) => {
    const answer = await rawRequest(`${gate.url}`, { path: path.replace('/_auth/', '/_auth//').replace(/^\/$/, '//') });
    expect(answer.status).toBe(400);
    expectDocumented('GET', template, { status: answer.status, contentType: String(answer.headers['content-type']).split(';')[0]!, body: answer.body });
  };
  /** Through node:http: fetch sets Sec-Fetch-Mode itself. */
  const askRaw = async (template: string, path: string, headers: Record<string, string>) => {
    const answer = await rawRequest(gate.url, { path, headers });
    expectDocumented('GET', template, { status: answer.status, contentType: String(answer.headers['content-type'] ?? '').split(';')[0]!, body: answer.body });
    return answer;
  };
  const stranger = () => ({ json: {} });
  let user: TokenBody & { username: string };

  beforeAll(async () => {
    gate = await startTestGatehouse({ access_rules: SECRETS.access_rules });
    origin = new URL(gate.services.config.public_url).origin;
    user = await registerUser(gate);
  });
  afterAll(() => gate?.close());

  it('pages: /, login, register, forgot, reset, magic link, account, assets', async () => {
    expect((await ask('GET', '/', '/', { headers: { cookie: `gatehouse_session=${user.access_token}~${user.refresh_token}` } })).status).toBe(200);
    expect((await ask('GET', '/', '/')).status).toBe(302);
    await unCanonical('/');
    for (const page of ['/_auth/login', '/_auth/register', '/_auth/password/forgot', '/_auth/password/reset', '/_auth/magic-link', '/_auth/jwks.json', '/_auth/openapi.json']) {
      expect((await ask('GET', page, `${page}?rd=/x`)).status).toBe(200);
      await unCanonical(page);
    }
    expect((await ask('GET', '/_auth/account', '/_auth/account', { bearer: user.access_token })).status).toBe(200);
    expect((await ask('GET', '/_auth/account', '/_auth/account')).status).toBe(302);
    await unCanonical('/_auth/account');
    expect((await ask('GET', '/_auth/forbidden', '/_auth/forbidden?rd=/x', { bearer: user.access_token })).status).toBe(403);
    expect((await ask('GET', '/_auth/forbidden', '/_auth/forbidden?rd=/x')).status).toBe(302);
    await unCanonical('/_auth/forbidden');
    expect((await ask('GET', '/_auth/assets/{file}', '/_auth/assets/pages.js')).status).toBe(200);
    expect((await ask('GET', '/_auth/assets/{file}', '/_auth/assets/nothing.js')).status).toBe(404);
  });

  it('registration, sign-in, refresh, userinfo, logout', async () => {
    const name = uniqueName();
    expect((await ask('POST', '/_auth/register', '/_auth/register', { json: { username: name, password: PASSWORD }, headers: { 'x-forwarded-for': '198.19.7.1' } })).status).toBe(201);
    expect((await ask('POST', '/_auth/register', '/_auth/register', { json: { username: name, password: PASSWORD }, headers: { 'x-forwarded-for': '198.19.7.2' } })).status).toBe(409);
    expect((await ask('POST', '/_auth/register', '/_auth/register', { body: 'not json', headers: { 'content-type': 'application/json' } })).status).toBe(400);

    const signedIn = await ask('POST', '/_auth/login', '/_auth/login', { json: { username: name, password: PASSWORD } });
    expect(signedIn.status).toBe(200);
    expect((await ask('POST', '/_auth/login', '/_auth/login', { json: { username: name, password: 'wrong password!' } })).status).toBe(401);
    expect((await ask('POST', '/_auth/login', '/_auth/login', { json: { username: name } })).status).toBe(400);
    const { cookie, token } = await formCsrf(gate);
    const form = (fields: Record<string, string>) => ({ body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie } });
    expect((await ask('POST', '/_auth/login', '/_auth/login', form({ csrf: token, username: name, password: PASSWORD }))).status).toBe(303);
    expect((await ask('POST', '/_auth/login', '/_auth/login', form({ csrf: token, username: name, password: 'wrong password!' }))).status).toBe(401);
    expect((await ask('POST', '/_auth/login', '/_auth/login', { body: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await ask('POST', '/_auth/login', '/_auth/login', { json: { username: name, password: PASSWORD }, headers: { origin: 'https://evil.example' } })).status).toBe(403);

    const tokens = signedIn.json() as unknown as TokenBody;
    expect((await ask('GET', '/_auth/userinfo', '/_auth/userinfo', { bearer: tokens.access_token })).status).toBe(200);
    expect((await ask('GET', '/_auth/userinfo', '/_auth/userinfo', { bearer: 'not-a-token' })).status).toBe(401);
    const refreshed = await ask('POST', '/_auth/refresh', '/_auth/refresh', { json: { refresh_token: tokens.refresh_token } });
    expect(refreshed.status).toBe(200);
    expect((await ask('POST', '/_auth/refresh', '/_auth/refresh', stranger())).status).toBe(401);
    expect((await ask('POST', '/_auth/logout', '/_auth/logout', { json: { refresh_token: (refreshed.json() as unknown as TokenBody).refresh_token } })).status).toBe(204);
    expect((await ask('POST', '/_auth/logout', '/_auth/logout', form({ csrf: token }))).status).toBe(303);
    expect((await ask('POST', '/_auth/logout', '/_auth/logout', form({ csrf: 'forged' }))).status).toBe(403);
  });

  it('verify: allow, login, refuse, and malformed forwarded requests', async () => {
    const forwarded = (host: string, extra: Record<string, string> = {}) => ({ headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': host, 'x-forwarded-uri': '/page', ...extra } });
    expect((await ask('GET', '/_auth/verify', '/_auth/verify', { ...forwarded('app.example.com'), bearer: user.access_token })).status).toBe(200);
    expect((await askRaw('/_auth/verify', '/_auth/verify', forwarded('app.example.com', { 'sec-fetch-mode': 'navigate' }).headers)).status).toBe(302);
    expect((await ask('GET', '/_auth/verify', '/_auth/verify', forwarded('app.example.com'))).status).toBe(401);
    expect((await ask('GET', '/_auth/verify', '/_auth/verify', { ...forwarded('staff.example.com'), bearer: user.access_token })).status).toBe(403);
    const cookie = `gatehouse_session=${user.access_token}~${user.refresh_token}`;
    const page = await askRaw('/_auth/verify', '/_auth/verify', forwarded('staff.example.com', { 'sec-fetch-mode': 'navigate', cookie }).headers);
    expect(page.status).toBe(403);
    expect(page.headers['content-type']).toContain('text/html');
    expect((await ask('GET', '/_auth/verify', '/_auth/verify', forwarded('bad host!'))).status).toBe(400);
    expect((await ask('GET', '/_auth/verify', '/_auth/verify')).status).toBe(400);
  });

  it('the second step, TOTP on and off', async () => {
    const mine = await registerUser(gate);
    const bearer = mine.access_token;
    expect((await ask('POST', '/_auth/totp/enroll', '/_auth/totp/enroll', stranger())).status).toBe(401);
    expect((await ask('POST', '/_auth/totp/confirm', '/_auth/totp/confirm', { bearer, json: { code: '123456' } })).status).toBe(400);
    const enrolled = await ask('POST', '/_auth/totp/enroll', '/_auth/totp/enroll', { bearer });
    expect(enrolled.status).toBe(200);
    const secret = String(enrolled.json()['secret']);
    const codeNow = () => generate({ secret, epoch: Math.floor(gate.clock.now() / 1000) });
    const confirmed = await ask('POST', '/_auth/totp/confirm', '/_auth/totp/confirm', { bearer, json: { code: await codeNow() } });
    expect(confirmed.status).toBe(200);
    const recovery = (confirmed.json()['recovery_codes'] as string[])[0]!;

    const pending = async () => {
      const answer = await ask('POST', '/_auth/login', '/_auth/login', { json: { username: mine.username, password: PASSWORD }, headers: { 'x-forwarded-for': '198.19.8.1' } });
      return String(answer.json()['mfa_token']);
    };
    expect((await ask('POST', '/_auth/mfa/totp', '/_auth/mfa/totp', { json: { mfa_token: await pending(), code: '000000' === (await codeNow()) ? '000001' : '000000' } })).status).toBe(401);
    gate.clock.advance(60_000);
    expect((await ask('POST', '/_auth/mfa/totp', '/_auth/mfa/totp', { json: { mfa_token: await pending(), code: await codeNow() } })).status).toBe(200);
    expect((await ask('POST', '/_auth/mfa/recovery', '/_auth/mfa/recovery', { json: { mfa_token: await pending(), code: recovery } })).status).toBe(200);
    expect((await ask('POST', '/_auth/mfa/recovery', '/_auth/mfa/recovery', { json: { mfa_token: await pending(), code: recovery } })).status).toBe(401);

    const loginForm = await postForm(gate, '/_auth/login', { username: mine.username, password: PASSWORD });
    const mfaCookie = cookiesOf(loginForm)['gatehouse_mfa']!;
    expect((await ask('GET', '/_auth/mfa', '/_auth/mfa', { headers: { cookie: `gatehouse_mfa=${mfaCookie}` } })).status).toBe(200);
    expect((await ask('GET', '/_auth/mfa', '/_auth/mfa')).status).toBe(302);
    await unCanonical('/_auth/mfa');

    expect((await ask('POST', '/_auth/totp/disable', '/_auth/totp/disable', { bearer, json: { password: 'not my password' } })).status).toBe(401);
    expect((await ask('POST', '/_auth/totp/disable', '/_auth/totp/disable', { bearer, json: { password: PASSWORD } })).status).toBe(200);
  });

  it('mail links: forgot, reset, magic link, email confirmation', async () => {
    const email = `${uniqueName()}@example.com`;
    const mine = await registerUser(gate, uniqueName(), { email });
    const id = (await gate.services.store.findUserByLogin(mine.username))!.id;
    const issue = (kind: 'password_reset' | 'magic_link', data: string | null = null) => gate.services.oneTimeTokens.issue(kind, id, data, 60_000);

    expect((await ask('POST', '/_auth/password/forgot', '/_auth/password/forgot', { json: { email } })).status).toBe(202);
    expect((await ask('POST', '/_auth/password/forgot', '/_auth/password/forgot', stranger())).status).toBe(400);
    expect((await ask('POST', '/_auth/password/reset', '/_auth/password/reset', { json: { token: await issue('password_reset'), password: 'another long password' } })).status).toBe(200);
    expect((await ask('POST', '/_auth/password/reset', '/_auth/password/reset', { json: { token: 'used-or-made-up', password: 'another long password' } })).status).toBe(400);

    expect((await ask('POST', '/_auth/magic-link', '/_auth/magic-link', { json: { email, rd: '/' } })).status).toBe(202);
    expect((await ask('POST', '/_auth/magic-link', '/_auth/magic-link', { json: { email: 42 } })).status).toBe(400);
    const link = await issue('magic_link', '/');
    expect((await ask('GET', '/_auth/magic-link/verify', `/_auth/magic-link/verify?token=${link}`)).status).toBe(200);
    expect((await ask('GET', '/_auth/magic-link/verify', '/_auth/magic-link/verify?token=%3Cnot%3E')).status).toBe(400);
    expect((await ask('POST', '/_auth/magic-link/verify', '/_auth/magic-link/verify', { json: { token: link } })).status).toBe(200);
    expect((await ask('POST', '/_auth/magic-link/verify', '/_auth/magic-link/verify', { json: { token: link } })).status).toBe(400);

    const confirm = await gate.services.oneTimeTokens.replace('email_verify', id, email, 60_000);
    expect((await ask('GET', '/_auth/email/verify', `/_auth/email/verify?token=${confirm}`, { headers: { accept: 'application/json' } })).status).toBe(200);
    expect((await ask('GET', '/_auth/email/verify', `/_auth/email/verify?token=${confirm}`)).status).toBe(400);
  });

  it('passkeys: add, sign in, list, rename, remove', async () => {
    const mine = await registerUser(gate);
    const bearer = mine.access_token;
    const passkey = softPasskey(randomBytes(32), new URL(origin).hostname, origin);
    expect((await ask('POST', '/_auth/webauthn/register/options', '/_auth/webauthn/register/options', stranger())).status).toBe(401);
    const creation = await ask('POST', '/_auth/webauthn/register/options', '/_auth/webauthn/register/options', { bearer });
    expect(creation.status).toBe(200);
    const registration = passkey.registration(String(creation.json()['challenge']));
    expect((await ask('POST', '/_auth/webauthn/register/verify', '/_auth/webauthn/register/verify', { bearer, json: { response: { id: 'forged' } } })).status).toBe(400);
    expect((await ask('POST', '/_auth/webauthn/register/verify', '/_auth/webauthn/register/verify', { bearer, json: { response: registration, name: 'Key' } })).status).toBe(201);

    const request = await ask('POST', '/_auth/webauthn/login/options', '/_auth/webauthn/login/options', { json: {} });
    expect(request.status).toBe(200);
    const userHandle = Buffer.from((await gate.services.store.findUserByLogin(mine.username))!.id).toString('base64url');
    const assertion = passkey.assertion(String(request.json()['challenge']), userHandle);
    expect((await ask('POST', '/_auth/webauthn/login/verify', '/_auth/webauthn/login/verify', { json: { response: assertion } })).status).toBe(200);
    expect((await ask('POST', '/_auth/webauthn/login/verify', '/_auth/webauthn/login/verify', { json: { response: assertion } })).status).toBe(401);
    expect((await ask('POST', '/_auth/webauthn/login/options', '/_auth/webauthn/login/options', { body: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);

    const listed = await ask('GET', '/_auth/webauthn/credentials', '/_auth/webauthn/credentials', { bearer });
    expect(listed.status).toBe(200);
    expect((await ask('GET', '/_auth/webauthn/credentials', '/_auth/webauthn/credentials')).status).toBe(401);
    const credential = String((listed.json()['passkeys'] as { id: string }[])[0]!.id);
    const at = `/_auth/webauthn/credentials/${encodeURIComponent(credential)}`;
    expect((await ask('PATCH', '/_auth/webauthn/credentials/{id}', at, { bearer, json: { name: 'Renamed' } })).status).toBe(200);
    expect((await ask('PATCH', '/_auth/webauthn/credentials/{id}', '/_auth/webauthn/credentials/unknown', { bearer, json: { name: 'Renamed' } })).status).toBe(404);
    expect((await ask('DELETE', '/_auth/webauthn/credentials/{id}', at, { bearer })).status).toBe(200);
    expect((await ask('DELETE', '/_auth/webauthn/credentials/{id}', at, { bearer })).status).toBe(404);
  });

  it('the account: profile, password, sessions, deletion', async () => {
    const mine = await registerUser(gate);
    const bearer = mine.access_token;
    expect((await ask('PATCH', '/_auth/account', '/_auth/account', { bearer, json: { display_name: 'Ann' } })).status).toBe(200);
    expect((await ask('PATCH', '/_auth/account', '/_auth/account', { bearer, json: { display_name: 'A\u0007nn' } })).status).toBe(400);
    expect((await ask('POST', '/_auth/account/password', '/_auth/account/password', { bearer, json: { current_password: 'wrong password!', new_password: 'a new password 1' } })).status).toBe(401);
    const changed = await ask('POST', '/_auth/account/password', '/_auth/account/password', { bearer, json: { current_password: PASSWORD, new_password: 'a new password 1' } });
    expect(changed.status).toBe(200);
    const renewed = cookiesOf(changed.res);
    const other = (await ask('POST', '/_auth/login', '/_auth/login', { json: { username: mine.username, password: 'a new password 1' } })).json() as unknown as TokenBody;
    const cookie = cookieHeader(renewed);

    const listed = await ask('GET', '/_auth/account/sessions', '/_auth/account/sessions', { headers: { cookie } });
    expect(listed.status).toBe(200);
    expect((await ask('GET', '/_auth/account/sessions', '/_auth/account/sessions', { headers: { cookie: 'gatehouse_session=garbage' } })).status).toBe(401);
    const otherId = String((await (await fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${other.access_token}` } })).json())['session_id']);
    expect((await ask('DELETE', '/_auth/account/sessions/{id}', `/_auth/account/sessions/${otherId}`, { headers: { cookie } })).status).toBe(200);
    expect((await ask('DELETE', '/_auth/account/sessions/{id}', `/_auth/account/sessions/${otherId}`, { headers: { cookie } })).status).toBe(404);

    expect((await ask('DELETE', '/_auth/account', '/_auth/account', { headers: { cookie }, json: { password: PASSWORD } })).status).toBe(401);
    expect((await ask('DELETE', '/_auth/account', '/_auth/account', { headers: { cookie }, json: { password: 'a new password 1' } })).status).toBe(200);
  });

  it('administration: strangers and non-administrators are refused everywhere', async () => {
    const someone = await registerUser(gate);
    for (const route of routes.filter((candidate) => candidate.path.startsWith('/_auth/admin/'))) {
      const path = route.path.replace('{id}', 'someone').replace('{group}', 'team');
      const json = route.method === 'PATCH' ? { disabled: true } : undefined;
      expect((await ask(route.method, route.path, path, { json })).status, route.path).toBe(401);
      expect((await ask(route.method, route.path, path, { json, bearer: someone.access_token })).json()['error'], route.path).toBe('admin_required');
    }
  });

  it('administration: people and groups', async () => {
    // The first account of this gatehouse (beforeAll) is its administrator.
    const bearer = user.access_token;
    const adminId = (await gate.services.store.findUserByLogin(user.username))!.id;
    const someone = await registerUser(gate);
    const id = (await gate.services.store.findUserByLogin(someone.username))!.id;
    const at = `/_auth/admin/users/${id}`;
    const unknown = '/_auth/admin/users/no-such-user';

    expect((await ask('GET', '/_auth/admin/users', `/_auth/admin/users?query=${someone.username}&limit=1`, { bearer })).json()['users']).toHaveLength(1);
    expect((await ask('GET', '/_auth/admin/users', '/_auth/admin/users?limit=0', { bearer })).status).toBe(400);
    expect((await ask('GET', '/_auth/admin/users/{id}', at, { bearer })).status).toBe(200);
    expect((await ask('GET', '/_auth/admin/users/{id}', unknown, { bearer })).json()['error']).toBe('user_not_found');

    expect((await ask('PATCH', '/_auth/admin/users/{id}', at, { bearer, json: { disabled: true } })).json()['disabled']).toBe(true);
    expect((await ask('PATCH', '/_auth/admin/users/{id}', at, { bearer, json: { disabled: 'yes' } })).status).toBe(400);
    expect((await ask('PATCH', '/_auth/admin/users/{id}', `/_auth/admin/users/${adminId}`, { bearer, json: { disabled: true } })).json()['error']).toBe('last_admin');
    expect((await ask('PATCH', '/_auth/admin/users/{id}', at, { bearer, json: { disabled: false } })).status).toBe(200);

    expect((await ask('POST', '/_auth/admin/users/{id}/unban', `${at}/unban`, { bearer })).status).toBe(204);
    expect((await ask('POST', '/_auth/admin/users/{id}/unban', `${unknown}/unban`, { bearer })).status).toBe(404);
    expect((await ask('DELETE', '/_auth/admin/users/{id}/factors', `${at}/factors`, { bearer })).status).toBe(204);
    expect((await ask('DELETE', '/_auth/admin/users/{id}/factors', `${unknown}/factors`, { bearer })).status).toBe(404);

    expect((await ask('PUT', '/_auth/admin/users/{id}/groups/{group}', `${at}/groups/team`, { bearer })).status).toBe(204);
    expect((await ask('PUT', '/_auth/admin/users/{id}/groups/{group}', `${at}/groups/no%20spaces`, { bearer })).json()['error']).toBe('invalid_field');
    expect((await ask('DELETE', '/_auth/admin/users/{id}/groups/{group}', `${at}/groups/team`, { bearer })).status).toBe(204);
    expect((await ask('DELETE', '/_auth/admin/users/{id}/groups/{group}', `/_auth/admin/users/${adminId}/groups/admins`, { bearer })).json()['error']).toBe('last_admin');
    expect((await ask('GET', '/_auth/admin/groups', '/_auth/admin/groups?limit=200', { bearer })).json()['groups']).toContainEqual({ name: 'admins', members: 1 });
    expect((await ask('GET', '/_auth/admin/groups', '/_auth/admin/groups?cursor=%25', { bearer })).status).toBe(400);

    const added = await ask('POST', '/_auth/admin/users', '/_auth/admin/users', { bearer, json: { username: uniqueName(), email: `${uniqueName()}@example.com`, groups: ['team'] } });
    expect(added.status).toBe(201);
    expect(added.json()['invite']).toBeDefined();
    expect((await ask('POST', '/_auth/admin/users', '/_auth/admin/users', { bearer, json: { username: someone.username, password: PASSWORD } })).json()['error']).toBe('username_taken');
    expect((await ask('POST', '/_auth/admin/users', '/_auth/admin/users', { bearer, body: new URLSearchParams({ username: uniqueName() }), headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(415);

    expect((await ask('DELETE', '/_auth/admin/users/{id}', at, { bearer })).status).toBe(204);
    expect((await ask('DELETE', '/_auth/admin/users/{id}', at, { bearer })).json()['error']).toBe('user_not_found');
    expect((await ask('DELETE', '/_auth/admin/users/{id}', `/_auth/admin/users/${adminId}`, { bearer })).json()['error']).toBe('last_admin');
  });

  it('administration: sessions, invitations, the audit log; registering with an invitation', async () => {
    const bearer = user.access_token;
    const someone = await registerUser(gate);
    const id = (await gate.services.store.findUserByLogin(someone.username))!.id;
    const sessionId = String((await (await fetch(`${gate.url}/_auth/userinfo`, { headers: { authorization: `Bearer ${someone.access_token}` } })).json())['session_id']);

    expect((await ask('GET', '/_auth/admin/users/{id}', `/_auth/admin/users/${id}`, { bearer })).json()['sessions']).toHaveLength(1);
    expect((await ask('GET', '/_auth/admin/sessions', `/_auth/admin/sessions?user=${id}`, { bearer })).json()['sessions']).toEqual([expect.objectContaining({ id: sessionId })]);
    expect((await ask('GET', '/_auth/admin/sessions', '/_auth/admin/sessions?user=no-such-user', { bearer })).json()['error']).toBe('user_not_found');
    expect((await ask('DELETE', '/_auth/admin/sessions/{id}', `/_auth/admin/sessions/${sessionId}`, { bearer })).status).toBe(204);
    expect((await ask('DELETE', '/_auth/admin/sessions/{id}', `/_auth/admin/sessions/${sessionId}`, { bearer })).json()['error']).toBe('session_not_found');

    const invited = await ask('POST', '/_auth/admin/invites', '/_auth/admin/invites', { bearer, json: { groups: ['team'], ttl: '1d' } });
    expect(invited.status).toBe(201);
    expect((await ask('POST', '/_auth/admin/invites', '/_auth/admin/invites', { bearer, json: { ttl: '1y' } })).json()['error']).toBe('invalid_field');
    const invite = new URL(String(invited.json()['url'])).searchParams.get('invite')!;
    expect((await ask('GET', '/_auth/register', `/_auth/register?invite=${invite}`)).status).toBe(200);
    expect((await ask('GET', '/_auth/register', '/_auth/register?invite=no-such-invite')).status).toBe(403);
    const registration = { username: uniqueName(), password: PASSWORD, invite };
    expect((await ask('POST', '/_auth/register', '/_auth/register', { json: registration })).status).toBe(201);
    expect((await ask('POST', '/_auth/register', '/_auth/register', { json: { ...registration, username: uniqueName() } })).json()['error']).toBe('invite_invalid');

    const events = await ask('GET', '/_auth/admin/audit', '/_auth/admin/audit?type=session_revoked&since=1h&limit=5', { bearer });
    expect(events.json()['events']).toContainEqual(expect.objectContaining({ type: 'session_revoked', user: { id, username: someone.username } }));
    expect((await ask('GET', '/_auth/admin/audit', '/_auth/admin/audit', { bearer })).json()['events']).not.toHaveLength(0);
    expect((await ask('GET', '/_auth/admin/audit', '/_auth/admin/audit?since=yesterday', { bearer })).status).toBe(400);
  });

  it('the admin page and its forms', async () => {
    const bearer = user.access_token;
    const someone = await registerUser(gate);
    const id = (await gate.services.store.findUserByLogin(someone.username))!.id;
    expect((await ask('GET', '/_auth/admin', `/_auth/admin?user=${id}&query=a&notice=enabled`, { bearer })).status).toBe(200);
    expect((await ask('GET', '/_auth/admin', '/_auth/admin')).status).toBe(302);
    expect((await ask('GET', '/_auth/admin', '/_auth/admin', { bearer: someone.access_token })).status).toBe(403);
    expect((await ask('GET', '/_auth/admin', '/_auth/admin?group=no%20spaces', { bearer })).json()['error']).toBe('invalid_field');
    await unCanonical('/_auth/admin');

    const { cookie, token } = await formCsrf(gate);
    const form = (fields: Record<string, string>, who = bearer) => ({ bearer: who, body: new URLSearchParams({ csrf: token, ...fields }), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie } });
    const done = await ask('POST', '/_auth/admin', '/_auth/admin', form({ action: 'add_group', user: id, group: 'team' }));
    expect(done.res.headers.get('location')).toBe(`/_auth/admin?user=${id}&notice=group_added`);
    expect((await ask('POST', '/_auth/admin', '/_auth/admin', form({ action: 'unban', user: 'no-such-user' }))).res.headers.get('location')).toBe('/_auth/admin?user=no-such-user&error=user_not_found');
    expect((await ask('POST', '/_auth/admin', '/_auth/admin', form({ action: 'invite', groups: 'team' }))).status).toBe(200);
    expect((await ask('POST', '/_auth/admin', '/_auth/admin', form({ user: id }))).json()['error']).toBe('missing_field');
    expect((await ask('POST', '/_auth/admin', '/_auth/admin', form({ action: 'unban', user: id, csrf: 'forged' }))).json()['error']).toBe('csrf_failed');
    expect((await ask('POST', '/_auth/admin', '/_auth/admin', { bearer, json: { action: 'unban', user: id } })).status).toBe(415);
    // Not `someone`: the group change above stopped trusting their tokens minted before it.
    const member = await registerUser(gate);
    expect((await ask('POST', '/_auth/admin', '/_auth/admin', form({ action: 'unban', user: id }, member.access_token))).json()['error']).toBe('admin_required');
    expect((await ask('POST', '/_auth/admin', '/_auth/admin', { body: new URLSearchParams({ csrf: token, action: 'unban', user: id }), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie } })).status).toBe(401);
  });

  describe('signing in with another provider', () => {
    let setup: { gate: TestGatehouse; idp: TestIdp };
    const askIt = asker(() => setup.gate.url);
    const documented = async (template: string, res: Response) => {
      expectDocumented('GET', template, await liveAnswer(res));
      return res;
    };
    const callbackOf = (url: string) => url.startsWith(`${setup.gate.url}/_auth/oidc/idp/callback`);

    beforeAll(async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const idp = await startTestIdp({ gatehouseUrl: url, accounts: { alice: { email: 'alice@example.com', email_verified: true, preferred_username: 'alice' }, bob: { preferred_username: 'bob' } } });
      process.env['GATEHOUSE_OPENAPI_IDP_SECRET'] = idp.clientSecret;
      const provider = { id: 'idp', name: 'Test Provider', issuer: idp.issuer, insecure_http: true, client_id: idp.clientId, client_secret_env: 'GATEHOUSE_OPENAPI_IDP_SECRET' };
      setup = { gate: await startTestGatehouse({ listen: `127.0.0.1:${port}`, public_url: url, registration: 'open', oidc_providers: [provider] }), idp };
      await registerUser(setup.gate, 'first-admin');
    });
    afterAll(async () => {
      await setup?.gate.close();
      await setup?.idp.close();
    });

    it('start, callback, linked providers, back-channel logout', async () => {
      const { gate } = setup;
      const jar = new CookieJar();
      const start = await documented('/_auth/oidc/{id}/start', await browse(jar, `${gate.url}/_auth/oidc/idp/start?rd=/after`));
      expect(start.status).toBe(302);
      expect((await askIt('GET', '/_auth/oidc/{id}/start', '/_auth/oidc/nobody/start', { headers: { accept: 'text/html' } })).status).toBe(404);
      const callback = await passProviderPages(jar, start.headers.get('location')!, 'alice', callbackOf);
      expect((await documented('/_auth/oidc/{id}/callback', await browse(jar, callback))).status).toBe(303);
      expect((await askIt('GET', '/_auth/oidc/{id}/callback', '/_auth/oidc/idp/callback?code=made-up')).status).toBe(400);

      const cookie = jar.header(gate.url);
      expect((await askIt('GET', '/_auth/account/oidc', '/_auth/account/oidc', { headers: { cookie } })).json()['identities']).toEqual([expect.objectContaining({ provider: 'idp' })]);
      expect((await askIt('GET', '/_auth/account/oidc', '/_auth/account/oidc')).status).toBe(401);
      // A provider-made account has no password: its only way in stays.
      expect((await askIt('DELETE', '/_auth/account/oidc/{id}', '/_auth/account/oidc/idp', { headers: { cookie } })).json()['error']).toBe('oidc_last_sign_in_method');

      // Linking, from an account with a password signed in just now: the callback of a link, then unlinking.
      const local = await registerUser(gate);
      const mine = new CookieJar();
      mine.store(gate.url, await postJson(`${gate.url}/_auth/login`, { username: local.username, password: PASSWORD }));
      const accountPage = await (await browse(mine, `${gate.url}/_auth/account`)).text();
      const csrf = /name="csrf" value="([^"]+)"/.exec(accountPage)![1]!;
      const link = await browse(mine, `${gate.url}/_auth/oidc/idp/link`, { csrf });
      expectDocumented('POST', '/_auth/oidc/{id}/link', await liveAnswer(link.clone()));
      expect(link.status).toBe(303);
      const forged = { body: new URLSearchParams({ csrf: 'x'.repeat(32) }), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: mine.header(gate.url) } };
      expect((await askIt('POST', '/_auth/oidc/{id}/link', '/_auth/oidc/idp/link', forged)).json()['error']).toBe('csrf_failed');
      expect((await documented('/_auth/oidc/{id}/start', await browse(mine, `${gate.url}/_auth/oidc/idp/start?link=1`))).status).toBe(400);
      const linkCallback = await passProviderPages(mine, link.headers.get('location')!, 'bob', callbackOf);
      expect((await documented('/_auth/oidc/{id}/callback', await browse(mine, linkCallback))).status).toBe(303);
      expect((await askIt('DELETE', '/_auth/account/oidc/{id}', '/_auth/account/oidc/idp', { headers: { cookie: mine.header(gate.url) } })).status).toBe(200);
      expect((await askIt('DELETE', '/_auth/account/oidc/{id}', '/_auth/account/oidc/idp', { headers: { cookie: mine.header(gate.url) } })).status).toBe(404);

      // The provider posts the logout token itself: its answer is read on the way back.
      const answers: LiveAnswer[] = [];
      const realFetch = globalThis.fetch;
      const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
        const res = await realFetch(input, init);
        if (String(input).endsWith('/_auth/oidc/backchannel-logout')) answers.push(await liveAnswer(res.clone()));
        return res;
      });
      try {
        await setup.idp.backchannelLogout('alice', 'some-provider-session');
      } finally {
        spy.mockRestore();
      }
      expect(answers.map((answer) => answer.status)).toEqual([200]);
      expectDocumented('POST', '/_auth/oidc/backchannel-logout', answers[0]!);
      const form = { body: new URLSearchParams({ logout_token: 'not-a-jwt' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
      expect((await askIt('POST', '/_auth/oidc/backchannel-logout', '/_auth/oidc/backchannel-logout', form)).json()['error']).toBe('oidc_logout_token_invalid');
      expect((await askIt('POST', '/_auth/oidc/backchannel-logout', '/_auth/oidc/backchannel-logout', { json: {} })).json()['error']).toBe('missing_field');
    });
  });

  it('checked a success and an error of every operation', () => {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(apiDocument.paths)) {
      for (const method of Object.keys(item)) {
        const statuses = [...checked].filter((entry) => entry.startsWith(`${method.toUpperCase()} ${path} `)).map((entry) => Number(entry.split(' ')[2]));
        if (!statuses.some((s) => s < 400)) missing.push(`${method.toUpperCase()} ${path}: a success`);
        if (!statuses.some((s) => s >= 400)) missing.push(`${method.toUpperCase()} ${path}: an error`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('checking a live answer against the document', () => {
  it('fails on a status the document does not list', () => {
    expect(() => expectDocumented('GET', '/_auth/userinfo', { status: 418, contentType: 'application/json', body: '{}' })).toThrow(/418, which is not documented/);
  });

  it('fails on an error code the operation does not list', () => {
    const body = JSON.stringify({ error: 'registration_closed', message: 'x' });
    expect(() => expectDocumented('POST', '/_auth/login', { status: 403, contentType: 'application/json', body })).toThrow(/must be equal to one of the allowed values/);
  });

  it('fails on a field the answer does not document', () => {
    const body = JSON.stringify({ status: 'ended', secret: 'x' });
    expect(() => expectDocumented('DELETE', '/_auth/account/sessions/{id}', { status: 200, contentType: 'application/json', body })).toThrow(/additional properties/);
  });
});
