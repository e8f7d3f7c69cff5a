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

export function connectionTokens(value: string | string[] | undefined): Set<string> {
  if (!value) return new Set();
  return new Set((Array.isArray(value) ? value.join(',') : value).split(',').map((token) => token.trim().toLowerCase()));
}

export class UpstreamError extends Error {
  constructor(
    readonly status: 502 | 504,
    readonly code: string,
  ) {
    super(code);
  }
}
