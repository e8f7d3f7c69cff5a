import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, isTrusted, originalRequest, trustedProxies } from '../../src/auth/forwarded.js';
import { isNavigation } from '../../src/auth/gate.js';
import { HttpError } from '../../src/errors.js';

/** The default trusted_proxies: loopback. */
const LOOPBACK = trustedProxies(['127.0.0.0/8', '::1/128']);

/**
 * A request as node:http presents it: `headers` joins repeated values, `rawHeaders`
 * keeps each name as sent. Header pairs may repeat a name to simulate a header sent twice.
 */
function fakeRequest(pairs: [string, string][], remoteAddress: string | undefined = '127.0.0.1'): IncomingMessage {
  const values: Record<string, string[]> = {};
  for (const [name, value] of pairs) (values[name.toLowerCase()] ??= []).push(value);
  const headers = Object.fromEntries(Object.entries(values).map(([name, list]) => [name, list.join(', ')]));
  return { headers, rawHeaders: pairs.flat(), socket: { remoteAddress } } as unknown as IncomingMessage;
}

/** The error a call throws, for a closer look than toThrow gives. */
function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

function expectHttpError(call: () => unknown, status: number, code: string): void {
  const error = thrownBy(call);
  expect(error).toBeInstanceOf(HttpError);
  expect(error).toMatchObject({ status, code });
}

const traefik = (extra: [string, string][] = []): [string, string][] => [
  ['host', 'gatehouse:4180'],
  ['x-forwarded-method', 'POST'],
  ['x-forwarded-proto', 'https'],
  ['x-forwarded-host', 'App.Example.com'],
  ['x-forwarded-uri', '/app/page?x=1'],
  ...extra,
];

const nginx = (extra: [string, string][] = []): [string, string][] => [
  ['host', 'gatehouse:4180'],
  ['x-original-url', 'https://app.example.com/app/page?x=1'],
  ['x-original-method', 'PUT'],
  ...extra,
];

describe('originalRequest in the Traefik and Caddy style', () => {
  it('reads method, scheme, host and URI from X-Forwarded-*', () => {
    expect(originalRequest(fakeRequest(traefik()), LOOPBACK)).toEqual({
      style: 'forward',
      method: 'POST',
      proto: 'https',
      host: 'app.example.com',
      hostname: 'app.example.com',
      uri: '/app/page?x=1',
      override: undefined,
    });
  });

  it('keeps the URI exactly as sent, for the path normaliser to judge', () => {
    const req = fakeRequest([['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/public/../admin'], ['x-forwarded-host', 'app.example.com']]);
    expect(originalRequest(req, LOOPBACK).uri).toBe('/public/../admin');
  });

  it('defaults to http and falls back to the Host header, judged without its port', () => {
    const req = fakeRequest([['host', 'App.example.com:8080'], ['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/x']]);
    expect(originalRequest(req, LOOPBACK)).toEqual({
      style: 'forward',
      method: 'GET',
      proto: 'http',
      host: 'app.example.com:8080',
      hostname: 'app.example.com',
      uri: '/x',
      override: undefined,
    });
  });

  it('judges a fully qualified host without its trailing dot', () => {
    const req = fakeRequest([...traefik().filter(([name]) => name !== 'x-forwarded-host'), ['x-forwarded-host', 'Admin.Example.com.:443']]);
    expect(originalRequest(req, LOOPBACK)).toMatchObject({ host: 'admin.example.com.:443', hostname: 'admin.example.com' });
  });

  it('refuses a request without X-Forwarded-Method with 400 rather than judging it as a GET', () => {
    const req = fakeRequest(traefik().filter(([name]) => name !== 'x-forwarded-method'));
    expectHttpError(() => originalRequest(req, LOOPBACK), 400, 'missing_forwarded_method');
  });

  it('upper-cases the method and lower-cases the scheme', () => {
    const req = fakeRequest([
      ['x-forwarded-method', 'delete'],
      ['x-forwarded-proto', 'HTTPS'],
      ['x-forwarded-host', 'app.example.com'],
      ['x-forwarded-uri', '/x'],
    ]);
    expect(originalRequest(req, LOOPBACK)).toMatchObject({ method: 'DELETE', proto: 'https' });
  });
});

