/** The node:http handler: parse the target, find the route, check the origin, run the handler, answer errors. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, forbidden, HttpError, notFound } from './errors.js';
import { randomBytes } from 'node:crypto';
import { isNavigation } from './auth/gate.js';
import { sendError, sendHtml, sendJson } from './http.js';
import { messagePage } from './pages.js';
import { routes, type Route } from './routes.js';
import type { Services } from './services.js';
import { proxyHandler } from './handlers/proxy.js';
import type { Upstream } from './upstream/forward.js';
import { UpstreamError } from './upstream/headers.js';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function createApp(services: Services, upstream?: Upstream): (req: IncomingMessage, res: ServerResponse) => void {
  const proxy = upstream && proxyHandler(upstream);
  const byKey = new Map(routes.filter((route) => !route.prefix).map((route) => [`${route.method} ${route.path}`, route]));
  const prefixed = routes.filter((route) => route.prefix);
  const find = (method: string | undefined, path: string) =>
    byKey.get(`${method} ${path}`) ?? prefixed.find((route) => route.method === method && path.startsWith(route.path) && path.length > route.path.length);
  const allowed = new Map<string, string>();
  for (const route of routes) {
    const methods = route.method === 'GET' ? 'GET, HEAD' : route.method;
    allowed.set(route.path, allowed.has(route.path) ? `${allowed.get(route.path)}, ${methods}` : methods);
  }
  return (req, res) => {
    const started = performance.now();
    let routeName = 'unmatched';
    res.once('finish', () => {
      services.metrics.requests.inc({ route: routeName, status: `${Math.floor(res.statusCode / 100)}xx` });
      services.metrics.requestSeconds.observe({ route: routeName }, (performance.now() - started) / 1000);
    });
    const run = async () => {
      const url = parseTarget(req.url ?? '');
      if (proxy && !url.pathname.startsWith('/_auth/')) {
        routeName = 'proxy';
        return await proxy({ req, res, url, services });
      }
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const route: Route | undefined = find(method, url.pathname);
      if (!route) {
        const methods = allowed.get(url.pathname);
        if (methods) {
          res.setHeader('allow', methods);
          throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here.`);
        }
        throw notFound();
      }
      routeName = route.path;
      if (UNSAFE_METHODS.has(route.method) && !sameOrigin(req, services.config.public_url)) {
        throw forbidden('origin_forbidden', 'This request came from another site.');
      }
      await route.handler({ req, res, url, services });
    };
    run().catch((error: unknown) => answerError(res, error, services));
  };
}

/** Only origin-form targets with well-formed percent-encoding; everything else is 400, not a guess. */
function parseTarget(target: string): URL {
  if (!target.startsWith('/') || /%(?![0-9A-Fa-f]{2})/.test(target)) {
    throw badRequest('invalid_target', 'The request URL is malformed.');
  }
  try {
    // Concatenated, not resolved: a target of //host/path is a path here, never another host.
    const url = new URL(`http://gatehouse.invalid${target}`);
    decodeURIComponent(url.pathname);
    return url;
  } catch {
    throw badRequest('invalid_target', 'The request URL is malformed.');
  }
}

/**
 * Browsers send Origin on cross-site posts; refuse it unless it is gatehouse's
 * public origin or the host the request was sent to. No Origin (curl, API clients) passes.
 */
function sameOrigin(req: IncomingMessage, publicUrl: string): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (origin === new URL(publicUrl).origin) return true;
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
