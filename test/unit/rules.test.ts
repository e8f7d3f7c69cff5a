import { describe, expect, it } from 'vitest';
import type { AccessRule } from '../../src/config.js';
import { judgedHost } from '../../src/auth/hosts.js';
import { compileRules, groupsAllow, type RuleMatcher, type Verdict } from '../../src/auth/rules.js';

/**
 * The policy that decides a request; host and method default to an ordinary GET. The
 * host is given as sent and made canonical the way the proxy and verify handlers do.
 */
function policyOf(matcher: RuleMatcher, path: string, host = 'app.example.com', method = 'GET'): Verdict['policy'] {
  return matcher({ host: judgedHost(host), path, method, override: undefined }).policy;
}

describe('public_paths', () => {
  const rules = compileRules(['/public', '/assets/', '/health'], []);

  it.each([
    ['the prefix itself', '/public', 'public'],
    ['the prefix with a trailing slash', '/public/', 'public'],
    ['a path under the prefix', '/public/x', 'public'],
    ['a deep path under the prefix', '/public/a/b/c.css', 'public'],
    ['a prefix written with a trailing slash, without it', '/assets', 'public'],
    ['a path under a prefix written with a trailing slash', '/assets/app.js', 'public'],
    ['a longer name that starts with the prefix', '/publicity', 'authenticated'],
    ['a longer name that starts with the prefix, then a slash', '/publicity/x', 'authenticated'],
    ['another letter case', '/PUBLIC/x', 'authenticated'],
    ['a prefix that is only a suffix of the path', '/x/public', 'authenticated'],
    ['a neighbouring name', '/healthz', 'authenticated'],
    ['the root', '/', 'authenticated'],
  ])('%s: %s is %s', (_what, path, policy) => {
    expect(policyOf(rules, path)).toBe(policy);
  });

  it('makes everything public with the prefix /', () => {
    const everything = compileRules(['/'], []);
    expect(policyOf(everything, '/')).toBe('public');
    expect(policyOf(everything, '/any/thing')).toBe('public');
  });

  it('leaves everything to the default, authenticated, when there are no rules', () => {
    const none = compileRules([], []);
    for (const path of ['/', '/public', '/admin/x']) expect(policyOf(none, path)).toBe('authenticated');
  });
});

describe('path globs in access_rules', () => {
  const publicAt = (path: string) => compileRules([], [{ path, policy: 'public' }]);

  it.each([
    ['/api/*/status', '/api/v1/status', true],
    ['/api/*/status', '/api/v1/v2/status', false],
    ['/api/*/status', '/api/v1/status/x', false],
    ['/api/*/status', '/prefix/api/v1/status', false],
    ['/files/*.pdf', '/files/report.pdf', true],
    ['/files/*.pdf', '/files/a/report.pdf', false],
    ['/files/*.pdf', '/files/report.pdf.exe', false],
    ['/files/*.pdf', '/files/reportXpdf', false],
    ['/static/**', '/static/a', true],
    ['/static/**', '/static/a/b/c.js', true],
    ['/static/**', '/staticx/a', false],
    ['/api/**/edit', '/api/a/edit', true],
    ['/api/**/edit', '/api/a/b/c/edit', true],
    ['/api/**/edit', '/api/a/edit/more', false],
    ['/**/*.css', '/a/b/site.css', true],
    ['/**/*.css', '/a/b/site.css.map', false],
    ['/v1.*', '/v1.2', true],
    ['/v1.*', '/v1x2', false],
    ['/a+b/*', '/a+b/x', true],
    ['/a+b/*', '/aab/x', false],
  ])('%s matches %s: %s', (pattern, path, matches) => {
    expect(policyOf(publicAt(pattern), path)).toBe(matches ? 'public' : 'authenticated');
  });

  it('reads a path without * as a prefix on segment boundaries', () => {
    const rules = publicAt('/docs');
    expect(policyOf(rules, '/docs')).toBe('public');
    expect(policyOf(rules, '/docs/page')).toBe('public');
    expect(policyOf(rules, '/docsx')).toBe('authenticated');
  });
});

describe('hosts in access_rules', () => {
  const rules = compileRules(
    [],
    [
      { host: 'status.example.com', policy: 'public' },
      { host: '*.public.example.com', policy: 'public' },
      { host: 'admin.example.com', policy: 'deny' },
    ],
  );

  it.each([
    ['the exact host', 'status.example.com', 'public'],
    ['the exact host with a port', 'status.example.com:8443', 'public'],
    ['the exact host in capitals', 'STATUS.Example.COM', 'public'],
    ['the exact host in capitals with a port', 'Status.Example.Com:80', 'public'],
    ['a subdomain of an exact host', 'x.status.example.com', 'authenticated'],
    ['a host that ends with the exact host', 'evilstatus.example.com', 'authenticated'],
    ['a host that starts with the exact host', 'status.example.com.evil.com', 'authenticated'],
    ['a subdomain of a wildcard', 'sub.public.example.com', 'public'],
    ['a deeper subdomain of a wildcard', 'a.b.public.example.com', 'public'],
    ['a subdomain of a wildcard in capitals with a port', 'SUB.Public.Example.com:4180', 'public'],
    ['the apex of a wildcard', 'public.example.com', 'authenticated'],
    ['a host that ends with the wildcard domain without its dot', 'badpublic.example.com', 'authenticated'],
    ['the wildcard domain followed by another domain', 'sub.public.example.com.evil.com', 'authenticated'],
    ['a denied host', 'admin.example.com', 'deny'],
    ['a denied host with a port', 'admin.example.com:443', 'deny'],
    ['a denied host in capitals', 'ADMIN.example.com', 'deny'],
    ['an unrelated host', 'app.example.com', 'authenticated'],
  ])('%s: %s is %s', (_what, host, policy) => {
    expect(policyOf(rules, '/x', host)).toBe(policy);
  });

  it('applies a host rule on the same host written as a fully qualified name with a trailing dot', () => {
    // admin.example.com. is the same host as admin.example.com (nginx strips the dot before
    // choosing its server block); a deny rule must not be dodged by appending one.
    expect(policyOf(rules, '/x', 'admin.example.com.')).toBe('deny');
    expect(policyOf(rules, '/x', 'sub.public.example.com.:8443')).toBe('public');
  });
});

