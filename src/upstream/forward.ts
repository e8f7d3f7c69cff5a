/**
 * Forwarding to the protected application: the only module that uses undici,
 * loaded only in proxy mode. Bodies stream both ways; nothing is buffered whole.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { errors, Pool } from 'undici';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { connectionTokens, failureCause, HOP_BY_HOP, UpstreamError } from './headers.js';

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Normalised path and the original query, as judged by the gate. */
  pathAndQuery: string;
  /** Request headers to send, already stripped and with identity set. */
  headers: Record<string, string | string[]>;
  /** A renewed session cookie to add to the upstream's answer. */
  setCookie?: string;
}

export interface Upstream {
  forward(request: ForwardRequest): Promise<void>;
  close(): Promise<void>;
}

export function createUpstream(origin: string, timeoutMs: number, { log, metrics }: { log: Logger; metrics: Metrics }): Upstream {
  const pool = new Pool(origin, {
    connections: 128,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: Math.min(timeoutMs, 10_000),
  });
  return {
    forward({ req, res, pathAndQuery, headers, setCookie }) {
      const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      // stream(): the answer is written straight into res, the cheapest way through undici.
      const options = { method: req.method as 'GET', path: pathAndQuery, headers, body: hasBody ? req : null };
      return pool
        .stream(options, ({ statusCode, headers: answer }) => {
          res.writeHead(statusCode, responseHeaders(answer, setCookie));
          return res;
        })
        .then(undefined, (error: unknown) => {
          // Broken off mid-answer, undici has destroyed res with the upstream's error (node keeps it as `errored`);
          // destroyed without one, the client left: nothing to answer, and nothing the upstream did wrong.
          const upstreamError = (res as { errored?: unknown }).errored ?? (res.destroyed ? undefined : error);
          if (upstreamError === undefined) return;
          const failure = classify(upstreamError);
          log.warn('upstream_failed', { reason: failure.code, cause: failureCause(upstreamError) });
          // Thrown, it is counted where it is answered; once the answer has begun, cutting the client off is all that is left.
          if (!res.headersSent) throw failure;
          metrics.upstreamErrors.inc({ reason: failure.code });
          res.destroy();
        });
    },
    close: () => pool.close(),
  };
}

function responseHeaders(headers: Record<string, string | string[] | undefined>, setCookie: string | undefined): OutgoingHttpHeaders {
  const named = connectionTokens(headers['connection']);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  if (setCookie) {
    const existing = out['set-cookie'];
    out['set-cookie'] = [...(Array.isArray(existing) ? existing : existing ? [String(existing)] : []), setCookie];
  }
  return out;
}

function classify(error: unknown): UpstreamError {
  if (error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError) {
    return new UpstreamError(504, 'upstream_timeout');
  }
  if (error instanceof errors.ConnectTimeoutError) return new UpstreamError(504, 'upstream_timeout');
  return new UpstreamError(502, 'upstream_unreachable');
}