describe('originalRequest in the nginx style', () => {
  it('reads the absolute X-Original-URL and X-Original-Method', () => {
    expect(originalRequest(fakeRequest(nginx()), LOOPBACK)).toEqual({
      style: 'nginx',
      method: 'PUT',
      proto: 'https',
      host: 'app.example.com',
      hostname: 'app.example.com',
      uri: '/app/page?x=1',
      override: undefined,
    });
  });

  it('reads a URL without a path as the root', () => {
    expect(originalRequest(fakeRequest([['x-original-url', 'http://app.example.com'], ['x-original-method', 'GET']]), LOOPBACK)).toMatchObject({ method: 'GET', uri: '/' });
  });

  it('refuses X-Original-URL without X-Original-Method: a POST must not pass a GET-only rule', () => {
    expect(() => originalRequest(fakeRequest([['x-original-url', 'http://app.example.com/feed']]), LOOPBACK)).toThrow(
      expect.objectContaining({ status: 400, code: 'missing_original_method' }),
    );
  });

  it('keeps the host port and lower-cases the host', () => {
    expect(originalRequest(fakeRequest([['x-original-url', 'HTTP://App.Example.com:8443/x'], ['x-original-method', 'GET']]), LOOPBACK)).toMatchObject({
      proto: 'http',
      host: 'app.example.com:8443',
      hostname: 'app.example.com',
      uri: '/x',
    });
  });
});

