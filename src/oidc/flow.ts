/**
 * One sign-in with a provider, from start to callback, bound to the browser that
 * started it. The `state` is a one-time token (stored hashed, single use, ten
 * minutes) holding the nonce, the PKCE verifier, rd and who is linking; a cookie of
 * its own per sign-in (named after the state's hash) holds a random binder whose
 * hash the token keeps. A callback from another browser, a replay, or a stale one
 * fails; sign-ins in two tabs each have their cookie. A browser that already holds
 * MAX_FLOWS of them has them all dropped when it starts one more.
 *
 * With secure cookies the name is `__Host-` prefixed, as the CSRF cookie's: a browser
 * then takes it only from this very host over https, for path / and without Domain,
 * so a sibling subdomain cannot plant its own binder beside its own state (a login
 * into the attacker's account). Without, it is sent on the flow's own paths only.
 */
import { randomBytes } from 'node:crypto';
import { parseCookie, stringifySetCookie } from 'cookie';
import { sha256 } from '../auth/digest.js';
import type { Scope } from '../scope.js';
import { newFlowSecrets, ProviderFailure, type FlowSecrets } from './client.js';

const FLOW_TTL_MS = 10 * 60_000;
const PLAIN = { prefix: 'gatehouse_oidc_', path: '/_auth/oidc/' };
const HOST_ONLY = { prefix: '__Host-gatehouse_oidc_', path: '/' };
const MAX_FLOWS = 5;

export interface Flow extends FlowSecrets {
  providerId: string;
  rd: string;
  /** The account the identity is to be linked to; null for a sign-in. */
  linkUserId: string | null;
}

interface Stored {
  provider: string;
  nonce: string;
  verifier: string;
  rd: string;
  binder: string;
}

const naming = (scope: Scope) => (scope.services.config.cookie_secure ? HOST_ONLY : PLAIN);

const cookieName = (scope: Scope, state: string) => `${naming(scope).prefix}${sha256(state).slice(0, 16).replace(/[^A-Za-z0-9]/g, 'x')}`;

function cookies(scope: Scope): Record<string, string | undefined> {
  try {
    return parseCookie(scope.req.headers.cookie ?? '');
  } catch {
    return {};
  }
}

function flowCookie(scope: Scope, name: string, value: string, maxAgeMs: number): string {
  return stringifySetCookie(name, value, {
    httpOnly: true,
    sameSite: 'lax', // sent on the provider's top-level redirect back to the callback
    secure: scope.services.config.cookie_secure,
    path: naming(scope).path,
    maxAge: Math.floor(maxAgeMs / 1000),
  });
}

/** Starts a flow: the state is issued and the browser gets the cookie that binds it. */
export async function beginFlow(scope: Scope, providerId: string, rd: string, linkUserId: string | null): Promise<Flow> {
  const binder = randomBytes(32).toString('base64url');
  const { nonce, verifier } = newFlowSecrets();
  const stored: Stored = { provider: providerId, nonce, verifier, rd, binder: sha256(binder) };
  // The state is the one-time token itself: random, stored hashed, single use.
  const state = await scope.services.oneTimeTokens.issue('oidc', linkUserId, JSON.stringify(stored), FLOW_TTL_MS);
  const existing = Object.keys(cookies(scope)).filter((name) => name.startsWith(naming(scope).prefix));
  if (existing.length >= MAX_FLOWS) for (const name of existing) scope.setCookie(flowCookie(scope, name, '', 0));
  scope.setCookie(flowCookie(scope, cookieName(scope, state), binder, FLOW_TTL_MS));
  return { state, nonce, verifier, providerId, rd, linkUserId };
}

/**
 * The flow the callback's `state` names, used up, if this browser started it for this
 * provider; throws oidc_state_invalid otherwise. Its cookie is cleared either way.
 */
export async function takeFlow(scope: Scope, providerId: string): Promise<Flow> {
  const state = scope.url.searchParams.get('state');
  if (!state) throw new ProviderFailure('oidc_state_invalid', 'no_state');
  const name = cookieName(scope, state);
  const binder = cookies(scope)[name];
  scope.setCookie(flowCookie(scope, name, '', 0));
  if (!binder) throw new ProviderFailure('oidc_state_invalid', 'no_flow_cookie');
  const token = await scope.services.oneTimeTokens.consume(state, 'oidc');
  if (!token) throw new ProviderFailure('oidc_state_invalid', 'state_unknown_used_or_expired');
  const stored = JSON.parse(token.data ?? '{}') as Stored;
  if (stored.binder !== sha256(binder)) throw new ProviderFailure('oidc_state_invalid', 'state_from_another_browser');
  if (stored.provider !== providerId) throw new ProviderFailure('oidc_state_invalid', 'state_of_another_provider');
  return { state, nonce: stored.nonce, verifier: stored.verifier, providerId, rd: stored.rd, linkUserId: token.userId };
}
