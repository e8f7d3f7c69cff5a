/** Refresh, logout, userinfo and the JWKS: the endpoints around an existing session. */
import { authenticate, bearerToken } from '../auth/authenticate.js';
import { clientAddress } from '../auth/forwarded.js';
import { confirmedEmail } from '../auth/identity-headers.js';
import { clearedCookie, readSessionCookie, sessionCookie } from '../auth/cookies.js';
import { TokenInvalid } from '../auth/tokens.js';
import { fail } from '../errors.js';
import { parseBody, stringField } from '../http.js';
import { signedInPage } from '../pages.js';
import { checkFormToken } from '../auth/csrf.js';
import type { Scope } from '../scope.js';
import { loginUrl, returnUrl, tokenBody } from './common.js';

/** POST /_auth/refresh: a rotated pair for the refresh token in the body or the cookie. */
export async function refresh(scope: Scope): Promise<void> {
  const { sessions, config } = scope.services;
  const { fields } = await parseBody(scope.req);
  const presented = stringField(fields, 'refresh_token', { max: 512 }) ?? readSessionCookie(scope.req.headers.cookie).refresh;
  if (!presented) throw fail('refresh_token_missing');
  const tokens = await sessions.refresh(presented, clientAddress(scope.req, scope.services.trusted));
  scope.setCookie(sessionCookie(tokens, config));
  scope.json(200, tokenBody(tokens));
}

/**
 * POST /_auth/logout: ends the session named by a refresh token (body or cookie)
 * or a valid access token; `{"all":true}` ends every session of its user. A form goes on to
 * the login page, with its `rd` when it has one.
 * Answers alike whether or not a session was found, and always clears the cookies.
 */
export async function logout(scope: Scope): Promise<void> {
  const { sessions, config } = scope.services;
  const { kind, fields } = await parseBody(scope.req);
  if (kind === 'form') checkFormToken(scope.req, fields['csrf'], config);
  const session = await sessionToEnd(scope, stringField(fields, 'refresh_token', { max: 512 }));
  if (session && (fields['all'] === true || fields['all'] === 'true')) {
    await sessions.endAllOfUser(session.userId, 'logout_all');
  } else if (session) {
    await sessions.end(session.sessionId, 'logout');
  }
  scope.setCookie(clearedCookie(config));
  // The 403 page's "switch account" names where the next sign-in should lead.
  if (kind === 'form') return scope.redirect(loginUrl(returnUrl(scope, fields['rd'])));
  scope.empty(204);
}

async function sessionToEnd(scope: Scope, bodyToken: string | undefined) {
  const { sessions, tokens } = scope.services;
  const cookies = readSessionCookie(scope.req.headers.cookie);
  const refreshToken = bodyToken ?? cookies.refresh;
  const found = refreshToken && (await sessions.sessionOf(refreshToken));
  if (found) return found;
  const bearer = bearerToken(scope.req.headers.authorization);
  const accessToken = bearer ?? cookies.access;
  if (!accessToken) return undefined;
  try {
    const claims = await tokens.verify(accessToken);
    return { sessionId: claims.sid, userId: claims.sub };
  } catch (error) {
    if (error instanceof TokenInvalid) return undefined;
    throw error;
  }
}

/** GET /_auth/userinfo: the caller's identity, refreshing the session if its cookies allow. */
export async function userinfo(scope: Scope): Promise<void> {
  const { claims, setCookie, failure } = await authenticate(scope.req.headers, scope.services);
  if (!claims) {
    return scope.json(401, {
      error: 'unauthenticated',
      message: 'Sign in first.',
      reason: failure,
      login_url: loginUrl('/'),
    });
  }
  scope.setCookie(setCookie);
  const email = confirmedEmail(claims);
  scope.json(200, {
    id: claims.sub,
    username: claims.username,
    email,
    email_verified: email !== null,
    groups: claims.groups,
    session_id: claims.sid,
    expires_at: new Date(claims.exp * 1000).toISOString(),
  });
}

/** GET /_auth/jwks.json: the public keys that may have signed a live token. */
export async function jwks(scope: Scope): Promise<void> {
  const body = JSON.stringify(scope.services.keys.jwks());
  scope.raw(
    200,
    {
      'content-type': 'application/jwk-set+json',
      'content-length': Buffer.byteLength(body),
      // Short: a rotated key must reach verifiers well within a trust window.
      'cache-control': 'public, max-age=60',
    },
    body,
  );
}

/** GET /: without an upstream, a small page saying who is signed in. */
export async function home(scope: Scope): Promise<void> {
  const { claims, setCookie } = await authenticate(scope.req.headers, scope.services);
  if (!claims) return scope.redirect(loginUrl('/'), 302);
  scope.setCookie(setCookie);
  scope.form(200, (nonce, csrf) => signedInPage({ nonce, csrf, username: claims.username }));
}
