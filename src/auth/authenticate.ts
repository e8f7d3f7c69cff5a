/**
 * Who is calling: a bearer token, else the access cookie, else a transparent
 * refresh from the refresh cookie. Fails closed: any error makes the caller anonymous.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config.js';
import { HttpError } from '../errors.js';
import type { Logger } from '../log.js';
import { readSessionCookies, sessionCookies } from './cookies.js';
import type { RevocationList } from './revocations.js';
import type { Sessions } from './sessions.js';
import { TokenInvalid, type AccessClaims, type AccessTokens } from './tokens.js';
import { decideAccess } from './trust-window.js';

export interface Authentication {
  claims?: AccessClaims;
  /** New session cookies to send back when the request was refreshed. */
  setCookies?: string[];
  /** Why the caller is anonymous, for logs and error codes. */
  failure?: string;
}

export interface AuthenticateDeps {
  config: Config;
  tokens: AccessTokens;
  sessions: Sessions;
  revocations: RevocationList;
  log: Logger;
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

export async function authenticate(headers: IncomingHttpHeaders, deps: AuthenticateDeps): Promise<Authentication> {
  try {
    const authorization = headers.authorization;
    if (authorization !== undefined) return await fromBearer(authorization, deps);
    const cookies = readSessionCookies(headers.cookie);
    const access = cookies.access ? await verified(cookies.access, deps) : { failure: 'no_access_token' };
    const decision = decideAccess(access.claims !== undefined, access.claims ? deps.revocations.has(access.claims.sid) : false, !!cookies.refresh);
    if (decision === 'trusted') return access;
    if (decision === 'anonymous') return { failure: access.claims ? 'session_revoked' : access.failure };
    const tokens = await deps.sessions.refresh(cookies.refresh!);
    return { claims: tokens.claims, setCookies: sessionCookies(tokens, deps.config) };
  } catch (error) {
    if (error instanceof HttpError) return { failure: error.code };
    deps.log.error('authenticate_failed', { error: String(error) });
    return { failure: 'error' };
  }
}

async function fromBearer(authorization: string, deps: AuthenticateDeps): Promise<Authentication> {
  const token = BEARER.exec(authorization)?.[1];
  if (!token) return { failure: 'authorization_malformed' };
  const result = await verified(token, deps);
  if (result.claims && deps.revocations.has(result.claims.sid)) return { failure: 'session_revoked' };
  return result;
}

async function verified(token: string, deps: AuthenticateDeps): Promise<Authentication> {
  try {
    return { claims: await deps.tokens.verify(token) };
  } catch (error) {
    if (error instanceof TokenInvalid) return { failure: error.code };
    throw error;
  }
}
