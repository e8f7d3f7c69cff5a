/**
 * Every endpoint gatehouse serves, in one table. Before any handler runs, app.ts
 * has checked the request target and, for methods that change state, the Origin;
 * then the route's `before` steps run in order (`signedIn`: 401 unless a live
 * user is signed in; `recentlySignedIn`: also a sign-in of the last ten minutes).
 * Everything outside /_auth/ goes to the upstream (proxy mode), or, without one,
 * only / is served (a page saying who is signed in).
 */
import { login, showLoginPage } from './handlers/login.js';
import { register, showRegisterPage } from './handlers/register.js';
import { home, jwks, logout, refresh, userinfo } from './handlers/session.js';
import { verify } from './handlers/verify.js';
import { changeOwnPassword, deleteAccount, endOwnSession, listOwnSessions, showAccountPage, updateAccount } from './handlers/account.js';
import { serveAsset } from './handlers/assets.js';
import { deletePasskey, listPasskeys, passkeyLogin, passkeyLoginOptions, passkeyRegistrationOptions, registerPasskey, renamePasskey } from './handlers/passkeys.js';
import {
  followMagicLink,
  forgotPassword,
  requestMagicLink,
  resetPassword,
  showForgotPage,
  showMagicLinkConfirmation,
  showMagicLinkPage,
  showResetPage,
  verifyEmail,
} from './handlers/mail-links.js';
import { confirmTotp, disableTotp, enrollTotp, mfaRecovery, mfaTotp, showMfaPage } from './handlers/mfa.js';
import type { Handler } from './scope.js';
import { recentlySignedIn, signedIn } from './handlers/common.js';

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Exact, or with `prefix`, everything under it (the rest is the handler's to read). */
  path: string;
  prefix?: true;
  /** Steps that run before the handler, in order; any of them may refuse the request. */
  before?: readonly Handler[];
  handler: Handler;
}

export const routes: readonly Route[] = [
  { method: 'GET', path: '/', handler: home },
  { method: 'GET', path: '/_auth/login', handler: showLoginPage },
  { method: 'POST', path: '/_auth/login', handler: login },
  { method: 'GET', path: '/_auth/register', handler: showRegisterPage },
  { method: 'POST', path: '/_auth/register', handler: register },
  { method: 'POST', path: '/_auth/refresh', handler: refresh },
  { method: 'POST', path: '/_auth/logout', handler: logout },
  { method: 'GET', path: '/_auth/userinfo', handler: userinfo },
  { method: 'GET', path: '/_auth/jwks.json', handler: jwks },
  { method: 'GET', path: '/_auth/verify', handler: verify },
  { method: 'GET', path: '/_auth/mfa', handler: showMfaPage },
  { method: 'POST', path: '/_auth/mfa/totp', handler: mfaTotp },
  { method: 'POST', path: '/_auth/mfa/recovery', handler: mfaRecovery },
  { method: 'POST', path: '/_auth/totp/enroll', before: [recentlySignedIn], handler: enrollTotp },
  { method: 'POST', path: '/_auth/totp/confirm', before: [recentlySignedIn], handler: confirmTotp },
  { method: 'POST', path: '/_auth/totp/disable', before: [signedIn], handler: disableTotp },
  { method: 'GET', path: '/_auth/password/forgot', handler: showForgotPage },
  { method: 'POST', path: '/_auth/password/forgot', handler: forgotPassword },
  { method: 'GET', path: '/_auth/password/reset', handler: showResetPage },
  { method: 'POST', path: '/_auth/password/reset', handler: resetPassword },
  { method: 'GET', path: '/_auth/magic-link', handler: showMagicLinkPage },
  { method: 'POST', path: '/_auth/magic-link', handler: requestMagicLink },
  { method: 'GET', path: '/_auth/magic-link/verify', handler: showMagicLinkConfirmation },
  { method: 'POST', path: '/_auth/magic-link/verify', handler: followMagicLink },
  { method: 'GET', path: '/_auth/email/verify', handler: verifyEmail },
  { method: 'POST', path: '/_auth/webauthn/register/options', before: [recentlySignedIn], handler: passkeyRegistrationOptions },
  { method: 'POST', path: '/_auth/webauthn/register/verify', before: [recentlySignedIn], handler: registerPasskey },
  { method: 'POST', path: '/_auth/webauthn/login/options', handler: passkeyLoginOptions },
  { method: 'POST', path: '/_auth/webauthn/login/verify', handler: passkeyLogin },
  { method: 'GET', path: '/_auth/webauthn/credentials', before: [signedIn], handler: listPasskeys },
  { method: 'PATCH', path: '/_auth/webauthn/credentials/', prefix: true, before: [signedIn], handler: renamePasskey },
  { method: 'DELETE', path: '/_auth/webauthn/credentials/', prefix: true, before: [signedIn], handler: deletePasskey },
  { method: 'GET', path: '/_auth/account', handler: showAccountPage },
  { method: 'PATCH', path: '/_auth/account', before: [signedIn], handler: updateAccount },
  { method: 'DELETE', path: '/_auth/account', before: [signedIn], handler: deleteAccount },
  { method: 'POST', path: '/_auth/account/password', before: [signedIn], handler: changeOwnPassword },
  { method: 'GET', path: '/_auth/account/sessions', before: [signedIn], handler: listOwnSessions },
  { method: 'DELETE', path: '/_auth/account/sessions/', prefix: true, before: [signedIn], handler: endOwnSession },
  { method: 'GET', path: '/_auth/assets/', prefix: true, handler: serveAsset },
];

export interface Router {
  find(method: string | undefined, path: string): Route | undefined;
  /** For a 405: the methods a known path does allow. */
  allowedMethods(path: string): string | undefined;
}

export function createRouter(table: readonly Route[] = routes): Router {
  // By path, then method: a key built per request ("GET /_auth/verify") is a new string to hash every time.
  const exact = new Map<string, Map<string, Route>>();
  for (const route of table.filter((candidate) => !candidate.prefix)) {
    exact.set(route.path, (exact.get(route.path) ?? new Map()).set(route.method, route));
  }
  const prefixed = table.filter((route) => route.prefix);
  const allowed = new Map<string, string>();
  for (const route of table) {
    const methods = route.method === 'GET' ? 'GET, HEAD' : route.method;
    allowed.set(route.path, allowed.has(route.path) ? `${allowed.get(route.path)}, ${methods}` : methods);
  }
  return {
    find: (method, path) =>
      exact.get(path)?.get(method ?? '') ??
      prefixed.find((route) => route.method === method && path.startsWith(route.path) && path.length > route.path.length),
    allowedMethods: (path) => allowed.get(path),
  };
}
