import { describe, expect, it } from 'vitest';
import { safeRedirect, type RedirectPolicy } from '../../src/auth/redirects.js';

const policy: RedirectPolicy = { publicUrl: 'https://auth.example.com', redirectHosts: ['app.example.com', '*.corp.example.com'] };
const ALLOWED_HOSTS = new Set(['auth.example.com', 'app.example.com']);

/**
 * Where a browser on gatehouse's login page would land when sent `Location: <location>`:
 * it resolves the header against the page's own URL.
 */
const landing = (location: string) => new URL(location, 'https://auth.example.com/_auth/login?rd=x');

/** True when a browser following `location` stays on gatehouse or an allowed host, over https. */
function staysAllowed(location: string): boolean {
  let url: URL;
  try {
    url = landing(location);
  } catch {
    return false; // a Location the browser cannot even resolve is no safe answer either
  }
  return url.protocol === 'https:' && (ALLOWED_HOSTS.has(url.hostname) || url.hostname.endsWith('.corp.example.com'));
}

describe('safeRedirect allows', () => {
  it.each([
    ['the root path', '/', '/'],
    ['a path with query and fragment', '/path?q=1#h', '/path?q=1#h'],
    ['a deep path', '/app/a/b/c', '/app/a/b/c'],
    ['a path whose query holds another URL', '/x?next=https://evil.com', '/x?next=https://evil.com'],
    ['a path with percent-encoded characters, kept encoded', '/caf%C3%A9?q=%26', '/caf%C3%A9?q=%26'],
    ['gatehouse itself, absolute', 'https://auth.example.com/x', 'https://auth.example.com/x'],
    ['an exact redirect host', 'https://app.example.com/y', 'https://app.example.com/y'],
    ['a redirect host in capitals', 'https://APP.example.com/y', 'https://app.example.com/y'],
    ['a subdomain of a wildcard host', 'https://a.corp.example.com/', 'https://a.corp.example.com/'],
    ['a deeper subdomain of a wildcard host', 'https://b.a.corp.example.com/p?q', 'https://b.a.corp.example.com/p?q'],
    ['dot segments that stay on the path', '/a/./b/../c', '/a/c'],
    ['an allowed host with the default port written out', 'https://app.example.com:443/y', 'https://app.example.com/y'],
  ])('%s: %j → %j', (_what, rd, expected) => {
    expect(safeRedirect(rd, policy)).toBe(expected);
    expect(staysAllowed(expected)).toBe(true);
  });
});

describe('safeRedirect refuses, falling back to /', () => {
  it.each([
    ['a protocol-relative URL', '//evil.com'],
    ['a protocol-relative URL with a path', '//evil.com/_auth/login'],
    ['a slash and backslash (browsers read \\ as /)', '/\\evil.com'],
    ['two backslashes', '\\\\evil.com'],
    ['a backslash and slash', '\\/evil.com'],
    ['https with backslashes', 'https:\\\\evil.com'],
    ['another host', 'https://evil.com'],
    ['another host with an allowed path', 'https://evil.com/app.example.com'],
    ['gatehouse host as a prefix of another domain', 'https://auth.example.com.evil.com'],
    ['a host ending in gatehouse host without a dot', 'https://evilauth.example.com'],
    ['a wildcard domain as a prefix of another domain', 'https://corp.example.com.evil.com'],
    ['a host that ends with the wildcard domain without its dot', 'https://xcorp.example.com'],
    ['the wildcard apex itself (it is not a subdomain)', 'https://corp.example.com/'],
    ['a sibling of the exact redirect host', 'https://other.example.com/'],
    ['a subdomain of an exact redirect host', 'https://x.app.example.com/'],
    ['a scheme downgrade from an https public_url', 'http://app.example.com'],
    ['a scheme downgrade to gatehouse itself', 'http://auth.example.com/x'],
    ['javascript:', 'javascript:alert(1)'],
    ['JavaScript: in mixed case', 'JaVaScRiPt:alert(1)'],
    ['data:', 'data:text/html,x'],
    ['vbscript:', 'vbscript:msgbox(1)'],
    ['file:', 'file:///etc/passwd'],
    ['ftp to an allowed host', 'ftp://app.example.com/'],
    ['credentials before an allowed host', 'https://user:pass@app.example.com/'],
    ['a user name before an allowed host', 'https://user@app.example.com/'],
    ['an allowed host as credentials before another', 'https://app.example.com@evil.com/'],
    ['an allowed host as credentials, with a port', 'https://app.example.com:443@evil.com/'],
    ['a leading space', ' /x'],
    ['a leading space before a protocol-relative URL', ' //evil.com'],
    ['a tab inside a path', '/x\ty'],
    ['a tab inside the slashes', '/\t/evil.com'],
    ['a newline before a protocol-relative URL', '\n//evil.com'],
    ['a carriage return inside the slashes', '/\r/evil.com'],
    ['a NUL byte', '/x\u0000y'],
    ['a DEL character', '/x\u007f'],
    ['a trailing newline', 'https://app.example.com/\n'],
    ['the empty string', ''],
    ['an overlong rd (3000 characters)', `/${'a'.repeat(2999)}`],
    ['an overlong rd to an allowed host', `https://app.example.com/${'a'.repeat(3000)}`],
    ['an invalid absolute URL', 'https://'],
    ['an invalid port', 'https://app.example.com:99999/'],
    ['a redirect host on another port', 'https://app.example.com:8443/'],
    ['gatehouse host on another port', 'https://auth.example.com:8443/x'],
    ['a wildcard subdomain on another port', 'https://a.corp.example.com:8443/'],
    ['an allowed host over https on port 80', 'https://app.example.com:80/'],
    ['an invalid IPv6 host', 'https://[::1/'],
  ])('%s: %j', (_what, rd) => {
    expect(safeRedirect(rd, policy)).toBe('/');
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['a boolean', true],
    ['an array of one path', ['/x']],
    ['an object', { toString: () => '/x' }],
    ['a String object', new String('/x')],
  ])('a non-string value: %s', (_what, rd) => {
    expect(safeRedirect(rd, policy)).toBe('/');
  });
});

