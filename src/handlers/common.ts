/** Pieces several handlers share. */
import type { IssuedTokens } from '../auth/sessions.js';
import { safeRedirect } from '../auth/redirects.js';
import type { Scope } from '../scope.js';

/** The JSON answer of login, registration and refresh (SPEC section 4). */
export function tokenBody(tokens: IssuedTokens) {
  return {
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
  };
}

export function returnUrl(scope: Scope, rd: unknown): string {
  const { config } = scope.services;
  return safeRedirect(rd, { publicUrl: config.public_url, redirectHosts: config.redirect_hosts });
}

export const loginUrl = (rd: string) => `/_auth/login?rd=${encodeURIComponent(rd)}`;

/** A form field that may be shown again in the page after an error. */
export const echo = (value: unknown) => (typeof value === 'string' ? value.slice(0, 320) : '');
