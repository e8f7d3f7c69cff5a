/**
 * `oidc_providers` (SPEC section 12): each entry checked on its own, every problem
 * reported at once, one line each, naming the entry. Client secrets are read here
 * from `client_secret_env` or `client_secret_file` and kept on a property that is not
 * enumerable: no log line, JSON or `config check` output can carry them.
 */
import { readFileSync } from 'node:fs';
import { boolean, domainName, Invalid, list, nearestName, Problems, text, url, type Parser } from '../config-values.js';
import { githubEndpoints, GITHUB_API_URL, GITHUB_URL, microsoftIssuer, PRESET, PRESETS, type GitHubEndpoints, type PresetName } from './presets.js';

export interface OidcProvider {
  id: string;
  /** The button text. */
  name: string;
  preset?: PresetName;
  /** OpenID Connect: the issuer whose discovery document describes it. Absent for GitHub. */
  issuer?: string;
  /** GitHub's OAuth 2 endpoints and APIs, instead of an issuer. */
  github?: GitHubEndpoints;
  tenant?: string;
  client_id: string;
  client_secret_env?: string;
  client_secret_file?: string;
  /** Not enumerable: see the module comment. */
  readonly clientSecret: string;
  scopes: string[];
  allowed_domains: string[];
  allowed_groups: string[];
  groups_claim?: string;
  /** Claim value → gatehouse group; without it, claim values are taken as they are (never `admins`). */
  group_map?: Readonly<Record<string, string>>;
  /** Unset: follows `registration` (see oidc/accounts.ts). */
  auto_register?: boolean;
  require_local_mfa: boolean;
  insecure_http: boolean;
}

const KEYS = [
  'id',
  'name',
  'preset',
  'issuer',
  'tenant',
  'github_url',
  'github_api_url',
  'client_id',
  'client_secret_env',
  'client_secret_file',
  'scopes',
  'allowed_domains',
  'allowed_groups',
  'groups_claim',
  'group_map',
  'auto_register',
  'require_local_mfa',
  'insecure_http',
];

const ID = /^[a-z0-9-]{1,40}$/;
/** A dotted path into the claims (Keycloak: realm_access.roles). */
const CLAIM_PATH = /^[^.\s]+(\.[^.\s]+)*$/;

/** Collects the problems of one entry instead of stopping at the first. */
class Checker {
  readonly problems: string[] = [];
  constructor(public where: string) {}

  field<T>(key: string, value: unknown, parse: Parser<T>): T | undefined {
    if (value === undefined) return undefined;
    try {
      return parse(value);
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      this.problem(`${key}: ${JSON.stringify(value)} is not valid; expected ${error.allowed}`);
      return undefined;
    }
  }

  problem(line: string): void {
    this.problems.push(`${this.where}: ${line}`);
  }
}

export const oidcProviders: Parser<OidcProvider[]> = (value) => {
  // Not echoed like other invalid values: a mapping written instead of a list may hold an inline client_secret.
  if (!Array.isArray(value)) throw new Problems([': not a list; expected a list of providers ("- id: …"), each with id, client_id, a secret and preset or issuer']);
  const problems: string[] = [];
  const seen = new Set<string>();
  const providers = value.map((entry: unknown, index) => {
    const checker = new Checker(`[${index}]`);
    const provider = parseProvider(entry, checker);
    if (provider && seen.has(provider.id)) checker.problem(`id: ${provider.id} is used by an earlier provider`);
    if (provider) seen.add(provider.id);
    problems.push(...checker.problems);
    return provider;
  });
  if (problems.length > 0) throw new Problems(problems);
  return providers as OidcProvider[];
};

