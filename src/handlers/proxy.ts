/**
 * Proxy mode (sidecar): every request outside /_auth/ passes the gate, then goes to
 * the upstream with the caller's identity, on the path that was judged.
 */
import { decideGate, isNavigation, type GateDecision } from '../auth/gate.js';
import { judgedHost } from '../auth/hosts.js';
import { methodOverride } from '../auth/method-override.js';
import { judgedPath } from '../auth/paths.js';
import type { Handler, Scope } from '../scope.js';
import type { Upstream } from '../upstream/forward.js';
import { upstreamHeaders } from '../upstream/request-headers.js';
import { answerForbidden, answerLogin } from './gate-answers.js';

export function proxyHandler(upstream: Upstream): Handler {
  return function proxy(scope) {
    const { req, services } = scope;
    const path = judgedPath(scope.path);
    const target = { host: judgedHost(req.headers.host), path, method: req.method ?? 'GET', override: methodOverride(req.headers) };
    scope.judged = target;
    const decision = decideGate(target, req.headers, services);
    // Decided without a promise when the token was verified before: the common case costs no extra tick.
    const reply = (settled: GateDecision) => pass(scope, upstream, path, settled);
    return decision instanceof Promise ? decision.then(reply) : reply(decision);
  };
}

function pass(scope: Scope, upstream: Upstream, path: string, decision: GateDecision): void | Promise<void> {
  const { req, query, services } = scope;
  scope.decision = decision;
  if (decision.outcome === 'forbidden') {
    scope.setCookie(decision.setCookie);
    return answerForbidden(scope, isNavigation(req.headers), { claims: decision.claims, host: req.headers.host ?? '', path, rd: path + query });
  }
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
