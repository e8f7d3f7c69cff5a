/** `oidc_providers` (SPEC section 12): presets, secrets kept out of sight, and one clear line per problem. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { redactedConfig, validateConfig, type RawSettings } from '../../src/config.js';
import { githubEndpoints, microsoftIssuer } from '../../src/oidc/presets.js';

const SECRET = 's3cret-value-never-shown';
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-oidc-settings-'));
const secretFile = join(dir, 'secret');
writeFileSync(secretFile, `${SECRET}\n`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => vi.stubEnv('TEST_IDP_SECRET', SECRET));
afterEach(() => vi.unstubAllEnvs());

const validate = (providers: unknown) => validateConfig(new Map([['oidc_providers', { value: providers, source: 'gatehouse.yaml' }]]) as RawSettings);
const base = { id: 'corp', issuer: 'https://idp.example.com', client_id: 'gatehouse', client_secret_env: 'TEST_IDP_SECRET' };

describe('the presets', () => {
  it.each([
    ['google', {}, { issuer: 'https://accounts.google.com', name: 'Google', scopes: ['openid', 'email', 'profile'] }],
    ['gitlab', {}, { issuer: 'https://gitlab.com', name: 'GitLab' }],
    ['gitlab', { issuer: 'https://gitlab.example.com' }, { issuer: 'https://gitlab.example.com' }],
    ['microsoft', { tenant: '72f988bf-86f1-41af-91ab-2d7cd011db47' }, { issuer: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0' }],
    ['microsoft', { tenant: 'organizations' }, { issuer: 'https://login.microsoftonline.com/organizations/v2.0', name: 'Microsoft' }],
  ])('knows where %s is (%j)', (preset, extra, expected) => {
    const { config, errors } = validate([{ ...base, issuer: undefined, preset, ...extra }]);
    expect(errors).toEqual([]);
    expect(config!.oidc_providers[0]).toMatchObject(expected);
  });

  it('signs in with GitHub through OAuth 2 and its APIs, on github.com or an Enterprise Server', () => {
    expect(githubEndpoints()).toEqual({
      authorization: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      user: 'https://api.github.com/user',
      emails: 'https://api.github.com/user/emails',
    });
    const { config } = validate([{ ...base, issuer: undefined, preset: 'github', github_url: 'https://ghe.example.com', github_api_url: 'https://ghe.example.com/api/v3' }]);
    const github = config!.oidc_providers[0]!;
    expect(github).toMatchObject({ name: 'GitHub', scopes: ['read:user', 'user:email'], github: githubEndpoints('https://ghe.example.com', 'https://ghe.example.com/api/v3') });
    expect(github.issuer).toBeUndefined();
  });

  it('puts the tenant into the Microsoft issuer', () => {
    expect(microsoftIssuer('contoso.onmicrosoft.com')).toBe('https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0');
  });
});

describe('a provider', () => {
  it('reads its secret from the environment or a file, and never shows it', () => {
    const { config, errors } = validate([base, { ...base, id: 'second', client_secret_env: undefined, client_secret_file: secretFile }]);
    expect(errors).toEqual([]);
    expect(config!.oidc_providers.map((provider) => provider.clientSecret)).toEqual([SECRET, SECRET]);
    const shown = stringify(redactedConfig(config!)) + JSON.stringify(config) + JSON.stringify(redactedConfig(config!));
    expect(shown).toContain('TEST_IDP_SECRET');
    expect(shown).not.toContain(SECRET);
  });

  it('takes the defaults: button text from the id, OpenID scopes, no limits, no local second factor', () => {
    const { config } = validate([base]);
    expect(config!.oidc_providers[0]).toEqual({
      id: 'corp',
      name: 'corp',
      issuer: 'https://idp.example.com',
      client_id: 'gatehouse',
      client_secret_env: 'TEST_IDP_SECRET',
      scopes: ['openid', 'email', 'profile'],
      allowed_domains: [],
      allowed_groups: [],
      require_local_mfa: false,
      insecure_http: false,
    });
  });

  it('takes an http: issuer only with insecure_http', () => {
    expect(validate([{ ...base, issuer: 'http://127.0.0.1:9000', insecure_http: true }]).errors).toEqual([]);
  });

  it('reads group mapping, a dotted groups claim and its limits', () => {
    const { config } = validate([
      { ...base, groups_claim: 'realm_access.roles', group_map: { 'idp-admins': 'admins' }, allowed_groups: ['staff'], allowed_domains: ['Example.COM'], auto_register: false },
    ]);
    expect(config!.oidc_providers[0]).toMatchObject({
      groups_claim: 'realm_access.roles',
      group_map: { 'idp-admins': 'admins' },
      allowed_groups: ['staff'],
      allowed_domains: ['example.com'],
      auto_register: false,
    });
  });

  // [what is wrong, the entries, a line the error must contain]
  const bad: [string, unknown, string][] = [
    ['not a list', { id: 'x' }, 'oidc_providers: not a list; expected a list of providers'],
    ['an id with capitals', [{ ...base, id: 'Corp' }], 'oidc_providers[0]: id: "Corp" is not valid; expected 1 to 40 of a-z, 0-9 and -'],
    ['no id', [{ ...base, id: undefined }], 'oidc_providers[0]: id: required'],
    ['the same id twice', [base, base], 'oidc_providers[1] (corp): id: corp is used by an earlier provider'],
    ['an unknown preset', [{ ...base, issuer: undefined, preset: 'facebook' }], 'oidc_providers[0] (corp): preset: "facebook" is not valid; expected one of google, microsoft, gitlab, github'],
    ['neither preset nor issuer', [{ ...base, issuer: undefined }], 'oidc_providers[0] (corp): preset or issuer: one is required'],
    ['an http: issuer', [{ ...base, issuer: 'http://idp.example.com' }], 'oidc_providers[0] (corp): issuer: "http://idp.example.com" is not valid; expected an https:// URL (http:// only with insecure_http: true)'],
    ['a misspelt key', [{ ...base, client_secert_env: 'X' }], 'oidc_providers[0] (corp): unknown setting `client_secert_env`; did you mean `client_secret_env`?'],
    ['a secret in the file', [{ ...base, client_secret: 'x' }], 'oidc_providers[0] (corp): client_secret: not read from the YAML file; use client_secret_env or client_secret_file'],
    ['no secret', [{ ...base, client_secret_env: undefined }], 'oidc_providers[0] (corp): client_secret_env or client_secret_file: required'],
    ['an unset variable', [{ ...base, client_secret_env: 'TEST_IDP_UNSET' }], 'oidc_providers[0] (corp): client_secret_env: the environment variable TEST_IDP_UNSET is not set or empty'],
    ['an unreadable file', [{ ...base, client_secret_env: undefined, client_secret_file: join(dir, 'missing') }], `client_secret_file: cannot read ${join(dir, 'missing')} (ENOENT)`],
    ['both secrets', [{ ...base, client_secret_file: secretFile }], 'client_secret_env and client_secret_file: set one, not both'],
    ['no client_id', [{ ...base, client_id: undefined }], 'oidc_providers[0] (corp): client_id: required'],
    ['no openid scope', [{ ...base, scopes: ['email'] }], 'oidc_providers[0] (corp): scopes: must include openid'],
    ['microsoft without tenant', [{ ...base, issuer: undefined, preset: 'microsoft' }], 'oidc_providers[0] (corp): tenant: required with preset microsoft'],
    ['a tenant elsewhere', [{ ...base, tenant: 'x' }], 'oidc_providers[0] (corp): tenant: only for preset microsoft'],
    ['an issuer with google', [{ ...base, preset: 'google' }], 'oidc_providers[0] (corp): issuer: not with preset google'],
    ['a group map without claim', [{ ...base, group_map: { a: 'b' } }], 'oidc_providers[0] (corp): group_map: needs groups_claim'],
    ['a bad domain', [{ ...base, allowed_domains: ['*.example.com'] }], 'oidc_providers[0] (corp): allowed_domains: ["*.example.com"] is not valid'],
  ];
  it.each(bad)('is refused with a clear line for %s', (_what, providers, line) => {
    const { config, errors } = validate(providers);
    expect(config).toBeUndefined();
    expect(errors.join('\n')).toContain(line);
    expect(errors.join('\n')).not.toContain(SECRET);
  });

  it('reports every problem of every entry at once, naming where it came from', () => {
    const { errors } = validate([{ ...base, id: 'UPPER', client_id: undefined }, { ...base, id: 'ok', issuer: 'ftp://x' }]);
    expect(errors).toEqual([
      'oidc_providers[0]: id: "UPPER" is not valid; expected 1 to 40 of a-z, 0-9 and - (from gatehouse.yaml)',
      'oidc_providers[0]: client_id: required (from gatehouse.yaml)',
      'oidc_providers[1] (ok): issuer: "ftp://x" is not valid; expected an https:// URL (http:// only with insecure_http: true) (from gatehouse.yaml)',
    ]);
  });
});
