import { sessionCookie } from '../auth/cookies.js';
import { admit, registerAdmitted, registrationAvailable, registrationClosed } from '../auth/registration.js';
import { HttpError } from '../errors.js';
import { parseBody, sendJson, sendRedirect, stringField } from '../http.js';
import { messagePage, registerPage } from '../pages.js';
import { checkFormToken } from '../auth/csrf.js';
import { renderForm, renderPage, type Scope } from '../scope.js';
import { echo, returnUrl, tokenBody } from './common.js';
import { sendVerification } from './mail-links.js';

export async function showRegisterPage(scope: Scope): Promise<void> {
  if (!(await registrationAvailable(scope.services))) {
    return renderPage(scope, 403, (nonce) => messagePage({ nonce, title: 'Registration is closed', message: registrationClosed().message }));
  }
  const rd = returnUrl(scope, scope.url.searchParams.get('rd'));
  renderForm(scope, 200, (nonce, csrf) => registerPage({ nonce, csrf, rd, registrationOpen: true }));
}

/** POST /_auth/register: 201 with the token body (JSON) or cookies and a 303 to rd (form). */
export async function register(scope: Scope): Promise<void> {
  const { sessions, config } = scope.services;
  const { kind, fields } = await parseBody(scope.req);
  const rd = returnUrl(scope, fields['rd']);
  try {
    const email = stringField(fields, 'email', { max: 320 });
    const admission = await admit(scope.services, email);
    if (kind === 'form') checkFormToken(scope.req, fields['csrf'], config);
    const { user, confirm } = await registerAdmitted(scope.services, admission, {
      username: stringField(fields, 'username', { required: true, max: 256 }),
      email,
      password: stringField(fields, 'password', { required: true, max: 8192 }),
    });
    if (user.email) await sendVerification(scope.services, user, user.email);
    if (confirm || config.require_verified_email) {
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
