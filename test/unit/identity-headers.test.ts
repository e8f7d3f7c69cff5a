import { describe, expect, it } from 'vitest';
import { IDENTITY_HEADERS, identityHeaders, MIGRATION_HEADERS, strippedHeaders } from '../../src/auth/identity-headers.js';
import type { AccessClaims } from '../../src/auth/tokens.js';

const claims = (overrides: Partial<AccessClaims> = {}): AccessClaims => ({
  sub: 'u-123',
  sid: 's-456',
  username: 'alice',
  email: 'alice@example.com',
  email_verified: true,
  groups: ['admins', 'ops'],
  iat: 1_700_000_000,
  exp: 1_700_000_300,
  jti: 'j-789',
  ...overrides,
});

describe('strippedHeaders with the x-auth preset and the migration headers', () => {
  const stripped = strippedHeaders('x-auth', MIGRATION_HEADERS);

  it.each([
    'x-auth-user',
    'X-Auth-User',
    'X-AUTH-USER',
    'x-AuTh-UsEr',
    'X_Auth_User',
    'x.auth.user',
    'x-auth_user',
    'X-AUTH-USER-ID',
    'x_auth_user_id',
    'x-auth-email',
    'X.Auth.Email',
    'x-auth-groups',
    'X_AUTH_GROUPS',
    'X-Forwarded-User',
    'x_forwarded_user',
    'X-Forwarded-Email',
    'X-Forwarded-Groups',
    'X-Forwarded-Preferred-Username',
    'x-forwarded-access-token',
    'X-Auth-Request-User',
    'X-Auth-Request-Anything',
    'x_auth_request_email',
    'Remote-User',
    'remote_email',
    'REMOTE-GROUPS',
    'remote.name',
    'X-Forwarded-For',
    'x_forwarded_for',
    'x-forwarded-proto',
    'X-Forwarded-Host',
    'X-Forwarded-Anything',
    'Connection',
    'keep-alive',
    'Transfer-Encoding',
    'upgrade',
    'proxy-authorization',
    'X-HTTP-Method-Override',
    'x_http_method_override',
    'X.Http.Method.Override',
    'X-HTTP-Method',
    'x_http_method',
    'X-Method-Override',
    'X_METHOD_OVERRIDE',
  ])('strips %s', (name) => {
    expect(stripped(name)).toBe(true);
  });

  it.each([
    'accept',
    'cookie',
    'x-request-id',
    'authorization',
    'x-authx',
    'x-auth',
    'x-auth-userx',
    'x-auth-user-idx',
    'x-forwardedx',
    'forwarded-for',
    'user-agent',
    'remotely',
    'x-http-method-overridex',
    'x-method',
  ])('keeps %s', (name) => {
    expect(stripped(name)).toBe(false);
  });

  it('gives the same answer for a name it has already seen', () => {
    expect(stripped('X-Auth-User')).toBe(true);
    expect(stripped('X-Auth-User')).toBe(true);
    expect(stripped('accept')).toBe(false);
    expect(stripped('accept')).toBe(false);
  });
});

describe('strippedHeaders with the remote preset', () => {
  const stripped = strippedHeaders('remote', []);

  it.each(['Remote-User', 'remote_user_id', 'REMOTE-EMAIL', 'remote.groups', 'Remote-Name', 'X-Auth-User', 'x_auth_groups'])(
    'strips %s, since gatehouse could set it',
    (name) => {
      expect(stripped(name)).toBe(true);
    },
  );

  it('keeps an unrelated header', () => {
    expect(stripped('x-request-id')).toBe(false);
  });
});