describe('safeRedirect and dot segments', () => {
  // `/.//evil.com` is a path on gatehouse's origin, but once the dot segment is removed
  // the path is `//evil.com`; returned as a bare path, the browser reads it as a
  // protocol-relative URL and leaves for evil.com. An open redirect.
  it.each(['/.//evil.com', '/..//evil.com', '/a/..//evil.com', '/%2e//evil.com', '/%2E%2E//evil.com', '/./%2e//evil.com/x?y#z'])(
    'never leads a browser off the allowed hosts for %j',
    (rd) => {
      const location = safeRedirect(rd, policy);
      expect(location.startsWith('//')).toBe(false);
      expect(landing(location).hostname).toBe('auth.example.com');
    },
  );
});

describe('safeRedirect and percent-encoded slashes', () => {
  // '/%2F%2Fevil.com' is one path segment on gatehouse's own origin: browsers do not
  // decode %2F when resolving a Location, so either keeping it exactly as it is or
  // falling back to '/' is safe. What must never come out is a decoded '//evil.com'.
  it.each(['/%2F%2Fevil.com', '/%2f%2fevil.com', '/%5C%5Cevil.com', '/%5c/evil.com'])('keeps %j on gatehouse', (rd) => {
    const location = safeRedirect(rd, policy);
    expect(['/', rd]).toContain(location);
    expect(landing(location).origin).toBe('https://auth.example.com');
  });
});

describe('safeRedirect and scheme-relative forms', () => {
  // WHATWG parsing resolves 'https:evil.com' and 'https:/evil.com' against an https base
  // as paths on that base. Whatever comes out must be judged as the browser reads it.
  it.each(['https:evil.com', 'https:/evil.com', 'https:app.example.com', 'HTTPS:evil.com'])('keeps %j on an allowed host', (rd) => {
    const location = safeRedirect(rd, policy);
    expect(staysAllowed(location)).toBe(true);
    expect(landing(location).hostname).not.toMatch(/evil/);
  });

  it('returns an absolute rd in its normalised form, not as given', () => {
    expect(safeRedirect('https://app.example.com/a/../b', policy)).toBe('https://app.example.com/b');
  });
});

