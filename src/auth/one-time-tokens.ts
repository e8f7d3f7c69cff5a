/**
 * Tokens sent by mail (reset, magic link, email verification) and pending second
 * factors: random, stored only as SHA-256, bound to their purpose, short-lived,
 * and consumed atomically so that two clicks cannot both win.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { OneTimeToken, Store } from '../store/types.js';
import { sha256 as hash } from './digest.js';

type Purpose = OneTimeToken['purpose'];
const FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** Whether a value has the shape of a token this module issues (it may still be unknown or used). */
export const looksLikeToken = (token: unknown): token is string => typeof token === 'string' && FORMAT.test(token);

export class OneTimeTokens {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  async issue(purpose: Purpose, userId: string | null, data: string | null, ttlMs: number): Promise<string> {
    return (await this.issueExpiring(purpose, userId, data, ttlMs)).token;
  }

  /** Like issue, also saying when the token expires (for links handed to people, who are told). */
  async issueExpiring(purpose: Purpose, userId: string | null, data: string | null, ttlMs: number): Promise<{ token: string; expiresAt: number }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.clock.now() + ttlMs;
    await this.store.createOneTimeToken({ hash: hash(token), purpose, userId, data, expiresAt });
    return { token, expiresAt };
  }

  /** Issues the user's only live token of this purpose: every older unused one stops working. */
  async replace(purpose: Purpose, userId: string, data: string | null, ttlMs: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.store.replaceOneTimeTokens({ hash: hash(token), purpose, userId, data, expiresAt: this.clock.now() + ttlMs });
    return token;
  }

  /** Like consume, and every other unused token of the same user and purpose stops working. */
  async consumeRetiringOthers(token: unknown, purpose: Purpose): Promise<OneTimeToken | undefined> {
    if (!looksLikeToken(token)) return undefined;
    return this.store.consumeOneTimeTokenRetiringOthers(hash(token), purpose, this.clock.now());
  }

  /** Uses the token up; undefined when it is unknown, expired, used or of another purpose. */
  async consume(token: unknown, purpose: Purpose): Promise<OneTimeToken | undefined> {
    if (!looksLikeToken(token)) return undefined;
    return this.store.consumeOneTimeToken(hash(token), purpose, this.clock.now());
  }

  /** The stored hash of a token, for a store method that consumes it in a transaction of its own; undefined for one of the wrong shape. */
  hashOf(token: unknown): string | undefined {
    return looksLikeToken(token) ? hash(token) : undefined;
  }

  /** Looks without using up. */
  async peek(token: unknown, purpose: Purpose): Promise<OneTimeToken | undefined> {
    if (!looksLikeToken(token)) return undefined;
    return this.store.findOneTimeToken(hash(token), purpose, this.clock.now());
  }
}
