/**
 * Sessions: starting one at sign-in, refreshing it inside the trust-window rules,
 * and ending it. The database is touched here and nowhere on the hot path.
 */
import { SYSTEM_ACTOR, type AuditLog } from '../audit.js';
import type { Clock } from '../clock.js';
import { fail } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Store, User } from '../store/types.js';
import {
  hashSecret,
  newRefreshToken,
  newSessionId,
  parseRefreshToken,
  sameHash,
  sealToken,
  unsealToken,
  type RefreshToken,
} from './refresh-tokens.js';
import type { RevocationList } from './revocations.js';
import type { AccessClaims, AccessTokens } from './tokens.js';
import { decideRefresh, type SessionLimits } from './trust-window.js';

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
  claims: AccessClaims;
}

/** Where a session was started from, kept for the people who review sessions. */
export interface SessionClient {
  /** From describeDevice. */
  device: string;
  address: string;
}

export interface SessionDeps {
  store: Store;
  tokens: AccessTokens;
  revocations: RevocationList;
  clock: Clock;
  limits: SessionLimits;
  log: Logger;
  metrics: Metrics;
  audit: AuditLog;
}

const refused = () => fail('refresh_token_invalid');

export class Sessions {
  /** Requests in this process racing with one refresh token share one refresh. */
  #inFlight = new Map<string, Promise<IssuedTokens>>();

  constructor(private readonly deps: SessionDeps) {}

  async start(user: User, { device, address }: SessionClient): Promise<IssuedTokens> {
    const refresh = newRefreshToken(newSessionId());
    const now = this.deps.clock.now();
    await this.deps.store.createSession({ id: refresh.sessionId, userId: user.id, refreshHash: hashSecret(refresh.secret), now, device, address });
    return this.#issue(user, refresh);
  }

  /** `address`: the client's, for the audit log when the token turns out stolen. */
  refresh(value: string, address?: string): Promise<IssuedTokens> {
    const running = this.#inFlight.get(value);
    if (running) return running;
    const refreshing = this.#refresh(value, address).finally(() => this.#inFlight.delete(value));
    this.#inFlight.set(value, refreshing);
    return refreshing;
  }

  async #refresh(value: string, address: string | undefined, attempt = 0): Promise<IssuedTokens> {
    const presented = parseRefreshToken(value);
    if (!presented) throw refused();
    const { store, clock, limits, metrics, audit } = this.deps;
    const fast = attempt === 0 && (await this.#rotateIfLive(presented));
    if (fast) return fast;
    const session = await store.findSession(presented.sessionId);
    const user = session && (await store.findUserById(session.userId));
    const presentedHash = hashSecret(presented.secret);
    // Compare in constant time, then hand the pure decision exact hashes.
    const matched = session && (sameHash(presentedHash, session.refreshHash) || sameHash(presentedHash, session.prevRefreshHash));
    const now = clock.now();
    const decision = decideRefresh(session, user, matched ? presentedHash : '', now, limits);
    metrics.refreshes.inc({ result: decision });

    if (decision === 'rotate') {
      const next = newRefreshToken(presented.sessionId);
      const rotated = await store.rotateRefresh({
        sessionId: presented.sessionId,
        expectedHash: presentedHash,
        newHash: hashSecret(next.secret),
        sealedRefresh: sealToken(presented, next),
        now,
      });
      if (rotated) return this.#issue(user!, next);
      // Another instance rotated it first: decide again, now as a racing request.
      if (attempt === 0) return this.#refresh(value, address, 1);
      throw refused();
    }
    if (decision === 'grace_replay') {
      const current = session!.sealedRefresh && unsealToken(presented, session!.sealedRefresh);
      if (current) return this.#issue(user!, current);
      throw refused();
    }
    if (decision === 'reuse_detected') {
      await this.end(presented.sessionId, 'refresh_token_reuse');
      // gatehouse ended the session on its own: the actor is the system, not the user.
      await audit.record({ type: 'refresh_token_reuse', user, actor: SYSTEM_ACTOR, address, details: { session_id: presented.sessionId }, level: 'warn' });
    }
    throw refused();
  }

  /**
   * The usual refresh, one statement: the presented token is the current one of a
   * live session of an enabled user. Anything else (a racing request, a replay, an
   * ended session) takes the full decision below.
   */
  async #rotateIfLive(presented: RefreshToken): Promise<IssuedTokens | undefined> {
    const { store, clock, limits, metrics } = this.deps;
    const now = clock.now();
    const next = newRefreshToken(presented.sessionId);
    const user = await store.rotateLiveRefresh({
      sessionId: presented.sessionId,
      expectedHash: hashSecret(presented.secret),
      newHash: hashSecret(next.secret),
      sealedRefresh: sealToken(presented, next),
      now,
      usedSince: now - limits.idleTimeoutMs,
      createdSince: now - limits.sessionLifetimeMs,
    });
    if (!user) return undefined;
    metrics.refreshes.inc({ result: 'rotate' });
    return this.#issue(user, next);
  }

  /** The session a refresh token belongs to, if the token is its current or just-replaced one. */
  async sessionOf(value: string): Promise<{ sessionId: string; userId: string } | undefined> {
    const presented = parseRefreshToken(value);
    const session = presented && (await this.deps.store.findSession(presented.sessionId));
    if (!presented || !session || session.revokedAt !== null) return undefined;
    const hash = hashSecret(presented.secret);
    const inGrace = session.rotatedAt !== null && this.deps.clock.now() - session.rotatedAt <= this.deps.limits.refreshGraceMs;
    const known = sameHash(hash, session.refreshHash) || (inGrace && sameHash(hash, session.prevRefreshHash));
    return known ? { sessionId: session.id, userId: session.userId } : undefined;
  }

  async end(sessionId: string, reason: string): Promise<void> {
    this.deps.revocations.add([sessionId]);
    if (await this.deps.store.revokeSession(sessionId, this.deps.clock.now())) {
      this.deps.metrics.revocations.inc({ reason });
    }
  }

  /**
   * A token signed in the second its session's claims changed would count as stale (see
   * RevocationList), so it is signed in the next; and with the user as the store holds it
   * then, since what was read before the wait may predate the change.
   */
  async #afterClaimsChange(user: User, sessionId: string): Promise<User> {
    const delay = this.deps.revocations.mintDelay(sessionId);
    if (delay === 0) return user;
    await new Promise((resolve) => setTimeout(resolve, delay));
    const fresh = await this.deps.store.findUserById(user.id);
    if (!fresh || fresh.disabled) throw refused();
    return fresh;
  }

  async endAllOfUser(userId: string, reason: string): Promise<number> {
    const ended = await this.deps.store.revokeUserSessions(userId, this.deps.clock.now());
    this.deps.revocations.add(ended);
    this.deps.metrics.revocations.inc({ reason }, ended.length);
    return ended.length;
  }

  async #issue(current: User, refresh: RefreshToken): Promise<IssuedTokens> {
    const user = await this.#afterClaimsChange(current, refresh.sessionId);
    const { token, claims } = await this.deps.tokens.sign({
      sub: user.id,
      sid: refresh.sessionId,
      username: user.username,
      // An unconfirmed address is anyone's claim: apps must never take it for the user's (SPEC section 5).
      email: user.emailVerified ? user.email : null,
      email_verified: user.emailVerified && user.email !== null,
      groups: user.groups,
    });
    return { accessToken: token, refreshToken: refresh.value, expiresIn: claims.exp - claims.iat, claims };
  }
}