describe('identityHeaders', () => {
  it.each(['x-auth', 'remote'] as const)('returns every %s header, each empty, when nobody is signed in', (preset) => {
    const headers = identityHeaders(preset, undefined);
    const names = Object.values(IDENTITY_HEADERS[preset]);
    expect(headers.map(([name]) => name).sort()).toEqual([...names].sort());
    for (const [, value] of headers) expect(value).toBe('');
  });

  it('sets the x-auth headers from the claims', () => {
    expect(Object.fromEntries(identityHeaders('x-auth', claims()))).toEqual({
      'x-auth-user': 'alice',
      'x-auth-user-id': 'u-123',
      'x-auth-email': 'alice@example.com',
      'x-auth-groups': 'admins,ops',
    });
  });

  it('sets Remote-User, -User-Id, -Email, -Groups and -Name with the remote preset', () => {
    expect(Object.fromEntries(identityHeaders('remote', claims()))).toEqual({
      'remote-user': 'alice',
      'remote-user-id': 'u-123',
      'remote-email': 'alice@example.com',
      'remote-groups': 'admins,ops',
      'remote-name': 'alice',
    });
  });

  it('answers each preset for the same claims object, which the token cache hands out again and again', () => {
    const same = claims();
    expect(identityHeaders('x-auth', same).map(([name]) => name)).toContain('x-auth-user');
    expect(identityHeaders('remote', same).map(([name]) => name)).toContain('remote-user');
    expect(Object.fromEntries(identityHeaders('x-auth', same))['x-auth-user']).toBe('alice');
    const other = claims({ username: 'bob' });
    expect(Object.fromEntries(identityHeaders('x-auth', other))['x-auth-user']).toBe('bob');
  });

  it.each([
    ['the token says the address is unconfirmed', { email_verified: false }],
    ['the token predates the email_verified claim', { email_verified: undefined }],
  ])('sends an empty email when %s, whatever address the token names', (_when, overrides) => {
    for (const preset of ['x-auth', 'remote'] as const) {
      const headers = Object.fromEntries(identityHeaders(preset, claims(overrides)));
      expect(headers[IDENTITY_HEADERS[preset].email]).toBe('');
      expect(headers[IDENTITY_HEADERS[preset].id]).toBe('u-123');
    }
  });

  it('sends an empty email and groups for a user without them', () => {
    const headers = Object.fromEntries(identityHeaders('x-auth', claims({ email: null, groups: [] })));
    expect(headers['x-auth-email']).toBe('');
    expect(headers['x-auth-groups']).toBe('');
  });

  it.each([
    ['a Latin-1 letter', 'josé', 'jos%C3%A9'],
    ['Cyrillic', 'иван', '%D0%B8%D0%B2%D0%B0%D0%BD'],
    ['CJK', '山田', '%E5%B1%B1%E7%94%B0'],
    ['an emoji', 'a😀', 'a%F0%9F%98%80'],
  ])('percent-encodes a username in %s, never sending it raw', (_what, username, encoded) => {
    for (const preset of ['x-auth', 'remote'] as const) {
      const headers = identityHeaders(preset, claims({ username }));
      const user = Object.fromEntries(headers)[IDENTITY_HEADERS[preset].user];
      expect(user).toBe(encoded);
      expect(decodeURIComponent(user!)).toBe(username);
      for (const [, value] of headers) expect(value).toMatch(/^[\x20-\x7e]*$/);
    }
  });

  it('percent-encodes a non-ASCII email address', () => {
    const email = Object.fromEntries(identityHeaders('x-auth', claims({ email: 'jösé@example.com' })))['x-auth-email']!;
    expect(email).toMatch(/^[\x20-\x7e]*$/);
    expect(decodeURIComponent(email)).toBe('jösé@example.com');
  });

  it('keeps the commas between groups when a group name needs percent-encoding', () => {
    // X-Auth-Groups is comma-separated (SPEC section 5): an upstream splits on ',' and
    // then decodes each name; encoding the separators too would merge every group into one.
    const groups = Object.fromEntries(identityHeaders('x-auth', claims({ groups: ['admins', 'grün'] })))['x-auth-groups']!;
    expect(groups).toMatch(/^[\x20-\x7e]*$/);
    expect(groups.split(',').map(decodeURIComponent)).toEqual(['admins', 'grün']);
  });
});
