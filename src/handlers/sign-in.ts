/**
 * How every sign-in ends, whatever proved the user (a password, a mail link, a
 * second factor, a passkey, a registration): one place that asks for a second
 * factor when one is due, starts the session and answers.
 */
import { parseCookie, stringifySetCookie } from 'cookie';
import { sessionCookie } from '../auth/cookies.js';
import type { Scope } from '../scope.js';
import type { ProviderSession } from '../auth/second-factors.js';
import type { User } from '../store/types.js';
import { returnUrl, sessionClient, tokenBody } from './common.js';

/** Carries a pending sign-in between gatehouse's own pages; read by nothing but the second-step handlers. */
const MFA_COOKIE = 'gatehouse_mfa';

export type AnswerKind = 'json' | 'form';

export interface SignIn {
  /** Where the browser goes afterwards; judged safe here. */
  rd: unknown;
  /** For the audit log: password, magic_link, totp, recovery, passkey, registration. */
  method: string;
  kind: AnswerKind;
  /** 201 for a registration. */
  status?: number;
  /**
   * The provider session this sign-in came from, recorded with the new session (for
   * back-channel logout); kept in the pending state when a second step comes first.
   */
  providerSession?: ProviderSession;
}

/** A first factor is proven: the second step when the user has one, else a complete sign-in. */
export async function signIn(scope: Scope, user: User, how: SignIn): Promise<void> {
  if (await answerPendingMfa(scope, user, how)) return;
  await finishSignIn(scope, user, how);
}

/**
 * If the user has a second factor, answers with the pending state and returns true:
 * JSON `{"mfa_required","mfa_token","methods"}`, or for a form, a redirect to the second-factor page.
 */
async function answerPendingMfa(scope: Scope, user: User, { rd, kind, providerSession }: SignIn): Promise<boolean> {
  const { secondFactors, config } = scope.services;
  const methods = await secondFactors.methods(user);
  if (methods.length === 0) return false;
  const mfaToken = await secondFactors.begin(user, returnUrl(scope, rd), providerSession);
  if (kind === 'json') {
    scope.json(200, { mfa_required: true, mfa_token: mfaToken, methods });
    return true;
  }
  scope.setCookie(stringifySetCookie(MFA_COOKIE, mfaToken, { httpOnly: true, sameSite: 'lax', secure: config.cookie_secure, path: '/_auth', maxAge: 300 }));
  scope.redirect('/_auth/mfa');
  return true;
}

/** A complete sign-in: failures forgiven, a session and its cookie, then the token body or a redirect to rd. */
export async function finishSignIn(scope: Scope, user: User, { rd, method, kind, status = 200, providerSession }: SignIn): Promise<void> {
  const { services } = scope;
  const client = sessionClient(scope);
  await services.accounts.signedIn(user, method, client.address);
  const tokens = await services.sessions.start(user, client);
  if (providerSession) await services.store.recordOidcSession({ sessionId: tokens.claims.sid, ...providerSession });
  scope.setCookie(sessionCookie(tokens, services.config));
  if (pendingFromCookie(scope) !== undefined) scope.setCookie(stringifySetCookie(MFA_COOKIE, '', { path: '/_auth', maxAge: 0 }));
  const target = returnUrl(scope, rd);
  if (kind === 'form') return scope.redirect(target);
  // redirect_to: where a page script should go next (the rd of the sign-in, judged safe).
  scope.json(status, { ...tokenBody(tokens), redirect_to: target });
}

/** The pending sign-in named by the cookie gatehouse's own second-step page carries. */
export function pendingFromCookie(scope: Scope): string | undefined {
  try {
    return parseCookie(scope.req.headers.cookie ?? '')[MFA_COOKIE];
  } catch {
    return undefined;
  }
}

/** The pending sign-in of a JSON call: `mfa_token` in the body, or the cookie set for gatehouse's own page. */
export const pendingToken = (scope: Scope, fields: Record<string, unknown>) => fields['mfa_token'] ?? pendingFromCookie(scope);
