import { describe, expect, it } from 'vitest';
import { checkedHost, judgedHost } from '../../src/auth/hosts.js';
import { HttpError } from '../../src/errors.js';

describe('checkedHost accepts name and name:port', () => {
  it.each([
    ['a name', 'app.example.com', 'app.example.com', 'app.example.com'],
    ['a name with a port', 'app.example.com:8443', 'app.example.com:8443', 'app.example.com'],
    ['a name in capitals', 'App.Example.COM', 'app.example.com', 'app.example.com'],
    ['a fully qualified name with its trailing dot', 'admin.example.com.', 'admin.example.com.', 'admin.example.com'],
    ['a trailing dot before a port', 'Admin.example.com.:443', 'admin.example.com.:443', 'admin.example.com'],
    ['a single label', 'localhost:4180', 'localhost:4180', 'localhost'],
    ['a container name with an underscore', 'my_app:8080', 'my_app:8080', 'my_app'],
    ['an IPv4 address', '127.0.0.1:4180', '127.0.0.1:4180', '127.0.0.1'],
    ['an IPv6 literal', '[::1]:4180', '[::1]:4180', '[::1]'],
    ['the lowest port', 'app.example.com:1', 'app.example.com:1', 'app.example.com'],
    ['the highest port', 'app.example.com:65535', 'app.example.com:65535', 'app.example.com'],
  ])('%s: %j', (_what, raw, host, name) => {
    expect(checkedHost(raw)).toEqual({ host, name });
    expect(judgedHost(raw)).toBe(name);
  });

  it('answers the same for a host it has seen before', () => {
    expect(checkedHost('Seen.Example.com:80')).toEqual(checkedHost('Seen.Example.com:80'));
    expect(checkedHost('seen.example.com:80:80')).toBeUndefined();
  });
});

describe('checkedHost refuses anything else', () => {
  // An upstream cuts a Host at its first colon: each of these would reach admin.example.com there.
  it.each([
    ['an empty port', 'admin.example.com:'],
    ['two ports', 'admin.example.com:80:80'],
    ['a port that is no number', 'admin.example.com:x'],
    ['a trailing dot and an empty port', 'admin.example.com.:'],
    ['port 0', 'admin.example.com:0'],
    ['a port above 65535', 'admin.example.com:65536'],
    ['a port of six digits', 'admin.example.com:000080'],
    ['a signed port', 'admin.example.com:+80'],
    ['an empty host', ''],
    ['a port alone', ':80'],
    ['an empty label', 'admin..example.com'],
    ['a leading dot', '.admin.example.com'],
    ['two trailing dots', 'admin.example.com..'],
    ['a path', 'admin.example.com/x'],
    ['credentials', 'user@admin.example.com'],
    ['a space', 'admin.example.com :80'],
    ['a comma-joined pair', 'app.example.com, admin.example.com'],
    ['a backslash', 'app.example.com\\@admin.example.com'],
    ['an unclosed IPv6 literal', '[::1:80'],
    ['an IPv6 literal with a zone', '[fe80::1%25eth0]'],
    ['a percent-encoded name', 'adm%69n.example.com'],
  ])('%s: %j', (_what, raw) => {
    expect(checkedHost(raw)).toBeUndefined();
    expect(() => judgedHost(raw)).toThrow(expect.objectContaining({ status: 400, code: 'invalid_host' }));
  });

  it('a missing Host with 400 invalid_host', () => {
    expect(() => judgedHost(undefined)).toThrow(HttpError);
    expect(() => judgedHost(undefined)).toThrow(expect.objectContaining({ status: 400, code: 'invalid_host' }));
  });
});