describe('methods in access_rules', () => {
  const rules = compileRules(
    [],
    [
      { path: '/api', methods: ['GET', 'HEAD'], policy: 'public' },
      { path: '/api', methods: ['DELETE'], policy: 'deny' },
    ],
  );

  it.each([
    ['GET', 'public'],
    ['HEAD', 'public'],
    ['DELETE', 'deny'],
    ['POST', 'authenticated'],
    ['PUT', 'authenticated'],
  ])('%s /api/items is %s', (method, policy) => {
    expect(policyOf(rules, '/api/items', 'app.example.com', method)).toBe(policy);
  });

  it('matches a method rule only on its path', () => {
    expect(policyOf(rules, '/other', 'app.example.com', 'DELETE')).toBe('authenticated');
  });
});

describe('rule order', () => {
  it('lets the first matching rule win', () => {
    const rules = compileRules(
      [],
      [
        { path: '/admin/login', policy: 'public' },
        { path: '/admin', policy: 'deny' },
        { path: '/admin/login', policy: 'deny' },
      ],
    );
    expect(policyOf(rules, '/admin/login')).toBe('public');
    expect(policyOf(rules, '/admin/users')).toBe('deny');
  });

  it('needs host, path and method all to match before a rule decides', () => {
    const rules = compileRules([], [{ host: 'a.example.com', path: '/x', methods: ['POST'], policy: 'deny' }]);
    expect(policyOf(rules, '/x', 'a.example.com', 'POST')).toBe('deny');
    expect(policyOf(rules, '/x', 'b.example.com', 'POST')).toBe('authenticated');
    expect(policyOf(rules, '/y', 'a.example.com', 'POST')).toBe('authenticated');
    expect(policyOf(rules, '/x', 'a.example.com', 'GET')).toBe('authenticated');
  });

  it('applies a rule with no host, path or methods to everything', () => {
    const rules = compileRules([], [{ path: '/open', policy: 'public' }, { policy: 'deny' }]);
    expect(policyOf(rules, '/open/x')).toBe('public');
    expect(policyOf(rules, '/anything', 'any.host', 'PATCH')).toBe('deny');
  });

  it('puts public_paths before access_rules', () => {
    const rules = compileRules(['/public'], [{ path: '/public/secret', policy: 'deny' }, { policy: 'deny' }]);
    expect(policyOf(rules, '/public/secret')).toBe('public');
    expect(policyOf(rules, '/public')).toBe('public');
    expect(policyOf(rules, '/private')).toBe('deny');
  });

  it('defaults to authenticated when no rule matches', () => {
    const rules = compileRules(['/public'], [{ path: '/admin', policy: 'deny' }]);
    expect(rules({ host: 'app.example.com', path: '/app', method: 'GET', override: undefined })).toEqual({ policy: 'authenticated' });
  });
});

describe('groups', () => {
  const rules: AccessRule[] = [
    { path: '/admin', groups: ['admins', 'ops'], policy: 'authenticated' },
    { path: '/team', groups: [], policy: 'authenticated' },
  ];
  const matcher = compileRules([], rules);
  const verdict = (path: string) => matcher({ host: 'app.example.com', path, method: 'GET', override: undefined });

  it.each([
    ['a member of the first group', ['admins'], true],
    ['a member of the second group', ['ops'], true],
    ['a member of a listed group and others', ['users', 'ops'], true],
    ['a member of no listed group', ['users'], false],
    ['a member of no group at all', [], false],
    ['a member of a group that differs only in case', ['Admins'], false],
  ])('lets %s into a rule with groups: %j → %s', (_what, groups, allowed) => {
    expect(verdict('/admin').policy).toBe('authenticated');
    expect(groupsAllow(verdict('/admin'), groups)).toBe(allowed);
  });

  it('lets any signed-in user through an authenticated rule with an empty group list', () => {
    expect(groupsAllow(verdict('/team'), [])).toBe(true);
  });

  it('lets any signed-in user through the default', () => {
    expect(groupsAllow(verdict('/elsewhere'), [])).toBe(true);
  });

  it('keeps deny a deny for members of the groups a deny rule names', () => {
    const others = compileRules([], [{ path: '/d', groups: ['admins'], policy: 'deny' }]);
    expect(others({ host: 'h', path: '/d', method: 'GET', override: undefined })).toEqual({ policy: 'deny' });
  });

  it('lets anyone through a public verdict, whatever their groups', () => {
    expect(groupsAllow({ policy: 'public' }, [])).toBe(true);
  });
});
