import { describe, expect, it } from 'vitest';
import { loadConfig, parseDuration, redactedConfig, startSummary, validateConfig, type Config, type RawSettings } from '../../src/config.js';

const FILE = 'gatehouse.yaml';

/** loadConfig with an in-memory YAML file (used only when `yaml` is given), an env object and flags. */
function load({ yaml, env = {}, flags = {} }: { yaml?: string; env?: Record<string, string>; flags?: Record<string, string> } = {}) {
  const read: string[] = [];
  const result = loadConfig({
    flags: yaml === undefined || 'config' in flags ? flags : { config: FILE, ...flags },
    env,
    readFile: (path) => {
      read.push(path);
      if (yaml === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return yaml;
    },
  });
  return { ...result, read };
}

/** A config that must be valid; fails the test with the error lines otherwise. */
function valid(input: Parameters<typeof load>[0] = {}): Readonly<Config> {
  const { config, errors } = load(input);
  expect(errors).toEqual([]);
  return config!;
}

const raw = (settings: Record<string, unknown>): RawSettings =>
  new Map(Object.entries(settings).map(([name, value]) => [name, { value, source: 'test' }]));

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('a bad value for a setting', () => {
  // [setting, bad value (as an environment variable), what the line must say is allowed]
  const cases: [string, string, RegExp][] = [
    ['listen', '4180x', /host:port .*unix:\/absolute\/path\.sock/],
    ['listen', 'localhost:65536', /host:port/],
    ['listen', 'unix:relative.sock', /unix:\/absolute\/path\.sock/],
    ['management_listen', 'two words:9180', /host:port/],
    ['upstream', 'ftp://files.example.com', /an http:\/\/ or https:\/\/ URL/],
    ['upstream', 'not a url', /an http:\/\/ or https:\/\/ URL/],
    ['upstream_timeout', '0s', /a duration greater than zero/],
    ['upstream_timeout', '30', /a duration such as 30s, 10m, 12h or 7d/],
    ['public_url', 'localhost:4180', /an http:\/\/ or https:\/\/ URL/],
    ['public_url', 'javascript:alert(1)', /an http:\/\/ or https:\/\/ URL/],
    ['trust_window', '5x', /a duration such as 30s/],
    ['trust_window', '-5m', /a duration/],
    ['trust_window', '1.5h', /a duration/],
    ['trust_window', '5M', /a duration/],
    ['idle_timeout', '7days', /a duration/],
    ['session_lifetime', '0d', /a duration greater than zero/],
    ['cookie_domain', 'exa mple.com', /a (host|domain) name such as example\.com/],
    ['cookie_domain', 'https://example.com', /a (host|domain) name/],
    ['cookie_domain', '-bad.example.com', /a (host|domain) name/],
    // Not a cookie domain: `cookie` refuses to write Domain=*.example.com (every sign-in would be a 500),
    // and a browser would drop such a cookie anyway. It must stop the start instead.
    ['cookie_domain', '*.example.com', /a (host|domain) name/],
    ['cookie_secure', 'maybe', /true or false/],
    ['registration', 'invite-only', /one of open, closed/],
    ['registration_domains', '*.example.com', /a domain name such as example\.com \(no wildcard\)/],
    ['registration_domains', 'example.com, @example.org', /a host name/],
    ['refresh_grace', '10', /a duration/],
    ['public_paths', 'static,/health', /paths starting with \//],
    ['redirect_hosts', 'https://app.example.com', /a host name such as example\.com or \*\.example\.com/],
    ['redirect_hosts', 'app.example.com,exa_mple.com', /a host name/],
    ['redirect_hosts', 'app.example.com:0', /a host name with an optional port/],
    ['redirect_hosts', 'app.example.com:65536', /a host name with an optional port/],
    ['redirect_hosts', 'app.example.com:', /a host name/],
    ['redirect_hosts', ':8443', /a host name/],
    ['trusted_proxies', '10.0.0.0/33', /IP addresses or CIDRs such as 10\.0\.0\.0\/8/],
    ['trusted_proxies', '::1/129', /IP addresses or CIDRs/],
    ['trusted_proxies', 'proxy.internal', /IP addresses or CIDRs/],
    ['trusted_proxies', '10.0.0.0/8/16', /IP addresses or CIDRs/],
    ['max_retries', '0', /a whole number from 1 to 100000/],
    ['max_retries', '100001', /a whole number from 1 to 100000/],
    ['max_retries', 'five', /a whole number/],
    ['max_retries', '2.5', /a whole number/],
    ['find_time', '2 minutes', /a duration/],
    ['ban_time', '0m', /a duration greater than zero/],
    ['require_verified_email', 'sometimes', /true or false/],
    ['hibp_url', 'file:///etc/passwd', /an http:\/\/ or https:\/\/ URL/],
    ['log_level', 'verbose', /one of debug, info, warn, error/],
    ['log_requests', 'some', /one of denied, all, off/],
    ['audit_retention', '90 days', /a duration/],
  ];
  it.each(cases)('%s=%j is one line naming the setting, showing the value and saying what is allowed', (name, value, allowed) => {
    const { config, errors } = load({ env: { [`GATEHOUSE_${name.toUpperCase()}`]: value } });
    expect(config).toBeUndefined();
    expect(errors).toHaveLength(1);
    const [line] = errors as [string];
    expect(line).not.toContain('\n');
    expect(line).toMatch(new RegExp(`^${name}: ${escape(JSON.stringify(value))} .*expected `));
    expect(line).toContain(`GATEHOUSE_${name.toUpperCase()}`);
    expect(line.slice(line.indexOf('expected'))).toMatch(allowed);
  });

  it('matches the house example for trust_window', () => {
    expect(load({ env: { GATEHOUSE_TRUST_WINDOW: '5x' } }).errors[0]).toMatch(/^trust_window: "5x" .* expected a duration/);
  });

  // Values of a YAML type a setting cannot take: the line shows them as JSON.
  const yamlCases: [string, string, string, RegExp][] = [
    ['a number where a duration belongs', 'trust_window: 300', '300', /a duration/],
    ['a mapping where a string belongs', 'email_from: {name: x}', '{"name":"x"}', /a string/],
    ['a list where a URL belongs', 'upstream: [http://a]', '["http://a"]', /URL/],
    ['a number that is not whole', 'max_retries: 2.5', '2.5', /a whole number/],
    ['a boolean where a count belongs', 'max_retries: true', 'true', /a whole number/],
    ['access_rules that are not a list', 'access_rules: deny', '"deny"', /a list of rules with policy/],
    ['an access rule with an unknown policy', 'access_rules: [{path: /admin, policy: allow}]', '[{"path":"/admin","policy":"allow"}]', /public, authenticated, deny/],
    ['an access rule with an unknown key', 'access_rules: [{path: /admin, policy: deny, users: [ann]}]', '[{"path":"/admin","policy":"deny","users":["ann"]}]', /a list of rules/],
    ['an access rule whose path lacks its slash', 'access_rules: [{path: admin, policy: deny}]', '[{"path":"admin","policy":"deny"}]', /paths starting with \//],
    ['an access rule that is a string', 'access_rules: [deny]', '["deny"]', /a list of rules/],
  ];
  it.each(yamlCases)('from YAML, %s is one line with the value and the source file', (_what, yaml, shown, allowed) => {
    const { errors } = load({ yaml });
    expect(errors).toHaveLength(1);
    const name = yaml.split(':')[0]!;
    expect(errors[0]).toMatch(new RegExp(`^${name}: ${escape(shown)} is not valid \\(from ${escape(FILE)}\\); expected `));
    expect(errors[0]).toMatch(allowed);
  });

  it('names the flag that carried a bad value', () => {
    const { errors } = load({ flags: { 'trust-window': 'soon' } });
    expect(errors).toEqual([expect.stringMatching(/^trust_window: "soon" is not valid \(from --trust-window\); expected a duration/)]);
  });

  // Secrets are named and explained, but their values never reach the terminal or the logs.
  it.each([
    ['smtp_url', 'http://mailer:hunter2@mail.example.com', 'hunter2', /an smtp:\/\/ or smtps:\/\/ URL/],
    ['database_url', 'mysql://root:hunter2@db.example.com/gatehouse', 'hunter2', /a file:, postgres\(ql\):\/\/, libsql:\/\/ or http\(s\):\/\/ URL/],
    ['database_url', 'libsql://db.example.com?authToken=hunter2 x', 'hunter2', /a file:, postgres\(ql\):\/\/, libsql:\/\/ or http\(s\):\/\/ URL/],
    ['database_url', 'postgres://gatehouse:hunter2@db.example.com/gatehouse x', 'hunter2', /postgres\(ql\):\/\//],
  ])('%s is explained without showing the secret in it', (name, value, secret, allowed) => {
    const { errors } = load({ env: { [`GATEHOUSE_${name.toUpperCase()}`]: value } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^${name}: ".*\\(redacted\\).*" is not valid .*expected `));
    expect(errors[0]).toMatch(allowed);
    expect(errors[0]).not.toContain(secret);
  });

  it('does not show a bad password_pepper', () => {
    const { errors } = load({ yaml: 'password_pepper: {secret: hunter2}' });
    expect(errors).toEqual([expect.stringMatching(/^password_pepper: "\(redacted\)" is not valid .*expected a string$/)]);
    expect(errors[0]).not.toContain('hunter2');
  });
});

describe('the database', () => {
  it.each([
    'postgres://gatehouse:secret@db.example.com:5432/gatehouse',
    'postgresql://gatehouse@db.example.com/gatehouse?sslmode=require',
    'file:./data/gatehouse.db',
    'libsql://db.example.com?authToken=t',
  ])('accepts %s', (url) => {
    const { config, errors } = load({ env: { GATEHOUSE_DATABASE_URL: url } });
    expect(errors).toEqual([]);
    expect(config?.database_url).toBe(url);
  });

  it('keeps ten PostgreSQL connections per instance unless told otherwise', () => {
    expect(load().config?.database_pool_size).toBe(10);
    expect(load({ env: { GATEHOUSE_DATABASE_POOL_SIZE: '25' } }).config?.database_pool_size).toBe(25);
    expect(load({ env: { GATEHOUSE_DATABASE_POOL_SIZE: '0' } }).errors).toEqual([expect.stringMatching(/^database_pool_size: "0" is not valid/)]);
  });
});

describe('reporting every problem at once', () => {
  it('lists each bad setting on its own line, not just the first', () => {
    const { config, errors } = load({
      yaml: 'log_level: loud\nupstream: ftp://x\n',
      env: { GATEHOUSE_TRUST_WINDOW: '5x', GATEHOUSE_REGISTRATION: 'invite' },
      flags: { 'max-retries': '0', colour: 'blue' },
    });
    expect(config).toBeUndefined();
    expect(errors).toHaveLength(6);
    for (const start of ['--colour:', 'log_level:', 'upstream:', 'trust_window:', 'registration:', 'max_retries:']) {
      expect(errors.filter((line) => line.startsWith(start)), start).toHaveLength(1);
    }
  });

  it('reports an unknown YAML key together with a bad value', () => {
    const { errors } = load({ yaml: 'trust_windw: 5m\nregistration: maybe\n' });
    expect(errors).toEqual([
      'gatehouse.yaml: unknown setting `trust_windw`; did you mean `trust_window`?',
      expect.stringMatching(/^registration: "maybe" is not valid/),
    ]);
  });
});

describe('precedence: defaults < YAML file < GATEHOUSE_* environment < flags', () => {
  const cases: [string, Parameters<typeof load>[0], number][] = [
    ['the default', {}, 5 * MIN],
    ['the YAML file over the default', { yaml: 'trust_window: 10m' }, 10 * MIN],
    ['the environment over the YAML file', { yaml: 'trust_window: 10m', env: { GATEHOUSE_TRUST_WINDOW: '2m' } }, 2 * MIN],
    ['a flag over the environment', { yaml: 'trust_window: 10m', env: { GATEHOUSE_TRUST_WINDOW: '2m' }, flags: { 'trust-window': '1m' } }, MIN],
    ['a flag written with underscores', { env: { GATEHOUSE_TRUST_WINDOW: '2m' }, flags: { trust_window: '30s' } }, 30_000],
    ['a flag over the YAML file with no environment', { yaml: 'trust_window: 10m', flags: { 'trust-window': '1m' } }, MIN],
  ];
  it.each(cases)('takes %s', (_name, input, expected) => {
    expect(valid(input).trust_window).toBe(expected);
  });

  it('logs denied requests and keeps audit events 90 days unless told otherwise; 0d keeps them forever', () => {
    expect(valid({})).toMatchObject({ log_requests: 'denied', audit_retention: 90 * 86_400_000 });
    expect(valid({ env: { GATEHOUSE_LOG_REQUESTS: 'ALL', GATEHOUSE_AUDIT_RETENTION: '0d' } })).toMatchObject({ log_requests: 'all', audit_retention: 0 });
  });

  it('keeps settings from every layer that no higher layer overrides', () => {
    const config = valid({
      yaml: 'registration: closed\nemail_from: yaml@example.com\nmax_retries: 9\n',
      env: { GATEHOUSE_EMAIL_FROM: 'env@example.com', GATEHOUSE_MAX_RETRIES: '7' },
      flags: { 'max-retries': '3' },
    });
    expect(config).toMatchObject({ registration: 'closed', email_from: 'env@example.com', max_retries: 3, log_level: 'info' });
  });

  it('reads the file named by GATEHOUSE_CONFIG, and --config over it', () => {
    const fromEnv = loadConfig({ flags: {}, env: { GATEHOUSE_CONFIG: '/etc/env.yaml' }, readFile: (path) => `email_from: ${path.slice(5, 8)}@example.com` });
    expect(fromEnv.config?.email_from).toBe('env@example.com');
    const fromFlag = loadConfig({
      flags: { config: '/etc/flg.yaml' },
      env: { GATEHOUSE_CONFIG: '/etc/env.yaml' },
      readFile: (path) => `email_from: ${path.slice(5, 8)}@example.com`,
    });
    expect(fromFlag.config?.email_from).toBe('flg@example.com');
  });

  it('reads no file when none is named', () => {
    const { read, config } = load({ env: { GATEHOUSE_REGISTRATION: 'closed' } });
    expect(read).toEqual([]);
    expect(config?.registration).toBe('closed');
  });

  it('reports a missing config file in one line', () => {
    const { errors } = load({ flags: { config: '/nope.yaml' } });
    expect(errors).toEqual([expect.stringMatching(/^config: cannot read \/nope\.yaml: ENOENT[^\n]*$/)]);
  });
});

describe('unknown settings', () => {
  it.each([
    ['registraton', 'registration'],
    ['trust_windw', 'trust_window'],
    ['upstreams', 'upstream'],
    ['Log_Level', 'log_level'],
    ['registration_domain', 'registration_domains'],
    ['refresh-grace', 'refresh_grace'],
  ])('refuses the unknown YAML key %s and names the nearest setting, %s', (key, nearest) => {
    const { config, errors } = load({ yaml: `${key}: 1\n` });
    expect(config).toBeUndefined();
    expect(errors).toEqual([`gatehouse.yaml: unknown setting \`${key}\`; did you mean \`${nearest}\`?`]);
  });

  it.each(['colour', 'x', 'database'])('refuses the unknown YAML key %s, near no setting, with the list of settings', (key) => {
    const { config, errors } = load({ yaml: `${key}: 1\n` });
    expect(config).toBeUndefined();
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^gatehouse\\.yaml: unknown setting \`${key}\`; known settings are listen, .*, registration_domains, `))]);
  });

  // Names every plain object inherits must not pass for settings (`name in SETTINGS` does).
  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])('refuses the YAML key %s, which every object inherits', (key) => {
    const { config, errors } = load({ yaml: `${key}: 1\n` });
    expect(config).toBeUndefined();
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^gatehouse\\.yaml: unknown setting \`${key}\``))]);
  });

  it.each(['colour', 'trust-windw', 'access-rules', 'access_rules', 'constructor'])('refuses the unknown flag --%s', (flag) => {
    const { config, errors } = load({ flags: { [flag]: 'x' } });
    expect(config).toBeUndefined();
    expect(errors).toEqual([`--${flag}: unknown flag`]);
  });

  it('ignores environment variables that do not start with GATEHOUSE_', () => {
    const { config, errors, warnings } = load({ env: { PATH: '/usr/bin', HOME: '/root', REGISTRATION: 'open', gatehouse_registration: 'open' } });
    expect({ errors, warnings, registration: config?.registration }).toEqual({ errors: [], warnings: [], registration: 'closed' });
  });

  it.each([
    ['GATEHOUSE_REGISTRATON', 'GATEHOUSE_REGISTRATION', 'open'],
    ['GATEHOUSE_TRUST_WINDW', 'GATEHOUSE_TRUST_WINDOW', '5m'],
    ['GATEHOUSE_REGISTRATION_DOMAIN', 'GATEHOUSE_REGISTRATION_DOMAINS', 'example.com'],
    ['GATEHOUSE_CONFG', 'GATEHOUSE_CONFIG', '/etc/gatehouse.yaml'],
    ['GATEHOUSE_NODE_FLAG', 'GATEHOUSE_NODE_FLAGS', '--max-old-space-size=512'],
  ])('starts despite the unknown variable %s, with a warning naming %s', (name, nearest, value) => {
    const { config, errors, warnings } = load({ env: { [name]: value } });
    expect(errors).toEqual([]);
    expect(config?.registration).toBe('closed');
    expect(warnings).toEqual([`${name} is not a setting and is ignored; did you mean ${nearest}?`]);
  });

  it('warns about an unknown variable near no setting without a suggestion', () => {
    expect(load({ env: { GATEHOUSE_COLOUR: 'blue' } }).warnings).toEqual(['GATEHOUSE_COLOUR is not a setting and is ignored']);
  });

  // What Kubernetes injects into every pod of the namespace for a Service named gatehouse (or gatehouse-metrics).
  it.each([
    ['GATEHOUSE_SERVICE_HOST', '10.0.0.1'],
    ['GATEHOUSE_SERVICE_PORT', '4180'],
    ['GATEHOUSE_SERVICE_PORT_HTTP', '4180'],
    ['GATEHOUSE_PORT', 'tcp://10.0.0.1:4180'],
    ['GATEHOUSE_PORT_4180_TCP', 'tcp://10.0.0.1:4180'],
    ['GATEHOUSE_PORT_4180_TCP_PROTO', 'tcp'],
    ['GATEHOUSE_PORT_4180_TCP_PORT', '4180'],
    ['GATEHOUSE_PORT_4180_TCP_ADDR', '10.0.0.1'],
    ['GATEHOUSE_PORT_9180_UDP', 'udp://[fd00::1]:9180'],
    ['GATEHOUSE_METRICS_SERVICE_HOST', '10.0.0.2'],
    ['GATEHOUSE_METRICS_PORT', 'tcp://10.0.0.2:9180'],
  ])('neither stops nor warns about the Kubernetes service link %s=%s', (name, value) => {
    const { config, errors, warnings } = load({ env: { [name]: value } });
    expect({ errors, warnings }).toEqual({ errors: [], warnings: [] });
    expect(config).toBeDefined();
  });

  it('warns about GATEHOUSE_PORT when it holds a plain port, which is no service link but a guess at a setting', () => {
    expect(load({ env: { GATEHOUSE_PORT: '4180' } }).warnings).toEqual([expect.stringMatching(/^GATEHOUSE_PORT is not a setting and is ignored/)]);
  });

  it('knows GATEHOUSE_CONFIG and GATEHOUSE_NODE_FLAGS', () => {
    const { errors, warnings } = loadConfig({ flags: {}, env: { GATEHOUSE_CONFIG: FILE, GATEHOUSE_NODE_FLAGS: '' }, readFile: () => '' });
    expect({ errors, warnings }).toEqual({ errors: [], warnings: [] });
  });
});

