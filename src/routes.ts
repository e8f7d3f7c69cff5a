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
];
