/**
 * The gate: may this request reach the application? Shared by proxy mode and
 * forward-auth, which differ only in how they learn the request and answer.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Services } from '../services.js';
import { authenticate } from './authenticate.js';
import { groupsAllow, type Target } from './rules.js';
import type { AccessClaims } from './tokens.js';

export type GateDecision =
  | { outcome: 'allow'; claims?: AccessClaims; setCookie?: string }
  | { outcome: 'login'; failure?: string }
  | { outcome: 'forbidden'; claims?: AccessClaims };

export async function decideGate(target: Target, headers: IncomingHttpHeaders, services: Services): Promise<GateDecision> {
  const decision = await decide(target, headers, services);
  services.metrics.gateDecision(decision.outcome);
  return decision;
}

async function decide(target: Target, headers: IncomingHttpHeaders, services: Services): Promise<GateDecision> {
  const verdict = services.rules(target);
  if (verdict.policy === 'deny') return { outcome: 'forbidden' };
  const hasCredentials = headers.authorization !== undefined || headers.cookie !== undefined;
  if (verdict.policy === 'public' && !hasCredentials) return { outcome: 'allow' };
  const { claims, setCookie, failure } = await authenticate(headers, services);
  if (verdict.policy === 'public') return { outcome: 'allow', claims, setCookie };
  if (!claims) return { outcome: 'login', failure };
  if (!groupsAllow(verdict, claims.groups)) return { outcome: 'forbidden', claims };
  return { outcome: 'allow', claims, setCookie };
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