describe('YAML files', () => {
  it.each([
    ['an unclosed flow sequence', 'trust_window: [5m\nregistration: open\n'],
    ['a bad indent', 'registration: open\n  log_level: info\n'],
    ['a duplicate key', 'registration: open\nregistration: closed\n'],
    ['an unterminated quote', 'email_from: "gatehouse@localhost\n'],
  ])('turns %s into one clean line naming the file', (_what, yaml) => {
    const { config, errors } = load({ yaml });
    expect(config).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^config: cannot read gatehouse\.yaml: \S/);
    expect(errors[0]).not.toContain('\n');
    expect(errors[0]).not.toMatch(/\bat .*\.(js|ts):\d+/);
  });

  it.each([
    ['a list', '- registration: open\n'],
    ['a plain string', 'just some words\n'],
    ['a number', '42\n'],
  ])('refuses a file that is %s rather than a mapping', (_what, yaml) => {
    expect(load({ yaml }).errors).toEqual(['config: cannot read gatehouse.yaml: the file is not a mapping of settings']);
  });

  it('accepts an empty file as no settings', () => {
    expect(valid({ yaml: '' }).trust_window).toBe(5 * MIN);
  });

  it('takes YAML booleans, numbers and lists as they are typed', () => {
    const config = valid({
      yaml: 'cookie_secure: false\nmax_retries: 9\npublic_paths: [/static, /health]\nredirect_hosts:\n  - app.example.com\n  - "*.corp.example.com"\n',
    });
    expect(config).toMatchObject({ cookie_secure: false, max_retries: 9, public_paths: ['/static', '/health'], redirect_hosts: ['app.example.com', '*.corp.example.com'] });
  });
});

