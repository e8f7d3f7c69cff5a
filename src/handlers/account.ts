/** Account self-service (SPEC section 7): profile, password, email, deletion, own sessions. */
import { selfActor } from '../audit.js';
import { emailProblem } from '../auth/accounts.js';
import { clientAddress } from '../auth/forwarded.js';
import { clearedCookie, sessionCookie } from '../auth/cookies.js';
import { hasPassword } from '../auth/passwords.js';
import { fail } from '../errors.js';
import { parseBody, stringField } from '../http.js';
import { accountPage } from '../pages.js';
import type { Scope } from '../scope.js';
import type { User } from '../store/types.js';
import { isRecentSignIn, loginUrl, reauthenticate, sessionClient, sessionFields, signedInCaller } from './common.js';
import { requestEmailChange } from './mail-links.js';

/** Each change mails two addresses: an account must not become a way to mail anyone, endlessly. */
const EMAIL_CHANGES = { limit: 5, windowMs: 60 * 60_000 };

/** GET /_auth/account: the page; strangers go to the login page first. */
export async function showAccountPage(scope: Scope): Promise<void> {
  const caller = await signedInCaller(scope);
  if (!caller) return scope.redirect(loginUrl('/_auth/account'), 302);
  const { store, oidc } = scope.services;
  const [passkeys, sessions, linked] = await Promise.all([
    store.listCredentials(caller.user.id),
    store.listUserSessions(caller.user.id),
    store.listOidcIdentities(caller.user.id),
  ]);
  const identities = linked.map((identity) => ({ ...identity, name: oidc.find(identity.providerId)?.name ?? identity.providerId }));
  const providers = oidc.providers;
  scope.form(200, (nonce, csrf) => accountPage({ nonce, csrf, user: caller.user, passkeys, sessions, currentSession: caller.sessionId, identities, providers }));
}

/** POST /_auth/account/password: the current password is required; other sessions end, this one goes on. */
export async function changeOwnPassword(scope: Scope): Promise<void> {
  const { services } = scope;
  const { user } = scope.caller;
  const { fields } = await parseBody(scope.req);
  await reauthenticate(scope, user, stringField(fields, 'current_password', { required: true, max: 8192 }));
  const by = { actor: selfActor(user), address: clientAddress(scope.req, services.trusted) };
  await services.accounts.changePassword(user, stringField(fields, 'new_password', { required: true, max: 8192 }), { by });
  const tokens = await services.sessions.start(user, sessionClient(scope));
  scope.setCookie(sessionCookie(tokens, services.config));
  scope.json(200, { status: 'password_changed' });
}

/**
 * PATCH /_auth/account: a display name now; a new email only with the current password (an
 * access token alone, which upstreams see, must not be enough to take the account), and it
 * counts only once confirmed.
 */
export async function updateAccount(scope: Scope): Promise<void> {
  const { services } = scope;
  const { user } = scope.caller;
  const { fields } = await parseBody(scope.req);
  const displayName = stringField(fields, 'display_name', { max: 128 });
  const email = stringField(fields, 'email', { max: 320 });
  const currentPassword = stringField(fields, 'current_password', { max: 8192 });
  if (displayName !== undefined && /[\u0000-\u001f\u007f]/.test(displayName)) throw fail('invalid_input', 'Display names cannot contain control characters.');
  if (email !== undefined) {
    const problem = emailProblem(email);
    if (problem) throw fail('invalid_input', problem);
    await confirmOwner(scope, user, currentPassword);
    if (!(await services.throttle.allow('email_change', user.id, EMAIL_CHANGES.limit, EMAIL_CHANGES.windowMs))) {
      throw fail('too_many_requests', 'Too many changes of address; try again in an hour.');
    }
    const holder = await services.store.findUserByLogin(email);
    if (holder && holder.id !== user.id) throw fail('email_taken');
  }
  if (displayName !== undefined) await services.store.setDisplayName(user.id, displayName.trim() || null);
  if (email !== undefined) await requestEmailChange(services, user, email, clientAddress(scope.req, services.trusted));
  scope.json(200, { status: 'updated', ...(email !== undefined && { email_pending: email }) });
}

/** The current password; for an account without one (SPEC section 7), a sign-in of the last ten minutes. */
async function confirmOwner(scope: Scope, user: User, password: string | undefined): Promise<void> {
  if (!hasPassword(user.passwordHash)) {
    if (await isRecentSignIn(scope)) return;
    throw fail('reauthentication_required', 'Please sign in again before changing your email address.');
  }
  if (password === undefined) throw fail('reauthentication_failed', 'Changing the email address needs the current password.');
  await reauthenticate(scope, user, password);
}

/** DELETE /_auth/account: with the password, the account, its sessions and credentials are gone. */
export async function deleteAccount(scope: Scope): Promise<void> {
  const { services } = scope;
  const { user } = scope.caller;
  const { fields } = await parseBody(scope.req);
  await reauthenticate(scope, user, stringField(fields, 'password', { required: true, max: 8192 }));
  await services.sessions.endAllOfUser(user.id, 'account_deleted');
  await services.store.deleteUser(user.id);
  await services.audit.record({ type: 'account_deleted', user, actor: selfActor(user), address: clientAddress(scope.req, services.trusted) });
  scope.setCookie(clearedCookie(services.config));
  scope.json(200, { status: 'deleted' });
}

export async function listOwnSessions(scope: Scope): Promise<void> {
  const { user, sessionId } = scope.caller;
  const sessions = await scope.services.store.listUserSessions(user.id);
  scope.json(200, {
    sessions: sessions.map((s) => ({ ...sessionFields(s), current: s.id === sessionId })),
  });
}

/** DELETE /_auth/account/sessions/{id}: only the caller's own. */
export async function endOwnSession(scope: Scope): Promise<void> {
  const { user } = scope.caller;
  const id = scope.params['id']!;
  const session = await scope.services.store.findSession(id);
  if (!session || session.userId !== user.id || session.revokedAt !== null) throw fail('not_found');
  await scope.services.sessions.end(id, 'ended_by_user');
  scope.json(200, { status: 'ended' });
}
