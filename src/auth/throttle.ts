/**
 * Brute-force regulation in the style of Authelia: failed password, TOTP and
 * recovery-code attempts are counted per account (username and email of one
 * account share the counter) and per client address; max_retries failures within
 * find_time ban the key for ban_time. Counters live in the database, so every
 * replica sees them, and nothing grows in memory. Failures against accounts that
 * do not exist count only against the address, so a flood of invented usernames
 * cannot fill the table with account keys.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';

const FAILURE = 'auth_failure';

export class Throttle {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'max_retries' | 'find_time' | 'ban_time'>,
    private readonly log: Logger,
  ) {}

  async isBanned(accountId: string | undefined, address: string): Promise<boolean> {
    const now = this.clock.now();
    const keys = [`ip:${address}`, ...(accountId ? [`account:${accountId}`] : [])];
    for (const key of keys) if ((await this.store.bannedUntil(key, now)) !== undefined) return true;
    return false;
  }

  async failed(accountId: string | undefined, address: string): Promise<void> {
    const now = this.clock.now();
    const since = now - this.config.find_time;
    for (const key of [`ip:${address}`, ...(accountId ? [`account:${accountId}`] : [])]) {
      const failures = await this.store.countEvent(FAILURE, key, now, since);
      if (failures >= this.config.max_retries) {
        await this.store.ban(key, now + this.config.ban_time);
        await this.store.clearEvents(FAILURE, key);
        this.log.warn('ban', { key, until: new Date(now + this.config.ban_time).toISOString(), audit: true });
      }
    }
  }

  async succeeded(accountId: string): Promise<void> {
    await this.store.clearEvents(FAILURE, `account:${accountId}`);
  }

  /** A sliding-window limit on anything else (mails per account, requests per address). */
  async allow(kind: string, key: string, limit: number, windowMs: number): Promise<boolean> {
    const now = this.clock.now();
    const count = await this.store.countEvents(kind, key, now - windowMs);
    if (count >= limit) return false;
    await this.store.countEvent(kind, key, now, now - windowMs);
    return true;
  }
}
