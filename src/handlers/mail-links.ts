/**
 * Everything that starts with a mail: password reset, magic links, email
 * verification and change. Requests answer 202 whatever the address (no enumeration, same
 * timing: the work happens after the answer), with a per-account and per-address limit.
 */
import { selfActor } from '../audit.js';
import { checkFormToken } from '../auth/csrf.js';
import { clientAddress } from '../auth/forwarded.js';
import { looksLikeToken } from '../auth/one-time-tokens.js';
import { NO_PASSWORD } from '../auth/passwords.js';
import { fail, HttpError } from '../errors.js';
import { loginKey, StoreConflict } from '../store/types.js';
import { parseBody, stringField } from '../http.js';
import { emailChangedMail, emailChangeRequestedMail, magicLinkMail, resetMail, verifyMail } from '../mail/messages.js';
import { emailRequestPage, magicLinkPage, messagePage, resetPage } from '../pages.js';
import type { Scope } from '../scope.js';
import type { Services } from '../services.js';
import type { User } from '../store/types.js';
import { limitAddress, returnUrl } from './common.js';
import { signIn } from './sign-in.js';

const MINUTE = 60_000;
const PER_ACCOUNT_INTERVAL = 2 * MINUTE;
const RESET_TTL = 30 * MINUTE;
const MAGIC_TTL = 15 * MINUTE;
const VERIFY_TTL = 24 * 60 * MINUTE;

/** Accepts the request, answers 202, and only then looks the address up and queues a mail. */
async function acceptMailRequest(scope: Scope, kind: 'password_reset' | 'magic_link', work: (services: Services, user: User, fields: Record<string, unknown>) => Promise<void>) {
  const { services } = scope;
  const { kind: bodyKind, fields } = await parseBody(scope.req);
  if (bodyKind === 'form') checkFormToken(scope.req, fields['csrf'], services.config);
  const email = stringField(fields, 'email', { required: true, max: 320 });
  await limitAddress(scope, kind);
  if (bodyKind === 'form') {
    scope.page(202, (nonce) => messagePage({ nonce, title: 'Check your inbox', message: 'If an account uses that address, a mail is on its way.' }));
  } else {
    scope.json(202, { status: 'accepted' });
  }
  setImmediate(() => {
    void (async () => {
      const user = await services.store.findUserByLogin(email);
      if (!user || user.disabled || !user.email || user.email.toLowerCase() !== email.toLowerCase()) return;
      // At most one mail per account per interval: silently dropped beyond it, the answer was already 202.
      if (!(await services.throttle.allow(`${kind}_mail`, user.id, 1, PER_ACCOUNT_INTERVAL))) return;
      await work(services, user, fields);
    })().catch((error: unknown) => services.log.error(`${kind}_failed`, { error: String(error) }));
  });
}

const link = (services: Services, path: string, token: string) => `${services.config.public_url}${path}?token=${token}`;

/** POST /_auth/password/forgot */
export async function forgotPassword(scope: Scope): Promise<void> {
  // Read now: the work below runs after the answer, when the connection may be gone.
  const address = clientAddress(scope.req, scope.services.trusted);
  await acceptMailRequest(scope, 'password_reset', async (services, user) => {
    const token = await services.oneTimeTokens.issue('password_reset', user.id, null, RESET_TTL);
    await services.mail.enqueue(resetMail(user.email!, link(services, '/_auth/password/reset', token)));
    await services.audit.record({ type: 'password_reset_requested', user, actor: selfActor(user), address });
  });
}

/** POST /_auth/password/reset: sets the password and ends every session. */
export async function resetPassword(scope: Scope): Promise<void> {
  const { services } = scope;
  const { kind, fields } = await parseBody(scope.req);
  if (kind === 'form') checkFormToken(scope.req, fields['csrf'], services.config);
  const password = stringField(fields, 'password', { required: true, max: 8192 });
  // Checked before the token is used up: a refused password must not burn the link.
  await services.accounts.checkNewPassword(password);
  const token = await services.oneTimeTokens.consume(fields['token'], 'password_reset');
  const user = token?.userId ? await services.store.findUserById(token.userId) : undefined;
  if (!user) throw fail('invalid_token');
  const by = { actor: selfActor(user), address: clientAddress(scope.req, services.trusted) };
  // What was set before goes; the password this reset sets is the owner's own.
  await addressProven(services, user, by.address);
  await services.accounts.changePassword(user, password, { checked: true, by });
  await services.audit.record({ type: 'password_reset', user, ...by });
  if (kind === 'form') return scope.redirect('/_auth/login?reset=1');
  scope.json(200, { status: 'password_changed' });
}

/** POST /_auth/magic-link */
export async function requestMagicLink(scope: Scope): Promise<void> {
  await acceptMailRequest(scope, 'magic_link', async (services, user, fields) => {
    const rd = returnUrl(scope, fields['rd']);
    const token = await services.oneTimeTokens.issue('magic_link', user.id, rd, MAGIC_TTL);
    await services.mail.enqueue(magicLinkMail(user.email!, link(services, '/_auth/magic-link/verify', token)));
  });
}

/**
 * GET (and HEAD) /_auth/magic-link/verify?token=: a page with one button. It consumes and
 * signs in nothing: link scanners and previews fetch links, and a link someone else sent
 * must not sign the reader in as them without a click.
 */
