/**
 * Settings: defaults < YAML file < GATEHOUSE_* environment < command-line flags.
 * Loading (collect raw values with their source) and validating (turn them into a
 * typed, frozen Config, reporting every problem at once) are separate steps.
 * SPEC section 2 lists every setting.
 */
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { MIGRATION_HEADERS } from './auth/identity-headers.js';
import { normalizePath } from './auth/paths.js';
import { LOG_LEVELS, type LogLevel } from './log.js';

export type Listen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };
export type Policy = 'public' | 'authenticated' | 'deny';

export interface AccessRule {
  host?: string;
  path?: string;
  methods?: string[];
  groups?: string[];
  policy: Policy;
}

export interface Config {
  listen: Listen;
  management_listen: Listen;
  upstream?: string;
  upstream_timeout: number;
  public_url: string;
  database_url: string;
  trust_window: number;
  idle_timeout: number;
  session_lifetime: number;
  cookie_domain?: string;
  cookie_secure: boolean;
  registration: 'open' | 'closed';
  refresh_grace: number;
  public_paths: string[];
  access_rules: AccessRule[];
  redirect_hosts: string[];
  trusted_proxies: string[];
  identity_headers: 'x-auth' | 'remote';
  strip_headers: string[];
  max_retries: number;
  find_time: number;
  ban_time: number;
  smtp_url?: string;
  email_from: string;
  require_verified_email: boolean;
  hibp_url?: string;
  log_level: LogLevel;
  password_pepper?: string;
}

/** Thrown by a setting's parser; `allowed` says what would have been accepted. */
class Invalid extends Error {
  constructor(readonly allowed: string) {
    super(allowed);
  }
}

type Parser<T> = (value: unknown) => T;

interface Setting {
  parse: Parser<unknown>;
  default?: unknown;
  secret?: boolean;
  yamlOnly?: boolean;
}

