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
  if (!header || !header.includes(SESSION_COOKIE)) return {};
  try {
    const value = parseCookie(header)[SESSION_COOKIE];
    const [access, refresh, ...rest] = (value ?? '').split(SEPARATOR);
    if (rest.length > 0) return {};
    return { access: access || undefined, refresh: refresh || undefined };
  } catch {
    return {};
  }
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
