/**
 * Verified access tokens, remembered until they expire, so the hot path pays for
 * a signature check once per token rather than once per request. Revocation is
 * checked by the caller on every request, cached or not.
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Metrics } from '../metrics.js';
import type { AccessClaims, AccessTokens } from './tokens.js';

/** Bounded: a flood of distinct valid tokens evicts old entries rather than growing memory. */
const MAX_ENTRIES = 10_000;

export class VerifiedTokens {
  #cache = new LRUCache<string, AccessClaims>({ max: MAX_ENTRIES });
  readonly #hits: { inc(): void };
  readonly #misses: { inc(): void };

  constructor(
    private readonly tokens: AccessTokens,
    private readonly clock: Clock,
    metrics: Metrics,
  ) {
    this.#hits = metrics.tokenCache('hit');
    this.#misses = metrics.tokenCache('miss');
  }

  /** The claims of a token verified before and not yet expired; no promise, for the hot path. */
  cached(token: string): AccessClaims | undefined {
    const claims = this.#cache.get(token);
    if (claims && claims.exp * 1000 > this.clock.now()) {
      this.#hits.inc();
      return claims;
    }
    return undefined;
  }

  async verify(token: string): Promise<AccessClaims> {
    const cached = this.cached(token);
    if (cached) return cached;
    this.#misses.inc();
    const claims = await this.tokens.verify(token);
    this.#cache.set(token, claims, { ttl: Math.max(1, claims.exp * 1000 - this.clock.now()) });
    return claims;
  }
}
