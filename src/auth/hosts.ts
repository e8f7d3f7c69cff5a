/**
 * The host a request is judged on (SPEC section 5): `name` or `name:port` with a
 * port of 1-65535, judged in its canonical form (lower case, no trailing dot, no
 * port). Anything else is refused: upstreams cut a Host at its first colon, so
 * `admin.example.com:80:80` or `admin.example.com.:` must not pass for another name.
 */
import { fail } from '../errors.js';

export interface CheckedHost {
  /** As sent, lower-cased, port included: for URLs that lead back to it. */
  host: string;
  /** Canonical: what access rules are matched against. */
  name: string;
}

// Dot-separated labels of letters, digits, '-' and '_' (DNS and container names), or an IPv6 literal.
const HOST = /^([a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;

/** Hosts checked before: the same few names come with every request. Bounded, so a flood of names cannot grow it. */
const checked = new Map<string, CheckedHost>();

/** The checked form of a Host or forwarded host, or undefined when it is not `name` or `name:port`. */
export function checkedHost(raw: string | undefined): CheckedHost | undefined {
  if (raw === undefined) return undefined;
  let host = checked.get(raw);
  if (host === undefined) {
    host = parsed(raw);
    if (host && checked.size < 1024) checked.set(raw, host);
  }
  return host;
}

function parsed(raw: string): CheckedHost | undefined {
  const host = raw.toLowerCase();
  const match = HOST.exec(host);
  if (!match) return undefined;
  const port = match[2] === undefined ? 1 : Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  const name = match[1]!;
  return { host, name: name.endsWith('.') ? name.slice(0, -1) : name };
}

/** The canonical name of a request's Host header; 400 when there is none or it is malformed. */
export function judgedHost(raw: string | undefined): string {
  const host = checkedHost(raw);
  if (!host) throw fail('invalid_host');
  return host.name;
}