describe('access_rules', () => {
  const rulesYaml = 'access_rules:\n  - host: Admin.Example.com\n    path: /admin\n    methods: [get, post]\n    groups: [admins]\n    policy: Authenticated\n  - path: /api/**\n    policy: deny\n';

  it('comes from the YAML file, normalised', () => {
    expect(valid({ yaml: rulesYaml }).access_rules).toEqual([
      { host: 'admin.example.com', path: '/admin', methods: ['GET', 'POST'], groups: ['admins'], policy: 'authenticated' },
      { path: '/api/**', policy: 'deny' },
    ]);
  });

  it('is never taken from the environment', () => {
    const { config } = load({ env: { GATEHOUSE_ACCESS_RULES: '[{"path":"/","policy":"public"}]' } });
    expect(config?.access_rules ?? []).toEqual([]);
  });

  // Silently dropping a security setting fails open: the operator believes a deny rule is in force.
  it('refuses GATEHOUSE_ACCESS_RULES with an error instead of silently ignoring it', () => {
    const { config, errors } = load({ env: { GATEHOUSE_ACCESS_RULES: '[{"path":"/admin","policy":"deny"}]' } });
    expect(config).toBeUndefined();
    expect(errors).toEqual([expect.stringMatching(/^access_rules: .*YAML/)]);
  });

  it('defaults to no rules (any signed-in user)', () => {
    expect(valid().access_rules).toEqual([]);
  });
});

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['10m', 10 * MIN],
    ['12h', 12 * HOUR],
    ['7d', 7 * DAY],
    [' 5m ', 5 * MIN],
    ['0s', 0],
  ])('parses %j to %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', 'm', '5 m', '1.5h', '-1s', '5w', '5M', '1e3s', '1234567890s', 5, null])('refuses %j', (value) => {
    expect(() => parseDuration(value)).toThrow(/a duration such as 30s, 10m, 12h or 7d/);
  });

  it('applies parsed durations to every duration setting', () => {
    const config = valid({
      env: {
        GATEHOUSE_UPSTREAM_TIMEOUT: '45s',
        GATEHOUSE_TRUST_WINDOW: '10m',
        GATEHOUSE_IDLE_TIMEOUT: '12h',
        GATEHOUSE_SESSION_LIFETIME: '7d',
        GATEHOUSE_REFRESH_GRACE: '30s',
        GATEHOUSE_FIND_TIME: '1m',
        GATEHOUSE_BAN_TIME: '1h',
      },
    });
    expect(config).toMatchObject({
      upstream_timeout: 45_000,
      trust_window: 10 * MIN,
      idle_timeout: 12 * HOUR,
      session_lifetime: 7 * DAY,
      refresh_grace: 30_000,
      find_time: MIN,
      ban_time: HOUR,
    });
  });

  it('has the documented defaults', () => {
    expect(valid()).toMatchObject({
      upstream_timeout: 30_000,
      trust_window: 5 * MIN,
      idle_timeout: 7 * DAY,
      session_lifetime: 30 * DAY,
      refresh_grace: 10_000,
      find_time: 2 * MIN,
      ban_time: 5 * MIN,
    });
  });

  it('closes registration by default, with no domains', () => {
    expect(valid()).toMatchObject({ registration: 'closed', registration_domains: [] });
  });
});

