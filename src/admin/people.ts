/**
 * What administrators do to people (SPEC section 11), once for the CLI and the JSON API:
 * groups, disabling, deleting, lifting a ban, resetting second factors. Each action is
 * audited with its actor, and none may leave the instance without an enabled administrator.
 */
import type { AuditLog, Cause } from '../audit.js';
import type { Clock } from '../clock.js';
import { fail } from '../errors.js';
import type { RevocationList } from '../auth/revocations.js';
import type { Sessions } from '../auth/sessions.js';
import type { Throttle } from '../auth/throttle.js';
import { hasPassword } from '../auth/passwords.js';
import { isLive, type SessionLimits } from '../auth/trust-window.js';
import type { GuardedChange, Session, Store, User } from '../store/types.js';
import { checkGroupName } from './groups.js';

export interface PeopleDeps {
  store: Store;
  sessions: Sessions;
  revocations: RevocationList;
  throttle: Throttle;
  audit: AuditLog;
  clock: Clock;
  limits: Omit<SessionLimits, 'refreshGraceMs'>;
}

/** The store's answer to a guarded change, as the error a caller sees; true when something changed. */
function outcome(result: GuardedChange): boolean {
  if (result === 'last_admin') throw fail('last_admin');
  if (result === 'not_found') throw fail('user_not_found');
  return result === 'changed';
}

const whom = (user: User) => ({ id: user.id, username: user.username });

/** What `user show` and GET /_auth/admin/users/{id} tell beside the profile. */
export interface UserDetails {
  factors: { password: boolean; totp: boolean; recoveryCodes: number; passkeys: number };
  /** Until when the account's sign-ins are refused (ms), if they are. */
  bannedUntil: number | undefined;
  /** Live sessions, most recently used first. */
  sessions: Session[];
}

export class People {
  constructor(private readonly deps: PeopleDeps) {}

  async details(user: User): Promise<UserDetails> {
    const { store, throttle } = this.deps;
    const [recoveryCodes, passkeys, bannedUntil, sessions] = await Promise.all([
      store.countRecoveryCodes(user.id),
      store.listCredentials(user.id),
      throttle.accountBannedUntil(user.id),
      store.listUserSessions(user.id),
    ]);
    const factors = { password: hasPassword(user.passwordHash), totp: user.totpEnabled, recoveryCodes, passkeys: passkeys.length };
    // The store keeps idle and outlived sessions until they are purged: they are over all the same.
    const now = this.deps.clock.now();
    return { factors, bannedUntil, sessions: sessions.filter((session) => isLive(session, now, this.deps.limits)) };
  }

  /** Adds the user to the group; false when they were in it already. */
  addToGroup(cause: Cause, user: User, group: string): Promise<boolean> {
    return this.#setGroupMember(cause, user, checkGroupName(group), true);
  }

  /** Removes the user from the group; false when they were not in it. */
  removeFromGroup(cause: Cause, user: User, group: string): Promise<boolean> {
    return this.#setGroupMember(cause, user, checkGroupName(group), false);
  }

  /**
   * The user's tokens minted before the change stop being trusted here at once (and
   * elsewhere as the mark arrives), without ending the session: it refreshes into the new groups.
   */
  async #setGroupMember(cause: Cause, user: User, group: string, member: boolean): Promise<boolean> {
    const now = this.deps.clock.now();
    const { result, sessionIds } = await this.deps.store.setGroupMember({ userId: user.id, group, member, now });
    if (!outcome(result)) return false;
    this.deps.revocations.claimsChanged(sessionIds.map((sessionId) => ({ sessionId, at: now })));
    await this.#record(cause, member ? 'group_added' : 'group_removed', user, { group });
    return true;
  }

  /** Disabling ends every session of the user; false when it was so already. */
  async setDisabled(cause: Cause, user: User, disabled: boolean): Promise<boolean> {
    if (!outcome(await this.deps.store.setDisabledKeepingAdmin(user.id, disabled))) return false;
    if (disabled) await this.deps.sessions.endAllOfUser(user.id, 'user_disabled');
    await this.#record(cause, disabled ? 'user_disabled' : 'user_enabled', user);
    return true;
  }

  /** The user, their credentials and sessions go; their tunnels close (through the revocation listeners). */
  async delete(cause: Cause, user: User): Promise<void> {
    const { result, sessionIds } = await this.deps.store.deleteUserKeepingAdmin(user.id, this.deps.clock.now());
    outcome(result);
    this.deps.revocations.add(sessionIds);
    await this.#record(cause, 'user_deleted', user, { sessions_ended: sessionIds.length });
  }

  /** Lifts the account's sign-in ban and its counted failures (not the bans of client addresses). */
  async unban(cause: Cause, user: User): Promise<void> {
    await this.deps.throttle.unbanAccount(user.id);
    await this.#record(cause, 'user_unbanned', user);
  }

  /** TOTP, recovery codes and passkeys gone, in one transaction: the password alone signs in. */
  async resetFactors(cause: Cause, user: User): Promise<void> {
    await this.deps.store.resetFactors(user.id);
    await this.#record(cause, 'factors_reset', user);
  }

  /** Awaited: an administrator's change is answered only once its audit event is stored. */
  #record({ actor, address }: Cause, type: string, user: User, details?: Record<string, unknown>): Promise<void> {
    return this.deps.audit.record({ type, user: whom(user), actor, address, details });
  }
}
