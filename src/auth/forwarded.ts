/**
 * The original request behind a forward-auth call (SPEC section 5), believed only
 * from trusted_proxies. Traefik and Caddy send X-Forwarded-Method/-Proto/-Host/-Uri;
 * nginx sends what its config sets, by convention X-Original-URL and -Method.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { badRequest, forbidden } from '../errors.js';

export type ProxyStyle = 'forward' | 'nginx';

export interface OriginalRequest {
  style: ProxyStyle;
  method: string;
  proto: 'http' | 'https';
  host: string;
  /** Path and query exactly as the client sent them (not yet normalised). */
  uri: string;
}

const FORWARD_HEADERS = ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri'] as const;
const NGINX_HEADERS = ['x-original-url', 'x-original-method'] as const;
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

/** The headers that say which request is judged, by the proxy style that sends them. */
const FORWARDING = new Map<string, ProxyStyle | 'both'>([
  ...FORWARD_HEADERS.map((name) => [name, 'forward'] as const),
  ...NGINX_HEADERS.map((name) => [name, 'nginx'] as const),
  ['host', 'both'],
]);
const FORWARDING_LENGTHS = new Set([...FORWARDING.keys()].map((name) => name.length));

/**
 * Which styles of forwarding headers came, in one pass over rawHeaders; 400 when
 * any of them came twice, since req.headers would join the two values (building
 * req.headersDistinct instead costs more than the rest of a verify call).
 */
function stylesSent(rawHeaders: string[]): { forward: boolean; nginx: boolean } {
  const sent = { forward: false, nginx: false };
  let seen: string[] | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i]!;
    if (!FORWARDING_LENGTHS.has(raw.length)) continue;
    const name = raw.toLowerCase();
    const style = FORWARDING.get(name);
    if (style === undefined) continue;
    if (seen?.includes(name)) throw badRequest('duplicate_forwarded_header', `The header ${name} was sent more than once.`);
    (seen ??= []).push(name);
    if (style !== 'both') sent[style] = true;
  }
  return sent;
}

export function originalRequest(req: IncomingMessage, trusted: BlockList): OriginalRequest {
  const { forward, nginx } = stylesSent(req.rawHeaders);
  if (forward && nginx) throw badRequest('conflicting_forwarded_headers', 'Send X-Forwarded-* or X-Original-*, not both.');
  if (!forward && !nginx) throw badRequest('missing_forwarded_request', 'A verify call needs X-Forwarded-Uri or X-Original-URL.');
  if (!isTrusted(req.socket.remoteAddress, trusted)) {
    // Fail closed: ignoring the headers would judge the wrong URL, and trusting them lets anyone choose it.
    throw forbidden('untrusted_proxy', 'Forwarded headers from this address are not trusted; add it to trusted_proxies.');
  }
  return nginx ? fromNginx(req) : fromForward(req);
}

function fromForward(req: IncomingMessage): OriginalRequest {
  const method = (headerText(req, 'x-forwarded-method') ?? 'GET').toUpperCase();
  const proto = (headerText(req, 'x-forwarded-proto') ?? 'http').toLowerCase();
  const host = headerText(req, 'x-forwarded-host') ?? headerText(req, 'host');
  const uri = headerText(req, 'x-forwarded-uri') ?? '/';
  return checkedRequest({ style: 'forward', method, proto, host, uri });
}

function fromNginx(req: IncomingMessage): OriginalRequest {
  // No default: a config that forgets the method would let a POST pass a GET-only rule.
  const method = headerText(req, 'x-original-method')?.toUpperCase();
  if (!method) throw badRequest('missing_original_method', 'X-Original-URL needs X-Original-Method beside it.');
  const raw = headerText(req, 'x-original-url');
  const match = raw && /^(https?):\/\/([^/?#\s]+)(\/[^#\s]*)?$/i.exec(raw);
  if (!match) throw badRequest('invalid_original_url', 'X-Original-URL must be an absolute http(s) URL.');
  return checkedRequest({ style: 'nginx', method, proto: match[1]!.toLowerCase(), host: match[2]!, uri: match[3] ?? '/' });
}

function checkedRequest(o: { style: ProxyStyle; method: string; proto: string; host: string | undefined; uri: string }): OriginalRequest {
  if (!METHOD.test(o.method)) throw badRequest('invalid_forwarded_method', 'The forwarded method is not valid.');
  if (o.proto !== 'http' && o.proto !== 'https') throw badRequest('invalid_forwarded_proto', 'The forwarded scheme must be http or https.');
  if (!o.host || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(o.host)) {
    throw badRequest('invalid_forwarded_host', 'The forwarded host is not valid.');
  }
  if (!o.uri.startsWith('/') || /[\s#]/.test(o.uri)) throw badRequest('invalid_forwarded_uri', 'The forwarded URI is not valid.');
  return { style: o.style, method: o.method, proto: o.proto, host: o.host.toLowerCase(), uri: o.uri };
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