describe('originalRequest refuses', () => {
  it('both styles at once with 400 conflicting_forwarded_headers', () => {
    expectHttpError(() => originalRequest(fakeRequest([...traefik(), ['x-original-url', 'https://app.example.com/']]), LOOPBACK), 400, 'conflicting_forwarded_headers');
  });

  it.each(['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri'])('X-Original-URL beside a lone %s with 400', (name) => {
    expectHttpError(() => originalRequest(fakeRequest([...nginx(), [name, 'x']]), LOOPBACK), 400, 'conflicting_forwarded_headers');
  });

  it('neither style with 400', () => {
    expectHttpError(() => originalRequest(fakeRequest([['host', 'app.example.com']]), LOOPBACK), 400, 'missing_forwarded_request');
  });

  it.each([
    ['X-Forwarded-Uri', 'x-forwarded-uri', traefik],
    ['X-Forwarded-Host', 'x-forwarded-host', traefik],
    ['X-Forwarded-Method', 'x-forwarded-method', traefik],
    ['X-Forwarded-Proto', 'x-forwarded-proto', traefik],
    ['X-Original-URL', 'x-original-url', nginx],
    ['X-Original-Method', 'x-original-method', nginx],
  ] as const)('%s sent twice, in another letter case, with 400 duplicate_forwarded_header', (spelled, name, style) => {
    const pairs = style();
    const value = pairs.find(([n]) => n === name)![1];
    expectHttpError(() => originalRequest(fakeRequest([...pairs, [spelled, value]]), LOOPBACK), 400, 'duplicate_forwarded_header');
  });

  it.each([['forward', traefik], ['nginx', nginx]] as const)('a second Host beside the %s headers with 400', (_style, style) => {
    const req = fakeRequest([['host', 'app.example.com'], ...style(), ['Host', 'admin.example.com']]);
    expectHttpError(() => originalRequest(req, LOOPBACK), 400, 'duplicate_forwarded_header');
  });

  it('two different X-Forwarded-Uri values, one public and one not, with 400', () => {
    const req = fakeRequest([['x-forwarded-host', 'app.example.com'], ['x-forwarded-uri', '/public/x'], ['x-forwarded-uri', '/admin']]);
    expectHttpError(() => originalRequest(req, LOOPBACK), 400, 'duplicate_forwarded_header');
  });

  it.each([
    ['a private address', '10.1.2.3'],
    ['a public address', '203.0.113.9'],
    ['an IPv6 address', '2001:db8::1'],
    ['an IPv4-mapped private address', '::ffff:10.1.2.3'],
  ])('the headers of an untrusted peer (%s) with 403 untrusted_proxy', (_what, peer) => {
    expectHttpError(() => originalRequest(fakeRequest(traefik(), peer), LOOPBACK), 403, 'untrusted_proxy');
    expectHttpError(() => originalRequest(fakeRequest(nginx(), peer), LOOPBACK), 403, 'untrusted_proxy');
  });

  it.each([
    ['forward', 'x-forwarded-method', 'GE T', 'invalid_forwarded_method'],
    ['forward', 'x-forwarded-method', 'GET1', 'invalid_forwarded_method'],
    ['forward', 'x-forwarded-method', '', 'invalid_forwarded_method'],
    ['forward', 'x-forwarded-method', 'A'.repeat(17), 'invalid_forwarded_method'],
    ['nginx', 'x-original-method', 'G\u00c9T', 'invalid_forwarded_method'],
    ['forward', 'x-forwarded-proto', 'ftp', 'invalid_forwarded_proto'],
    ['forward', 'x-forwarded-proto', 'https, http', 'invalid_forwarded_proto'],
    ['forward', 'x-forwarded-proto', '', 'invalid_forwarded_proto'],
    ['forward', 'x-forwarded-host', '', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'evil.example/x', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'user@app.example.com', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'a b', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'app.example.com:99999x', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'app.example.com, evil.example', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'admin.example.com:', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'admin.example.com:80:80', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'admin.example.com:x', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'admin.example.com.:', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'admin.example.com:0', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-host', 'admin.example.com:65536', 'invalid_forwarded_host'],
    ['nginx', 'x-original-url', 'https://admin.example.com:/x', 'invalid_forwarded_host'],
    ['nginx', 'x-original-url', 'https://admin.example.com:80:80/x', 'invalid_forwarded_host'],
    ['nginx', 'x-original-url', 'https://admin.example.com:x/x', 'invalid_forwarded_host'],
    ['nginx', 'x-original-url', 'https://admin.example.com.:/x', 'invalid_forwarded_host'],
    ['forward', 'x-forwarded-uri', 'admin', 'invalid_forwarded_uri'],
    ['forward', 'x-forwarded-uri', 'http://evil.example/', 'invalid_forwarded_uri'],
    ['forward', 'x-forwarded-uri', '/a b', 'invalid_forwarded_uri'],
    ['forward', 'x-forwarded-uri', '/a#b', 'invalid_forwarded_uri'],
    ['forward', 'x-forwarded-uri', '', 'invalid_forwarded_uri'],
    ['nginx', 'x-original-url', '/relative/path', 'invalid_original_url'],
    ['nginx', 'x-original-url', 'ftp://app.example.com/', 'invalid_original_url'],
    ['nginx', 'x-original-url', '//app.example.com/', 'invalid_original_url'],
    ['nginx', 'x-original-url', 'https://app.example.com/a b', 'invalid_original_url'],
    ['nginx', 'x-original-url', 'https://app.example.com/a#b', 'invalid_original_url'],
    ['nginx', 'x-original-url', 'https://user@evil.example/', 'invalid_forwarded_host'],
    ['nginx', 'x-original-url', 'https://app.example.com\\@evil.example/', 'invalid_forwarded_host'],
  ] as const)('a %s request whose %s is %j with 400 %s', (style, name, value, code) => {
    const base = (style === 'forward' ? traefik() : nginx()).filter(([n]) => n !== name);
    expectHttpError(() => originalRequest(fakeRequest([...base, [name, value]]), LOOPBACK), 400, code);
  });
});

describe('originalRequest and method-override headers', () => {
  it.each(['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override', 'x_http_method_override', 'X.HTTP.Method'])(
    'reads the method %s names, in any spelling, to be judged as well',
    (name) => {
      expect(originalRequest(fakeRequest(traefik([[name, 'delete']])), LOOPBACK)).toMatchObject({ method: 'POST', override: 'DELETE' });
      expect(originalRequest(fakeRequest(nginx([[name, ' DELETE ']])), LOOPBACK)).toMatchObject({ method: 'PUT', override: 'DELETE' });
    },
  );

  it('leaves the override out when it names the method itself', () => {
    expect(originalRequest(fakeRequest(traefik([['X-HTTP-Method-Override', 'POST']])), LOOPBACK).override).toBeUndefined();
  });

  it.each([
    ['two override headers', [['X-HTTP-Method-Override', 'GET'], ['X-HTTP-Method', 'DELETE']], 'duplicate_method_override'],
    ['one override header sent twice', [['X-HTTP-Method-Override', 'GET'], ['x-http-method-override', 'GET']], 'duplicate_method_override'],
    ['two spellings of one override header', [['X-HTTP-Method-Override', 'GET'], ['X_HTTP_METHOD_OVERRIDE', 'DELETE']], 'duplicate_method_override'],
    ['an override naming two methods', [['X-HTTP-Method-Override', 'GET, DELETE']], 'invalid_method_override'],
    ['an empty override', [['X-HTTP-Method-Override', '']], 'invalid_method_override'],
    ['an override that is no method', [['X-HTTP-Method-Override', 'DE LETE']], 'invalid_method_override'],
  ] as const)('refuses %s with 400', (_what, extra, code) => {
    expectHttpError(() => originalRequest(fakeRequest(traefik(extra.map(([n, v]) => [n, v]))), LOOPBACK), 400, code);
  });
});

describe('trusted proxies', () => {
  it.each([
    ['loopback', '127.0.0.1', true],
    ['another loopback address', '127.8.9.10', true],
    ['IPv6 loopback', '::1', true],
    ['IPv4-mapped loopback', '::ffff:127.0.0.1', true],
    ['a unix socket (no address)', undefined, true],
    ['a private address', '10.1.2.3', false],
    ['IPv4-mapped private address', '::ffff:10.1.2.3', false],
    ['a public IPv6 address', '2001:db8::1', false],
  ])('%s (%s) is trusted by default: %s', (_what, address, trusted) => {
    expect(isTrusted(address, LOOPBACK)).toBe(trusted);
  });

  it('believes the headers of an IPv4-mapped loopback peer', () => {
    expect(originalRequest(fakeRequest(traefik(), '::ffff:127.0.0.1'), LOOPBACK)).toMatchObject({ host: 'app.example.com' });
  });

  it('believes the headers of a peer in a configured range', () => {
    const trusted = trustedProxies(['10.0.0.0/8']);
    expect(originalRequest(fakeRequest(traefik(), '10.1.2.3'), trusted)).toMatchObject({ uri: '/app/page?x=1' });
    expectHttpError(() => originalRequest(fakeRequest(traefik(), '127.0.0.1'), trusted), 403, 'untrusted_proxy');
  });
});

describe('clientAddress', () => {
  const TRUSTED = trustedProxies(['127.0.0.0/8', '10.0.0.0/8']);

  it.each([
    ['no X-Forwarded-For: the peer', '127.0.0.1', [], '127.0.0.1'],
    ['one client entry', '127.0.0.1', ['203.0.113.7'], '203.0.113.7'],
    ['a client behind a trusted hop', '127.0.0.1', ['203.0.113.7, 10.0.0.5'], '203.0.113.7'],
    ['a spoofed entry left of the real client', '127.0.0.1', ['198.51.100.1, 203.0.113.7, 10.0.0.5'], '203.0.113.7'],
    ['a spoofed trusted-looking entry left of the real client', '10.0.0.9', ['10.9.9.9, 203.0.113.7'], '203.0.113.7'],
    ['only trusted entries: the left-most', '127.0.0.1', ['10.0.0.1, 10.0.0.2'], '10.0.0.1'],
    ['spaces around entries', '127.0.0.1', ['  203.0.113.7 ,10.0.0.5  '], '203.0.113.7'],
    ['garbage left of the client', '127.0.0.1', ['garbage, 203.0.113.7'], '203.0.113.7'],
    ['garbage right of the client: the peer', '127.0.0.1', ['203.0.113.7, garbage'], '127.0.0.1'],
    ['an IPv6 client', '127.0.0.1', ['2001:db8::7'], '2001:db8::7'],
    ['an IPv4-mapped trusted hop', '127.0.0.1', ['203.0.113.7, ::ffff:10.0.0.5'], '203.0.113.7'],
    ['two X-Forwarded-For headers, read as one list', '127.0.0.1', ['198.51.100.1', '203.0.113.7, 10.0.0.5'], '203.0.113.7'],
    ['two X-Forwarded-For headers, the client in the second', '127.0.0.1', ['10.0.0.3', '203.0.113.8'], '203.0.113.8'],
    ['an untrusted peer, whose X-Forwarded-For is ignored', '198.51.100.9', ['203.0.113.7'], '198.51.100.9'],
    ['an untrusted IPv6 peer', '2001:db8::9', ['203.0.113.7'], '2001:db8::9'],
  ])('%s', (_what, peer, forwardedFor, expected) => {
    const req = fakeRequest(forwardedFor.map((value) => ['x-forwarded-for', value] as [string, string]), peer);
    expect(clientAddress(req, TRUSTED)).toBe(expected);
  });
});

describe('isNavigation', () => {
  it.each<[string, IncomingHttpHeaders, boolean]>([
    ['Sec-Fetch-Mode: navigate', { 'sec-fetch-mode': 'navigate' }, true],
    ['Sec-Fetch-Mode: navigate with an HTML Accept', { 'sec-fetch-mode': 'navigate', accept: 'text/html,application/xhtml+xml' }, true],
    ['Sec-Fetch-Mode: cors', { 'sec-fetch-mode': 'cors' }, false],
    ['Sec-Fetch-Mode: cors, even with an HTML Accept', { 'sec-fetch-mode': 'cors', accept: 'text/html' }, false],
    ['Sec-Fetch-Mode: no-cors', { 'sec-fetch-mode': 'no-cors', accept: 'text/html' }, false],
    ['Sec-Fetch-Mode: same-origin', { 'sec-fetch-mode': 'same-origin' }, false],
    ['an HTML Accept without Sec-Fetch-Mode', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }, true],
    ['a JSON Accept without Sec-Fetch-Mode', { accept: 'application/json' }, false],
    ['a wildcard Accept without Sec-Fetch-Mode', { accept: '*/*' }, false],
    ['no headers at all', {}, false],
  ])('%s: %s', (_what, headers, navigation) => {
    expect(isNavigation(headers)).toBe(navigation);
  });
});
