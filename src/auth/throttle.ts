/**
 * Brute-force regulation in the style of Authelia: failed password, TOTP and
 * recovery-code attempts are counted per account (username and email of one
 * account share the counter) and per client address; max_retries failures within
 * find_time ban the key for ban_time. Counters live in the database, so every
 * replica sees them, and nothing grows in memory. Failures against accounts that
 * do not exist count only against the address, so a flood of invented usernames
 * cannot fill the table with account keys.
 *
 * Every guess is counted before it is checked (SPEC section 7): an attempt takes a
 * slot first, atomically in the database, and only an attempt that got one is
 * checked. A right guess gives its slot back; a wrong one keeps it, and the last
 * slot sets the ban. However many guesses arrive at once, at most max_retries are
 * checked per key within find_time.
 */
import { isIP } from 'node:net';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { SYSTEM_ACTOR, type AuditLog } from '../audit.js';
import type { Store } from '../store/types.js';

const FAILURE = 'auth_failure';
const MINUTE = 60_000;

/**
 * Per-address limits on endpoints that anyone may call and that write to the
 * database or spend argon2; generous enough for an office behind one address.
 */
export const ADDRESS_LIMITS = {
  registration: { max: 20, windowMs: 10 * MINUTE },
  passkey_challenge: { max: 30, windowMs: MINUTE },
  password_reset: { max: 10, windowMs: 10 * MINUTE },
  magic_link: { max: 10, windowMs: 10 * MINUTE },
  oidc_start: { max: 30, windowMs: MINUTE },
} as const;

/** The slots one attempt holds: one per key it is counted under. */
export type Attempt = { key: string; id: number }[];

/**
 * The key a client address is counted under: an IPv4 address as it is, an
 * IPv4-mapped IPv6 address as its IPv4, any other IPv6 address as its /64
 * (one host usually holds a whole /64). Anything else (a unix socket) as it is.
 */
export function addressKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = ipv6Groups(address.split('%')[0]!);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (with :: and a dotted IPv4 tail expanded). */
function ipv6Groups(address: string): number[] {
  const parse = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const before = parse(head);
  const after = tail === undefined ? [] : parse(tail);
  return [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
}

export class Throttle {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly config: Pick<Config, 'max_retries' | 'find_time' | 'ban_time'>,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Takes a slot for one guess against the account (if known) and the address;
   * undefined when either is banned or has no slot left: then do not check the guess.
   */
  async attempt(accountId: string | undefined, address: string): Promise<Attempt | undefined> {
    const now = this.clock.now();
    const limit = { now, since: now - this.config.find_time, max: this.config.max_retries };
    const attempt: Attempt = [];
    for (const key of failureKeys(accountId, address)) {
      const id = await this.store.takeEvent(FAILURE, key, limit);
      if (id === undefined) {
        await this.forgive(attempt);
        return undefined;
      }
      attempt.push({ key, id });
    }
    return attempt;
  }

  /** The guess was right: its slots are given back. */
  async forgive(attempt: Attempt): Promise<void> {
    for (const { key, id } of attempt) await this.store.dropEvent(FAILURE, key, id);
  }

  /**
   * The guess was wrong: its slots stay taken, and a key whose slots are all taken is
   * banned. The failures stay too: with a ban_time shorter than find_time, the key
   * stays refused until they leave the window, or more than max_retries guesses
   * would be checked within it.
   */
  async failed(attempt: Attempt): Promise<void> {
    const now = this.clock.now();
    for (const { key } of attempt) {
      const failures = await this.store.countEvents(FAILURE, key, now - this.config.find_time);
      if (failures < this.config.max_retries || (await this.store.bannedUntil(key, now)) !== undefined) continue;
      await this.store.ban(key, now + this.config.ban_time);
      await this.#recordBan(key, now + this.config.ban_time);
    }
  }

  /** gatehouse bans on its own: an account ban concerns its user, an address ban names the address. */
  async #recordBan(key: string, until: number): Promise<void> {
    const accountId = key.startsWith('account:') ? key.slice('account:'.length) : undefined;
    const user = accountId === undefined ? undefined : await this.store.findUserById(accountId);
    const address = key.startsWith('ip:') ? key.slice('ip:'.length) : undefined;
    const details = { key, until: new Date(until).toISOString() };
    await this.audit.record({ type: 'ban', user, actor: SYSTEM_ACTOR, address, details, level: 'warn' });
  }

  /** A completed sign-in forgives the account's earlier failures (not the address's). */
  async succeeded(accountId: string): Promise<void> {
    await this.store.clearEvents(FAILURE, `account:${accountId}`);
  }

  /** Until when the account's sign-ins are refused (ms), if they are. */
  accountBannedUntil(accountId: string): Promise<number | undefined> {
    return this.store.bannedUntil(`account:${accountId}`, this.clock.now());
  }

  /** Lifts the account's ban and forgets its counted failures; bans of client addresses stay. */
  unbanAccount(accountId: string): Promise<void> {
    return this.store.liftBan(FAILURE, `account:${accountId}`);
  }

  /** A sliding-window limit on anything else (mails per account, requests per address); counted before it is judged. */
  async allow(kind: string, key: string, limit: number, windowMs: number): Promise<boolean> {
    const now = this.clock.now();
    // The window is (now - windowMs, now]: after windowMs (the Retry-After), an event no longer counts.
    return (await this.store.takeEvent(kind, key, { now, since: now - windowMs + 1, max: limit })) !== undefined;
  }

  /** One request against a per-address limit: 0 when allowed, else the seconds after which it will be. */
  async limitAddress(kind: keyof typeof ADDRESS_LIMITS, address: string): Promise<number> {
    const { max, windowMs } = ADDRESS_LIMITS[kind];
    return (await this.allow(kind, addressKey(address), max, windowMs)) ? 0 : Math.ceil(windowMs / 1000);
  }
}

const failureKeys = (accountId: string | undefined, address: string) => [
  `ip:${addressKey(address)}`,
  ...(accountId ? [`account:${accountId}`] : []),
];
