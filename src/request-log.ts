/**
 * The request log (setting `log_requests`): one JSON line per judged request (verify and
 * proxy mode) and per error answer of gatehouse's own endpoints. `denied` (the default)
 * writes refusals and errors only, `all` every judged request too, `off` nothing.
 *
 * A line names the method, host, path (never the query string), status, user, decision,
 * the rule that decided, duration and client address: never a query, token or cookie.
 * With `denied`, an allowed request costs one comparison (app.ts): nothing is built for it.
 */
import type { GateDecision } from './auth/gate.js';
import { clientAddress } from './auth/forwarded.js';
import { checkedHost } from './auth/hosts.js';
import { ruleName, type Target } from './auth/rules.js';
import type { Config } from './config.js';
import type { Scope } from './scope.js';

type RequestLogMode = Config['log_requests'];

/** Whether a finished request gets a line: judged ones by their decision, gatehouse's own only when they fail. */
export function worthLogging(mode: RequestLogMode, decision: GateDecision | undefined, status: number): boolean {
  if (mode === 'off') return false;
  if (decision === undefined) return status >= 400;
  return mode === 'all' || decision.outcome !== 'allow' || status >= 500;
}

/** What the gate decided, as the log names it. */
function decisionName(decision: GateDecision | undefined, status: number): string {
  if (status >= 500) return 'error';
  if (decision === undefined || decision.outcome === 'forbidden') return 'deny';
  if (decision.outcome === 'login') return status >= 300 && status < 400 ? 'redirect' : 'deny';
  return 'allow';
}

export function logRequest(scope: Scope, status: number, seconds: number): void {
  const { req, services, decision, judged } = scope;
  const target: Pick<Target, 'host' | 'path' | 'method'> = judged ?? { host: checkedHost(req.headers.host)?.name ?? '', path: scope.path, method: req.method ?? '' };
  const user = decision && decision.outcome !== 'login' ? (decision.claims?.username ?? '') : '';
  services.log.info('request', {
    method: target.method,
    host: target.host,
    path: target.path,
    status,
    user,
    decision: decisionName(decision, status),
    ...(decision && { rule: ruleName(decision.verdict) }),
    ...(decision?.outcome === 'login' && decision.failure && { reason: decision.failure }),
    duration_ms: Math.round(seconds * 1e6) / 1e3,
    // A connection cut short (a refused upload) has left the request by now.
    address: req.socket ? clientAddress(req, services.trusted) : '',
  });
}
