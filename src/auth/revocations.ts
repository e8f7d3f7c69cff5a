/**
 * Sessions revoked recently, consulted on the hot path. An access token outlives
 * its session's revocation by at most trust_window, so entries are kept that long.
 * Revocations made by other instances (or the CLI) arrive through `sync`, and on
 * PostgreSQL at once through `heard`.
 */
import type { Clock } from '../clock.js';
import type { Store } from '../store/types.js';

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
  #listeners: RevocationListener[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly trustWindowMs: number,
  ) {}

  has(sessionId: string): boolean {
    return this.#revokedAt.has(sessionId);
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
    const recent = await this.store.revokedSessionsSince(horizon);
    for (const [id, at] of this.#revokedAt) if (at < horizon) this.#revokedAt.delete(id);
    const learned = recent.filter((id) => !this.#revokedAt.has(id));
    for (const id of learned) this.#revokedAt.set(id, now);
    this.#tell(learned);
  }

  #tell(ids: readonly string[]): void {
    if (ids.length > 0) for (const listener of this.#listeners) listener(ids);
  }
}
