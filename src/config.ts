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
  hostNameWithPort,
  Invalid,
  list,
  listen,
  nearestName,
  Problems,
  oneOf,
  pathPrefix,
  positiveDuration,
  parseDuration,
  text,
  url,
  type AccessRule,
  type Listen,
  type Parser,
  type Policy,
} from './config-values.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { oidcProviders, type OidcProvider } from './oidc/settings.js';

export { parseDuration };

export type { AccessRule, Listen, Policy };

export interface Config {
  listen: Listen;
  management_listen: Listen;
  upstream?: string;
  upstream_timeout: number;
  public_url: string;
  database_url: string;
  database_pool_size: number;
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
  /** How long the audit table keeps an event; 0 keeps every event. */
  audit_retention: number;
  /** The request log (request-log.ts): denied (refusals and errors), all, or off. */
  log_requests: 'denied' | 'all' | 'off';
  oidc_providers: OidcProvider[];
}

interface Setting {
  parse: Parser<unknown>;
  default?: unknown;
  secret?: boolean;
  yamlOnly?: boolean;
}

const LOOPBACK = ['127.0.0.0/8', '::1/128'];
const DEFAULT_REFRESH_GRACE_MS = 10_000;

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
  database_pool_size: { parse: count, default: 10 },
  trust_window: { parse: positiveDuration, default: '5m' },
  idle_timeout: { parse: positiveDuration, default: '7d' },
  session_lifetime: { parse: positiveDuration, default: '30d' },
  cookie_domain: { parse: domainName },
  cookie_secure: { parse: boolean },
  registration: { parse: oneOf('open', 'closed'), default: 'closed' },
  registration_domains: { parse: list(domainName), default: [] },
  // No fixed default: it is the shorter of 10s and trust_window (validateConfig).
  refresh_grace: { parse: parseDuration },
  public_paths: { parse: list(pathPrefix), default: [] },
  access_rules: { parse: accessRules, default: [], yamlOnly: true },
  redirect_hosts: { parse: list(hostNameWithPort), default: [] },
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
  audit_retention: { parse: parseDuration, default: '90d' },
  log_requests: { parse: oneOf('denied', 'all', 'off'), default: 'denied' },
  // Client secrets are read from client_secret_env / client_secret_file and kept out of sight (oidc/settings.ts).
  oidc_providers: { parse: oidcProviders, default: [], yamlOnly: true },
};

const PREFIX = 'GATEHOUSE_';
export const envName = (setting: string) => `${PREFIX}${setting.toUpperCase()}`;

/** Variables gatehouse reads besides the settings: the file to load, and node's flags (bin/gatehouse). */
const OTHER_VARIABLES = ['GATEHOUSE_CONFIG', 'GATEHOUSE_NODE_FLAGS'];

/**
 * What Kubernetes injects for a Service named gatehouse (or gatehouse-*): GATEHOUSE_SERVICE_HOST,
 * GATEHOUSE_SERVICE_PORT[_NAME], GATEHOUSE_PORT_4180_TCP[_PROTO|_PORT|_ADDR], and GATEHOUSE_PORT
 * itself, whose value is tcp://address:port. Never a misspelt setting, so never warned about.
 */
const SERVICE_LINK = /^GATEHOUSE_(\w+_)?(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)$/;
const SERVICE_LINK_PORT = /^GATEHOUSE_(\w+_)?PORT$/;
const SERVICE_LINK_ADDRESS = /^(tcp|udp|sctp):\/\/\S+:\d+$/;

const isServiceLink = (name: string, value: string | undefined) =>
  SERVICE_LINK.test(name) || (SERVICE_LINK_PORT.test(name) && SERVICE_LINK_ADDRESS.test(value ?? ''));

/** Raw values by setting name, each with where it came from (for error lines). */
export type RawSettings = Map<string, { value: unknown; source: string }>;

export interface LoadInput {
  flags: Record<string, string>;
  env: NodeJS.ProcessEnv;
  readFile: (path: string) => string;
}

export interface Loaded {
  raw: RawSettings;
  /** Each stops the start. */
  errors: string[];
  /** Each is worth saying, but the start goes on. */
  warnings: string[];
}

