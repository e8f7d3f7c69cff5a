/** The login page and POST /_auth/login (SPEC section 4). */
import { checkFormToken } from '../auth/csrf.js';
import { clientAddress } from '../auth/forwarded.js';
import { mustConfirmEmail } from '../auth/registration.js';
import { fail, HttpError } from '../errors.js';
import { parseBody, stringField } from '../http.js';
import { loginPage } from '../pages.js';
import type { Scope } from '../scope.js';
import { echo, returnUrl } from './common.js';
import { signIn } from './sign-in.js';

export async function showLoginPage(scope: Scope): Promise<void> {
  const rd = returnUrl(scope, scope.url.searchParams.get('rd'));
  const registrationOpen = scope.services.config.registration === 'open';
  const providers = scope.services.oidc.providers;
  scope.form(200, (nonce, csrf) => loginPage({ nonce, csrf, rd, registrationOpen, providers }));
}

/** POST /_auth/login: a form (cookies, 303 to rd) or JSON (the token body and cookies). */
export async function login(scope: Scope): Promise<void> {
  const { accounts, config } = scope.services;
  const { kind, fields } = await parseBody(scope.req);
  const rd = returnUrl(scope, fields['rd']);
  try {
    if (kind === 'form') checkFormToken(scope.req, fields['csrf'], config);
    const username = stringField(fields, 'username', { required: true, max: 320 });
    const password = stringField(fields, 'password', { required: true, max: 8192 });
    const user = await accounts.authenticate(username, password, clientAddress(scope.req, scope.services.trusted));
    if (mustConfirmEmail(user, config)) throw fail('email_not_verified');
    await signIn(scope, user, { rd, method: 'password', kind });
  } catch (error) {
    if (kind !== 'form' || !(error instanceof HttpError)) throw error;
    const registrationOpen = config.registration === 'open';
    scope.form(error.status, (nonce, csrf) =>
      loginPage({ nonce, csrf, rd, error: error.message, username: echo(fields['username']), registrationOpen, providers: scope.services.oidc.providers }),
    );
  }
}
