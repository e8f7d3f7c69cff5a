/**
 * The value parsers of the settings: each turns a raw value (a YAML value or an
 * environment string) into a typed one, or throws Invalid saying what is allowed.
 */
import { isIP } from 'node:net';
import { normalizePath } from './auth/paths.js';

export type Listen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };
export type Policy = 'public' | 'authenticated' | 'deny';

export interface AccessRule {
  host?: string;
  path?: string;
  methods?: string[];
  groups?: string[];
  policy: Policy;
}

/** Thrown by a setting's parser; `allowed` says what would have been accepted. */
export class Invalid extends Error {
  constructor(readonly allowed: string) {
    super(allowed);
  }
}

export type Parser<T> = (value: unknown) => T;

/** Thrown by a parser of a structured setting: each problem a line of its own, after the setting's name. */
export class Problems extends Invalid {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** Levenshtein distance: how many single-letter edits turn one word into the other. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known name closest to `name`, if it is close enough to be a slip of the keyboard. */
export function nearestName(name: string, known: string[]): string | undefined {
  const word = name.toLowerCase();
  let best: { name?: string; distance: number } = { distance: Infinity };
  for (const candidate of known) {
    const distance = editDistance(word, candidate.toLowerCase());
    if (distance < best.distance) best = { name: candidate, distance };
  }
  return best.distance <= Math.max(2, Math.floor(word.length / 3)) ? best.name : undefined;
}



const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: unknown): number {
  const match = typeof value === 'string' ? DURATION.exec(value.trim()) : null;
  if (!match) throw new Invalid('a duration such as 30s, 10m, 12h or 7d');
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

export const text: Parser<string> = (value) => {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Invalid('a string');
  return String(value).trim();
};

export const positiveDuration: Parser<number> = (value) => {
  const ms = parseDuration(value);
  if (ms <= 0) throw new Invalid('a duration greater than zero');
  return ms;
};

export const oneOf =
  <T extends string>(...choices: T[]): Parser<T> =>
  (value) => {
    const choice = text(value).toLowerCase();
    if (!(choices as string[]).includes(choice)) throw new Invalid(`one of ${choices.join(', ')}`);
    return choice as T;
  };

export const boolean: Parser<boolean> = (value) => {
  if (typeof value === 'boolean') return value;
  const word = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (['true', '1', 'yes', 'on'].includes(word)) return true;
  if (['false', '0', 'no', 'off'].includes(word)) return false;
  throw new Invalid('true or false');
};

export const count: Parser<number> = (value) => {
  const n = typeof value === 'number' ? value : /^\d{1,6}$/.test(String(value).trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Invalid('a whole number from 1 to 100000');
  return n;
};

export const url =
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
export const databaseUrl: Parser<string> = (value) => {
  const raw = text(value);
  if (!/^(file:.+|(libsql|https?|postgres|postgresql):\/\/[^\s]+)$/.test(raw)) throw new Invalid('a file:, postgres(ql)://, libsql:// or http(s):// URL');
  return raw;
};

export const listen: Parser<Listen> = (value) => {
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

export const list =
  <T>(item: Parser<T>): Parser<T[]> =>
  (value) => {
    const items = Array.isArray(value) ? value : text(value).split(',');
    return items.map((entry) => (typeof entry === 'string' ? entry.trim() : entry)).filter((entry) => entry !== '').map(item);
  };

export const hostName: Parser<string> = (value) => {
  const name = text(value).toLowerCase().replace(/^\./, '');
  if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) {
    throw new Invalid('a host name such as example.com or *.example.com');
  }
  return name;
};

/** A host name with an optional port (`app.example.com:8443`): where `rd` may lead (SPEC section 5). */
export const hostNameWithPort: Parser<string> = (value) => {
  const [, name = '', port] = /^(.*?)(?::(\d{1,5}))?$/.exec(text(value).trim())!;
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) throw new Invalid('a host name with an optional port such as app.example.com:8443');
  return port === undefined ? hostName(name) : `${hostName(name)}:${Number(port)}`;
};

export const domainName: Parser<string> = (value) => {
  const name = hostName(value);
  if (name.startsWith('*.')) throw new Invalid('a domain name such as example.com (no wildcard)');
  return name;
};

export const cidr: Parser<string> = (value) => {
  const [address = '', prefix, ...rest] = text(value).split('/');
  const family = isIP(address);
  const max = family === 6 ? 128 : 32;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (!family || rest.length > 0 || !(bits >= 0 && bits <= max)) throw new Invalid('IP addresses or CIDRs such as 10.0.0.0/8');
  return `${address}/${bits}`;
};

/** Written as people write paths, kept in the canonical form requests are matched in. */
export const pathPrefix: Parser<string> = (value) => {
  const path = text(value);
  if (!path.startsWith('/')) throw new Invalid('paths starting with /');
  try {
    return normalizePath(path);
  } catch {
    throw new Invalid('paths without encoded separators, dot segments or control characters');
  }
};

export const accessRules: Parser<AccessRule[]> = (value) => {
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


export const headerPattern: Parser<string> = (value) => {
  const name = text(value).toLowerCase();
  if (!/^[a-z0-9_.-]+\*?$/.test(name)) throw new Invalid('header names, optionally ending in * for a prefix');
  return name;
};