/** Collects raw values from file, environment and flags; does not validate them. */
export function loadRawSettings({ flags, env, readFile }: LoadInput): Loaded {
  const raw: RawSettings = new Map();
  const errors: string[] = [];
  const file = flags['config'] ?? env['GATEHOUSE_CONFIG'];
  if (file) readSettingsFile(file, readFile, raw, errors);
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
  return { raw, errors, warnings: unknownVariables(env) };
}

function readSettingsFile(file: string, readFile: LoadInput['readFile'], raw: RawSettings, errors: string[]): void {
  try {
    const doc: unknown = parseYaml(readFile(file)) ?? {};
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the file is not a mapping of settings');
    for (const [name, value] of Object.entries(doc as object)) {
      if (Object.hasOwn(SETTINGS, name)) raw.set(name, { value, source: file });
      else errors.push(`${file}: ${unknownSetting(name)}`);
    }
  } catch (error) {
    errors.push(`config: cannot read ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
}

function unknownSetting(name: string): string {
  const names = Object.keys(SETTINGS);
  const nearest = nearestName(name, names);
  return nearest ? `unknown setting \`${name}\`; did you mean \`${nearest}\`?` : `unknown setting \`${name}\`; known settings are ${names.join(', ')}`;
}

/** A GATEHOUSE_* variable that is no setting is most likely a misspelt one: worth a warning, not a stop. */
function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = [...Object.keys(SETTINGS).map(envName), ...OTHER_VARIABLES];
  // Compared without the common prefix, which would make every name look near.
  const suffixes = known.map((name) => name.slice(PREFIX.length));
  return Object.keys(env)
    .filter((name) => name.startsWith(PREFIX) && !known.includes(name) && !isServiceLink(name, env[name]))
    .map((name) => {
      const nearest = nearestName(name.slice(PREFIX.length), suffixes);
      return `${name} is not a setting and is ignored${nearest ? `; did you mean ${PREFIX}${nearest}?` : ''}`;
    });
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
      if (error instanceof Problems) {
        errors.push(...error.problems.map((problem) => `${name}${problem} (from ${given?.source ?? 'default'})`));
        continue;
      }
      const shown = JSON.stringify(setting.secret ? redacted(name, value) : value);
      errors.push(`${name}: ${shown} is not valid (from ${given?.source ?? 'default'}); expected ${error.allowed}`);
    }
  }
  if (errors.length > 0) return { errors };
  const result = config as unknown as Config;
  result.cookie_secure ??= !result.public_url.startsWith('http:');
  // A shorter trust_window alone must not make the default grace too long to start.
  result.refresh_grace ??= Math.min(DEFAULT_REFRESH_GRACE_MS, result.trust_window);
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

/** What the start log says (SPEC section 2): where, in which mode, on which database, under which policy. */
export function startSummary(config: Config, bound: { address: string; management: string }, hasUsers: boolean) {
  const asUrl = (address: string) => (address.startsWith('unix:') ? address : `http://${address}`);
  const listening = {
    url: asUrl(bound.address),
    management_url: asUrl(bound.management),
    address: bound.address,
    management: bound.management,
    public_url: config.public_url,
    mode: config.upstream ? `proxy → ${redactUrl(config.upstream)}` : 'forward-auth / endpoints only',
    database: redactUrl(config.database_url),
    registration: registrationPolicy(config),
  };
  const register = `${config.public_url}/_auth/register`;
  const firstAccount = hasUsers
    ? undefined
    : { url: register, message: `no account exists yet: the first to register at ${register} becomes the administrator (or: gatehouse user add NAME --admin)` };
  return { listening, firstAccount };
}

function registrationPolicy({ registration, registration_domains: domains }: Config): string {
  if (registration === 'closed' || domains.length === 0) return registration;
  return `open to ${domains.join(', ')} (address confirmation required)`;
}

/** Loads and validates in one go, for the CLI. */
export function loadConfig(input: LoadInput): { config?: Readonly<Config>; errors: string[]; warnings: string[] } {
  const { raw, errors, warnings } = loadRawSettings(input);
  const validated = validateConfig(raw);
  const all = [...errors, ...validated.errors];
  return { config: all.length > 0 ? undefined : validated.config, errors: all, warnings };
}
