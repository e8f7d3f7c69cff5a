/** Pieces several handlers share. */
import { authenticate } from '../auth/authenticate.js';
import { clientAddress } from '../auth/forwarded.js';
import { fail } from '../errors.js';
import type { Session, User } from '../store/types.js';
import type { IssuedTokens, SessionClient } from '../auth/sessions.js';
import { describeDevice, UNKNOWN_DEVICE } from '../auth/devices.js';
import { safeRedirect } from '../auth/redirects.js';
import type { ADDRESS_LIMITS } from '../auth/throttle.js';
import type { Caller, Scope } from '../scope.js';

/** The device and address a session started by this request is filed under. */
export const sessionClient = (scope: Scope): SessionClient => ({
  device: describeDevice(scope.req.headers['user-agent']),
  address: clientAddress(scope.req, scope.services.trusted),
});

/** A session as people see it, on the account page and in the admin API: what `sessionClient` filed, and its times. */
export const sessionFields = (session: Session) => ({
  id: session.id,
  device: session.device ?? UNKNOWN_DEVICE,
  address: session.address,
  created_at: new Date(session.createdAt).toISOString(),
  last_used_at: new Date(session.lastUsedAt).toISOString(),
});

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

/** Route step: the signed-in caller, fresh from the store (a renewed cookie is sent along); 401 otherwise. */
export async function signedIn(scope: Scope): Promise<void> {
  const caller = await signedInCaller(scope);
  if (!caller) throw fail('unauthenticated');
  scope.caller = caller;
}

/** Route step: a signed-in member of `admins` (SPEC section 11); 401 for strangers, 403 for everyone else. */
export async function signedInAdmin(scope: Scope): Promise<void> {
  await signedIn(scope);
  if (!scope.caller.user.groups.includes('admins')) throw fail('admin_required');
}

/**
 * Route step: a caller who signed in within the last ten minutes. Adding a passkey
 * or an authenticator app would otherwise let a stolen session outlast a password reset.
 */
export async function recentlySignedIn(scope: Scope): Promise<void> {
  await signedIn(scope);
  if (!(await isRecentSignIn(scope))) throw fail('reauthentication_required', 'Please sign in again before adding a second factor.');
}

/** Whether the caller's session (after a signedIn step) is live in the store and began within the last ten minutes. */
export async function isRecentSignIn(scope: Scope): Promise<boolean> {
  const session = await scope.services.store.findSession(scope.caller.sessionId);
  // revokedAt: an access token outlives its session by up to trust_window on other instances.
  return session !== undefined && session.revokedAt === null && scope.services.clock.now() - session.createdAt <= RECENT_SIGN_IN_MS;
}

/** The signed-in caller, if any; a renewed session cookie goes into the answer. */
export async function signedInCaller(scope: Scope): Promise<Caller | undefined> {
  const { claims, setCookie } = await authenticate(scope.req.headers, scope.services);
  const user = claims && (await scope.services.store.findUserById(claims.sub));
  if (!claims || !user || user.disabled) return undefined;
  scope.setCookie(setCookie);
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
  scope.setHeader('retry-after', String(retryAfter));
  throw fail('too_many_requests');
}
