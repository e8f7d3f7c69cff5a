/** The registration page and POST /_auth/register (SPEC section 4), with or without an invite (section 11). */
import { checkFormToken } from '../auth/csrf.js';
import { clientAddress } from '../auth/forwarded.js';
import { findInvite } from '../auth/invites.js';
import { admit, mustConfirmEmail, registerAdmitted, registrationAvailable } from '../auth/registration.js';
import { fail, HttpError } from '../errors.js';
import { parseBody, stringField, type Fields } from '../http.js';
import { messagePage, registerPage } from '../pages.js';
import type { Scope } from '../scope.js';
import { loginKey, TokenUnusable, type User } from '../store/types.js';
import { echo, limitAddress, returnUrl } from './common.js';
import { sendVerification } from './mail-links.js';
import { finishSignIn, type AnswerKind } from './sign-in.js';

export async function showRegisterPage(scope: Scope): Promise<void> {
  const rd = returnUrl(scope, scope.url.searchParams.get('rd'));
  // Empty is absent, as for the invite field of the form.
  const invite = scope.url.searchParams.get('invite') || null;
  if (invite !== null) {
    const terms = await findInvite(scope.services.oneTimeTokens, invite);
    if (!terms) return scope.page(403, (nonce) => messagePage({ nonce, title: 'This invitation does not work', message: fail('invite_invalid').message }));
    return scope.form(200, (nonce, csrf) => registerPage({ nonce, csrf, rd, invite, email: terms.email, emailFixed: terms.email !== undefined, registrationOpen: true }));
  }
  if (!(await registrationAvailable(scope.services))) {
    return scope.page(403, (nonce) => messagePage({ nonce, title: 'Registration is closed', message: fail('registration_closed').message }));
  }
  scope.form(200, (nonce, csrf) => registerPage({ nonce, csrf, rd, registrationOpen: true }));
}

/** POST /_auth/register: 201 with the token body (JSON) or cookies and a 303 to rd (form). */
export async function register(scope: Scope): Promise<void> {
  const { config } = scope.services;
  const { kind, fields } = await parseBody(scope.req);
  const rd = returnUrl(scope, fields['rd']);
  try {
    const invite = stringField(fields, 'invite', { max: 64 });
    if (invite !== undefined) return await registerInvited(scope, kind, fields, invite, rd);
    const email = stringField(fields, 'email', { max: 320 });
    const admission = await admit(scope.services, email);
    if (kind === 'form') checkFormToken(scope.req, fields['csrf'], config);
    await limitAddress(scope, 'registration');
    const { user, confirm } = await registerAdmitted(scope.services, admission, {
      username: stringField(fields, 'username', { required: true, max: 256 }),
      email,
      password: stringField(fields, 'password', { required: true, max: 8192 }),
      address: clientAddress(scope.req, scope.services.trusted),
    });
    await welcome(scope, user, { kind, rd, method: 'registration', confirm: confirm || config.require_verified_email });
  } catch (error) {
    if (kind !== 'form' || !(error instanceof HttpError)) throw error;
    const invite = echo(fields['invite']) || undefined;
    scope.form(error.status, (nonce, csrf) =>
      registerPage({ nonce, csrf, rd, error: error.message, username: echo(fields['username']), email: echo(fields['email']), invite, registrationOpen: true }),
    );
  }
}

/**
 * A registration with an invite, whatever `registration` says; the per-address limit still
 * applies. An invite that names an address allows only that one, and it counts as confirmed:
 * an administrator set it (SPEC section 5), the invitee cannot choose another.
 */
async function registerInvited(scope: Scope, kind: AnswerKind, fields: Fields, invite: string, rd: string): Promise<void> {
  const { services } = scope;
  if (kind === 'form') checkFormToken(scope.req, fields['csrf'], services.config);
  await limitAddress(scope, 'registration');
  const inviteHash = services.oneTimeTokens.hashOf(invite);
  const terms = inviteHash && (await findInvite(services.oneTimeTokens, invite));
  if (!terms) throw fail('invite_invalid');
  const given = stringField(fields, 'email', { max: 320 });
  if (terms.email !== undefined && given !== undefined && loginKey(given) !== loginKey(terms.email)) {
    throw fail('invite_invalid', 'This invitation is for another email address.');
  }
  const email = terms.email ?? given;
  let user: User;
  try {
    user = await services.accounts.register({
      username: stringField(fields, 'username', { required: true, max: 256 }),
      email,
      password: stringField(fields, 'password', { required: true, max: 8192 }),
      groups: terms.groups,
      emailVerified: terms.email !== undefined,
      inviteHash,
    });
  } catch (error) {
    // Used up by a racing registration since it was looked at.
    if (error instanceof TokenUnusable) throw fail('invite_invalid');
    throw error;
  }
  const actor = { kind: 'user' as const, id: user.id, username: user.username };
  await services.audit.record({ type: 'invite_used', user: actor, actor, address: clientAddress(scope.req, services.trusted), details: { groups: user.groups } });
  await welcome(scope, user, { kind, rd, method: 'invite', confirm: mustConfirmEmail(user, services.config) });
}

/** A new account: a link to confirm an address not confirmed yet; then signed in, or told to confirm first. */
async function welcome(scope: Scope, user: User, { kind, rd, method, confirm }: { kind: AnswerKind; rd: string; method: string; confirm: boolean }): Promise<void> {
  if (user.email && !user.emailVerified) await sendVerification(scope.services, user, user.email);
  if (confirm) {
    if (kind === 'json') return scope.json(201, { verification_required: true });
    const message = 'We sent a link to your email address. Follow it, then sign in.';
    return scope.page(201, (nonce) => messagePage({ nonce, title: 'Check your inbox', message }));
  }
  await finishSignIn(scope, user, { rd, method, kind, status: 201 });
}