export async function showMagicLinkConfirmation(scope: Scope): Promise<void> {
  const token = scope.url.searchParams.get('token');
  if (!looksLikeToken(token)) return scope.page(400, (nonce) => messagePage({ nonce, title: 'This link does not work', message: fail('invalid_token').message }));
  scope.form(200, (nonce, csrf) => magicLinkPage({ nonce, csrf, token }));
}

/** POST /_auth/magic-link/verify: form `token` (+ CSRF) or JSON `{"token"}`; signs in (or asks for the second factor). */
export async function followMagicLink(scope: Scope): Promise<void> {
  const { services } = scope;
  const { kind, fields } = await parseBody(scope.req);
  try {
    if (kind === 'form') checkFormToken(scope.req, fields['csrf'], services.config);
    const token = await services.oneTimeTokens.consume(stringField(fields, 'token', { required: true, max: 64 }), 'magic_link');
    const found = token?.userId ? await services.store.findUserById(token.userId) : undefined;
    if (!found || found.disabled) throw fail('invalid_token');
    const user = await addressProven(services, found, clientAddress(scope.req, services.trusted));
    // A magic link is one factor, like a password: a second one may still be needed.
    await signIn(scope, user, { rd: token!.data, method: 'magic_link', kind });
  } catch (error) {
    if (kind !== 'form' || !(error instanceof HttpError)) throw error;
    scope.page(error.status, (nonce) => messagePage({ nonce, title: 'This link does not work', message: error.message }));
  }
}

/**
 * A mailed link proved the account's address. The first time, whoever registered it may not have
 * been its owner (pre-hijacking, SPEC section 7): every session and every credential set before
 * goes, and the address is confirmed. Answers the user as it is now.
 */
async function addressProven(services: Services, user: User, address: string): Promise<User> {
  if (user.emailVerified || !user.email) return user;
  // Sessions first: nothing done through an old session can land after the wipe and outlive it.
  await services.sessions.endAllOfUser(user.id, 'address_proven');
  if (await services.store.confirmEmailWipingCredentials(user.id, user.email, NO_PASSWORD)) {
    await services.audit.record({ type: 'credentials_removed_address_proven', user, actor: selfActor(user), address });
  }
  return (await services.store.findUserById(user.id)) ?? user;
}

/** Queues a verification mail for `email` (a new address counts only once confirmed); earlier links stop working. */
export async function sendVerification(services: Services, user: User, email: string): Promise<void> {
  const token = await services.oneTimeTokens.replace('email_verify', user.id, email, VERIFY_TTL);
  await services.mail.enqueue(verifyMail(email, link(services, '/_auth/email/verify', token)));
}

/** A change of address: the link goes to the new one (retiring any older pending change), a notice to the old one. */
export async function requestEmailChange(services: Services, user: User, email: string, address: string): Promise<void> {
  await sendVerification(services, user, email);
  if (user.email && loginKey(user.email) !== loginKey(email)) await services.mail.enqueue(emailChangeRequestedMail(user.email, email));
  await services.audit.record({ type: 'email_change_requested', user, actor: selfActor(user), address });
}

export async function showForgotPage(scope: Scope): Promise<void> {
  scope.form(200, (nonce, csrf) => emailRequestPage({ nonce, csrf, action: '/_auth/password/forgot', title: 'Forgot your password?', button: 'Email me a reset link' }));
}

export async function showMagicLinkPage(scope: Scope): Promise<void> {
  const rd = returnUrl(scope, scope.url.searchParams.get('rd'));
  scope.form(200, (nonce, csrf) => emailRequestPage({ nonce, csrf, rd, action: '/_auth/magic-link', title: 'Sign in by email', button: 'Email me a sign-in link' }));
}

export async function showResetPage(scope: Scope): Promise<void> {
  const token = scope.url.searchParams.get('token') ?? '';
  scope.form(200, (nonce, csrf) => resetPage({ nonce, csrf, token }));
}

/** GET /_auth/email/verify?token= */
export async function verifyEmail(scope: Scope): Promise<void> {
  const { services } = scope;
  // Retiring the others: a change asked for earlier must not win by being confirmed later.
  const token = await services.oneTimeTokens.consumeRetiringOthers(scope.url.searchParams.get('token'), 'email_verify');
  const user = token?.userId ? await services.store.findUserById(token.userId) : undefined;
  if (!user || !token?.data) throw fail('invalid_token');
  try {
    await services.store.setEmail(user.id, token.data, true);
  } catch (error) {
    // Another account took the address after this link was sent.
    if (error instanceof StoreConflict) throw fail('email_taken', 'That email is already taken by another account.');
    throw error;
  }
  const by = { actor: selfActor(user), address: clientAddress(scope.req, services.trusted) };
  if (user.email && loginKey(user.email) !== loginKey(token.data)) {
    await services.mail.enqueue(emailChangedMail(user.email, token.data));
    await services.audit.record({ type: 'email_changed', user, ...by });
  }
  await services.audit.record({ type: 'email_verified', user, ...by });
  if ((scope.req.headers.accept ?? '').includes('application/json')) return scope.json(200, { status: 'verified', email: token.data });
  scope.page(200, (nonce) => messagePage({ nonce, title: 'Email confirmed', message: `${token.data} is confirmed. You can close this page.` }));
}