describe('defaults that depend on other settings', () => {
  it.each([
    ['https://auth.example.com', {}, true],
    ['HTTPS://auth.example.com', {}, true],
    ['http://localhost:4180', {}, false],
    ['http://auth.example.com', { GATEHOUSE_COOKIE_SECURE: 'true' }, true],
    ['https://auth.example.com', { GATEHOUSE_COOKIE_SECURE: 'off' }, false],
  ])('with public_url %s and %j, cookie_secure is %s', (publicUrl, env, expected) => {
    expect(valid({ env: { GATEHOUSE_PUBLIC_URL: publicUrl, ...env } }).cookie_secure).toBe(expected);
  });

  it.each([
    [{}, 10_000],
    [{ GATEHOUSE_TRUST_WINDOW: '5s' }, 5_000],
    [{ GATEHOUSE_TRUST_WINDOW: '10s' }, 10_000],
    [{ GATEHOUSE_TRUST_WINDOW: '30s' }, 10_000],
    [{ GATEHOUSE_TRUST_WINDOW: '5s', GATEHOUSE_REFRESH_GRACE: '2s' }, 2_000],
    [{ GATEHOUSE_TRUST_WINDOW: '1m', GATEHOUSE_REFRESH_GRACE: '0s' }, 0],
  ])('with %j, refresh_grace is %d ms: the shorter of 10s and trust_window unless set', (env, expected) => {
    expect(valid({ env }).refresh_grace).toBe(expected);
  });

  it('still refuses a refresh_grace set longer than trust_window', () => {
    expect(load({ env: { GATEHOUSE_TRUST_WINDOW: '5s', GATEHOUSE_REFRESH_GRACE: '10s' } }).errors).toEqual([
      'refresh_grace: must not be longer than trust_window',
    ]);
  });

  it('defaults public_url to http://localhost:4180 and so cookie_secure to false', () => {
    expect(valid()).toMatchObject({ public_url: 'http://localhost:4180', cookie_secure: false });
  });

  it.each([
    [{ GATEHOUSE_COOKIE_DOMAIN: 'example.com' }, ['example.com', '*.example.com']],
    [{ GATEHOUSE_COOKIE_DOMAIN: '.Example.COM' }, ['example.com', '*.example.com']],
    [{}, []],
    [{ GATEHOUSE_COOKIE_DOMAIN: 'example.com', GATEHOUSE_REDIRECT_HOSTS: 'app.other.org' }, ['app.other.org']],
    [{ GATEHOUSE_REDIRECT_HOSTS: ' App.Example.com , *.corp.example.com ,' }, ['app.example.com', '*.corp.example.com']],
    [{ GATEHOUSE_REDIRECT_HOSTS: 'App.Example.com:8443, *.corp.example.com:443' }, ['app.example.com:8443', '*.corp.example.com:443']],
  ])('with %j, redirect_hosts is %j', (env, expected) => {
    expect(valid({ env }).redirect_hosts).toEqual(expected);
  });

  it('normalises public_url without its trailing slash', () => {
    expect(valid({ env: { GATEHOUSE_PUBLIC_URL: 'https://Auth.Example.com/' } }).public_url).toBe('https://auth.example.com');
  });
});

