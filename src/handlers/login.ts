import { sessionCookie } from '../auth/cookies.js';
import { forbidden, HttpError } from '../errors.js';
import { parseBody, sendJson, sendRedirect, stringField } from '../http.js';
import { loginPage } from '../pages.js';
import { checkFormToken } from '../auth/csrf.js';
import { clientAddress } from '../auth/forwarded.js';
import { mustConfirmEmail } from '../auth/registration.js';
import { renderForm, type Scope } from '../scope.js';
import { echo, returnUrl, tokenBody } from './common.js';
import { answerPendingMfa } from './mfa.js';

export async function showLoginPage(scope: Scope): Promise<void> {
  const rd = returnUrl(scope, scope.url.searchParams.get('rd'));
  const registrationOpen = scope.services.config.registration === 'open';
  renderForm(scope, 200, (nonce, csrf) => loginPage({ nonce, csrf, rd, registrationOpen }));
}

/** POST /_auth/login: a form (cookies, 303 to rd) or JSON (the token body and cookies). */
export async function login(scope: Scope): Promise<void> {
  const { accounts, sessions, config } = scope.services;
  const { kind, fields } = await parseBody(scope.req);
  const rd = returnUrl(scope, fields['rd']);
  try {
    if (kind === 'form') checkFormToken(scope.req, fields['csrf'], config);
    const username = stringField(fields, 'username', { required: true, max: 320 });
    const password = stringField(fields, 'password', { required: true, max: 8192 });
    const address = clientAddress(scope.req, scope.services.trusted);
    const user = await accounts.authenticate(username, password, address);
    if (mustConfirmEmail(user, config)) {
      throw forbidden('email_not_verified', 'Please confirm your email address first; we sent you a link.');
    }
    if (await answerPendingMfa(scope, user, rd, kind)) return;
    await accounts.signedIn(user, 'password', address);
    const tokens = await sessions.start(user);
    const cookies = [sessionCookie(tokens, config)];
    if (kind === 'form') return sendRedirect(scope.res, rd, cookies);
    sendJson(scope.res, 200, tokenBody(tokens), cookies);
  } catch (error) {
    if (kind !== 'form' || !(error instanceof HttpError)) throw error;
    const registrationOpen = config.registration === 'open';
    renderForm(scope, error.status, (nonce, csrf) =>
      loginPage({ nonce, csrf, rd, error: error.message, username: echo(fields['username']), registrationOpen }),
    );
  }
}
