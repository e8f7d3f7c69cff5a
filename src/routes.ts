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
import { showForbiddenPage } from './handlers/gate-answers.js';
import { changeOwnPassword, deleteAccount, endOwnSession, listOwnSessions, showAccountPage, updateAccount } from './handlers/account.js';
import { serveAsset } from './handlers/assets.js';
import { openApi } from './handlers/openapi.js';
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
import { NO_PARAMS, type Handler } from './scope.js';
import { recentlySignedIn, signedIn, signedInAdmin } from './handlers/common.js';
import { addToGroup, deleteUser, listGroups, listUsers, removeFromGroup, resetFactors, showUser, unbanUser, updateUser } from './handlers/admin-people.js';
import { listSessions, revokeSession } from './handlers/admin-sessions.js';
import { addUser, inviteSomeone } from './handlers/admin-invites.js';
import { listAuditEvents } from './handlers/admin-audit.js';
import { adminPageAction, showAdminPage } from './handlers/admin-page.js';
import { backchannelLogout, listOwnIdentities, oidcCallback, startLink, startOidc, unlinkOwnIdentity } from './handlers/oidc.js';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /**
   * Exact; or a template whose `{name}` segments match one non-empty segment each
   * (in `scope.params`, decoded); or, with `prefix`, everything under it (the rest is
   * the handler's to read). Templates are what the metrics and the API description name.
   */
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
  { method: 'GET', path: '/_auth/openapi.json', handler: openApi },
  { method: 'GET', path: '/_auth/verify', handler: verify },
  { method: 'GET', path: '/_auth/forbidden', handler: showForbiddenPage },
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
  { method: 'PATCH', path: '/_auth/webauthn/credentials/{id}', before: [signedIn], handler: renamePasskey },
  { method: 'DELETE', path: '/_auth/webauthn/credentials/{id}', before: [signedIn], handler: deletePasskey },
  { method: 'GET', path: '/_auth/account', handler: showAccountPage },
  { method: 'PATCH', path: '/_auth/account', before: [signedIn], handler: updateAccount },
  { method: 'DELETE', path: '/_auth/account', before: [signedIn], handler: deleteAccount },
  { method: 'POST', path: '/_auth/account/password', before: [signedIn], handler: changeOwnPassword },
  { method: 'GET', path: '/_auth/account/sessions', before: [signedIn], handler: listOwnSessions },
  { method: 'DELETE', path: '/_auth/account/sessions/{id}', before: [signedIn], handler: endOwnSession },
  { method: 'GET', path: '/_auth/admin/sessions', before: [signedInAdmin], handler: listSessions },
  { method: 'DELETE', path: '/_auth/admin/sessions/{id}', before: [signedInAdmin], handler: revokeSession },
  { method: 'POST', path: '/_auth/admin/invites', before: [signedInAdmin], handler: inviteSomeone },
  { method: 'POST', path: '/_auth/admin/users', before: [signedInAdmin], handler: addUser },
  { method: 'GET', path: '/_auth/account/oidc', before: [signedIn], handler: listOwnIdentities },
  { method: 'DELETE', path: '/_auth/account/oidc/{id}', before: [signedIn], handler: unlinkOwnIdentity },
  { method: 'GET', path: '/_auth/oidc/{id}/start', handler: startOidc },
  { method: 'GET', path: '/_auth/oidc/{id}/callback', handler: oidcCallback },
  { method: 'POST', path: '/_auth/oidc/{id}/link', handler: startLink },
  { method: 'POST', path: '/_auth/oidc/backchannel-logout', handler: backchannelLogout },
  { method: 'GET', path: '/_auth/assets/', prefix: true, handler: serveAsset },
  { method: 'GET', path: '/_auth/admin/users', before: [signedInAdmin], handler: listUsers },
  { method: 'GET', path: '/_auth/admin/users/{id}', before: [signedInAdmin], handler: showUser },
  { method: 'PATCH', path: '/_auth/admin/users/{id}', before: [signedInAdmin], handler: updateUser },
  { method: 'DELETE', path: '/_auth/admin/users/{id}', before: [signedInAdmin], handler: deleteUser },
  { method: 'POST', path: '/_auth/admin/users/{id}/unban', before: [signedInAdmin], handler: unbanUser },
  { method: 'DELETE', path: '/_auth/admin/users/{id}/factors', before: [signedInAdmin], handler: resetFactors },
  { method: 'PUT', path: '/_auth/admin/users/{id}/groups/{group}', before: [signedInAdmin], handler: addToGroup },
  { method: 'DELETE', path: '/_auth/admin/users/{id}/groups/{group}', before: [signedInAdmin], handler: removeFromGroup },
  { method: 'GET', path: '/_auth/admin/groups', before: [signedInAdmin], handler: listGroups },
  { method: 'GET', path: '/_auth/admin', handler: showAdminPage },
  { method: 'POST', path: '/_auth/admin', before: [signedInAdmin], handler: adminPageAction },
  { method: 'GET', path: '/_auth/admin/audit', before: [signedInAdmin], handler: listAuditEvents },
];

export interface Match {
  route: Route;
  /** The `{name}` segments of a template route, percent-decoded. */
  params: Readonly<Record<string, string>>;
}

export interface Router {
  find(method: string | undefined, path: string): Match | undefined;
  /** For a 405: the methods a known path does allow. */
  allowedMethods(path: string): string | undefined;
}

interface Template {
  route: Route;
  segments: readonly string[];
}

export function createRouter(table: readonly Route[] = routes): Router {
  // By path, then method: a key built per request ("GET /_auth/verify") is a new string to hash every time.
  const exact = new Map<string, Map<string, Match>>();
  const templates: Template[] = [];
  const prefixed: Route[] = [];
  const allowed = new Map<string, string>();
  for (const route of table) {
    if (route.prefix) prefixed.push(route);
    else if (route.path.includes('{')) templates.push({ route, segments: route.path.split('/') });
    else exact.set(route.path, (exact.get(route.path) ?? new Map()).set(route.method, { route, params: NO_PARAMS }));
    const methods = route.method === 'GET' ? 'GET, HEAD' : route.method;
    allowed.set(route.path, allowed.has(route.path) ? `${allowed.get(route.path)}, ${methods}` : methods);
  }

  /** The path as the table names it: itself, or the template it fills. */
  const templateOf = (path: string) => (allowed.has(path) ? path : templates.find((template) => fill(template, path))?.route.path);

  return {
    find(method, path) {
      const match = exact.get(path)?.get(method ?? '');
      if (match) return match;
      for (const template of templates) {
        if (template.route.method !== method) continue;
        const params = fill(template, path);
        if (params) return { route: template.route, params };
      }
      const route = prefixed.find((candidate) => candidate.method === method && path.startsWith(candidate.path) && path.length > candidate.path.length);
      return route && { route, params: NO_PARAMS };
    },
    allowedMethods: (path) => {
      const named = templateOf(path);
      return named === undefined ? undefined : allowed.get(named);
    },
  };
}

/** The template's parameters taken from `path`, or undefined when it does not fit. */
function fill({ segments }: Template, path: string): Record<string, string> | undefined {
  const parts = path.split('/');
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if (segment.startsWith('{')) {
      if (part === '') return undefined;
      params[segment.slice(1, -1)] = decodeURIComponent(part);
    } else if (segment !== part) return undefined;
  }
  return params;
}
