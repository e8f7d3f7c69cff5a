/** How the gate says no: a redirect for browser navigations, JSON for everything else. */
import { fail } from '../errors.js';
import { messagePage } from '../pages.js';
import type { Scope } from '../scope.js';

export function answerLogin(scope: Scope, loginUrl: string, redirect: boolean): void {
  if (redirect) return scope.redirect(loginUrl, 302);
  scope.setHeader('www-authenticate', 'Bearer');
  scope.json(401, { error: 'unauthenticated', message: 'Sign in to continue.', login_url: loginUrl });
}

export function answerForbidden(scope: Scope, navigation: boolean): void {
  const { message } = fail('forbidden');
  if (navigation) return scope.page(403, (nonce) => messagePage({ nonce, title: 'Access denied', message }));
  scope.json(403, { error: 'forbidden', message });
}
