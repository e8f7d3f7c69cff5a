/** The session cookies: names, attributes, and reading them from a Cookie header. */
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Config } from '../config.js';
import type { IssuedTokens } from './sessions.js';

export const ACCESS_COOKIE = 'gatehouse_access';
export const REFRESH_COOKIE = 'gatehouse_refresh';

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

export function sessionCookies(tokens: IssuedTokens, config: CookieConfig): string[] {
  return [
    stringifySetCookie(ACCESS_COOKIE, tokens.accessToken, attributes(config, tokens.expiresIn)),
    stringifySetCookie(REFRESH_COOKIE, tokens.refreshToken, attributes(config, Math.floor(config.session_lifetime / 1000))),
  ];
}

export function clearedCookies(config: CookieConfig): string[] {
  return [ACCESS_COOKIE, REFRESH_COOKIE].map((name) => stringifySetCookie(name, '', attributes(config, 0)));
}

/** Both session cookies, if present. Garbage in the header yields nothing, never an exception. */
export function readSessionCookies(header: string | undefined): { access?: string; refresh?: string } {
  if (!header) return {};
  try {
    const cookies = parseCookie(header);
    return { access: cookies[ACCESS_COOKIE] || undefined, refresh: cookies[REFRESH_COOKIE] || undefined };
  } catch {
    return {};
  }
}
