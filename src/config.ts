/**
 * Settings: defaults < YAML file < GATEHOUSE_* environment < command-line flags.
 * Loading (collect raw values with their source) and validating (turn them into a
 * typed, frozen Config, reporting every problem at once) are separate steps.
 * SPEC section 2 lists every setting.
 */
import { parse as parseYaml } from 'yaml';
import { MIGRATION_HEADERS } from './auth/identity-headers.js';
import {
  accessRules,
  boolean,
  cidr,
  count,
  databaseUrl,
  domainName,
  headerPattern,
  hostName,
  Invalid,
  list,
  listen,
  oneOf,
  pathPrefix,
  positiveDuration,
  parseDuration,
  text,
  url,
  type Parser,
} from './config-values.js';
import { LOG_LEVELS, type LogLevel } from './log.js';

export { parseDuration };

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
  registration_domains: string[];
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

interface Setting {
  parse: Parser<unknown>;
  default?: unknown;
  secret?: boolean;
  yamlOnly?: boolean;
}

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

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
  registration: { parse: oneOf('open', 'closed'), default: 'closed' },
  registration_domains: { parse: list(domainName), default: [] },
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
