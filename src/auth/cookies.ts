/**
 * The session cookie. Access and refresh token travel in one cookie, because a
 * refresh must reach the browser through proxies that pass back only the first
 * Set-Cookie of an auth answer (nginx auth_request_set). SPEC section 3.
 */
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Config } from '../config.js';
import type { IssuedTokens } from './sessions.js';

export const SESSION_COOKIE = 'gatehouse_session';
const SEPARATOR = '~';

type CookieConfig = Pick<Config, 'cookie_secure' | 'cookie_domain' | 'session_lifetime'>;

function attributes(config: CookieConfig, maxAgeSeconds: number) {
  return {
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: config.cookie_secure,
    path: '/',
    maxAge: maxAgeSeconds,
    ...(config.cookie_domain && { domain: config.cookie_domain }),
  };
}

/** One Set-Cookie line carrying both tokens; it lives as long as a session may. */
export function sessionCookie(tokens: IssuedTokens, config: CookieConfig): string {
  const value = `${tokens.accessToken}${SEPARATOR}${tokens.refreshToken}`;
  return stringifySetCookie(SESSION_COOKIE, value, attributes(config, Math.floor(config.session_lifetime / 1000)));
}

export function clearedCookie(config: CookieConfig): string {
  return stringifySetCookie(SESSION_COOKIE, '', attributes(config, 0));
}

/** Both tokens of the session cookie, if present. Garbage yields nothing, never an exception. */
export function readSessionCookie(header: string | undefined): { access?: string; refresh?: string } {
  const value = header === undefined ? undefined : sessionCookieValue(header);
  if (value === undefined) return {};
  const at = value.indexOf(SEPARATOR);
  if (at === -1) return { access: value || undefined };
  if (value.includes(SEPARATOR, at + 1)) return {};
  return { access: value.slice(0, at) || undefined, refresh: value.slice(at + 1) || undefined };
}

/**
 * The session cookie's value, as `parseCookie(header)[SESSION_COOKIE]` reads it. It runs
 * on every request that carries cookies, so the usual shape is read without splitting the
 * whole header: the name's first occurrence, where a pair begins (at the start, after ";"
 * or "; "), then "=" and a plain value. Anything else (blanks, percent-encoding, the name
 * inside another cookie's value) goes to the parser.
 */
export function sessionCookieValue(header: string): string | undefined {
  const at = header.indexOf(SESSION_COOKIE);
  if (at === -1) return undefined;
  const from = at + SESSION_COOKIE.length + 1;
  if (header.charCodeAt(from - 1) === EQUALS && startsPair(header, at)) {
    const end = header.indexOf(';', from);
    const value = header.slice(from, end === -1 ? header.length : end);
    if (!value.includes('%') && !isBlank(value.charCodeAt(0)) && !isBlank(value.charCodeAt(value.length - 1))) return value;
  }
  return parseCookie(header)[SESSION_COOKIE];
}

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const isBlank = (code: number) => code === 0x20 || code === 0x09;

/** A name at `at` that begins the header, or follows ";" or "; ". */
function startsPair(header: string, at: number): boolean {
  if (at === 0) return true;
  const before = header.charCodeAt(at - 1);
  return before === SEMICOLON || (before === 0x20 && header.charCodeAt(at - 2) === SEMICOLON);
}

/** The Cookie header without gatehouse's own cookie: the upstream never sees session tokens. */
export function withoutSessionCookie(header: string | undefined): string | undefined {
  if (!header || !header.includes(SESSION_COOKIE)) return header;
  const kept = header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '' && !pair.startsWith(`${SESSION_COOKIE}=`));
  return kept.length > 0 ? kept.join('; ') : undefined;
}
