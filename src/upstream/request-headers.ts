/** What the upstream receives of a client's request headers: strip, then set (STYLE habit 4). */
import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import type { Config } from '../config.js';
import { withoutSessionCookie } from '../auth/cookies.js';
import { clientAddress, isTrusted } from '../auth/forwarded.js';
import { identityHeaders } from '../auth/identity-headers.js';
import type { AccessClaims } from '../auth/tokens.js';
import { connectionTokens } from './headers.js';

export interface RequestHeaderDeps {
  config: Pick<Config, 'identity_headers'>;
  trusted: BlockList;
  isStripped: (headerName: string) => boolean;
}

/** The client's headers minus hop-by-hop and anything identity-like, then ours. */
export function upstreamHeaders(req: IncomingMessage, deps: RequestHeaderDeps, claims: AccessClaims | undefined): Record<string, string | string[]> {
  const named = connectionTokens(req.headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value === undefined || deps.isStripped(name) || named.has(name)) continue;
    out[name] = value;
  }
  const cookie = withoutSessionCookie(req.headers.cookie);
  if (cookie === undefined) delete out['cookie'];
  else out['cookie'] = cookie;

  const fromProxy = isTrusted(req.socket.remoteAddress, deps.trusted);
  const client = clientAddress(req, deps.trusted);
  const priorFor = fromProxy ? req.headers['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = priorFor ? `${priorFor}, ${req.socket.remoteAddress ?? client}` : client;
  out['x-forwarded-proto'] = (fromProxy && headerValue(req.headers['x-forwarded-proto'])) || 'http';
  out['x-forwarded-host'] = (fromProxy && headerValue(req.headers['x-forwarded-host'])) || req.headers.host || '';
  for (const [name, value] of identityHeaders(deps.config.identity_headers, claims)) out[name] = value;
  return out;
}

const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
