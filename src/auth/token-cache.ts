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

/**
 * Entries are found by the token's last characters (part of its signature) and
 * then compared whole. Hashing a whole token, about 300 characters arriving in
 * a fresh string with every request, costs more than the rest of a lookup.
 */
const KEY_LENGTH = 16;

interface Entry {
  token: string;
  claims: AccessClaims;
}

export class VerifiedTokens {
  #cache = new LRUCache<string, Entry>({ max: MAX_ENTRIES });
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
    const key = token.slice(-KEY_LENGTH);
    const entry = this.#cache.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (entry.claims.exp * 1000 <= this.clock.now()) {
      this.#cache.delete(key);
      return undefined;
    }
    this.#hits.inc();
    return entry.claims;
  }

  async verify(token: string): Promise<AccessClaims> {
    const cached = this.cached(token);
    if (cached) return cached;
    this.#misses.inc();
    const claims = await this.tokens.verify(token);
    this.#cache.set(token.slice(-KEY_LENGTH), { token, claims });
    return claims;
  }

  get size(): number {
    return this.#cache.size;
  }
}