const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: unknown): number {
  const match = typeof value === 'string' ? DURATION.exec(value.trim()) : null;
  if (!match) throw new Invalid('a duration such as 30s, 10m, 12h or 7d');
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

const text: Parser<string> = (value) => {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Invalid('a string');
  return String(value).trim();
};

const positiveDuration: Parser<number> = (value) => {
  const ms = parseDuration(value);
  if (ms <= 0) throw new Invalid('a duration greater than zero');
  return ms;
};

const oneOf =
  <T extends string>(...choices: T[]): Parser<T> =>
  (value) => {
    const choice = text(value).toLowerCase();
    if (!(choices as string[]).includes(choice)) throw new Invalid(`one of ${choices.join(', ')}`);
    return choice as T;
  };

const boolean: Parser<boolean> = (value) => {
  if (typeof value === 'boolean') return value;
  const word = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (['true', '1', 'yes', 'on'].includes(word)) return true;
  if (['false', '0', 'no', 'off'].includes(word)) return false;
  throw new Invalid('true or false');
};

const count: Parser<number> = (value) => {
  const n = typeof value === 'number' ? value : /^\d{1,6}$/.test(String(value).trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Invalid('a whole number from 1 to 100000');
  return n;
};

const url =
  (schemes: string[], what: string): Parser<string> =>
  (value) => {
    let parsed: URL;
    try {
      parsed = new URL(text(value));
    } catch {
      throw new Invalid(what);
    }
    if (!schemes.includes(parsed.protocol)) throw new Invalid(what);
    return parsed.href.replace(/\/$/, '');
  };

// Kept as written: WHATWG URL parsing would turn file:./data into file:///data.
const databaseUrl: Parser<string> = (value) => {
  const raw = text(value);
  if (!/^(file:.+|(libsql|https?):\/\/[^\s]+)$/.test(raw)) throw new Invalid('a file:, libsql:// or http(s):// URL');
  return raw;
};

const listen: Parser<Listen> = (value) => {
  const raw = text(value);
  const allowed = 'host:port (e.g. 0.0.0.0:4180, [::]:4180) or unix:/absolute/path.sock';
  if (raw.startsWith('unix:')) {
    const path = raw.slice('unix:'.length);
    if (!path.startsWith('/')) throw new Invalid(allowed);
    return { kind: 'unix', path };
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(raw);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new Invalid(allowed);
  const host = match[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { kind: 'tcp', host, port };
};

const list =
  <T>(item: Parser<T>): Parser<T[]> =>
  (value) => {
    const items = Array.isArray(value) ? value : text(value).split(',');
    return items.map((entry) => (typeof entry === 'string' ? entry.trim() : entry)).filter((entry) => entry !== '').map(item);
  };

const hostName: Parser<string> = (value) => {
  const name = text(value).toLowerCase().replace(/^\./, '');
  if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) {
    throw new Invalid('a host name such as example.com or *.example.com');
  }
  return name;
};

const domainName: Parser<string> = (value) => {
  const name = hostName(value);
  if (name.startsWith('*.')) throw new Invalid('a domain name such as example.com (no wildcard)');
  return name;
};

const cidr: Parser<string> = (value) => {
  const [address = '', prefix, ...rest] = text(value).split('/');
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!family || rest.length > 0 || !(bits >= 0 && bits <= max)) throw new Invalid('IP addresses or CIDRs such as 10.0.0.0/8');
  return `${address}/${bits}`;
};

/** Written as people write paths, kept in the canonical form requests are matched in. */
const pathPrefix: Parser<string> = (value) => {
  const path = text(value);
  if (!path.startsWith('/')) throw new Invalid('paths starting with /');
  try {
    return normalizePath(path);
  } catch {
    throw new Invalid('paths without encoded separators, dot segments or control characters');
  }
};

const accessRules: Parser<AccessRule[]> = (value) => {
  const allowed = 'a list of rules with policy (public, authenticated, deny) and optional host, path, methods, groups';
  if (!Array.isArray(value)) throw new Invalid(allowed);
  return value.map((rule: unknown) => {
    if (typeof rule !== 'object' || rule === null) throw new Invalid(allowed);
    const { host, path, methods, groups, policy, ...unknown } = rule as Record<string, unknown>;
    if (Object.keys(unknown).length > 0) throw new Invalid(allowed);
    return {
      policy: oneOf('public', 'authenticated', 'deny')(policy),
      ...(host === undefined ? {} : { host: hostName(host) }),
      ...(path === undefined ? {} : { path: pathPrefix(path) }),
      ...(methods === undefined ? {} : { methods: list(text)(methods).map((m) => m.toUpperCase()) }),
      ...(groups === undefined ? {} : { groups: list(text)(groups) }),
    };
  });
};

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

const headerPattern: Parser<string> = (value) => {
  const name = text(value).toLowerCase();
  if (!/^[a-z0-9_.-]+\*?$/.test(name)) throw new Invalid('header names, optionally ending in * for a prefix');
  return name;
};

export const SETTINGS: Record<keyof Config, Setting> = {
  listen: { parse: listen, default: '0.0.0.0:4180' },
  management_listen: { parse: listen, default: '0.0.0.0:9180' },
  upstream: { parse: url(['http:', 'https:'], 'an http:// or https:// URL'), secret: true },
  upstream_timeout: { parse: positiveDuration, default: '30s' },
  public_url: { parse: url(['http:', 'https:'], 'an http:// or https:// URL'), default: 'http://localhost:4180' },
  database_url: {
    parse: databaseUrl,
    default: 'file:./data/gatehouse.db',
    secret: true,
  },
  trust_window: { parse: positiveDuration, default: '5m' },
  idle_timeout: { parse: positiveDuration, default: '7d' },
  session_lifetime: { parse: positiveDuration, default: '30d' },
  cookie_domain: { parse: domainName },
  cookie_secure: { parse: boolean },
  registration: { parse: oneOf('open', 'closed'), default: 'open' },
  refresh_grace: { parse: parseDuration, default: '10s' },
  public_paths: { parse: list(pathPrefix), default: [] },
  access_rules: { parse: accessRules, default: [], yamlOnly: true },
  redirect_hosts: { parse: list(hostName), default: [] },
  trusted_proxies: { parse: list(cidr), default: LOOPBACK },
  identity_headers: { parse: oneOf('x-auth', 'remote'), default: 'x-auth' },
  strip_headers: { parse: list(headerPattern), default: MIGRATION_HEADERS },
  max_retries: { parse: count, default: 5 },
  find_time: { parse: positiveDuration, default: '2m' },
  ban_time: { parse: positiveDuration, default: '5m' },
  smtp_url: { parse: url(['smtp:', 'smtps:'], 'an smtp:// or smtps:// URL'), secret: true },
  email_from: { parse: text, default: 'gatehouse@localhost' },
  require_verified_email: { parse: boolean, default: false },
  hibp_url: { parse: url(['http:', 'https:'], 'an http:// or https:// URL'), secret: true },
  log_level: { parse: oneOf(...LOG_LEVELS), default: 'info' },
  password_pepper: { parse: text, secret: true },
};

export const envName = (setting: string) => `GATEHOUSE_${setting.toUpperCase()}`;

/** Raw values by setting name, each with where it came from (for error lines). */
export type RawSettings = Map<string, { value: unknown; source: string }>;

export interface LoadInput {
  flags: Record<string, string>;
  env: NodeJS.ProcessEnv;
  readFile: (path: string) => string;
}

/** Collects raw values from file, environment and flags; does not validate them. */
export function loadRawSettings({ flags, env, readFile }: LoadInput): { raw: RawSettings; errors: string[] } {
  const raw: RawSettings = new Map();
  const errors: string[] = [];
  const file = flags['config'] ?? env['GATEHOUSE_CONFIG'];
  if (file) {
    try {
      const doc: unknown = parseYaml(readFile(file)) ?? {};
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the file is not a mapping of settings');
      for (const [name, value] of Object.entries(doc as object)) {
        if (Object.hasOwn(SETTINGS, name)) raw.set(name, { value, source: file });
        else errors.push(`${name}: unknown setting in ${file}; known settings are ${Object.keys(SETTINGS).join(', ')}`);
      }
    } catch (error) {
      errors.push(`config: cannot read ${file}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const value = env[envName(name)];
    if (value === undefined) continue;
    if (setting.yamlOnly) errors.push(`${name}: can be set only in the YAML file, not in ${envName(name)}`);
    else raw.set(name, { value, source: envName(name) });
  }
  for (const [flag, value] of Object.entries(flags)) {
    const name = flag.replaceAll('-', '_');
    if (name === 'config') continue;
    if (Object.hasOwn(SETTINGS, name) && !SETTINGS[name as keyof Config].yamlOnly) raw.set(name, { value, source: `--${flag}` });
    else errors.push(`--${flag}: unknown flag`);
  }
  return { raw, errors };
}

/** Turns raw values into a Config, or lists every problem, one line each. */
export function validateConfig(raw: RawSettings): { config?: Readonly<Config>; errors: string[] } {
  const errors: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const given = raw.get(name);
    const value = given ? given.value : setting.default;
    if (value === undefined) continue;
    try {
      config[name] = setting.parse(value);
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      const shown = JSON.stringify(setting.secret ? redacted(name, value) : value);
      errors.push(`${name}: ${shown} is not valid (from ${given?.source ?? 'default'}); expected ${error.allowed}`);
    }
  }
  if (errors.length > 0) return { errors };
  const result = config as unknown as Config;
  result.cookie_secure ??= !result.public_url.startsWith('http:');
  if (result.redirect_hosts.length === 0 && result.cookie_domain) {
    result.redirect_hosts = [result.cookie_domain, `*.${result.cookie_domain}`];
  }
  errors.push(...crossCheck(result));
  return errors.length > 0 ? { errors } : { config: deepFreeze(result), errors };
}

function crossCheck(config: Config): string[] {
  const errors: string[] = [];
  if (config.trust_window > config.session_lifetime) {
    errors.push(`trust_window: must not be longer than session_lifetime`);
  }
  if (config.idle_timeout > config.session_lifetime) {
    errors.push(`idle_timeout: must not be longer than session_lifetime`);
  }
  if (config.refresh_grace > config.trust_window) {
    errors.push(`refresh_grace: must not be longer than trust_window`);
  }
  return errors;
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The effective config for `gatehouse config check`, with secrets hidden. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = { ...config };
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const value = shown[name];
    if (!setting.secret || typeof value !== 'string') continue;
    shown[name] = redacted(name, value);
  }
  for (const name of ['listen', 'management_listen'] as const) {
    const at = config[name];
    shown[name] = at.kind === 'unix' ? `unix:${at.path}` : `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
  }
  return shown;
}

/** Secrets hidden: the pepper whole, URLs only in their credentials. */
function redacted(name: string, value: unknown): unknown {
  if (name === 'password_pepper') return '(redacted)';
  return typeof value === 'string' ? redactUrl(value) : value;
}

function redactUrl(value: string): string {
  return value
    .replace(/(\/\/[^/?#:@]*:)[^/?#]*@/, '$1(redacted)@')
    .replace(/([?&][^=&]*(token|password|secret|key)[^=&]*=)[^&]*/gi, '$1(redacted)');
}

/** Loads and validates in one go, for the CLI. */
export function loadConfig(input: LoadInput): { config?: Readonly<Config>; errors: string[] } {
  const { raw, errors } = loadRawSettings(input);
  const validated = validateConfig(raw);
  const all = [...errors, ...validated.errors];
  return { config: all.length > 0 ? undefined : validated.config, errors: all };
}
