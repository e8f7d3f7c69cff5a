/**
 * Sessions revoked recently, and sessions whose user's claims (groups) changed
 * recently, consulted on the hot path. An access token outlives either by at most
 * trust_window, so entries are kept that long. What other instances (or the CLI)
 * did arrives through `sync`, and on PostgreSQL at once through `heard`.
 *
 * A claims change does not end the session: tokens minted before it are no longer
 * trusted, so a cookie session refreshes (and gets the new groups) and a bearer
 * client gets 401 and refreshes. `iat` counts whole seconds, so a token minted in
 * the second of the change cannot be told apart from one minted just before it:
 * every token of that second counts as stale (`iat <= mark`), and a refresh in that
 * second waits for the next one before it signs (`mintDelay`). So no stale token is
 * trusted once the mark is known, and no refresh is refused for being too recent:
 * nothing loops.
 */
import type { Clock } from '../clock.js';
import type { ClaimsChange, Store } from '../store/types.js';
import type { AccessClaims } from './tokens.js';

/** Revocations are read back a little further than trust_window, for clock skew between instances. */
const SKEW_MS = 30_000;
const MAX_SYNC_MS = 5_000;
const MIN_SYNC_MS = 250;

/**
 * How often `sync` should run. A token dies with trust_window anyway, but an open
 * WebSocket does not: it closes only when this instance learns of the revocation,
 * which must be within trust_window (SPEC section 5). Twice per window keeps the
 * worst case (one interval plus one query) well inside it; 5 s caps the wait for
 * the long windows, at one indexed query per interval.
 */
export function revocationSyncInterval(trustWindowMs: number): number {
  return Math.max(MIN_SYNC_MS, Math.min(MAX_SYNC_MS, Math.floor(trustWindowMs / 2)));
}

/** Told the ids of sessions as this instance learns they ended. Must not throw: it runs inside logout. */
export type RevocationListener = (sessionIds: readonly string[]) => void;

export class RevocationList {
  #revokedAt = new Map<string, number>();
  /** Session id → the last second (iat) whose tokens carry outdated claims. */
  #staleThrough = new Map<string, number>();
  #claimsListeners: RevocationListener[] = [];
  #listeners: RevocationListener[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly trustWindowMs: number,
  ) {}

  has(sessionId: string): boolean {
    return this.#revokedAt.has(sessionId);
  }

  /** Whether the token was minted no later than the second its session's claims last changed in. One lookup, no allocation: the hot path. */
  isStale(claims: AccessClaims): boolean {
    const mark = this.#staleThrough.get(claims.sid);
    return mark !== undefined && claims.iat <= mark;
  }

  /** How long a token for the session must wait to be signed in a second after its claims changed; 0 mostly. */
  mintDelay(sessionId: string): number {
    const mark = this.#staleThrough.get(sessionId);
    return mark === undefined ? 0 : Math.max(0, (mark + 1) * 1000 - this.clock.now());
  }

  /** Told the sessions whose claims changed, as this instance learns of it (a tunnel judged on the old ones must close). */
  onClaimsChanged(listener: RevocationListener): void {
    this.#claimsListeners.push(listener);
  }

  /** Claims changes made here (at once), heard from other replicas, or read by `sync`; a later mark wins. */
  claimsChanged(changes: readonly ClaimsChange[]): void {
    const learned: string[] = [];
    for (const { sessionId, at } of changes) {
      const second = Math.floor(at / 1000);
      const known = this.#staleThrough.get(sessionId);
      if (known !== undefined && known >= second) continue;
      this.#staleThrough.set(sessionId, second);
      learned.push(sessionId);
    }
    if (learned.length > 0) for (const listener of this.#claimsListeners) listener(learned);
  }

  /** Called for revocations made here (at once) and for those `sync` learns of. */
  onRevoked(listener: RevocationListener): void {
    this.#listeners.push(listener);
  }

  add(sessionIds: Iterable<string>): void {
    const now = this.clock.now();
    const ids = [...sessionIds];
    for (const id of ids) this.#revokedAt.set(id, now);
    this.#tell(ids);
  }

  /** Revocations announced by other replicas as they commit (PostgreSQL); ones already known are not told twice. */
  heard(sessionIds: readonly string[]): void {
    const now = this.clock.now();
    const learned = sessionIds.filter((id) => !this.#revokedAt.has(id));
    for (const id of learned) this.#revokedAt.set(id, now);
    this.#tell(learned);
  }

  async sync(): Promise<void> {
    const now = this.clock.now();
    const horizon = now - this.trustWindowMs - SKEW_MS;
    const [recent, changes] = await Promise.all([this.store.revokedSessionsSince(horizon), this.store.claimsChangedSince(horizon)]);
    for (const [id, at] of this.#revokedAt) if (at < horizon) this.#revokedAt.delete(id);
    for (const [id, second] of this.#staleThrough) if ((second + 1) * 1000 < horizon) this.#staleThrough.delete(id);
    this.claimsChanged(changes);
    const learned = recent.filter((id) => !this.#revokedAt.has(id));
    for (const id of learned) this.#revokedAt.set(id, now);
    this.#tell(learned);
  }

  #tell(ids: readonly string[]): void {
    if (ids.length > 0) for (const listener of this.#listeners) listener(ids);
  }
}
