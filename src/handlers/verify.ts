/**
 * GET /_auth/verify: forward-auth for Traefik, Caddy (X-Forwarded-*) and nginx
 * (X-Original-*). SPEC section 5. Any error answers non-2xx: behind nginx, a 200
 * is a full bypass.
 */
import { originalRequest, type OriginalRequest } from '../auth/forwarded.js';
import { decideGate, isNavigation, type GateDecision } from '../auth/gate.js';
import { identityHeaders } from '../auth/identity-headers.js';
import { judgedPath } from '../auth/paths.js';
import type { Scope } from '../scope.js';
import { answerForbidden, answerLogin } from './gate-answers.js';

export function verify(scope: Scope): void | Promise<void> {
  const original = originalRequest(scope.req, scope.services.trusted);
  const [rawPath, query = ''] = splitUri(original.uri);
  const path = judgedPath(rawPath);
  const target = { host: original.hostname, path, method: original.method, override: original.override };
  scope.judged = target;
  const decision = decideGate(target, scope.req.headers, scope.services);
  const reply = (settled: GateDecision) => answer(scope, original, path, query, settled);
  return decision instanceof Promise ? decision.then(reply) : reply(decision);
}

function answer(scope: Scope, original: OriginalRequest, path: string, query: string, decision: GateDecision): void {
  const { req, res, services } = scope;
  scope.decision = decision;
  if (decision.outcome === 'allow') {
    if (decision.setCookie && original.style === 'forward') {
      // Caddy and Traefik drop Set-Cookie from a 2xx auth answer but pass a redirect on as is:
      // send the browser back to the same URL (307 keeps method and body) with its renewed cookie.
      scope.setCookie(decision.setCookie);
      return scope.redirect(originalUrl(original), 307);
    }
    const headers: Record<string, string> = { 'cache-control': 'no-store', 'content-length': '0' };
    for (const [name, value] of identityHeaders(services.config.identity_headers, decision.claims)) headers[name] = value;
    // nginx passes back the first Set-Cookie of this answer: the one cookie holds the whole session.
    if (decision.setCookie) headers['set-cookie'] = decision.setCookie;
    // No body: with one, nginx closes its connection to gatehouse after every check.
    res.writeHead(200, headers);
    return void res.end();
  }
  const navigation = isNavigation(req.headers);
  const rd = originalUrl(original, path + query);
  if (decision.outcome === 'forbidden') {
    scope.setCookie(decision.setCookie);
    // nginx shows its own page for a 403: its error_page fetches this one instead (deploy/nginx).
    if (original.style === 'nginx' && navigation) scope.setHeader('location', `/_auth/forbidden?rd=${encodeURIComponent(rd)}`);
    return answerForbidden(scope, navigation && original.style === 'forward', { claims: decision.claims, host: original.host, path, rd });
  }
  const login = `${services.config.public_url}/_auth/login?rd=${encodeURIComponent(rd)}`;
  if (original.style === 'nginx' && navigation) {
    // nginx auth_request understands only 2xx/401/403, and cannot URL-encode rd itself:
    // its error_page redirects to this Location (auth_request_set $auth_login $upstream_http_location).
    scope.setHeader('location', login);
  }
  answerLogin(scope, login, navigation && original.style === 'forward');
}

function splitUri(uri: string): [string, string | undefined] {
  const at = uri.indexOf('?');
  return at === -1 ? [uri, undefined] : [uri.slice(0, at), uri.slice(at)];
}

/** The original URL, with the judged path and query when given, else exactly as sent. */
function originalUrl(original: OriginalRequest, pathAndQuery = original.uri): string {
  return `${original.proto}://${original.host}${pathAndQuery}`;
}