function parseProvider(entry: unknown, checker: Checker): OidcProvider | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    checker.problem('expected a mapping with id, client_id, a secret and preset or issuer');
    return undefined;
  }
  const raw = entry as Record<string, unknown>;
  const id = checker.field('id', raw['id'], providerId);
  if (id !== undefined) checker.where = `${checker.where} (${id})`;
  if (raw['id'] === undefined) checker.problem('id: required ([a-z0-9-], used in the callback path)');
  for (const key of Object.keys(raw)) {
    if (!KEYS.includes(key)) checker.problem(unknownKey(key));
  }
  const where = endpoints(raw, checker);
  const clientSecret = readSecret(raw, checker);
  const common = commonSettings(raw, checker, where.preset);
  if (checker.problems.length > 0 || id === undefined || clientSecret === undefined || common === undefined) return undefined;
  const provider = { id, name: text(raw['name'] ?? (where.preset ? PRESET[where.preset].name : id)), ...where, ...common };
  return Object.defineProperty(provider, 'clientSecret', { value: clientSecret, enumerable: false }) as OidcProvider;
}

const providerId: Parser<string> = (value) => {
  const id = text(value);
  if (!ID.test(id)) throw new Invalid('1 to 40 of a-z, 0-9 and -');
  return id;
};

function unknownKey(key: string): string {
  if (key === 'client_secret') return 'client_secret: not read from the YAML file; use client_secret_env or client_secret_file';
  const nearest = nearestName(key, KEYS);
  return nearest ? `unknown setting \`${key}\`; did you mean \`${nearest}\`?` : `unknown setting \`${key}\`; known settings are ${KEYS.join(', ')}`;
}

type Where = Pick<OidcProvider, 'preset' | 'issuer' | 'github' | 'tenant'>;

/** Where the provider is: a preset, or an issuer to discover; `http:` only with insecure_http. */
function endpoints(raw: Record<string, unknown>, checker: Checker): Where {
  const insecure = checker.field('insecure_http', raw['insecure_http'], boolean) ?? false;
  const address = url(insecure ? ['https:', 'http:'] : ['https:'], insecure ? 'an https:// (or http://) URL' : 'an https:// URL (http:// only with insecure_http: true)');
  const preset = checker.field('preset', raw['preset'], presetName);
  const issuer = checker.field('issuer', raw['issuer'], address);
  const only = (key: string, owner: PresetName) => raw[key] !== undefined && preset !== owner && checker.problem(`${key}: only for preset ${owner}`);
  only('tenant', 'microsoft');
  only('github_url', 'github');
  only('github_api_url', 'github');
  if (preset === undefined && raw['preset'] === undefined && issuer === undefined && raw['issuer'] === undefined) {
    checker.problem(`preset or issuer: one is required (presets: ${PRESETS.join(', ')}; or issuer: the URL of any OpenID Connect provider)`);
  }
  if (preset !== undefined && preset !== 'gitlab' && raw['issuer'] !== undefined) checker.problem(`issuer: not with preset ${preset} (only gitlab takes one, for a self-managed instance)`);
  if (preset === 'github') {
    const web = checker.field('github_url', raw['github_url'], address) ?? GITHUB_URL;
    const api = checker.field('github_api_url', raw['github_api_url'], address) ?? GITHUB_API_URL;
    return { preset, github: githubEndpoints(web, api) };
  }
  if (preset === 'microsoft') {
    const tenant = checker.field('tenant', raw['tenant'], tenantName);
    if (raw['tenant'] === undefined) checker.problem('tenant: required with preset microsoft (your tenant ID, a verified domain, or organizations / common)');
    return { preset, tenant, issuer: tenant === undefined ? undefined : microsoftIssuer(tenant) };
  }
  return { preset, issuer: issuer ?? (preset ? PRESET[preset].issuer : undefined) };
}

const presetName: Parser<PresetName> = (value) => {
  const name = text(value).toLowerCase();
  if (!(PRESETS as string[]).includes(name)) throw new Invalid(`one of ${PRESETS.join(', ')} (or leave it out and set issuer)`);
  return name as PresetName;
};

const tenantName: Parser<string> = (value) => {
  const tenant = text(value);
  if (!/^[A-Za-z0-9.-]{1,100}$/.test(tenant)) throw new Invalid('a tenant ID, a verified domain, organizations, common or consumers');
  return tenant;
};

