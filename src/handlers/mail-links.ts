/**
 * Everything that starts with a mail: password reset, magic links, email
 * verification. Requests answer 202 whatever the address (no enumeration, same
 * timing: the work happens after the answer), with a per-account and per-address limit.
 */
import { checkFormToken } from '../auth/csrf.js';
import { clientAddress } from '../auth/forwarded.js';
import { fail } from '../errors.js';
import { StoreConflict } from '../store/types.js';
import { parseBody, stringField } from '../http.js';
import { magicLinkMail, resetMail, verifyMail } from '../mail/messages.js';
import { emailRequestPage, messagePage, resetPage } from '../pages.js';
import type { Scope } from '../scope.js';
import type { Services } from '../services.js';
import type { User } from '../store/types.js';
import { returnUrl } from './common.js';
import { signIn } from './sign-in.js';

const MINUTE = 60_000;
const PER_ACCOUNT_INTERVAL = 2 * MINUTE;
const PER_ADDRESS = { limit: 10, windowMs: 10 * MINUTE };
const RESET_TTL = 30 * MINUTE;
const MAGIC_TTL = 15 * MINUTE;
const VERIFY_TTL = 24 * 60 * MINUTE;


/** Accepts the request, answers 202, and only then looks the address up and queues a mail. */
async function acceptMailRequest(scope: Scope, kind: string, work: (services: Services, user: User, fields: Record<string, unknown>) => Promise<void>) {
  const { services } = scope;
  const { kind: bodyKind, fields } = await parseBody(scope.req);
  if (bodyKind === 'form') checkFormToken(scope.req, fields['csrf'], services.config);
  const email = stringField(fields, 'email', { required: true, max: 320 });
  if (!(await services.throttle.allow(`${kind}_address`, clientAddress(scope.req, services.trusted), PER_ADDRESS.limit, PER_ADDRESS.windowMs))) {
    throw fail('too_many_requests');
  }
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
  await acceptMailRequest(scope, 'password_reset', async (services, user) => {
    const token = await services.oneTimeTokens.issue('password_reset', user.id, null, RESET_TTL);
    await services.mail.enqueue(resetMail(user.email!, link(services, '/_auth/password/reset', token)));
    services.log.info('password_reset_requested', { user_id: user.id, audit: true });
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
  await services.accounts.changePassword(user, password, { checked: true });
  services.log.info('password_reset', { user_id: user.id, audit: true });
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

/** GET /_auth/magic-link/verify?token=: signs in (or asks for the second factor) and goes to the safe rd. */
export async function followMagicLink(scope: Scope): Promise<void> {
  const { services } = scope;
  const token = await services.oneTimeTokens.consume(scope.url.searchParams.get('token'), 'magic_link');
  const user = token?.userId ? await services.store.findUserById(token.userId) : undefined;
  if (!user || user.disabled) throw fail('invalid_token');
  // The mail proved the address: a magic link counts as a verified email.
  if (!user.emailVerified && user.email) await services.store.setEmail(user.id, user.email, true);
  const kind = (scope.req.headers.accept ?? '').includes('application/json') ? 'json' : 'form';
  // A magic link is one factor, like a password: a second one may still be needed.
  await signIn(scope, user, { rd: token!.data, method: 'magic_link', kind });
}

/** Queues a verification mail for `email` (a new address counts only once confirmed). */
export async function sendVerification(services: Services, user: User, email: string): Promise<void> {
  const token = await services.oneTimeTokens.issue('email_verify', user.id, email, VERIFY_TTL);
  await services.mail.enqueue(verifyMail(email, link(services, '/_auth/email/verify', token)));
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
  const token = await services.oneTimeTokens.consume(scope.url.searchParams.get('token'), 'email_verify');
  const user = token?.userId ? await services.store.findUserById(token.userId) : undefined;
  if (!user || !token?.data) throw fail('invalid_token');
  try {
    await services.store.setEmail(user.id, token.data, true);
  } catch (error) {
    // Another account took the address after this link was sent.
    if (error instanceof StoreConflict) throw fail('email_taken', 'That email is already taken by another account.');
    throw error;
  }
  if (user.email !== token.data) services.log.info('email_changed', { user_id: user.id, audit: true });
  services.log.info('email_verified', { user_id: user.id, audit: true });
  if ((scope.req.headers.accept ?? '').includes('application/json')) return scope.json(200, { status: 'verified', email: token.data });
  scope.page(200, (nonce) => messagePage({ nonce, title: 'Email confirmed', message: `${token.data} is confirmed. You can close this page.` }));
}
