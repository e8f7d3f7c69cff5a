/**
 * Forwarding to the protected application: the only module that uses undici,
 * loaded only in proxy mode. Bodies stream both ways; nothing is buffered whole.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { errors, Pool } from 'undici';
import { connectionTokens, HOP_BY_HOP, UpstreamError } from './headers.js';

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

export function createUpstream(origin: string, timeoutMs: number): Upstream {
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
          // The client left, or the upstream broke off mid-answer: nothing more can be said to the client.
          if (res.headersSent || req.destroyed || res.destroyed) return void res.destroy();
          throw classify(error);
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
