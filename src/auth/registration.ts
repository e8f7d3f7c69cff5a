/**
 * Who may register (SPEC section 2: `registration`, `registration_domains`). The first
 * account on an empty database always may, and becomes administrator; after it, only
 * with `registration: open`, limited to addresses in `registration_domains` when set.
 */
import type { Config } from '../config.js';
import { fail } from '../errors.js';
import { NotFirstUser, type Store, type User } from '../store/types.js';
import type { Accounts } from './accounts.js';

export interface RegistrationDeps {
  config: Config;
  store: Store;
  accounts: Accounts;
}

/** How a registration may go ahead: as the first account, as anyone, or only once the address is confirmed. */
type Admission = 'first' | 'open' | 'confirm';

export const registrationClosed = () => fail('registration_closed');

/** Exact domain match, case-insensitive; the domain is what follows the last @. */
export function emailInDomains(email: string, domains: readonly string[]): boolean {
  const at = email.lastIndexOf('@');
  return at > 0 && domains.includes(email.slice(at + 1).toLowerCase());
}

/**
 * Whether sign-in must wait for the address to be confirmed: with require_verified_email
 * every account; with registration_domains, an account whose address is in them (how it
 * registered). Administrators are exempt: the first account, or made one by an administrator.
 */
export function mustConfirmEmail(user: User, config: Config): boolean {
  if (user.emailVerified) return false;
  if (config.require_verified_email) return true;
  const inDomains = user.email !== null && emailInDomains(user.email, config.registration_domains);
  return inDomains && !user.groups.includes('admins');
}

/** Whether the registration page has anything to offer (one indexed query). */
export async function registrationAvailable({ config, store }: Pick<RegistrationDeps, 'config' | 'store'>): Promise<boolean> {
  return config.registration === 'open' || !(await store.hasUsers());
}

/** Decides before any argon2 work is spent; throws 403 (or 400 for a missing address) when refused. */
export async function admit({ config, store }: Pick<RegistrationDeps, 'config' | 'store'>, email: string | undefined): Promise<Admission> {
  if (!(await store.hasUsers())) return 'first';
  if (config.registration !== 'open') throw registrationClosed();
  if (config.registration_domains.length === 0) return 'open';
  if (email === undefined) throw fail('email_required');
  if (!emailInDomains(email, config.registration_domains)) {
    throw fail('registration_domain_not_allowed');
  }
  return 'confirm';
}

/**
 * Registers under the admission given. A would-be first account that lost the race to
 * another is judged again as a later one: refused while registration is closed.
 */
export async function registerAdmitted(
  services: RegistrationDeps,
  admission: Admission,
  input: { username: string; email?: string; password: string; address?: string },
): Promise<{ user: User; confirm: boolean }> {
  try {
    const user = await services.accounts.register({ ...input, onlyIfFirst: admission === 'first' });
    return { user, confirm: admission === 'confirm' };
  } catch (error) {
    if (!(error instanceof NotFirstUser)) throw error;
    const later = await admit(services, input.email);
    if (later === 'first') throw registrationClosed(); // every account was deleted meanwhile: refuse rather than loop
    return { user: await services.accounts.register(input), confirm: later === 'confirm' };
  }
}
