/** The registration page and POST /_auth/register (SPEC section 4). */
import { clientAddress } from '../auth/forwarded.js';
import { checkFormToken } from '../auth/csrf.js';
import { admit, registerAdmitted, registrationAvailable } from '../auth/registration.js';
import { fail, HttpError } from '../errors.js';
import { parseBody, stringField } from '../http.js';
import { messagePage, registerPage } from '../pages.js';
import type { Scope } from '../scope.js';
import { echo, limitAddress, returnUrl } from './common.js';
import { sendVerification } from './mail-links.js';
import { finishSignIn } from './sign-in.js';

export async function showRegisterPage(scope: Scope): Promise<void> {
  if (!(await registrationAvailable(scope.services))) {
    return scope.page(403, (nonce) => messagePage({ nonce, title: 'Registration is closed', message: fail('registration_closed').message }));
  }
  const rd = returnUrl(scope, scope.url.searchParams.get('rd'));
  scope.form(200, (nonce, csrf) => registerPage({ nonce, csrf, rd, registrationOpen: true }));
}

/** POST /_auth/register: 201 with the token body (JSON) or cookies and a 303 to rd (form). */
export async function register(scope: Scope): Promise<void> {
  const { config } = scope.services;
  const { kind, fields } = await parseBody(scope.req);
  const rd = returnUrl(scope, fields['rd']);
  try {
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
    if (user.email) await sendVerification(scope.services, user, user.email);
    if (confirm || config.require_verified_email) {
      if (kind === 'json') return scope.json(201, { verification_required: true });
      const message = 'We sent a link to your email address. Follow it, then sign in.';
      return scope.page(201, (nonce) => messagePage({ nonce, title: 'Check your inbox', message }));
    }
    await finishSignIn(scope, user, { rd, method: 'registration', kind, status: 201 });
  } catch (error) {
    if (kind !== 'form' || !(error instanceof HttpError)) throw error;
    scope.form(error.status, (nonce, csrf) =>
      registerPage({ nonce, csrf, rd, error: error.message, username: echo(fields['username']), email: echo(fields['email']), registrationOpen: true }),
    );
  }
}
