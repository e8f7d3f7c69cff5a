/** The second step of a sign-in, and turning TOTP on and off. SPEC section 7. */
import { selfActor, SYSTEM_ACTOR } from '../audit.js';
import { checkFormToken } from '../auth/csrf.js';
import { clientAddress } from '../auth/forwarded.js';
import type { Method } from '../auth/second-factors.js';
import { fail, HttpError } from '../errors.js';
import { parseBody, stringField } from '../http.js';
import { mfaPage } from '../pages.js';
import type { Scope } from '../scope.js';
import { reauthenticate } from './common.js';
import { finishSignIn, pendingFromCookie } from './sign-in.js';

export async function showMfaPage(scope: Scope): Promise<void> {
  const pending = await scope.services.secondFactors.pending(pendingFromCookie(scope));
  if (!pending) return scope.redirect('/_auth/login', 302);
  const methods = await scope.services.secondFactors.methods(pending.user);
  scope.form(200, (nonce, csrf) => mfaPage({ nonce, csrf, methods }));
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
        const user = pending?.user;
        void services.audit.record({ type: 'login_failed', user, actor: user ? selfActor(user) : SYSTEM_ACTOR, address, details: { reason: `wrong_${method}` } });
        throw fail('invalid_code');
      }
      await finishSignIn(scope, pending.user, { rd: pending.rd, method, kind, providerSession: pending.providerSession });
    } catch (error) {
      if (kind !== 'form' || !(error instanceof HttpError)) throw error;
      const pending = await services.secondFactors.pending(mfaToken);
      if (!pending) return scope.redirect('/_auth/login');
      const methods = await services.secondFactors.methods(pending.user);
      scope.form(error.status, (nonce, csrf) => mfaPage({ nonce, csrf, methods, error: error.message }));
    }
  };

export const mfaTotp = secondStep('totp');
export const mfaRecovery = secondStep('recovery');

/** POST /_auth/totp/enroll: a new secret, its otpauth:// URL and a QR code (as a data: URL). */
export async function enrollTotp(scope: Scope): Promise<void> {
  const { secret, otpauthUrl } = await scope.services.secondFactors.enrollTotp(scope.caller.user);
  const { toDataURL } = await import('qrcode');
  scope.json(200, { secret, otpauth_url: otpauthUrl, qr_code: await toDataURL(otpauthUrl) });
}

/** POST /_auth/totp/confirm: `{"code"}` → TOTP on, ten recovery codes shown once. */
export async function confirmTotp(scope: Scope): Promise<void> {
  const { fields } = await parseBody(scope.req);
  const codes = await scope.services.secondFactors.confirmTotp(scope.caller.user, fields['code'], clientAddress(scope.req, scope.services.trusted));
  scope.json(200, { recovery_codes: codes });
}

/** POST /_auth/totp/disable: `{"password"}` or a fresh `{"code"}` is required. */
export async function disableTotp(scope: Scope): Promise<void> {
  const { services } = scope;
  const { user } = scope.caller;
  const { fields } = await parseBody(scope.req);
  const password = stringField(fields, 'password', { max: 8192 });
  const address = clientAddress(scope.req, services.trusted);
  if (password) await reauthenticate(scope, user, password);
  else if (!(await services.secondFactors.checkTotp(user, fields['code'], address))) {
    throw fail('reauthentication_failed', 'Confirm with your password or a current code.');
  }
  await services.secondFactors.disableTotp(user, address);
  scope.json(200, { status: 'totp_disabled' });
}
