/**
 * Second factors: TOTP with single-use recovery codes, and the pending state
 * between a password and its second step. The pending state is a one-time token
 * and nothing else: no session, no cookie that authenticate() reads.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { fail } from '../errors.js';
import { selfActor, type AuditLog } from '../audit.js';
import type { Store, User } from '../store/types.js';
import { sha256 } from './digest.js';
import type { OneTimeTokens } from './one-time-tokens.js';
import type { Throttle } from './throttle.js';
import { newTotpSecret, otpauthUrl, totpStep } from './totp.js';

export type Method = 'totp' | 'recovery' | 'webauthn';

/** The provider session a sign-in came from (SPEC section 12): kept with its gatehouse session for back-channel logout. */
export interface ProviderSession {
  issuer: string;
  subject: string;
  sid: string | null;
}

/** A sign-in waiting for its second step: whose, where to afterwards, and the provider session it came from, if any. */
export interface PendingSignIn {
  user: User;
  rd: string;
  providerSession?: ProviderSession;
}

const PENDING_TTL = 5 * 60_000;
const RECOVERY_CODES = 10;

/** Recovery codes are compared without their dashes and spaces, in any letter case. */
const hashCode = (code: string) => sha256(code.replace(/[\s-]/g, '').toUpperCase());

function recoveryCode(): string {
  const raw = randomBytes(8).toString('hex').toUpperCase();
  return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8, 12)}-${raw.slice(12)}`;
}

/** What `begin` stored: the plain rd, or the rd with the provider session as JSON. */
function pendingData(data: string | null): { rd: string; providerSession?: ProviderSession } {
  if (!data?.startsWith('{')) return { rd: data ?? '/' };
  return JSON.parse(data) as { rd: string; providerSession: ProviderSession };
}

export class SecondFactors {
  constructor(
    private readonly deps: { store: Store; oneTimeTokens: OneTimeTokens; throttle: Throttle; clock: Clock; audit: AuditLog; config: Config },
  ) {}

  /** The second factors a password sign-in of this user must be followed by; empty when none. */
  async methods(user: User): Promise<Method[]> {
    const methods: Method[] = user.totpEnabled ? ['totp', 'recovery'] : [];
    if ((await this.deps.store.listCredentials(user.id)).length > 0) methods.push('webauthn');
    return methods;
  }

  /**
   * The pending state lives in the store, never with the browser: the provider session is
   * what the provider said, and no request can change it. Without one, `data` is the
   * plain rd, as it always was (an rd judged safe never starts with `{`).
   */
  begin(user: User, rd: string, providerSession?: ProviderSession): Promise<string> {
    const data = providerSession ? JSON.stringify({ rd, providerSession }) : rd;
    return this.deps.oneTimeTokens.issue('mfa', user.id, data, PENDING_TTL);
  }

  /** The live pending sign-in, without ending it (wrong codes may be retried). */
  async pending(mfaToken: unknown): Promise<PendingSignIn | undefined> {
    const token = await this.deps.oneTimeTokens.peek(mfaToken, 'mfa');
    const user = token?.userId ? await this.deps.store.findUserById(token.userId) : undefined;
    return user && !user.disabled ? { user, ...pendingData(token!.data) } : undefined;
  }

  /** Ends the pending state; false if another request completed it first. */
  async complete(mfaToken: unknown): Promise<boolean> {
    return (await this.deps.oneTimeTokens.consume(mfaToken, 'mfa')) !== undefined;
  }

  /** A TOTP code, accepted once; counted before it is checked, like a password. */
  async checkTotp(user: User, code: unknown, address: string): Promise<boolean> {
    const { store, clock } = this.deps;
    if (!user.totpEnabled || !user.totpSecret) return false;
    return this.#counted(user, address, async () => {
      const step = await totpStep(user.totpSecret!, code, clock.now());
      return step !== undefined && (await store.useTotpStep(user.id, step));
    });
  }

  async checkRecoveryCode(user: User, code: unknown, address: string): Promise<boolean> {
    const { store, clock, audit } = this.deps;
    if (typeof code !== 'string' || code.length > 64) return false;
    const ok = await this.#counted(user, address, () => store.useRecoveryCode(user.id, hashCode(code), clock.now()));
    if (ok) await audit.record({ type: 'recovery_code_used', user, actor: selfActor(user), address });
    return ok;
  }

  /** Runs a check only with a throttle slot for the account and address (SPEC section 7); a failure keeps the slot. */
  async #counted(user: User, address: string, check: () => Promise<boolean>): Promise<boolean> {
    const { throttle } = this.deps;
    const attempt = await throttle.attempt(user.id, address);
    if (!attempt) return false;
    const ok = await check();
    await (ok ? throttle.forgive(attempt) : throttle.failed(attempt));
    return ok;
  }

  /** Starts enrolment: a new secret, not yet required at sign-in. */
  async enrollTotp(user: User): Promise<{ secret: string; otpauthUrl: string }> {
    if (user.totpEnabled) throw fail('totp_already_enabled');
    const secret = await newTotpSecret();
    await this.deps.store.setTotp(user.id, secret, false);
    const issuer = new URL(this.deps.config.public_url).hostname;
    return { secret, otpauthUrl: await otpauthUrl(secret, user.email ?? user.username, issuer) };
  }

  /** Confirms enrolment with a first code; returns the recovery codes, shown once. */
  async confirmTotp(user: User, code: unknown, address?: string): Promise<string[]> {
    const { store, clock, audit } = this.deps;
    if (user.totpEnabled || !user.totpSecret) throw fail('totp_not_enrolling');
    const step = await totpStep(user.totpSecret, code, clock.now());
    if (step === undefined) throw fail('totp_code_wrong');
    await store.setTotp(user.id, user.totpSecret, true);
    await store.useTotpStep(user.id, step);
    const codes = Array.from({ length: RECOVERY_CODES }, recoveryCode);
    await store.replaceRecoveryCodes(user.id, codes.map(hashCode));
    await audit.record({ type: 'totp_enabled', user, actor: selfActor(user), address });
    return codes;
  }

  async disableTotp(user: User, address?: string): Promise<void> {
    await this.deps.store.setTotp(user.id, null, false);
    await this.deps.store.replaceRecoveryCodes(user.id, []);
    await this.deps.audit.record({ type: 'totp_disabled', user, actor: selfActor(user), address });
  }
}
