/**
 * Signing in with another identity provider (SPEC section 12): the start and the
 * callback of the authorization code flow, linking and unlinking on the account page.
 * A browser that fails gets a page saying why (4xx, 502 for a provider that cannot be
 * reached), and the log a line with the reason.
 */
import { selfActor } from '../audit.js';
import { checkFormToken } from '../auth/csrf.js';
import { clientAddress } from '../auth/forwarded.js';
import { hasPassword } from '../auth/passwords.js';
import { fail, HttpError } from '../errors.js';
import { parseBody, stringField } from '../http.js';
import { accountFor } from '../oidc/accounts.js';
import { ProviderFailure, type ProviderAnswer } from '../oidc/client.js';
import { beginFlow, takeFlow, type Flow } from '../oidc/flow.js';
import type { OidcProvider } from '../oidc/settings.js';
import { messagePage } from '../pages.js';
import type { Scope } from '../scope.js';
import { StoreConflict, type OidcIdentity, type User } from '../store/types.js';
import { isRecentSignIn, limitAddress, loginUrl, returnUrl, signedInCaller } from './common.js';
import { finishSignIn, signIn } from './sign-in.js';

function providerOf(scope: Scope): OidcProvider {
  const provider = scope.services.oidc.find(scope.params['id']);
  if (!provider) throw fail('oidc_unknown_provider');
  return provider;
}

/** GET /_auth/oidc/{id}/start?rd=: to the provider, with a fresh state bound to this browser. */
export async function startOidc(scope: Scope): Promise<void> {
  await asPage(scope, async (provider) => {
    // A link is a navigation any site can make: linking starts from the account page's form (startLink).
    if (scope.url.searchParams.has('link')) throw fail('oidc_link_needs_form');
    await toProvider(scope, provider, returnUrl(scope, scope.url.searchParams.get('rd')), null, 302);
  });
}

const ACCOUNT_PAGE = '/_auth/account';

/**
 * POST /_auth/oidc/{id}/link: the account page's form, with its CSRF token. A plain link
 * would let another site send a victim's browser, signed in at the provider as the
 * attacker, through a link of the attacker's identity to the victim's account. Linking
 * needs a sign-in of the last ten minutes too (a stolen session must not add a way in
 * that outlasts a password change): without one, the login page first, then back to the
 * account page, never on into the link.
 */
export async function startLink(scope: Scope): Promise<void> {
  const { kind, fields } = await parseBody(scope.req);
  if (kind !== 'form') throw fail('unsupported_media_type', 'The account page posts a form.');
  checkFormToken(scope.req, fields['csrf'], scope.services.config);
  await asPage(scope, async (provider) => {
    const caller = await signedInCaller(scope);
    if (caller) scope.caller = caller;
    if (!caller || !(await isRecentSignIn(scope))) return scope.redirect(loginUrl(ACCOUNT_PAGE));
    await toProvider(scope, provider, ACCOUNT_PAGE, caller.user.id, 303);
  });
}

async function toProvider(scope: Scope, provider: OidcProvider, rd: string, linkUserId: string | null, status: 302 | 303): Promise<void> {
  await limitAddress(scope, 'oidc_start');
  // Discovery first: a provider that is down costs no stored state.
  await scope.services.oidc.configuration(provider);
  const flow = await beginFlow(scope, provider.id, rd, linkUserId);
  scope.redirect(await scope.services.oidc.authorizationUrl(provider, flow), status);
}

/** GET /_auth/oidc/{id}/callback: the state, the code, the tokens checked; then a sign-in or a link. */
export async function oidcCallback(scope: Scope): Promise<void> {
  await asPage(scope, async (provider) => {
    const { services } = scope;
    const flow = await takeFlow(scope, provider.id);
    const callback = new URL(`${services.config.public_url}/_auth/oidc/${provider.id}/callback${scope.query}`);
    const answer = await services.oidc.exchange(provider, callback, flow);
    if (flow.linkUserId) return linkIdentity(scope, provider, answer, flow);
    const user = await accountFor(services, provider, answer);
    const providerSession = { issuer: answer.issuer, subject: answer.subject, sid: answer.sid };
    const how = { rd: flow.rd, method: 'oidc', kind: 'form' as const, providerSession };
    // A provider sign-in is complete by itself, unless the provider asks for the local second step too.
    if (provider.require_local_mfa) await signIn(scope, user, how);
    else await finishSignIn(scope, user, how);
  });
}

