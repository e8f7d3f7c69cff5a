/** How the gate says no: a redirect for browser navigations, JSON for everything else. */
import type { AccessClaims } from '../auth/tokens.js';
import { fail } from '../errors.js';
import { forbiddenPage, messagePage } from '../pages.js';
import type { Scope } from '../scope.js';
import { loginUrl, returnUrl, signedInCaller } from './common.js';

export function answerLogin(scope: Scope, loginUrl: string, redirect: boolean): void {
  if (redirect) return scope.redirect(loginUrl, 302);
  scope.setHeader('www-authenticate', 'Bearer');
  scope.json(401, { error: 'unauthenticated', message: 'Sign in to continue.', login_url: loginUrl });
}

/** What a refusal names: who (when the gate knows), the address as shown, and where switching account returns. */
export interface Refusal {
  claims?: AccessClaims;
  host: string;
  path: string;
  rd: string;
}

/** 403: for a browser navigation, a page naming who is signed in (SPEC section 11); JSON otherwise. */
export function answerForbidden(scope: Scope, navigation: boolean, refusal: Refusal): void {
  const { message } = fail('forbidden');
  if (!navigation) return scope.json(403, { error: 'forbidden', message });
  // A deny rule refuses everyone before anyone is authenticated: there is nobody to name.
  if (!refusal.claims) return scope.page(403, (nonce) => messagePage({ nonce, title: 'Access denied', message }));
  refusalPage(scope, refusal.claims.username, refusal.host + refusal.path, refusal.rd);
}

function refusalPage(scope: Scope, username: string, address: string, rd: string): void {
  scope.form(403, (nonce, csrf) => forbiddenPage({ nonce, csrf, username, address, rd }));
}

/**
 * GET /_auth/forbidden?rd=: the same page, for nginx, whose auth_request answers a 403
 * with its own page (the example routes it here). Strangers go to the login page.
 */
export async function showForbiddenPage(scope: Scope): Promise<void> {
  const rd = returnUrl(scope, scope.url.searchParams.get('rd'));
  const caller = await signedInCaller(scope);
  if (!caller) return scope.redirect(loginUrl(rd), 302);
  const address = new URL(rd, scope.services.config.public_url);
  refusalPage(scope, caller.user.username, address.host + address.pathname, rd);
}
