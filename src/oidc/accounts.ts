/**
 * Who a provider's answer is at gatehouse (SPEC section 12). The identity is the pair
 * (issuer, subject), never the address: a first sign-in creates an account (when
 * allowed) or is refused, and an existing account with the same address is never
 * linked on its own (whoever controls an address at some provider would take it
 * over); its owner links from the account page.
 */
import { selfActor, SYSTEM_ACTOR } from '../audit.js';
import { randomBytes } from 'node:crypto';
import { MAX_USERNAME_LENGTH, usernameProblem } from '../auth/accounts.js';
import { NO_PASSWORD } from '../auth/passwords.js';
import { emailInDomains, mustConfirmEmail } from '../auth/registration.js';
import { isGroupName } from '../admin/groups.js';
import type { Config } from '../config.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';
import { loginKey, StoreConflict, type OidcIdentity, type User } from '../store/types.js';
import { ProviderFailure, type ProviderAnswer } from './client.js';
import type { OidcProvider } from './settings.js';

/** The value at a dotted path of the claims (Keycloak: realm_access.roles). */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

const ADMINS = 'admins';

/** The string values of the provider's groups claim (a list, or one string). */
function claimValues(provider: OidcProvider, claims: Record<string, unknown>): string[] {
  if (!provider.groups_claim) return [];
  const raw = claimAt(claims, provider.groups_claim);
  return (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : []).filter((value): value is string => typeof value === 'string' && value !== '');
}

/**
 * Without `group_map`, a value is taken as a group only when it is a group name by the
 * one rule (SPEC section 11: " admins" or "/x" would reach X-Auth-Groups as they came, and
 * no administrator could remove them), and never `admins` in any spelling: only an
 * explicit `group_map` entry can make someone an administrator.
 */
const passesThrough = (value: string) => isGroupName(value) && value.toLowerCase() !== ADMINS;

/**
 * The gatehouse groups the provider grants: the claim's values through `group_map`
 * (values it does not name are dropped); without a map, the values that pass through.
 */
export function grantedGroups(provider: OidcProvider, claims: Record<string, unknown>): string[] {
  const values = claimValues(provider, claims);
  const map = provider.group_map;
  const groups = map ? values.flatMap((value) => (Object.hasOwn(map, value) ? [map[value]!] : [])) : values.filter(passesThrough);
  return [...new Set(groups)];
}

/** Without `group_map`, the values that do not pass through (for the log). */
export const refusedGroupValues = (provider: OidcProvider, claims: Record<string, unknown>): string[] =>
  provider.group_map ? [] : claimValues(provider, claims).filter((value) => !passesThrough(value));

/**
 * The account's groups after a sign-in: what the identity added last time is replaced by
 * what it grants now; every other group (set by an administrator, the first account's
 * `admins`) stays. `added`: the granted groups the account did not have otherwise.
 */
export const mergeGroups =
  (granted: string[]) =>
  (current: string[], previous: string[]): { groups: string[]; added: string[] } => {
    const local = current.filter((group) => !previous.includes(group));
    return { groups: [...new Set([...local, ...granted])], added: granted.filter((group) => !local.includes(group)) };
  };

/** allowed_domains (on a vouched-for address only) and allowed_groups; throws the refusal. */
export function checkAllowed(provider: OidcProvider, answer: ProviderAnswer, granted: string[]): void {
  if (provider.allowed_domains.length > 0) {
    if (!answer.verifiedEmail) throw new ProviderFailure('oidc_email_unverified', answer.email ? 'email_not_verified' : 'no_email');
    if (!emailInDomains(answer.verifiedEmail, provider.allowed_domains)) throw new ProviderFailure('oidc_domain_not_allowed', 'domain_not_allowed');
  }
  if (provider.allowed_groups.length > 0 && !granted.some((group) => provider.allowed_groups.includes(group))) {
    throw new ProviderFailure('oidc_group_not_allowed', 'group_not_allowed');
  }
}

/**
 * Whether a first sign-in may create an account: `auto_register` when set; else as
 * `registration` says: open → yes, closed → no, open to some domains → only for a
 * vouched-for address in them.
 */
export function mayRegister(config: Config, provider: OidcProvider, answer: ProviderAnswer): boolean {
  if (provider.auto_register !== undefined) return provider.auto_register;
  if (config.registration !== 'open') return false;
  if (config.registration_domains.length === 0) return true;
  return answer.verifiedEmail !== null && emailInDomains(answer.verifiedEmail, config.registration_domains);
}

/**
 * Entra ID leaves the groups out of a token of someone in more than 200 of them and points
 * at Microsoft Graph instead (`_claim_names.groups`). gatehouse does not call Graph: such a
 * person gets no groups from the provider, which must not go unnoticed.
 */
export function groupsOverage(claims: Record<string, unknown>): boolean {
  const names = claims['_claim_names'];
  return typeof names === 'object' && names !== null && Object.hasOwn(names, 'groups');
}

