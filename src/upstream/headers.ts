/** What proxying needs without undici: hop-by-hop headers and the upstream's failures. */

/**
 * Hop-by-hop headers are meaningful only for one connection and must not be
 * forwarded (RFC 9110 section 7.6.1), nor any header the Connection header names.
 */
export const HOP_BY_HOP = new Set([
  'connection',
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
