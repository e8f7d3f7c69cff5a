/**
 * The gate: may this request reach the application? Shared by proxy mode and
 * forward-auth, which differ only in how they learn the request and answer.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Metrics } from '../metrics.js';
import { authenticate, type AuthenticateDeps, type Authentication } from './authenticate.js';
import { groupsAllow, type RuleMatcher, type Target, type Verdict } from './rules.js';
import type { AccessClaims } from './tokens.js';

/** `verdict`: the rule that decided (for the request log). */
export type GateDecision =
  | { outcome: 'allow'; verdict: Verdict; claims?: AccessClaims; setCookie?: string }
  | { outcome: 'login'; verdict: Verdict; failure?: string }
  /** `setCookie`: a session refreshed on the way must reach the browser even when refused (its old refresh token is spent). */
  | { outcome: 'forbidden'; verdict: Verdict; claims?: AccessClaims; setCookie?: string };

/** What the gate needs: the rules, built once, and what authenticating a caller needs. */
export interface GateDeps extends AuthenticateDeps {
  rules: RuleMatcher;
  metrics: Metrics;
}

/**
 * Synchronous when the rules or an already-verified token settle it, which is the
 * hot path of both modes: there, every promise is a measurable share of a request.
 */
export function decideGate(target: Target, headers: IncomingHttpHeaders, services: GateDeps): GateDecision | Promise<GateDecision> {
  const verdict = services.rules(target);
  // A method-override header is judged too (SPEC section 5): both methods must be allowed.
  const other = target.override === undefined ? verdict : services.rules({ ...target, method: target.override });
  if (verdict.policy === 'deny' || other.policy === 'deny') return counted({ outcome: 'forbidden', verdict: verdict.policy === 'deny' ? verdict : other }, services);
  const isPublic = verdict.policy === 'public' && other.policy === 'public';
  const hasCredentials = headers.authorization !== undefined || headers.cookie !== undefined;
  if (isPublic && !hasCredentials) return counted({ outcome: 'allow', verdict }, services);
  const authentication = authenticate(headers, services);
  return authentication instanceof Promise
    ? authentication.then((settled) => counted(judge(verdict, other, settled), services))
    : counted(judge(verdict, other, authentication), services);
}

function judge(verdict: Verdict, other: Verdict, { claims, setCookie, failure }: Authentication): GateDecision {
  if (verdict.policy === 'public' && other.policy === 'public') return { outcome: 'allow', verdict, claims, setCookie };
  if (!claims) return { outcome: 'login', verdict: verdict.policy === 'public' ? other : verdict, failure };
  if (!groupsAllow(verdict, claims.groups)) return { outcome: 'forbidden', verdict, claims, setCookie };
  if (!groupsAllow(other, claims.groups)) return { outcome: 'forbidden', verdict: other, claims, setCookie };
  return { outcome: 'allow', verdict, claims, setCookie };
}

function counted(decision: GateDecision, services: GateDeps): GateDecision {
  services.metrics.gateDecision(decision.outcome);
  return decision;
}

/**
 * A top-level browser navigation, which may be redirected to the login page;
 * anything else (fetch, XHR, APIs, assets) gets 401, since a cross-origin
 * redirect would fail on CORS and leave a single-page app stuck.
 */
export function isNavigation(headers: IncomingHttpHeaders): boolean {
  const mode = headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  return (headers.accept ?? '').includes('text/html');
}
