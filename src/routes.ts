/**
 * Every endpoint gatehouse serves, in one table. Before any handler runs, app.ts
 * has checked the request target and, for methods that change state, the Origin.
 * Everything outside /_auth/ goes to the upstream (proxy mode), or, without one,
 * only / is served (a page saying who is signed in).
 */
import { login, showLoginPage } from './handlers/login.js';
import { register, showRegisterPage } from './handlers/register.js';
import { home, jwks, logout, refresh, userinfo } from './handlers/session.js';
import { verify } from './handlers/verify.js';
import {
  followMagicLink,
  forgotPassword,
  requestMagicLink,
  resetPassword,
  showForgotPage,
  showMagicLinkPage,
  showResetPage,
  verifyEmail,
} from './handlers/mail-links.js';
import { confirmTotp, disableTotp, enrollTotp, mfaRecovery, mfaTotp, showMfaPage } from './handlers/mfa.js';
import type { Handler } from './scope.js';

export interface Route {
  method: 'GET' | 'POST';
  path: string;
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
  { method: 'POST', path: '/_auth/totp/enroll', handler: enrollTotp },
  { method: 'POST', path: '/_auth/totp/confirm', handler: confirmTotp },
  { method: 'POST', path: '/_auth/totp/disable', handler: disableTotp },
  { method: 'GET', path: '/_auth/password/forgot', handler: showForgotPage },
  { method: 'POST', path: '/_auth/password/forgot', handler: forgotPassword },
  { method: 'GET', path: '/_auth/password/reset', handler: showResetPage },
  { method: 'POST', path: '/_auth/password/reset', handler: resetPassword },
  { method: 'GET', path: '/_auth/magic-link', handler: showMagicLinkPage },
  { method: 'POST', path: '/_auth/magic-link', handler: requestMagicLink },
  { method: 'GET', path: '/_auth/magic-link/verify', handler: followMagicLink },
  { method: 'GET', path: '/_auth/email/verify', handler: verifyEmail },
];
