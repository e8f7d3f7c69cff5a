/**
 * Proxy mode (sidecar): every request outside /_auth/ passes the gate, then goes to
 * the upstream with the caller's identity, on the path that was judged.
 */
import type { IncomingMessage } from 'node:http';
import { withoutSessionCookie } from '../auth/cookies.js';
import { clientAddress, isTrusted } from '../auth/forwarded.js';
import { decideGate, isNavigation, type GateDecision } from '../auth/gate.js';
import { judgedHost } from '../auth/hosts.js';
import { identityHeaders } from '../auth/identity-headers.js';
import { methodOverride } from '../auth/method-override.js';
import { judgedPath } from '../auth/paths.js';
import type { AccessClaims } from '../auth/tokens.js';
import type { Services } from '../services.js';
import type { Handler, Scope } from '../scope.js';
import type { Upstream } from '../upstream/forward.js';
import { connectionTokens } from '../upstream/headers.js';
import { answerForbidden, answerLogin } from './gate-answers.js';

export function proxyHandler(upstream: Upstream): Handler {
  return function proxy(scope) {
    const { req, services } = scope;
    const path = judgedPath(scope.path);
    const target = { host: judgedHost(req.headers.host), path, method: req.method ?? 'GET', override: methodOverride(req.headers) };
    const decision = decideGate(target, req.headers, services);
    // Decided without a promise when the token was verified before: the common case costs no extra tick.
    const reply = (settled: GateDecision) => pass(scope, upstream, path, settled);
    return decision instanceof Promise ? decision.then(reply) : reply(decision);
  };
}

function pass(scope: Scope, upstream: Upstream, path: string, decision: GateDecision): void | Promise<void> {
  const { req, query, services } = scope;
  if (decision.outcome === 'forbidden') return answerForbidden(scope, isNavigation(req.headers));
  if (decision.outcome === 'login') {
    return answerLogin(scope, `/_auth/login?rd=${encodeURIComponent(path + query)}`, isNavigation(req.headers));
  }
  return upstream.forward({
    req,
    res: scope.res,
    pathAndQuery: path + query,
    headers: upstreamHeaders(req, services, decision.claims),
    setCookie: decision.setCookie,
  });
}

/** The client's headers minus hop-by-hop and anything identity-like, then ours. Strip, then set. */
export function upstreamHeaders(req: IncomingMessage, services: Services, claims: AccessClaims | undefined): Record<string, string | string[]> {
  const named = connectionTokens(req.headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value === undefined || services.isStripped(name) || named.has(name)) continue;
    out[name] = value;
  }
  const cookie = withoutSessionCookie(req.headers.cookie);
  if (cookie === undefined) delete out['cookie'];
  else out['cookie'] = cookie;

  const fromProxy = isTrusted(req.socket.remoteAddress, services.trusted);
  const client = clientAddress(req, services.trusted);
  const priorFor = fromProxy ? req.headers['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = priorFor ? `${priorFor}, ${req.socket.remoteAddress ?? client}` : client;
  out['x-forwarded-proto'] = (fromProxy && headerValue(req.headers['x-forwarded-proto'])) || 'http';
  out['x-forwarded-host'] = (fromProxy && headerValue(req.headers['x-forwarded-host'])) || req.headers.host || '';
  for (const [name, value] of identityHeaders(services.config.identity_headers, claims)) out[name] = value;
  return out;
}

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
