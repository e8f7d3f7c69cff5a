/**
 * CSRF protection for gatehouse's own HTML forms: the Origin check in app.ts plus
 * a double-submit token. The token lives in a cookie (`__Host-` prefixed when
 * secure, so a sibling subdomain cannot plant one) and in a hidden form field; a
 * form post must carry both, equal. JSON posts need no token: browsers cannot
 * send them cross-site without a CORS preflight, and the Origin check covers them.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Config } from '../config.js';
import { fail } from '../errors.js';

const TOKEN = /^[A-Za-z0-9_-]{32}$/;

const cookieName = (config: Pick<Config, 'cookie_secure'>) => (config.cookie_secure ? '__Host-gatehouse_csrf' : 'gatehouse_csrf');

function presented(req: IncomingMessage, config: Pick<Config, 'cookie_secure'>): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  try {
    const value = parseCookie(header)[cookieName(config)];
    return value && TOKEN.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The token for a form, and the cookie to set when the browser has none yet. */
export function formToken(req: IncomingMessage, config: Pick<Config, 'cookie_secure'>): { token: string; setCookie?: string } {
  const existing = presented(req, config);
  if (existing) return { token: existing };
  const token = randomBytes(24).toString('base64url');
  const setCookie = stringifySetCookie(cookieName(config), token, { httpOnly: true, sameSite: 'strict', secure: config.cookie_secure, path: '/' });
  return { token, setCookie };
}

/** 403 unless the form's token matches the cookie's. */
export function checkFormToken(req: IncomingMessage, field: unknown, config: Pick<Config, 'cookie_secure'>): void {
  const expected = presented(req, config);
  const ok = expected !== undefined && typeof field === 'string' && field.length === expected.length && timingSafeEqual(Buffer.from(field), Buffer.from(expected));
  if (!ok) throw fail('csrf_failed');
}
