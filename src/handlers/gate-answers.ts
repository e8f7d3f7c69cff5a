/** How the gate says no: a redirect for browser navigations, JSON for everything else. */
import { sendJson, sendRedirect } from '../http.js';
import { messagePage } from '../pages.js';
import { renderPage, type Scope } from '../scope.js';

export function answerLogin(scope: Scope, loginUrl: string, redirect: boolean): void {
  if (redirect) return sendRedirect(scope.res, loginUrl, [], 302);
  scope.res.setHeader('www-authenticate', 'Bearer');
  sendJson(scope.res, 401, { error: 'unauthenticated', message: 'Sign in to continue.', login_url: loginUrl });
}

export function answerForbidden(scope: Scope, navigation: boolean): void {
  const message = 'Your account may not open this page.';
  if (navigation) return renderPage(scope, 403, (nonce) => messagePage({ nonce, title: 'Access denied', message }));
  sendJson(scope.res, 403, { error: 'forbidden', message });
}
