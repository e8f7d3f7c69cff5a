/** What proxying needs without undici: hop-by-hop headers and the upstream's failures. */

/**
 * Hop-by-hop headers are meaningful only for one connection and must not be
 * forwarded (RFC 9110 section 7.6.1), nor any header the Connection header names.
 * Expect too: node:http has already answered a 100-continue (there is no
 * 'checkContinue' listener), and undici refuses to send Expect (SPEC section 8).
 */
export const HOP_BY_HOP = new Set([
  'connection',
  'expect',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const NONE: ReadonlySet<string> = new Set();
/** Connection header values repeat ("keep-alive", "close"): parsed once each, a bounded number of them. */
const parsed = new Map<string, ReadonlySet<string>>();

/** The header names a Connection header lists, lower-cased. */
export function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (!value) return NONE;
  const text = Array.isArray(value) ? value.join(',') : value;
  let tokens = parsed.get(text);
  if (!tokens) {
    tokens = new Set(text.split(',').map((token) => token.trim().toLowerCase()));
    if (parsed.size < 256) parsed.set(text, tokens);
  }
  return tokens;
}

export class UpstreamError extends Error {
  constructor(
    readonly status: 502 | 504,
    readonly code: 'upstream_unreachable' | 'upstream_timeout',
  ) {
    super(code);
  }
}

/**
 * Why an exchange with the upstream failed, for the log: the error's code and
 * message (`UND_ERR_SOCKET other side closed`, `connect ECONNREFUSED 127.0.0.1:8080`)
 * and those of its causes. Never a header or a body.
 */
export function failureCause(error: unknown, depth = 0): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const text = typeof code === 'string' && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
  return error.cause === undefined || depth === 3 ? text : `${text} (${failureCause(error.cause, depth + 1)})`;
}