describe('listen addresses, lists and switches', () => {
  it.each([
    ['0.0.0.0:4180', { kind: 'tcp', host: '0.0.0.0', port: 4180 }],
    [':8080', { kind: 'tcp', host: '0.0.0.0', port: 8080 }],
    ['[::]:4180', { kind: 'tcp', host: '::', port: 4180 }],
    ['[::1]:0', { kind: 'tcp', host: '::1', port: 0 }],
    ['localhost:65535', { kind: 'tcp', host: 'localhost', port: 65535 }],
    ['unix:/run/gatehouse.sock', { kind: 'unix', path: '/run/gatehouse.sock' }],
  ])('reads listen %s', (value, expected) => {
    expect(valid({ env: { GATEHOUSE_LISTEN: value } }).listen).toEqual(expected);
  });

  it('reads trusted proxies as CIDRs, a bare address as a single host', () => {
    expect(valid({ env: { GATEHOUSE_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.7, fd00::/8' } }).trusted_proxies).toEqual(['10.0.0.0/8', '192.168.1.7/32', 'fd00::/8']);
    expect(valid().trusted_proxies).toEqual(['127.0.0.0/8', '::1/128']);
  });

  it.each([
    ['true', true],
    ['YES', true],
    ['1', true],
    ['on', true],
    ['false', false],
    ['No', false],
    ['0', false],
    ['off', false],
  ])('reads the switch %s as %s', (value, expected) => {
    expect(valid({ env: { GATEHOUSE_REQUIRE_VERIFIED_EMAIL: value } }).require_verified_email).toBe(expected);
  });

  it('reads registration_domains as lower-case domains', () => {
    expect(valid({ env: { GATEHOUSE_REGISTRATION_DOMAINS: ' Example.COM, example.org ,' } }).registration_domains).toEqual(['example.com', 'example.org']);
    expect(valid({ yaml: 'registration_domains: [Corp.Example.com]' }).registration_domains).toEqual(['corp.example.com']);
  });

  it('reads choices in any letter case', () => {
    expect(valid({ env: { GATEHOUSE_REGISTRATION: 'Closed', GATEHOUSE_LOG_LEVEL: 'WARN' } })).toMatchObject({ registration: 'closed', log_level: 'warn' });
  });
});

describe('cross checks', () => {
  it.each([
    ['idle_timeout longer than session_lifetime', { GATEHOUSE_IDLE_TIMEOUT: '31d' }, /^idle_timeout: .*session_lifetime/],
    ['trust_window longer than session_lifetime', { GATEHOUSE_TRUST_WINDOW: '2d', GATEHOUSE_SESSION_LIFETIME: '1d', GATEHOUSE_IDLE_TIMEOUT: '1d' }, /^trust_window: .*session_lifetime/],
    ['refresh_grace longer than trust_window', { GATEHOUSE_REFRESH_GRACE: '6m' }, /^refresh_grace: .*trust_window/],
  ])('refuses %s', (_what, env, line) => {
    const { config, errors } = load({ env });
    expect(config).toBeUndefined();
    expect(errors).toEqual([expect.stringMatching(line)]);
  });

  it('reports every cross-check failure at once', () => {
    const { errors } = load({ env: { GATEHOUSE_SESSION_LIFETIME: '1m', GATEHOUSE_REFRESH_GRACE: '10m' } });
    expect(errors.map((line) => line.split(':')[0]).sort()).toEqual(['idle_timeout', 'refresh_grace', 'trust_window']);
  });

  it('accepts limits that are equal', () => {
    expect(valid({ env: { GATEHOUSE_IDLE_TIMEOUT: '30d', GATEHOUSE_TRUST_WINDOW: '10s', GATEHOUSE_REFRESH_GRACE: '10s' } })).toMatchObject({
      idle_timeout: 30 * DAY,
      trust_window: 10_000,
      refresh_grace: 10_000,
    });
  });
});

describe('the result', () => {
  const config = load({
    yaml: 'access_rules:\n  - path: /admin\n    methods: [GET]\n    groups: [admins]\n    policy: authenticated\n',
    env: { GATEHOUSE_COOKIE_DOMAIN: 'example.com', GATEHOUSE_PUBLIC_PATHS: '/static' },
  }).config!;

  it.each([
    ['a top-level value', () => ((config as Config).trust_window = 1)],
    ['a new top-level key', () => ((config as unknown as Record<string, unknown>)['extra'] = 1)],
    ['the listen address', () => ((config.listen as { port: number }).port = 1)],
    ['a list', () => (config.trusted_proxies as string[]).push('0.0.0.0/0')],
    ['a derived list', () => (config.redirect_hosts as string[]).push('evil.com')],
    ['an access rule', () => ((config.access_rules[0] as { policy: string }).policy = 'public')],
    ['the groups of an access rule', () => (config.access_rules[0]!.groups as string[]).push('everyone')],
  ])('is deeply frozen: changing %s throws', (_what, change) => {
    expect(change).toThrow(TypeError);
  });

  it('kept its values after the attempts', () => {
    expect(config.trusted_proxies).toEqual(['127.0.0.0/8', '::1/128']);
    expect(config.access_rules[0]).toEqual({ path: '/admin', methods: ['GET'], groups: ['admins'], policy: 'authenticated' });
  });

  it('does not freeze or share the built-in defaults between configs', () => {
    const first = validateConfig(raw({}));
    const second = validateConfig(raw({}));
    expect(first.config!.trusted_proxies).not.toBe(second.config!.trusted_proxies);
  });
});

describe('redactedConfig', () => {
  const redacted = (env: Record<string, string>) => redactedConfig(valid({ env }) as Config);

  it.each([
    ['smtp_url', 'smtp://mailer:hunter2@mail.example.com:587', 'smtp://mailer:(redacted)@mail.example.com:587'],
    ['smtp_url', 'smtps://mailer:hunter2%2F@mail.example.com', 'smtps://mailer:(redacted)@mail.example.com'],
    ['database_url', 'libsql://admin:hunter2@db.example.com', 'libsql://admin:(redacted)@db.example.com'],
    ['database_url', 'libsql://db.example.turso.io?authToken=hunter2', 'libsql://db.example.turso.io?authToken=(redacted)'],
    ['database_url', 'https://db.example.com/?tls=1&authToken=hunter2&x=y', 'https://db.example.com/?tls=1&authToken=(redacted)&x=y'],
    // Passwords with a raw @ are common; the browser-style parser takes the last @ as the end of the password.
    ['database_url', 'libsql://admin:hunt@er2@db.example.com', 'libsql://admin:(redacted)@db.example.com'],
  ])('hides the password in %s %s', (name, value, shown) => {
    const result = redacted({ [`GATEHOUSE_${name.toUpperCase()}`]: value });
    expect(result[name]).toBe(shown);
    expect(JSON.stringify(result)).not.toMatch(/hunt|er2/);
  });

  it('hides password_pepper entirely', () => {
    const result = redacted({ GATEHOUSE_PASSWORD_PEPPER: 'pepper-hunter2' });
    expect(result['password_pepper']).toBe('(redacted)');
    expect(JSON.stringify(result)).not.toContain('hunter2');
  });

  it("keeps database_url 'file:./data/gatehouse.db' exactly as written", () => {
    const config = valid();
    expect(config.database_url).toBe('file:./data/gatehouse.db');
    expect(redactedConfig(config as Config)['database_url']).toBe('file:./data/gatehouse.db');
  });

  it('leaves settings without secrets as they are and writes listen addresses back as text', () => {
    const result = redacted({ GATEHOUSE_LISTEN: '[::1]:4180', GATEHOUSE_MANAGEMENT_LISTEN: 'unix:/run/m.sock', GATEHOUSE_EMAIL_FROM: 'auth@example.com' });
    expect(result).toMatchObject({ listen: '[::1]:4180', management_listen: 'unix:/run/m.sock', email_from: 'auth@example.com', trust_window: 5 * MIN });
    expect(result).not.toHaveProperty('password_pepper');
  });

  it('does not change the config it was given', () => {
    const config = valid({ env: { GATEHOUSE_SMTP_URL: 'smtp://u:hunter2@mail.example.com' } });
    redactedConfig(config as Config);
    expect(config.smtp_url).toBe('smtp://u:hunter2@mail.example.com');
  });
});

describe('the start line', () => {
  const bound = { address: '127.0.0.1:4180', management: '[::1]:9180' };
  const summary = (env: Record<string, string>, hasUsers = true) => startSummary(valid({ env }) as Config, bound, hasUsers);

  it('names both URLs, the mode, the database with its password hidden, and the registration policy', () => {
    const { listening } = summary({ GATEHOUSE_DATABASE_URL: 'libsql://admin:s3cret@db.example.com/gh' });
    expect(listening).toEqual({
      url: 'http://127.0.0.1:4180',
      management_url: 'http://[::1]:9180',
      address: '127.0.0.1:4180',
      management: '[::1]:9180',
      public_url: 'http://localhost:4180',
      mode: 'forward-auth / endpoints only',
      database: 'libsql://admin:(redacted)@db.example.com/gh',
      registration: 'closed',
    });
    expect(JSON.stringify(listening)).not.toContain('s3cret');
  });

  it('hides the password of a PostgreSQL URL and of an upstream with credentials', () => {
    const config = { ...valid(), database_url: 'postgres://u:secret@h/db', upstream: 'http://app:pw@app.internal:3000' } as Config;
    const { listening } = startSummary(config, bound, true);
    expect(listening).toMatchObject({ database: 'postgres://u:(redacted)@h/db', mode: 'proxy → http://app:(redacted)@app.internal:3000' });
    expect(JSON.stringify(listening)).not.toMatch(/secret|pw@/);
  });

  it('names the upstream in proxy mode', () => {
    expect(summary({ GATEHOUSE_UPSTREAM: 'http://app.internal:3000' }).listening.mode).toBe('proxy → http://app.internal:3000');
  });

  it('writes a unix socket as it is', () => {
    const config = valid() as Config;
    expect(startSummary(config, { address: 'unix:/run/gh.sock', management: '127.0.0.1:9180' }, true).listening.url).toBe('unix:/run/gh.sock');
  });

  it.each([
    [{}, 'closed'],
    [{ GATEHOUSE_REGISTRATION: 'open' }, 'open'],
    [{ GATEHOUSE_REGISTRATION: 'open', GATEHOUSE_REGISTRATION_DOMAINS: 'example.com,example.org' }, 'open to example.com, example.org (address confirmation required)'],
    [{ GATEHOUSE_REGISTRATION_DOMAINS: 'example.com' }, 'closed'],
  ])('with %j, names the policy %j', (env, policy) => {
    expect(summary(env).listening.registration).toBe(policy);
  });

  it('says where to create the administrator only while no account exists', () => {
    const env = { GATEHOUSE_PUBLIC_URL: 'https://auth.example.com/' };
    expect(summary(env, false).firstAccount).toEqual({
      url: 'https://auth.example.com/_auth/register',
      message: expect.stringContaining('the first to register at https://auth.example.com/_auth/register becomes the administrator'),
    });
    expect(summary(env, true).firstAccount).toBeUndefined();
  });
});
