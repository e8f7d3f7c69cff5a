import { sessionCookie } from '../auth/cookies.js';
import { forbidden, HttpError } from '../errors.js';
import { parseBody, sendJson, sendRedirect, stringField } from '../http.js';
import { messagePage, registerPage } from '../pages.js';
import { checkFormToken } from '../auth/csrf.js';
import { renderForm, renderPage, type Scope } from '../scope.js';
import { echo, limitAddress, returnUrl, tokenBody } from './common.js';
import { sendVerification } from './mail-links.js';

const closed = () => forbidden('registration_closed', 'Registration is closed; ask an administrator for an account.');

export async function showRegisterPage(scope: Scope): Promise<void> {
  if (scope.services.config.registration !== 'open') {
    return renderPage(scope, 403, (nonce) => messagePage({ nonce, title: 'Registration is closed', message: closed().message }));
  }
  const rd = returnUrl(scope, scope.url.searchParams.get('rd'));
  renderForm(scope, 200, (nonce, csrf) => registerPage({ nonce, csrf, rd, registrationOpen: true }));
}

/** POST /_auth/register: 201 with the token body (JSON) or cookies and a 303 to rd (form). */
export async function register(scope: Scope): Promise<void> {
  const { accounts, sessions, config } = scope.services;
  const { kind, fields } = await parseBody(scope.req);
  const rd = returnUrl(scope, fields['rd']);
  try {
    if (config.registration !== 'open') throw closed();
    if (kind === 'form') checkFormToken(scope.req, fields['csrf'], config);
    await limitAddress(scope, 'registration');
    const user = await accounts.register({
      username: stringField(fields, 'username', { required: true, max: 256 }),
      email: stringField(fields, 'email', { max: 320 }),
      password: stringField(fields, 'password', { required: true, max: 8192 }),
    });
    if (user.email) await sendVerification(scope.services, user, user.email);
    if (config.require_verified_email) {
      if (kind === 'form') {
        const message = 'We sent a link to your email address. Follow it, then sign in.';
        return renderPage(scope, 201, (nonce) => messagePage({ nonce, title: 'Check your inbox', message }));
      }
      return sendJson(scope.res, 201, { verification_required: true });
    }
    const tokens = await sessions.start(user);
    const cookies = [sessionCookie(tokens, config)];
    if (kind === 'form') return sendRedirect(scope.res, rd, cookies);
    sendJson(scope.res, 201, tokenBody(tokens), cookies);
  } catch (error) {
    if (kind !== 'form' || !(error instanceof HttpError)) throw error;
    renderForm(scope, error.status, (nonce, csrf) =>
      registerPage({ nonce, csrf, rd, error: error.message, username: echo(fields['username']), email: echo(fields['email']), registrationOpen: true }),
    );
  }
}