/** The answer's identity onto the account that started the link (and is still signed in here). */
async function linkIdentity(scope: Scope, provider: OidcProvider, answer: ProviderAnswer, flow: Flow): Promise<void> {
  const { store, clock, audit } = scope.services;
  const caller = await signedInCaller(scope);
  if (!caller || caller.user.id !== flow.linkUserId) throw new ProviderFailure('oidc_state_invalid', 'link_finished_by_another_account');
  const { user } = caller;
  const holder = await store.findOidcIdentity(answer.issuer, answer.subject);
  if (holder && holder.userId !== user.id) throw new ProviderFailure('identity_taken', 'identity_linked_to_another_account');
  if (!holder) {
    const linked = await store.listOidcIdentities(user.id);
    if (linked.some((identity) => identity.providerId === provider.id)) throw new ProviderFailure('oidc_already_linked', 'provider_linked_already');
    try {
      await store.linkOidcIdentity({ issuer: answer.issuer, subject: answer.subject, providerId: provider.id, userId: user.id, email: answer.verifiedEmail, now: clock.now() });
    } catch (error) {
      if (error instanceof StoreConflict) throw new ProviderFailure('identity_taken', 'identity_linked_meanwhile');
      throw error;
    }
    await audit.record({ type: 'oidc_linked', user, actor: selfActor(user), address: clientAddress(scope.req, scope.services.trusted), details: { provider: provider.id } });
  }
  scope.redirect(flow.rd);
}

/** Runs a browser step of the flow; a refusal becomes a page with its status, and a log line with the reason. */
async function asPage(scope: Scope, step: (provider: OidcProvider) => Promise<void>): Promise<void> {
  let provider: OidcProvider | undefined;
  try {
    provider = providerOf(scope);
    await step(provider);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    // Not awaited, like every failed sign-in: the refusal must not wait on the database.
    // A provider nobody configured is a plain 404: its name is the client's, and anyone may send any.
    if (provider) {
      void scope.services.audit.record({
        type: 'oidc_sign_in_refused',
        actor: { kind: 'system' },
        address: clientAddress(scope.req, scope.services.trusted),
        details: { provider: provider.id, error: error.code, reason: error instanceof ProviderFailure ? error.reason : error.code },
        level: 'warn',
      });
    }
    scope.page(error.status, (nonce) => messagePage({ nonce, title: 'Sign-in failed', message: error.message }));
  }
}

/** GET /_auth/account/oidc: the caller's linked providers. */
export async function listOwnIdentities(scope: Scope): Promise<void> {
  const { services } = scope;
  const identities = await services.store.listOidcIdentities(scope.caller.user.id);
  scope.json(200, {
    identities: identities.map((identity) => ({
      provider: identity.providerId,
      name: services.oidc.find(identity.providerId)?.name ?? identity.providerId,
      email: identity.email,
      linked_at: new Date(identity.createdAt).toISOString(),
      last_used_at: identity.lastUsedAt === null ? null : new Date(identity.lastUsedAt).toISOString(),
    })),
  });
}

/** DELETE /_auth/account/oidc/{id}: unlinks that provider, never the account's last way to sign in. */
export async function unlinkOwnIdentity(scope: Scope): Promise<void> {
  const { store, audit, trusted } = scope.services;
  const { user } = scope.caller;
  const identities = await store.listOidcIdentities(user.id);
  const identity = identities.find((candidate) => candidate.providerId === scope.params['id']);
  if (!identity) throw fail('not_found');
  // The store decides atomically, but counts every link, also one to a provider no longer configured.
  const others = identities.filter((other) => other !== identity);
  if (!(await hasWayIn(scope, user, others)) || !(await store.unlinkOidcIdentity(user.id, identity.issuer, identity.subject))) {
    throw fail('oidc_last_sign_in_method');
  }
  await audit.record({ type: 'oidc_unlinked', user, actor: selfActor(user), address: clientAddress(scope.req, trusted), details: { provider: identity.providerId } });
  scope.json(200, { status: 'unlinked' });
}

/** A password, a passkey, or a link to a provider this gatehouse still knows. */
async function hasWayIn(scope: Scope, user: User, links: OidcIdentity[]): Promise<boolean> {
  const { store, oidc } = scope.services;
  if (hasPassword(user.passwordHash) || links.some((link) => oidc.find(link.providerId))) return true;
  return (await store.listCredentials(user.id)).length > 0;
}

/**
 * POST /_auth/oidc/backchannel-logout: a provider's session ended (OpenID Connect
 * Back-Channel Logout 1.0). The gatehouse sessions that came from it (by `sid`, or
 * every one of the person's by `sub`) end through the usual revocation.
 */
export async function backchannelLogout(scope: Scope): Promise<void> {
  const { services } = scope;
  const { fields } = await parseBody(scope.req);
  const token = stringField(fields, 'logout_token', { required: true, max: 16_384 });
  let logout;
  try {
    logout = await services.oidcLogout.verify(token);
  } catch (error) {
    if (error instanceof ProviderFailure) services.log.warn('oidc_logout_refused', { reason: error.reason, address: clientAddress(scope.req, services.trusted) });
    throw error;
  }
  const sessions = await services.store.findOidcSessions(logout.issuer, { subject: logout.subject, sid: logout.sid });
  for (const id of sessions) await services.sessions.end(id, 'backchannel_logout');
  await services.audit.record({ type: 'oidc_backchannel_logout', actor: { kind: 'system' }, details: { provider: logout.provider.id, sessions: sessions.length } });
  scope.json(200, { status: 'logged_out' });
}
