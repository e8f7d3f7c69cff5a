/** Registration, password sign-in and the account changes that end sessions. */
// Only isEmail: the whole of validator costs 6 MiB of memory.
import isEmailModule from 'validator/lib/isEmail.js';
import { selfActor, SYSTEM_ACTOR, type AuditLog, type Cause } from '../audit.js';
import type { Clock } from '../clock.js';
import { fail } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { StoreConflict, type Store, type User } from '../store/types.js';
import { NO_PASSWORD, passwordProblem, type PasswordHasher } from './passwords.js';
import type { BreachCheck } from './breached.js';
import type { Sessions } from './sessions.js';
import type { Throttle } from './throttle.js';

/** The CommonJS module's export, as ESM sees it. */
const isEmail = isEmailModule.default;

export const MAX_USERNAME_LENGTH = 64;
const MAX_EMAIL_LENGTH = 254;
/** Letters, digits and . _ - in any script; no spaces, no @ (logins by email stay unambiguous), no controls. */
const USERNAME = /^[\p{L}\p{N}\p{M}._-]+$/u;

export function usernameProblem(username: string): string | undefined {
  if (username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
    return `Usernames have 1 to ${MAX_USERNAME_LENGTH} characters.`;
  }
  if (!USERNAME.test(username)) return 'Usernames may contain only letters, digits, dots, dashes and underscores.';
  return undefined;
}

export function emailProblem(email: string): string | undefined {
  if (email.length > MAX_EMAIL_LENGTH || !isEmail(email, { allow_display_name: false, allow_ip_domain: false })) {
    return 'That is not an email address.';
  }
  return undefined;
}

export interface AccountDeps {
  store: Store;
  isBreached: BreachCheck;
  throttle: Throttle;
  passwords: PasswordHasher;
  sessions: Sessions;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  audit: AuditLog;
}

const wrongCredentials = () => fail('invalid_credentials');

export class Accounts {
  constructor(private readonly deps: AccountDeps) {}

  /**
   * Checks input before spending argon2 on it; throws 400 or 409. With `onlyIfFirst`, throws
   * NotFirstUser when any account exists (decided by the store, race-free); with `inviteHash`,
   * TokenUnusable when the invite is spent. Without a password the account has none
   * (an administrator's new user, who sets one through a link).
   */
  async register(input: {
    username: string;
    email?: string;
    password?: string;
    admin?: boolean;
    groups?: string[];
    emailVerified?: boolean;
    onlyIfFirst?: boolean;
    inviteHash?: string;
    /** Who added the account; without it, people registered themselves, from `address`. */
    by?: Cause;
    address?: string;
  }): Promise<User> {
    const { email, password } = input;
    const username = input.username.normalize('NFC');
    const problem =
      usernameProblem(username) ?? (email === undefined ? undefined : emailProblem(email)) ?? (password === undefined ? undefined : passwordProblem(password));
    if (problem) throw fail('invalid_input', problem);
    if (password !== undefined) await this.checkBreached(password);
    try {
      const user = await this.deps.store.createUser({
        username,
        email: email ?? null,
        passwordHash: password === undefined ? NO_PASSWORD : await this.deps.passwords.hash(password),
        admin: input.admin ?? false,
        groups: input.groups ?? [],
        emailVerified: (input.emailVerified ?? false) && email !== undefined,
        onlyIfFirst: input.onlyIfFirst ?? false,
        ...(input.inviteHash !== undefined && { inviteHash: input.inviteHash }),
        now: this.deps.clock.now(),
      });
      const { actor, address } = input.by ?? { actor: selfActor(user), address: input.address };
      await this.deps.audit.record({ type: 'user_registered', user, actor, address, details: { admin: user.groups.includes('admins') } });
      return user;
    } catch (error) {
      if (error instanceof StoreConflict) throw fail(`${error.field}_taken`, `That ${error.field} is already taken.`);
      throw error;
    }
  }

  /**
   * Unknown user, disabled or banned account and wrong password fail alike. Each
   * guess takes a throttle slot before argon2 runs (SPEC section 7); without one,
   * the answer is the same failure, with no argon2 run.
   */
  async authenticate(login: string, password: string, address: string): Promise<User> {
    const { store, passwords, throttle, metrics, audit } = this.deps;
    const tooLong = Buffer.byteLength(password) > 4096 || login.length > 320;
    const user = tooLong ? undefined : await store.findUserByLogin(login);
    const attempt = await throttle.attempt(user?.id, address);
    const matches = attempt !== undefined && (await passwords.verify(user?.passwordHash, tooLong ? '' : password));
    const reason = !attempt ? 'banned' : !user ? 'unknown_user' : !matches ? 'wrong_password' : user.disabled ? 'user_disabled' : undefined;
    if (reason) {
      if (attempt) await throttle.failed(attempt);
      metrics.logins.inc({ result: 'failure' });
      // Not awaited: a guess is not kept waiting on a second write (see audit.ts).
      void audit.record({ type: 'login_failed', user, actor: user ? selfActor(user) : SYSTEM_ACTOR, address, details: { reason } });
      throw wrongCredentials();
    }
    await throttle.forgive(attempt!);
    if (passwords.needsRehash(user!.passwordHash)) {
      await store.setPasswordHash(user!.id, await passwords.hash(password));
    }
    return user!;
  }

  /**
   * The current password of a signed-in user again (password change, account
   * deletion, turning TOTP off): counted like a sign-in, 401 when wrong or banned.
   */
  async confirmPassword(user: User, password: string | undefined, address: string): Promise<void> {
    const { throttle, passwords, audit } = this.deps;
    const attempt = password ? await throttle.attempt(user.id, address) : undefined;
    const matches = attempt !== undefined && (await passwords.verify(user.passwordHash, password!));
    if (attempt && matches) return throttle.forgive(attempt);
    if (attempt) await throttle.failed(attempt);
    const reason = attempt ? 'wrong_password' : password ? 'banned' : 'no_password';
    void audit.record({ type: 'reauthentication_failed', user, actor: selfActor(user), address, details: { reason } });
    throw fail('reauthentication_failed');
  }

  /**
   * A completed sign-in (after any second factor): only now are the account's
   * failures forgiven, or a known password would wipe the count of wrong codes.
   */
  async signedIn(user: User, method: string, address: string): Promise<void> {
    await this.deps.throttle.succeeded(user.id);
    this.deps.metrics.logins.inc({ result: 'success' });
    await this.deps.audit.record({ type: 'login_succeeded', user, actor: selfActor(user), address, details: { method } });
  }

  /** 400 when the password is known from a breach (only with hibp_url set). */
  async checkBreached(password: string): Promise<void> {
    if (await this.deps.isBreached(password)) {
      throw fail('breached_password');
    }
  }

  /** 400 for a password too short, too long or breached. */
  async checkNewPassword(password: string): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw fail('invalid_input', problem);
    await this.checkBreached(password);
  }

  /** Sets a new password and ends every session of the user; `by` the user themself unless said otherwise. */
  async changePassword(user: User, password: string, { checked = false, by = { actor: selfActor(user) } }: { checked?: boolean; by?: Cause } = {}): Promise<void> {
    if (!checked) await this.checkNewPassword(password);
    await this.deps.store.setPasswordHash(user.id, await this.deps.passwords.hash(password));
    await this.deps.sessions.endAllOfUser(user.id, 'password_changed');
    await this.deps.audit.record({ type: 'password_changed', user, ...by });
  }
}
