/**
 * The trust-window decisions of SPEC section 3, as pure functions of their inputs
 * and the time: no I/O here, so they are tested as tables.
 */
import type { Session, User } from '../store/types.js';

export interface SessionLimits {
  idleTimeoutMs: number;
  sessionLifetimeMs: number;
  refreshGraceMs: number;
}

export type RefreshDecision =
  | 'rotate'
  | 'grace_replay'
  | 'reuse_detected'
  | 'unknown_session'
  | 'session_revoked'
  | 'user_inactive'
  | 'session_expired'
  | 'idle_timeout'
  | 'token_mismatch';

/** Whether a session can still be refreshed, as far as its age and last use tell (decideRefresh). */
export const isLive = (session: Session, now: number, limits: Omit<SessionLimits, 'refreshGraceMs'>): boolean =>
  session.revokedAt === null && now - session.createdAt <= limits.sessionLifetimeMs && now - session.lastUsedAt <= limits.idleTimeoutMs;

/** What to do with a refresh token whose SHA-256 is `presentedHash`, presented at `now`. */
export function decideRefresh(
  session: Session | undefined,
  user: User | undefined,
  presentedHash: string,
  now: number,
  limits: SessionLimits,
): RefreshDecision {
  if (!session) return 'unknown_session';
  if (session.revokedAt !== null) return 'session_revoked';
  if (!user || user.disabled) return 'user_inactive';
  if (now - session.createdAt > limits.sessionLifetimeMs) return 'session_expired';
  if (presentedHash === session.refreshHash) {
    return now - session.lastUsedAt > limits.idleTimeoutMs ? 'idle_timeout' : 'rotate';
  }
  if (presentedHash === session.prevRefreshHash && session.rotatedAt !== null) {
    // Racing requests (a page loading 30 assets) all carry the token the first one rotated.
    return now - session.rotatedAt <= limits.refreshGraceMs ? 'grace_replay' : 'reuse_detected';
  }
  // Older tokens are not kept, so an older one cannot be told from a forgery: refused, nothing revoked.
  return 'token_mismatch';
}

export type AccessDecision = 'trusted' | 'refresh' | 'anonymous';

/**
 * A request with a valid, unrevoked access token is trusted without the database;
 * without one, a refresh token sends it to the database; otherwise it is anonymous.
 */
export function decideAccess(accessValid: boolean, sessionRevoked: boolean, hasRefreshToken: boolean): AccessDecision {
  if (accessValid && !sessionRevoked) return 'trusted';
  return hasRefreshToken ? 'refresh' : 'anonymous';
}