describe('safeRedirect with other policies', () => {
  it('allows http to its own host and https anywhere allowed when public_url is http', () => {
    const plain: RedirectPolicy = { publicUrl: 'http://localhost:4180', redirectHosts: ['app.test'] };
    expect(safeRedirect('http://localhost:4180/x', plain)).toBe('http://localhost:4180/x');
    expect(safeRedirect('http://app.test/x', plain)).toBe('http://app.test/x');
    expect(safeRedirect('https://app.test/x', plain)).toBe('https://app.test/x');
    expect(safeRedirect('http://evil.test/x', plain)).toBe('/');
  });

  it('allows only gatehouse itself when there are no redirect hosts', () => {
    const alone: RedirectPolicy = { publicUrl: 'https://auth.example.com', redirectHosts: [] };
    expect(safeRedirect('https://auth.example.com/x', alone)).toBe('https://auth.example.com/x');
    expect(safeRedirect('/x', alone)).toBe('/x');
    expect(safeRedirect('https://app.example.com/', alone)).toBe('/');
  });

  it('treats a wildcard as subdomains only, for the default made from cookie_domain', () => {
    const sso: RedirectPolicy = { publicUrl: 'https://auth.example.com', redirectHosts: ['example.com', '*.example.com'] };
    expect(safeRedirect('https://example.com/', sso)).toBe('https://example.com/');
    expect(safeRedirect('https://wiki.example.com/', sso)).toBe('https://wiki.example.com/');
    expect(safeRedirect('https://notexample.com/', sso)).toBe('/');
    expect(safeRedirect('https://example.com.evil.com/', sso)).toBe('/');
  });
});

describe('safeRedirect and ports', () => {
  // Another port is another origin, possibly another application: allowed only where an entry names it.
  const ports: RedirectPolicy = { publicUrl: 'https://auth.example.com', redirectHosts: ['app.example.com:8443', '*.corp.example.com:9443', 'wiki.example.com'] };

  it.each([
    ['the port an exact entry names', 'https://app.example.com:8443/x', 'https://app.example.com:8443/x'],
    ['the port a wildcard entry names', 'https://a.corp.example.com:9443/x', 'https://a.corp.example.com:9443/x'],
    ['an entry without a port, on the default port', 'https://wiki.example.com/x', 'https://wiki.example.com/x'],
  ])('allows %s: %j', (_what, rd, expected) => {
    expect(safeRedirect(rd, ports)).toBe(expected);
  });

  it.each([
    ['a port other than the one named', 'https://app.example.com:9443/'],
    ['the default port of a host named only with another', 'https://app.example.com/'],
    ['a wildcard subdomain on a port other than the one named', 'https://a.corp.example.com:8443/'],
    ['an entry without a port, on another port', 'https://wiki.example.com:8443/'],
    ['gatehouse host on a named port of another host', 'https://auth.example.com:8443/'],
  ])('refuses %s: %j', (_what, rd) => {
    expect(safeRedirect(rd, ports)).toBe('/');
  });

  it("allows public_url's own port on its host and on the redirect hosts, and no other", () => {
    const local: RedirectPolicy = { publicUrl: 'http://localhost:4180', redirectHosts: ['app.test'] };
    expect(safeRedirect('http://app.test:4180/x', local)).toBe('http://app.test:4180/x');
    expect(safeRedirect('http://localhost:4180/x', local)).toBe('http://localhost:4180/x');
    expect(safeRedirect('http://localhost:4181/x', local)).toBe('/');
    expect(safeRedirect('http://app.test:8080/x', local)).toBe('/');
  });
});

describe('safeRedirect against a browser', () => {
  // Every answer, for a wide mix of inputs, must lead a browser to an allowed host.
  const inputs = [
    '/', '//', '///', '////evil.com', '/\\', '/.', '/..', '/../..//evil.com', '/./', '/.//', '/%2e%2e/%2e%2e//evil.com',
    './/evil.com', '..//evil.com', '?//evil.com', '#//evil.com', 'evil.com', '@evil.com', ':evil.com',
    'https:', 'https:/', 'https://', 'https:///evil.com', 'https:////evil.com', 'https://app.example.com.', 'https://evil.com\\@app.example.com',
    'https://app.example.com%2F@evil.com', 'https://app.example.com%40evil.com', 'https://%61pp.example.com/', 'https://app。example.com/',
    'https://ａpp.example.com/', '/\u2028//evil.com', '\u3000//evil.com', 'https://127.0.0.1/', 'https://[::1]/',
  ];
  it.each(inputs)('%j', (rd) => {
    const location = safeRedirect(rd, policy);
    expect(staysAllowed(location), `safeRedirect(${JSON.stringify(rd)}) = ${JSON.stringify(location)}`).toBe(true);
  });
});
