/** The second step of a sign-in, and turning TOTP on and off. SPEC section 7. */
import { parseCookie, stringifySetCookie } from 'cookie';
import { sessionCookie } from '../auth/cookies.js';
import { checkFormToken } from '../auth/csrf.js';
import { clientAddress } from '../auth/forwarded.js';
import type { Method } from '../auth/second-factors.js';
import { HttpError, unauthorized } from '../errors.js';
import { parseBody, sendJson, sendRedirect, stringField } from '../http.js';
import { mfaPage } from '../pages.js';
import { renderForm, type Scope } from '../scope.js';
import type { User } from '../store/types.js';
import { reauthenticate, requireRecentSignIn, requireUser, returnUrl, tokenBody } from './common.js';

/** Carries a pending sign-in between gatehouse's own pages; read by nothing but this file. */
const MFA_COOKIE = 'gatehouse_mfa';

/**
 * If the user has a second factor, answers with the pending state and returns true:
 * JSON `{"mfa_required","mfa_token","methods"}`, or for a form, a redirect to the second-factor page.
 */
export async function answerPendingMfa(scope: Scope, user: User, rd: string, kind: 'json' | 'form'): Promise<boolean> {
  const { secondFactors, config } = scope.services;
  const methods = await secondFactors.methods(user);
  if (methods.length === 0) return false;
  const mfaToken = await secondFactors.begin(user, rd);
  if (kind === 'json') {
    sendJson(scope.res, 200, { mfa_required: true, mfa_token: mfaToken, methods });
    return true;
  }
  const cookie = stringifySetCookie(MFA_COOKIE, mfaToken, { httpOnly: true, sameSite: 'lax', secure: config.cookie_secure, path: '/_auth', maxAge: 300 });
  sendRedirect(scope.res, '/_auth/mfa', [cookie]);
  return true;
}

const pendingFromCookie = (scope: Scope) => {
  try {
    return parseCookie(scope.req.headers.cookie ?? '')[MFA_COOKIE];
  } catch {
    return undefined;
  }
};

export async function showMfaPage(scope: Scope): Promise<void> {
  const pending = await scope.services.secondFactors.pending(pendingFromCookie(scope));
  if (!pending) return sendRedirect(scope.res, '/_auth/login', [], 302);
  const methods = await scope.services.secondFactors.methods(pending.user);
  renderForm(scope, 200, (nonce, csrf) => mfaPage({ nonce, csrf, methods }));
}

const secondStep = (method: Exclude<Method, 'webauthn'>) =>
  async function completeSecondStep(scope: Scope): Promise<void> {
    const { services } = scope;
    const { kind, fields } = await parseBody(scope.req);
    const mfaToken = kind === 'form' ? pendingFromCookie(scope) : fields['mfa_token'];
    try {
      if (kind === 'form') checkFormToken(scope.req, fields['csrf'], services.config);
      const code = stringField(fields, 'code', { required: true, max: 64 });
      const pending = await services.secondFactors.pending(mfaToken);
      const address = clientAddress(scope.req, services.trusted);
      const ok =
        pending &&
        (method === 'totp'
          ? await services.secondFactors.checkTotp(pending.user, code, address)
          : await services.secondFactors.checkRecoveryCode(pending.user, code, address));
      if (!pending || !ok || !(await services.secondFactors.complete(mfaToken))) {
        services.log.info('login_failed', { reason: `wrong_${method}`, user_id: pending?.user.id, address, audit: true });
        throw unauthorized('invalid_code', 'That code is wrong, used already, or the sign-in has expired.');
      }
      await finishSignIn(scope, pending.user, pending.rd, method, kind);
    } catch (error) {
      if (kind !== 'form' || !(error instanceof HttpError)) throw error;
      const pending = await services.secondFactors.pending(mfaToken);
      if (!pending) return sendRedirect(scope.res, '/_auth/login', [], 303);
      const methods = await services.secondFactors.methods(pending.user);
      renderForm(scope, error.status, (nonce, csrf) => mfaPage({ nonce, csrf, methods, error: error.message }));
    }
  };

export const mfaTotp = secondStep('totp');
export const mfaRecovery = secondStep('recovery');

/** A complete sign-in: a session, its cookie, and the token body or a redirect to rd. */
export async function finishSignIn(scope: Scope, user: User, rd: string, method: string, kind: 'json' | 'form'): Promise<void> {
  const { services } = scope;
  await services.accounts.signedIn(user, method, clientAddress(scope.req, services.trusted));
  const tokens = await services.sessions.start(user);
  const cookies = [sessionCookie(tokens, services.config), stringifySetCookie(MFA_COOKIE, '', { path: '/_auth', maxAge: 0 })];
  const target = returnUrl(scope, rd);
  if (kind === 'form') return sendRedirect(scope.res, target, cookies);
  // redirect_to: where a page script should go next (the rd of the sign-in, judged safe).
  sendJson(scope.res, 200, { ...tokenBody(tokens), redirect_to: target }, cookies);
}

/** The pending sign-in of a JSON call: `mfa_token` in the body, or the cookie set for gatehouse's own page. */
export const pendingToken = (scope: Scope, fields: Record<string, unknown>) => fields['mfa_token'] ?? pendingFromCookie(scope);

/** POST /_auth/totp/enroll: a new secret, its otpauth:// URL and a QR code (as a data: URL). */
export async function enrollTotp(scope: Scope): Promise<void> {
  const { user } = await requireRecentSignIn(scope);
  const { secret, otpauthUrl } = await scope.services.secondFactors.enrollTotp(user);
  const { toDataURL } = await import('qrcode');
  sendJson(scope.res, 200, { secret, otpauth_url: otpauthUrl, qr_code: await toDataURL(otpauthUrl) });
}

/** POST /_auth/totp/confirm: `{"code"}` → TOTP on, ten recovery codes shown once. */
export async function confirmTotp(scope: Scope): Promise<void> {
  const { user } = await requireRecentSignIn(scope);
  const { fields } = await parseBody(scope.req);
  const codes = await scope.services.secondFactors.confirmTotp(user, fields['code']);
  sendJson(scope.res, 200, { recovery_codes: codes });
}

/** POST /_auth/totp/disable: `{"password"}` or a fresh `{"code"}` is required. */
export async function disableTotp(scope: Scope): Promise<void> {
  const { services } = scope;
  const { user } = await requireUser(scope);
  const { fields } = await parseBody(scope.req);
  const password = stringField(fields, 'password', { max: 8192 });
  if (password) await reauthenticate(scope, user, password);
  else if (!(await services.secondFactors.checkTotp(user, fields['code'], clientAddress(scope.req, services.trusted)))) {
    throw unauthorized('reauthentication_failed', 'Confirm with your password or a current code.');
  }
  await services.secondFactors.disableTotp(user);
  sendJson(scope.res, 200, { status: 'totp_disabled' });
}