/** The account an answer signs in to, its groups set from this sign-in; throws the refusal. */
export async function accountFor(services: Services, provider: OidcProvider, answer: ProviderAnswer): Promise<User> {
  if (provider.groups_claim && groupsOverage(answer.claims)) {
    services.log.warn('oidc_groups_overage', { provider: provider.id, subject: answer.subject, message: 'the provider left the groups out of the token (too many); none are granted' });
  }
  const refused = refusedGroupValues(provider, answer.claims);
  if (refused.length > 0) {
    services.log.debug('oidc_groups_dropped', { provider: provider.id, subject: answer.subject, count: refused.length, values: refused.slice(0, 10).map((value) => value.slice(0, 64)) });
  }
  const granted = grantedGroups(provider, answer.claims);
  checkAllowed(provider, answer, granted);
  const known = await services.store.findOidcIdentity(answer.issuer, answer.subject);
  if (!known) await register(services, provider, answer);
  const merging = known ? await keepingLastAdmin(services, provider, known, granted) : granted;
  const now = services.clock.now();
  const signedIn = await services.store.signInWithOidcIdentity({ ...identityOf(answer), now }, mergeGroups(merging));
  if (!signedIn) throw new ProviderFailure('oidc_state_invalid', 'identity_vanished');
  const { user, claimsChanged } = signedIn;
  // The store marked the account's other sessions: their tokens with the old groups stop being trusted here at once.
  services.revocations.claimsChanged(claimsChanged.map((sessionId) => ({ sessionId, at: now })));
  if (user.disabled) throw new ProviderFailure('oidc_account_disabled', 'user_disabled');
  const confirmed = await confirmAddress(services, user, answer);
  if (mustConfirmEmail(confirmed, services.config)) throw new ProviderFailure('oidc_email_unverified', 'require_verified_email');
  return confirmed;
}

/**
 * The provider no longer grants `admins`, which it granted before: removed under the
 * last-administrator rule like every removal (SPEC section 11), with its audit line. Of
 * the last enabled administrator it is kept instead, the sign-in goes on (refusing it
 * would lock out the last administrator), and the log says so; it stays the provider's,
 * so a later sign-in removes it once another administrator exists.
 */
async function keepingLastAdmin(services: Services, provider: OidcProvider, identity: OidcIdentity, granted: string[]): Promise<string[]> {
  if (!identity.groups.includes(ADMINS) || granted.includes(ADMINS)) return granted;
  const user = await services.store.findUserById(identity.userId);
  if (!user?.groups.includes(ADMINS)) return granted;
  try {
    await services.people.removeFromGroup({ actor: SYSTEM_ACTOR }, user, ADMINS);
    return granted;
  } catch (error) {
    if (!(error instanceof HttpError && error.code === 'last_admin')) throw error;
    services.log.warn('oidc_last_admin_kept', { provider: provider.id, user: user.id, message: 'the provider no longer grants admins, but this is the last enabled administrator: kept' });
    return [...granted, ADMINS];
  }
}

const identityOf = (answer: ProviderAnswer) => ({ issuer: answer.issuer, subject: answer.subject, email: answer.verifiedEmail });

/** The provider vouches for the account's own unconfirmed address: it counts as confirmed (SPEC section 5). */
async function confirmAddress(services: Services, user: User, answer: ProviderAnswer): Promise<User> {
  if (user.emailVerified || !user.email || !answer.verifiedEmail || loginKey(user.email) !== loginKey(answer.verifiedEmail)) return user;
  await services.store.setEmail(user.id, user.email, true);
  return { ...user, emailVerified: true };
}

/** A first sign-in: a new account, when allowed, never one that merely shares the address. */
async function register(services: Services, provider: OidcProvider, answer: ProviderAnswer): Promise<void> {
  const { store, clock, audit } = services;
  // Only an address the provider vouches for is compared: its owner may learn that it has an
  // account here; anyone who merely typed it in at a provider learns nothing, and gets an account
  // without it (when allowed) like someone without an address.
  if (answer.verifiedEmail && (await store.findUserByLogin(answer.verifiedEmail))) throw new ProviderFailure('oidc_email_in_use', 'email_belongs_to_an_account');
  if (!mayRegister(services.config, provider, answer)) throw new ProviderFailure('oidc_registration_closed', 'auto_register_off');
  const user = await createAccount(services, answer);
  try {
    await store.linkOidcIdentity({ ...identityOf(answer), providerId: provider.id, userId: user.id, now: clock.now() });
  } catch (error) {
    // The same first sign-in in another tab won: this account has no way in, so it goes.
    await store.deleteUser(user.id);
    if (error instanceof StoreConflict) return;
    throw error;
  }
  await audit.record({ type: 'user_registered', user, actor: selfActor(user), details: { method: 'oidc', provider: provider.id } });
}

async function createAccount(services: Services, answer: ProviderAnswer): Promise<User> {
  const { store, clock } = services;
  const base = usernameFrom(answer.username);
  for (let attempt = 0; attempt < 12; attempt++) {
    const username = attempt === 0 ? base : attempt < 10 ? `${base}-${attempt + 1}` : `${base}-${randomBytes(3).toString('hex')}`;
    try {
      const user = await store.createUser({ username, passwordHash: NO_PASSWORD, now: clock.now() });
      if (!answer.verifiedEmail) return user;
      try {
        await store.setEmail(user.id, answer.verifiedEmail, true);
        return { ...user, email: answer.verifiedEmail, emailVerified: true };
      } catch (error) {
        await store.deleteUser(user.id);
        if (error instanceof StoreConflict) throw new ProviderFailure('oidc_email_in_use', 'email_taken_meanwhile');
        throw error;
      }
    } catch (error) {
      if (!(error instanceof StoreConflict && error.field === 'username')) throw error;
    }
  }
  throw new ProviderFailure('oidc_registration_closed', 'no_free_username');
}

/** A username from the provider's name for the person, in gatehouse's alphabet (SPEC section 4). */
export function usernameFrom(name: string | null): string {
  const cleaned = (name ?? '')
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}\p{M}._-]+/gu, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, MAX_USERNAME_LENGTH - 8);
  return cleaned && !usernameProblem(cleaned) ? cleaned : 'user';
}