/** Exactly one of client_secret_env and client_secret_file, and it must hold a secret now. */
function readSecret(raw: Record<string, unknown>, checker: Checker): string | undefined {
  const variable = checker.field('client_secret_env', raw['client_secret_env'], text);
  const file = checker.field('client_secret_file', raw['client_secret_file'], text);
  if (variable !== undefined && file !== undefined) return void checker.problem('client_secret_env and client_secret_file: set one, not both');
  if (variable !== undefined) {
    const secret = process.env[variable]?.trim();
    if (!secret) checker.problem(`client_secret_env: the environment variable ${variable} is not set or empty`);
    return secret || undefined;
  }
  if (file !== undefined) {
    let secret = '';
    try {
      secret = readFileSync(file, 'utf8').trim();
    } catch (error) {
      return void checker.problem(`client_secret_file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!secret) checker.problem(`client_secret_file: ${file} is empty`);
    return secret || undefined;
  }
  checker.problem('client_secret_env or client_secret_file: required (the client secret is never written in the YAML file)');
  return undefined;
}

type Common = Omit<OidcProvider, 'id' | 'name' | 'clientSecret' | keyof Where>;

function commonSettings(raw: Record<string, unknown>, checker: Checker, preset: PresetName | undefined): Common | undefined {
  const clientId = checker.field('client_id', raw['client_id'], nonEmpty);
  if (raw['client_id'] === undefined) checker.problem('client_id: required');
  const scopes = checker.field('scopes', raw['scopes'], list(scope)) ?? (preset ? PRESET[preset].scopes : ['openid', 'email', 'profile']);
  if (preset !== 'github' && !scopes.includes('openid')) checker.problem('scopes: must include openid');
  const groupsClaim = checker.field('groups_claim', raw['groups_claim'], claimPath);
  const groupMap = checker.field('group_map', raw['group_map'], groupMapping);
  if (groupMap !== undefined && groupsClaim === undefined && raw['groups_claim'] === undefined) checker.problem('group_map: needs groups_claim');
  if (clientId === undefined) return undefined;
  return {
    client_id: clientId,
    ...(raw['client_secret_env'] !== undefined && { client_secret_env: String(raw['client_secret_env']) }),
    ...(raw['client_secret_file'] !== undefined && { client_secret_file: String(raw['client_secret_file']) }),
    scopes,
    allowed_domains: checker.field('allowed_domains', raw['allowed_domains'], list(domainName)) ?? [],
    allowed_groups: checker.field('allowed_groups', raw['allowed_groups'], list(nonEmpty)) ?? [],
    ...(groupsClaim !== undefined && { groups_claim: groupsClaim }),
    ...(groupMap !== undefined && { group_map: groupMap }),
    ...(raw['auto_register'] !== undefined && { auto_register: checker.field('auto_register', raw['auto_register'], boolean) }),
    require_local_mfa: checker.field('require_local_mfa', raw['require_local_mfa'], boolean) ?? false,
    insecure_http: checker.field('insecure_http', raw['insecure_http'], boolean) ?? false,
  };
}

const nonEmpty: Parser<string> = (value) => {
  const word = text(value);
  if (word === '' || /[\u0000-\u001f\u007f]/.test(word)) throw new Invalid('a non-empty string without control characters');
  return word;
};

const scope: Parser<string> = (value) => {
  const word = text(value);
  if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(word)) throw new Invalid('scope names (RFC 6749: printable ASCII, no spaces, quotes or backslashes)');
  return word;
};

const claimPath: Parser<string> = (value) => {
  const path = text(value);
  if (!CLAIM_PATH.test(path)) throw new Invalid('a claim name, or a dotted path such as realm_access.roles');
  return path;
};

const groupMapping: Parser<Record<string, string>> = (value) => {
  const allowed = 'a mapping of claim value to gatehouse group';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid(allowed);
  const map: Record<string, string> = Object.create(null);
  for (const [claim, group] of Object.entries(value)) map[claim] = nonEmpty(group);
  return map;
};
