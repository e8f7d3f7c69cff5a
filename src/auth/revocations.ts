/**
 * Sessions revoked recently, consulted on the hot path. An access token outlives
 * its session's revocation by at most trust_window, so entries are kept that long.
 * Revocations made by other instances (or the CLI) arrive through `sync`.
 */
import type { Clock } from '../clock.js';
import type { Store } from '../store/types.js';

/** Revocations are read back a little further than trust_window, for clock skew between instances. */
const SKEW_MS = 30_000;

export class RevocationList {
  #revokedAt = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly trustWindowMs: number,
  ) {}

  has(sessionId: string): boolean {
    return this.#revokedAt.has(sessionId);
  }

  add(sessionIds: Iterable<string>): void {
    const now = this.clock.now();
    for (const id of sessionIds) this.#revokedAt.set(id, now);
  }

  async sync(): Promise<void> {
    const now = this.clock.now();
    const horizon = now - this.trustWindowMs - SKEW_MS;
    const recent = await this.store.revokedSessionsSince(horizon);
    for (const [id, at] of this.#revokedAt) if (at < horizon) this.#revokedAt.delete(id);
    for (const id of recent) if (!this.#revokedAt.has(id)) this.#revokedAt.set(id, now);
  }
}
