/** Pieces several handlers share. */
import { authenticate } from '../auth/authenticate.js';
import { clientAddress } from '../auth/forwarded.js';
import { forbidden, HttpError, unauthorized } from '../errors.js';
import type { User } from '../store/types.js';
import type { IssuedTokens } from '../auth/sessions.js';
import { safeRedirect } from '../auth/redirects.js';
import type { ADDRESS_LIMITS } from '../auth/throttle.js';
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

/** How recent a sign-in must be to add a second factor. */
const RECENT_SIGN_IN_MS = 10 * 60_000;

/**
 * A caller who signed in within the last ten minutes: adding a passkey or an
 * authenticator app would otherwise let a stolen session outlast a password reset.
 */
export async function requireRecentSignIn(scope: Scope): Promise<{ user: User; sessionId: string }> {
  const signedIn = await requireUser(scope);
  const session = await scope.services.store.findSession(signedIn.sessionId);
  if (!session || scope.services.clock.now() - session.createdAt > RECENT_SIGN_IN_MS) {
    throw forbidden('reauthentication_required', 'Please sign in again before adding a second factor.');
  }
  return signedIn;
}

/** The signed-in caller, fresh from the store (a renewed cookie is sent along); 401 otherwise. */
export async function requireUser(scope: Scope): Promise<{ user: User; sessionId: string }> {
  const { claims, setCookie } = await authenticate(scope.req.headers, scope.services);
  const user = claims && (await scope.services.store.findUserById(claims.sub));
  if (!claims || !user || user.disabled) throw unauthorized('unauthenticated', 'Sign in first.');
  if (setCookie) scope.res.appendHeader('set-cookie', setCookie);
  return { user, sessionId: claims.sid };
}

/** The current password again; wrong guesses count towards bans like failed sign-ins. */
export async function reauthenticate(scope: Scope, user: User, password: string | undefined): Promise<void> {
  await scope.services.accounts.confirmPassword(user, password, clientAddress(scope.req, scope.services.trusted));
}

/**
 * One request against a per-address limit on an endpoint anyone may call that writes
 * to the database (SPEC section 7): beyond it, 429 with Retry-After.
 */
export async function limitAddress(scope: Scope, kind: keyof typeof ADDRESS_LIMITS): Promise<void> {
  const { throttle, trusted } = scope.services;
  const retryAfter = await throttle.limitAddress(kind, clientAddress(scope.req, trusted));
  if (retryAfter === 0) return;
  scope.res.setHeader('retry-after', String(retryAfter));
  throw new HttpError(429, 'too_many_requests', 'Too many requests from this address; try again later.');
}
