/**
 * The original request behind a forward-auth call (SPEC section 5), believed only
 * from trusted_proxies. Traefik and Caddy send X-Forwarded-Method/-Proto/-Host/-Uri;
 * nginx sends what its config sets, by convention X-Original-URL and -Method.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { fail } from '../errors.js';
import { checkedHost } from './hosts.js';
import { normalizeHeaderName } from './identity-headers.js';
import { METHOD_OVERRIDE_HEADERS, overridingMethod, tooMany } from './method-override.js';

export type ProxyStyle = 'forward' | 'nginx';

export interface OriginalRequest {
  style: ProxyStyle;
  method: string;
  proto: 'http' | 'https';
  /** As sent (lower-cased, port included), for URLs back to the original request. */
  host: string;
  /** Canonical (see hosts.ts): what access rules judge. */
  hostname: string;
  /** Path and query exactly as the client sent them (not yet normalised). */
  uri: string;
  /** The method a method-override header names, when it differs from `method`. */
  override: string | undefined;
}

/** Methods as proxies send them, accepted without a closer look. */
const COMMON_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const METHOD = /^[A-Z]{1,16}$/;

export function trustedProxies(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/');
    list.addSubnet(address!, Number(bits), isIP(address!) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** Answers per list and address, remembered: BlockList.check allocates on every call. */
const checked = new WeakMap<BlockList, Map<string, boolean>>();

export function isTrusted(address: string | undefined, trusted: BlockList): boolean {
  if (address === undefined) return true; // a unix socket: only local processes can connect
  let known = checked.get(trusted);
  if (!known) checked.set(trusted, (known = new Map()));
  let answer = known.get(address);
  if (answer === undefined) {
    const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
    const family = isIP(v4);
    answer = family !== 0 && trusted.check(v4, family === 6 ? 'ipv6' : 'ipv4');
    if (known.size < 10_000) known.set(address, answer);
  }
  return answer;
}

/** node:http joins repeats of every request header but Set-Cookie into one string. */
const headerText = (req: IncomingMessage, name: string) => req.headers[name] as string | undefined;

/** The headers that say which request is judged; the index of each is its slot in `Sent`. */
const FIELDS = ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri', 'x-original-url', 'x-original-method', 'host'] as const;
const METHOD_AT = 0;
const PROTO_AT = 1;
const HOST_AT = 2;
const URI_AT = 3;
const URL_AT = 4;
const ORIGINAL_METHOD_AT = 5;
const HOST_HEADER_AT = 6;
/** The slot of a method-override header, in any spelling: the client's headers reach verify too. */
const OVERRIDE_AT = 7;
type Sent = (string | undefined)[];

/** The slot of each header name as sent (-1 for none), remembered: names repeat from request to request. */
const slots = new Map<string, number>();
const OVERRIDES = new Set<string>(METHOD_OVERRIDE_HEADERS);
/** Most names have none of these lengths, and are passed over without a lookup. */
const LENGTHS = new Set([...FIELDS, ...METHOD_OVERRIDE_HEADERS].map((name) => name.length));

function slotOf(raw: string): number {
  let slot = slots.get(raw);
  if (slot === undefined) {
    const name = raw.toLowerCase() as (typeof FIELDS)[number];
    slot = OVERRIDES.has(normalizeHeaderName(raw)) ? OVERRIDE_AT : FIELDS.indexOf(name);
    if (slots.size < 4096) slots.set(raw, slot);
  }
  return slot;
}

/**
 * The forwarding headers in one pass over rawHeaders; 400 when any of them came
 * twice, since req.headers would join the two values (building req.headersDistinct
 * instead costs more than the rest of a verify call).
 */
function sentFields(rawHeaders: string[]): Sent {
  const sent: Sent = new Array(OVERRIDE_AT + 1);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const slot = LENGTHS.has(name.length) ? slotOf(name) : -1;
    if (slot < 0) continue;
    if (sent[slot] !== undefined) {
      if (slot === OVERRIDE_AT) throw tooMany();
      throw fail('duplicate_forwarded_header', `The header ${FIELDS[slot]} was sent more than once.`);
    }
    sent[slot] = rawHeaders[i + 1]!;
  }
  return sent;
}

export function originalRequest(req: IncomingMessage, trusted: BlockList): OriginalRequest {
  const sent = sentFields(req.rawHeaders);
  const forward = sent[METHOD_AT] !== undefined || sent[PROTO_AT] !== undefined || sent[HOST_AT] !== undefined || sent[URI_AT] !== undefined;
  const nginx = sent[URL_AT] !== undefined || sent[ORIGINAL_METHOD_AT] !== undefined;
  if (forward && nginx) throw fail('conflicting_forwarded_headers');
  if (!forward && !nginx) throw fail('missing_forwarded_request');
  if (!isTrusted(req.socket.remoteAddress, trusted)) {
    // Fail closed: ignoring the headers would judge the wrong URL, and trusting them lets anyone choose it.
    throw fail('untrusted_proxy');
  }
  return nginx ? fromNginx(sent) : fromForward(sent);
}

function fromForward(sent: Sent): OriginalRequest {
  // No default, as in the nginx style: a config that forgets the method would let a POST pass a GET-only rule.
  if (sent[METHOD_AT] === undefined) throw fail('missing_forwarded_method');
  const proto = sent[PROTO_AT] ?? 'http';
  return checkedRequest('forward', sent[METHOD_AT], proto, sent[HOST_AT] ?? sent[HOST_HEADER_AT], sent[URI_AT] ?? '/', sent[OVERRIDE_AT]);
}

function fromNginx(sent: Sent): OriginalRequest {
  const method = sent[ORIGINAL_METHOD_AT];
  if (!method) throw fail('missing_original_method');
  const raw = sent[URL_AT];
  const match = raw && /^(https?):\/\/([^/?#\s]+)(\/[^#\s]*)?$/i.exec(raw);
  if (!match) throw fail('invalid_original_url');
  return checkedRequest('nginx', method, match[1]!, match[2], match[3] ?? '/', sent[OVERRIDE_AT]);
}

function checkedRequest(style: ProxyStyle, rawMethod: string, rawProto: string, rawHost: string | undefined, uri: string, rawOverride: string | undefined): OriginalRequest {
  const method = COMMON_METHODS.has(rawMethod) ? rawMethod : rawMethod.toUpperCase();
  if (!COMMON_METHODS.has(method) && !METHOD.test(method)) throw fail('invalid_forwarded_method');
  const proto = rawProto === 'https' || rawProto === 'http' ? rawProto : rawProto.toLowerCase();
  if (proto !== 'http' && proto !== 'https') throw fail('invalid_forwarded_proto');
  const host = checkedHost(rawHost);
  if (!host) throw fail('invalid_forwarded_host');
  if (!uri.startsWith('/') || /[\s#]/.test(uri)) throw fail('invalid_forwarded_uri');
  const override = rawOverride === undefined ? undefined : overridingMethod(rawOverride);
  return { style, method, proto, host: host.host, hostname: host.name, uri, override: override === method ? undefined : override };
}

/** The client address: the right-most X-Forwarded-For entry that is not a trusted proxy. */
export function clientAddress(req: IncomingMessage, trusted: BlockList): string {
  const peer = req.socket.remoteAddress ?? 'unix';
  if (!isTrusted(req.socket.remoteAddress, trusted)) return peer;
  // node:http joins repeated X-Forwarded-For headers with ', ', which is what a proxy chain means anyway.
  const forwardedFor = headerText(req, 'x-forwarded-for');
  const chain = forwardedFor === undefined ? [] : forwardedFor.split(',').map((entry) => entry.trim());
  for (let i = chain.length - 1; i >= 0; i--) {
    if (!isIP(chain[i]!)) return peer;
    if (!isTrusted(chain[i], trusted)) return chain[i]!;
  }
  return chain[0] ?? peer;
}
