/**
 * Who is calling: a bearer token, else the session cookie's access token, else a
 * transparent refresh from its refresh token. Fails closed: any error makes the
 * caller anonymous.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import { HttpError } from '../errors.js';
import type { Logger } from '../log.js';
import { readSessionCookie, sessionCookie } from './cookies.js';
import type { RevocationList } from './revocations.js';
import type { Sessions } from './sessions.js';
import type { VerifiedTokens } from './token-cache.js';
import { TokenInvalid, type AccessClaims } from './tokens.js';
import { decideAccess } from './trust-window.js';

export interface Authentication {
  claims?: AccessClaims;
  /** The renewed session cookie, when this request refreshed the session. */
  setCookie?: string;
  /** Why the caller is anonymous, for logs and error codes. */
  failure?: string;
}

export interface AuthenticateDeps {
  config: Config;
  verifiedTokens: VerifiedTokens;
  sessions: Sessions;
  revocations: RevocationList;
  log: Logger;
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** Shared, not made per request: the hot path allocates nothing. */
const CLAIMS_CHANGED: Authentication = Object.freeze({ failure: 'claims_changed' });

/** The token of an `Authorization: Bearer …` header, if it is one. */
export const bearerToken = (authorization: string | undefined) => (authorization === undefined ? undefined : BEARER.exec(authorization)?.[1]);

/**
 * Synchronous when the caller's access token was verified before (the hot path:
 * no promise, no I/O); otherwise a promise.
 */
export function authenticate(headers: IncomingHttpHeaders, deps: AuthenticateDeps): Authentication | Promise<Authentication> {
  return alreadyVerified(headers, deps) ?? authenticateFully(headers, deps);
}

/** An answer from the verified-token cache alone, or undefined when it takes more. */
function alreadyVerified(headers: IncomingHttpHeaders, deps: AuthenticateDeps): Authentication | undefined {
  const authorization = headers.authorization;
  // The usual spelling, sliced rather than matched: only verified tokens are in the cache, so a hit vouches for the token.
  const token = authorization === undefined ? readSessionCookie(headers.cookie).access : authorization.startsWith('Bearer ') ? authorization.slice(7) : undefined;
  const claims = token === undefined ? undefined : deps.verifiedTokens.cached(token);
  if (!claims) return undefined;
  // A revoked bearer token is refused; a revoked cookie session may still hold a refresh token to judge.
  if (deps.revocations.has(claims.sid)) return authorization !== undefined ? { failure: 'session_revoked' } : undefined;
  // Minted before its user's groups changed: a bearer client must refresh; a cookie session refreshes below.
  if (deps.revocations.isStale(claims)) return authorization !== undefined ? CLAIMS_CHANGED : undefined;
  return { claims };
}

async function authenticateFully(headers: IncomingHttpHeaders, deps: AuthenticateDeps): Promise<Authentication> {
  try {
    const authorization = headers.authorization;
    if (authorization !== undefined) return await fromBearer(authorization, deps);
    const cookie = readSessionCookie(headers.cookie);
    const access = cookie.access ? await verified(cookie.access, deps) : { failure: 'no_session' };
    const revoked = access.claims !== undefined && deps.revocations.has(access.claims.sid);
    const stale = access.claims !== undefined && deps.revocations.isStale(access.claims);
    const decision = decideAccess(access.claims !== undefined && !stale, revoked, cookie.refresh !== undefined);
    if (decision === 'trusted') return access;
    if (decision === 'anonymous') return { failure: revoked ? 'session_revoked' : stale ? 'claims_changed' : access.failure };
    const tokens = await deps.sessions.refresh(cookie.refresh!);
    return { claims: tokens.claims, setCookie: sessionCookie(tokens, deps.config) };
  } catch (error) {
    if (error instanceof HttpError) return { failure: error.code };
    deps.log.error('authenticate_failed', { error: String(error) });
    return { failure: 'error' };
  }
}

async function fromBearer(authorization: string, deps: AuthenticateDeps): Promise<Authentication> {
  const token = bearerToken(authorization);
  if (!token) return { failure: 'authorization_malformed' };
  const result = await verified(token, deps);
  if (result.claims && deps.revocations.has(result.claims.sid)) return { failure: 'session_revoked' };
  if (result.claims && deps.revocations.isStale(result.claims)) return CLAIMS_CHANGED;
  return result;
}

async function verified(token: string, deps: AuthenticateDeps): Promise<Authentication> {
  try {
    return { claims: await deps.verifiedTokens.verify(token) };
  } catch (error) {
    if (error instanceof TokenInvalid) return { failure: error.code };
    throw error;
  }
}
