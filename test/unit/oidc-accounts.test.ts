/** The pure decisions of a provider sign-in: groups from claims, their merge with local ones, usernames, who may register. */
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { claimAt, grantedGroups, groupsOverage, mayRegister, mergeGroups, refusedGroupValues, usernameFrom } from '../../src/oidc/accounts.js';
import type { ProviderAnswer } from '../../src/oidc/client.js';
import type { OidcProvider } from '../../src/oidc/settings.js';

const provider = (settings: Partial<OidcProvider> = {}) => ({ id: 'idp', allowed_domains: [], allowed_groups: [], ...settings }) as OidcProvider;
const answer = (verifiedEmail: string | null): ProviderAnswer => ({ issuer: 'https://idp', subject: 's', email: verifiedEmail, verifiedEmail, username: null, claims: {}, sid: null });

describe('groups from the claims', () => {
  const claims = { groups: ['dev', 'ops', 7, ''], realm_access: { roles: ['admin', 'viewer'] }, role: 'single' };

  it.each([
    ['groups', ['dev', 'ops', 7, '']],
    ['realm_access.roles', ['admin', 'viewer']],
    ['realm_access.missing', undefined],
    ['groups.length', undefined],
    ['__proto__', undefined],
  ])('reads the dotted path %s', (path, expected) => {
    expect(claimAt(claims, path)).toEqual(expected);
  });

  it('maps claim values through group_map and drops the values it does not name', () => {
    expect(grantedGroups(provider({ groups_claim: 'groups', group_map: { dev: 'developers', ops: 'developers' } }), claims)).toEqual(['developers']);
  });

  it('takes the string values as they are without a group_map, but never admins', () => {
    expect(grantedGroups(provider({ groups_claim: 'groups' }), { groups: ['dev', 'admins', 3] })).toEqual(['dev']);
    expect(grantedGroups(provider({ groups_claim: 'role' }), claims)).toEqual(['single']);
  });

  it.each([
    ['a leading space', ' admins'],
    ['another spelling of admins', 'Admins'],
    ['admins in capitals', 'ADMINS'],
    ['a slash', '/x'],
    ['a space inside', 'a b'],
    ['a comma (X-Auth-Groups joins with ", ")', 'a,b'],
    ['a line break', 'dev\n'],
    ['a dot segment', '..'],
    ['more than 64 characters', 'g'.repeat(65)],
    ['a letter outside A-Z', 'Ωmega'],
  ])('drops a value with %s without a group_map, and names it for the log', (_what, value) => {
    const claims = { groups: [value, 'ops.eu-1_a'] };
    expect(grantedGroups(provider({ groups_claim: 'groups' }), claims)).toEqual(['ops.eu-1_a']);
    expect(refusedGroupValues(provider({ groups_claim: 'groups' }), claims)).toEqual([value]);
  });

  it('names nothing for the log with a group_map (values it does not name are dropped by design)', () => {
    expect(refusedGroupValues(provider({ groups_claim: 'groups', group_map: { dev: 'developers' } }), { groups: [' admins', 'dev'] })).toEqual([]);
  });

  it('grants admins only through an explicit group_map entry', () => {
    expect(grantedGroups(provider({ groups_claim: 'realm_access.roles', group_map: { admin: 'admins' } }), claims)).toEqual(['admins']);
  });

  it('grants nothing without groups_claim', () => {
    expect(grantedGroups(provider(), claims)).toEqual([]);
  });

  it('notices Entra ID leaving the groups out (the overage claim)', () => {
    expect(groupsOverage({ _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/…' } } })).toBe(true);
    expect(groupsOverage({ groups: ['a'] })).toBe(false);
  });
});

describe('the account\'s groups after a sign-in', () => {
  it.each([
    ['adds what the provider grants to the local groups', ['admins'], [], ['dev'], ['admins', 'dev'], ['dev']],
    ['replaces what it granted last time', ['admins', 'dev'], ['dev'], ['ops'], ['admins', 'ops'], ['ops']],
    ['removes what it no longer grants', ['dev', 'ops'], ['dev', 'ops'], [], [], []],
    ['keeps a group set locally that it also grants, and does not claim it', ['dev'], [], ['dev'], ['dev'], []],
    ['keeps that local group when it stops granting it', ['dev'], [], [], ['dev'], []],
  ])('%s', (_what, current, previous, granted, groups, added) => {
    expect(mergeGroups(granted)(current, previous)).toEqual({ groups, added });
  });
});

describe('usernames from the provider', () => {
  it.each([
    ['alice', 'alice'],
    ['Alice Smith', 'Alice-Smith'],
    ['josé.garcía', 'josé.garcía'],
    ['  --weird@@name--  ', 'weird-name'],
    ['@@@', 'user'],
    [null, 'user'],
    ['x'.repeat(100), 'x'.repeat(56)],
  ])('makes %j into %j', (name, expected) => {
    expect(usernameFrom(name)).toBe(expected);
  });
});

describe('who a first sign-in may register', () => {
  const config = (registration: 'open' | 'closed', domains: string[] = []) => ({ registration, registration_domains: domains }) as unknown as Config;
  it.each([
    ['open registration', config('open'), provider(), null, true],
    ['closed registration', config('closed'), provider(), 'a@example.com', false],
    ['auto_register over closed registration', config('closed'), provider({ auto_register: true }), null, true],
    ['auto_register off over open registration', config('open'), provider({ auto_register: false }), 'a@example.com', false],
    ['registration_domains with a verified address in them', config('open', ['example.com']), provider(), 'a@example.com', true],
    ['registration_domains with an address elsewhere', config('open', ['example.com']), provider(), 'a@other.org', false],
    ['registration_domains without a verified address', config('open', ['example.com']), provider(), null, false],
  ])('follows %s', (_what, settings, idp, email, expected) => {
    expect(mayRegister(settings, idp, answer(email))).toBe(expected);
  });
});
