/** The node:http handler: parse the target, find the route, check the origin, run the handler, answer errors. */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isNavigation } from './auth/gate.js';
import { judgedPath } from './auth/paths.js';
import { badRequest, forbidden, HttpError, notFound } from './errors.js';
import { proxyHandler } from './handlers/proxy.js';
import { sendError, sendHtml, sendJson } from './http.js';
import { messagePage } from './pages.js';
import { createRouter } from './routes.js';
import type { Handler, Scope } from './scope.js';
import type { Services } from './services.js';
import type { Upstream } from './upstream/forward.js';
import { UpstreamError } from './upstream/headers.js';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function createApp(services: Services, upstream?: Upstream): (req: IncomingMessage, res: ServerResponse) => void {
  const proxy = upstream && proxyHandler(upstream);
  const router = createRouter();
  const publicOrigin = new URL(services.config.public_url).origin;

  /** The handler for a request, and the route name its metrics are counted under. */
  function route(req: IncomingMessage, res: ServerResponse, path: string): [string, Handler] {
    if (proxy && !path.startsWith('/_auth/')) return ['proxy', proxy];
    // gatehouse's own paths are served only as written canonically: /_auth/../admin is nobody's path.
    if (/[.%\\]|\/\//.test(path) && judgedPath(path) !== path) throw badRequest('ambiguous_path', 'The path is not in canonical form.');
    const found = router.find(req.method === 'HEAD' ? 'GET' : req.method, path);
    if (!found) {
      const methods = router.allowedMethods(path);
      if (!methods) throw notFound();
      res.setHeader('allow', methods);
      throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here.`);
    }
    if (UNSAFE_METHODS.has(found.method) && !sameOrigin(req, publicOrigin)) {
      throw forbidden('origin_forbidden', 'This request came from another site.');
    }
    return [found.path, found.handler];
  }

  return (req, res) => {
    const started = performance.now();
    let routeName = 'unmatched';
    // Counted when the handler is done rather than on res 'finish': a listener per request costs more than the count.
    const finished = () => services.metrics.recordRequest(routeName, res.statusCode, (performance.now() - started) / 1000);
    const failed = (error: unknown) => {
      answerError(res, error, services);
      finished();
    };
    try {
      const scope = scopeOf(req, res, services);
      const [name, handler] = route(req, res, scope.path);
      routeName = name;
      // Handlers answer synchronously when they can (a verified token needs no I/O): no promise on that path.
      const pending = handler(scope);
      if (pending) pending.then(finished, failed);
      else finished();
    } catch (error) {
      failed(error);
    }
  };
}

const malformed = () => badRequest('invalid_target', 'The request URL is malformed.');

/** Only origin-form targets with well-formed percent-encoding (UTF-8 included); everything else is 400, not a guess. */
function scopeOf(req: IncomingMessage, res: ServerResponse, services: Services): Scope {
  const target = req.url ?? '';
  if (!target.startsWith('/')) throw malformed();
  const at = target.indexOf('?');
  const path = at === -1 ? target : target.slice(0, at);
  if (target.includes('%')) {
    if (/%(?![0-9A-Fa-f]{2})/.test(target)) throw malformed();
    try {
      decodeURIComponent(path);
    } catch {
      throw malformed();
    }
  }
  return new RequestScope(req, res, services, path, at === -1 ? '' : target.slice(at), target);
}

class RequestScope implements Scope {
  #url: URL | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly services: Services,
    readonly path: string,
    readonly query: string,
    private readonly target: string,
  ) {}

  get url(): URL {
    try {
      // Concatenated, not resolved: a target of //host/path is a path here, never another host.
      return (this.#url ??= new URL(`http://gatehouse.invalid${this.target}`));
    } catch {
      throw malformed();
    }
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

function answerError(res: ServerResponse, error: unknown, services: Services): void {
  if (error instanceof UpstreamError) {
    services.metrics.upstreamErrors.inc({ reason: error.code });
    services.log.warn('upstream_error', { reason: error.code });
  } else if (!(error instanceof HttpError)) {
    services.log.error('request_failed', { error: error instanceof Error ? error.stack : String(error) });
  }
  if (res.headersSent) return void res.destroy();
  if (error instanceof HttpError) {
    if (error.status === 413) res.setHeader('connection', 'close');
    return sendError(res, error);
  }
  if (error instanceof UpstreamError) return sendUpstreamError(res, error);
  sendJson(res, 500, { error: 'internal_error', message: 'Something went wrong on our side.' });
}

/** 502/504: a page for browsers, JSON for everything else. */
function sendUpstreamError(res: ServerResponse, error: UpstreamError): void {
  const message = error.status === 504 ? 'The application did not answer in time.' : 'The application could not be reached.';
  if (isNavigation(res.req.headers)) {
    const nonce = randomBytes(16).toString('base64');
    return sendHtml(res, error.status, messagePage({ nonce, title: 'Application unavailable', message }), nonce);
  }
  sendJson(res, error.status, { error: error.code, message });
}
