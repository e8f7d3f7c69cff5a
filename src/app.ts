/**
 * The node:http handler. Every request takes the same steps, in this order:
 * read the target → find the route (the proxy takes everything outside /_auth/)
 * → same-origin check for methods that change state → the route's own `before`
 * steps → its handler → one answer, or one error answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isNavigation } from './auth/gate.js';
import { judgedPath } from './auth/paths.js';
import { fail, HttpError } from './errors.js';
import { proxyHandler } from './handlers/proxy.js';
import { messagePage } from './pages.js';
import { createRouter, type Route } from './routes.js';
import { Scope } from './scope.js';
import type { Services } from './services.js';
import type { Upstream } from './upstream/forward.js';
import { UpstreamError } from './upstream/headers.js';
import { StoreUnavailable } from './store/types.js';
import { logRequest, worthLogging } from './request-log.js';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const VERIFY_PATH = '/_auth/verify';
/** After a 413, how much of the rest of the body is read (and dropped) so the client sees the answer. */
const DRAIN_LIMIT = 16 * 1024 * 1024;
const DRAIN_MS = 10_000;

export function createApp(services: Services, upstream?: Upstream): (req: IncomingMessage, res: ServerResponse) => void {
  const proxy: Route | undefined = upstream && { method: 'GET', path: '', handler: proxyHandler(upstream) };
  const router = createRouter();
  const publicOrigin = new URL(services.config.public_url).origin;

  const verifyRoute = router.find('GET', VERIFY_PATH)?.route;

  /** The route for a request; 400/404/405/403 when there is none it may take. */
  function route(scope: Scope): Route {
    const { req, path } = scope;
    // The two hot paths first, before the checks and lookups they would pass anyway.
    if (proxy && !path.startsWith('/_auth/')) return proxy;
    if (path === VERIFY_PATH && verifyRoute && (req.method === 'GET' || req.method === 'HEAD')) return verifyRoute;
    // gatehouse's own paths are served only as written canonically: /_auth/../admin is nobody's path.
    if (/[.%\\]|\/\//.test(path) && judgedPath(path) !== path) throw fail('ambiguous_path');
    const match = router.find(req.method === 'HEAD' ? 'GET' : req.method, path);
    if (!match) {
      const methods = router.allowedMethods(path);
      if (!methods) throw fail('not_found');
      scope.setHeader('allow', methods);
      throw fail('method_not_allowed', `${req.method} is not allowed here.`);
    }
    if (UNSAFE_METHODS.has(match.route.method) && !sameOrigin(req, publicOrigin)) throw fail('origin_forbidden');
    scope.params = match.params;
    return match.route;
  }

  const logRequests = services.config.log_requests;

  /** Counted (and logged) when the handler is done rather than on res 'finish': a listener per request costs more than the count. */
  function finished(scope: Scope, found: Route | undefined, started: number): void {
    const { statusCode } = scope.res;
    const seconds = (performance.now() - started) / 1000;
    services.metrics.recordRequest(found ? found.path || 'proxy' : 'unmatched', statusCode, seconds);
    if (worthLogging(logRequests, scope.decision, statusCode)) logRequest(scope, statusCode, seconds);
  }

  return (req, res) => {
    const started = performance.now();
    const scope = scopeOf(req, res, services);
    let found: Route | undefined;
    try {
      if (scope.path === '') throw fail('invalid_target');
      found = route(scope);
      // Handlers answer synchronously when they can (a verified token needs no I/O): no promise, no closure on that path.
      const pending = found.before ? runSteps(scope, found) : found.handler(scope);
      if (pending) {
        const settled = found;
        return void pending.then(
          () => finished(scope, settled, started),
          (error: unknown) => {
            answerError(scope, error);
            finished(scope, settled, started);
          },
        );
      }
    } catch (error) {
      answerError(scope, error);
    }
    finished(scope, found, started);
  };
}

async function runSteps(scope: Scope, route: Route): Promise<void> {
  for (const step of route.before!) await step(scope);
  await route.handler(scope);
}

/** The target split into path and query; the path is '' unless it is origin-form with well-formed percent-encoding (UTF-8 included). */
function scopeOf(req: IncomingMessage, res: ServerResponse, services: Services): Scope {
  const target = req.url ?? '';
  const at = target.indexOf('?');
  let path = at === -1 ? target : target.slice(0, at);
  if (!path.startsWith('/')) path = '';
  else if (target.includes('%') && !wellEncoded(target, path)) path = '';
  return new Scope(req, res, services, path, at === -1 ? '' : target.slice(at), target);
}

function wellEncoded(target: string, path: string): boolean {
  if (/%(?![0-9A-Fa-f]{2})/.test(target)) return false;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Browsers send Origin on cross-site posts; refuse it unless it is gatehouse's
 * public origin or the host the request was sent to. No Origin (curl, API clients) passes.
 */
function sameOrigin(req: IncomingMessage, publicOrigin: string): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || origin === publicOrigin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function answerError(scope: Scope, error: unknown): void {
  const { res, services } = scope;
  // An upstream failure was logged with its cause where it happened; it is counted here, where it is answered.
  if (error instanceof UpstreamError) {
    services.metrics.upstreamErrors.inc({ reason: error.code });
  } else if (error instanceof StoreUnavailable) {
    services.log.warn('store_unavailable', { error: error.message });
  } else if (!(error instanceof HttpError)) {
    services.log.error('request_failed', { error: error instanceof Error ? error.stack : String(error) });
  }
  if (res.headersSent) return void res.destroy();
  if (error instanceof UpstreamError) return answerUpstreamError(scope, error);
  if (error instanceof StoreUnavailable) return scope.error(fail('store_unavailable'));
  if (!(error instanceof HttpError)) return scope.error(fail('internal_error'));
  if (error.status === 413) drainRest(scope);
  scope.error(error);
}

/**
 * A client still sending a body it was refused would see its connection reset
 * before reading the 413 (closing a socket with unread data sends a reset): read
 * and drop the rest of the body, up to a bound of bytes and time, then close.
 */
function drainRest({ req }: Scope): void {
  if (req.complete) return;
  let drained = 0;
  const stop = () => req.socket.destroy();
  const deadline = setTimeout(stop, DRAIN_MS).unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT) stop();
  });
  req.once('end', () => clearTimeout(deadline));
  req.resume();
}

/** 502/504: a page for browsers, JSON for everything else. */
function answerUpstreamError(scope: Scope, error: UpstreamError): void {
  const failure = fail(error.code);
  if (!isNavigation(scope.req.headers)) return scope.error(failure);
  scope.page(failure.status, (nonce) => messagePage({ nonce, title: 'Application unavailable', message: failure.message }));
}
