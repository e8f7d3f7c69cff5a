import { describe, expect, it } from 'vitest';
import { AmbiguousPath, normalizePath } from '../../src/auth/paths.js';

/** Paths that have one reading only: each with the path the upstream must receive. */
const ACCEPTED: [what: string, raw: string, normalised: string][] = [
  ['the root', '/', '/'],
  ['a plain path', '/a/b', '/a/b'],
  ['a single-dot segment', '/a/./b', '/a/b'],
  ['a double-dot segment', '/a/../b', '/b'],
  ['repeated slashes', '//a///b', '/a/b'],
  ['a trailing slash, which is kept', '/a/b/', '/a/b/'],
  ['a trailing double-dot segment, which leaves a directory', '/a/b/..', '/a/'],
  ['a trailing single-dot segment, which leaves a directory', '/a/b/.', '/a/b/'],
  ['a double-dot segment above the root', '/..', '/'],
  ['several double-dot segments above the root', '/../../a', '/a'],
  ['double-dot segments that climb back to the root', '/a/b/../../..', '/'],
  ['a single dot at the root', '/.', '/'],
  ['repeated slashes before a trailing slash', '/a//', '/a/'],
  ['an encoded unreserved letter', '/%41', '/A'],
  ['an encoded tilde', '/%7E', '/~'],
  ['an encoded tilde in lower-case hex', '/%7euser', '/~user'],
  ['encoded UTF-8, kept encoded', '/caf%C3%A9', '/caf%C3%A9'],
  ['encoded UTF-8 in lower-case hex, re-encoded canonically', '/caf%c3%a9', '/caf%C3%A9'],
  ['a raw non-ASCII character, encoded', '/café', '/caf%C3%A9'],
  ['a four-byte UTF-8 character', '/%F0%9F%98%80', '/%F0%9F%98%80'],
  ['a literal space, encoded', '/a b', '/a%20b'],
  ['an encoded space', '/a%20b', '/a%20b'],
  ['an encoded percent sign, kept encoded', '/100%25', '/100%25'],
  ['an encoded percent sign before what is no hex pair, kept encoded', '/100%25%20off/%25g', '/100%25%20off/%25g'],
  ['an encoded question mark, kept encoded', '/a%3Fb', '/a%3Fb'],
  ['an encoded hash, kept encoded', '/a%23b', '/a%23b'],
  ['sub-delimiters and colons, left as they are', "/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="],
  ['three dots, which are a name', '/...', '/...'],
  ['dots inside a name', '/a..b/c.', '/a..b/c.'],
  ['a leading-dot name', '/.well-known/x', '/.well-known/x'],
  ['dot segments and repeated slashes together', '/a/./b//c', '/a/b/c'],
];

/** Spellings that servers read differently: each must be refused, never guessed at. */
const REFUSED: [what: string, raw: string][] = [
  ['an encoded slash', '/a%2Fb'],
  ['an encoded slash in lower-case hex', '/a%2fb'],
  ['an encoded slash that would climb out of a public prefix', '/public%2F..%2Fadmin'],
  ['an encoded backslash', '/a%5Cb'],
  ['an encoded backslash in lower-case hex', '/a%5cb'],
  ['a raw backslash', '/a\\b'],
  ['a raw backslash before a dot segment', '/public/..\\admin'],
  ['an encoded double-dot segment', '/%2e%2e/admin'],
  ['an encoded double-dot segment in capitals', '/%2E%2E/admin'],
  ['an encoded single-dot segment', '/a/%2e/b'],
  ['a half-encoded double-dot segment (dot first)', '/a/.%2e/b'],
  ['a half-encoded double-dot segment (dot last)', '/a/%2E./b'],
  ['an encoded double-dot segment at the end', '/a/b/%2e%2e'],
  ['an encoded dot inside a name', '/a%2eb'],
  ['an encoded NUL', '/a%00b'],
  ['a raw NUL', '/a\u0000b'],
  ['an encoded SOH', '/a%01'],
  ['an encoded unit separator', '/a%1F'],
  ['an encoded DEL', '/a%7F'],
  ['an encoded CR LF', '/a%0d%0aSet-Cookie:x'],
  ['a raw tab', '/a\tb'],
  ['a raw DEL', '/a\u007fb'],
  ['invalid percent-encoding', '/%zz'],
  ['a lone percent sign', '/%'],
  ['a percent sign at the end', '/a%'],
  ['a percent sign with one hex digit', '/%4'],
  ['a percent sign with one valid and one invalid hex digit', '/%4g'],
  ['an overlong slash', '/%C0%AF'],
  ['an overlong dot', '/%C0%AE'],
  ['overlong dots as a double-dot segment', '/public/%c0%ae%c0%ae/admin'],
  ['a three-byte overlong slash', '/%E0%80%AF'],
  ['an invalid UTF-8 byte', '/%FF'],
  ['a truncated UTF-8 sequence', '/caf%C3'],
  ['an encoded UTF-16 surrogate', '/%ED%A0%80'],
  ['a path parameter before a dot segment', '/public;/../admin'],
  ['a path parameter in a double-dot segment', '/public/..;/admin'],
  ['a path parameter', '/a;jsessionid=1'],
  ['an encoded semicolon', '/a%3Bb'],
  ['a double-encoded double-dot segment', '/public/%252e%252e/admin'],
  ['a double-encoded slash', '/public/..%252fadmin'],
  ['a triple-encoded double-dot segment', '/public/%25252e%25252e/admin'],
  ['a quadruple-encoded double-dot segment', '/public/%2525252e%2525252e/admin'],
  ['a double-encoded letter', '/%2541dmin'],
  ['a double-encoded percent sign', '/a%2525b'],
  ['an encoding spelled with an encoded digit', '/%25%32%65%25%32%65/admin'],
  ['a relative path', 'a/b'],
  ['an empty path', ''],
  ['an asterisk', '*'],
  ['an absolute URL', 'http://evil.example/a'],
  ['a leading dot segment without a slash', '../admin'],
];

describe('normalizePath accepts and normalises', () => {
  it.each(ACCEPTED)('%s: %j → %j', (_what, raw, normalised) => {
    expect(normalizePath(raw)).toBe(normalised);
  });

  it.each(ACCEPTED)('%s: normalising %j twice changes nothing', (_what, raw) => {
    const once = normalizePath(raw);
    expect(normalizePath(once)).toBe(once);
  });
});

describe('normalizePath refuses with AmbiguousPath', () => {
  it.each(REFUSED)('%s: %j', (_what, raw) => {
    expect(() => normalizePath(raw)).toThrow(AmbiguousPath);
  });
});

describe('normalizePath over generated paths', () => {
  const PIECES = ['a', 'b', '.', '..', '', '%41', '%c3%a9', 'é', ' ', '%25', '~', '...', 'x.y', '%2e', '%2F', ';', '\\', '%zz'];

  /** A small deterministic generator, so a failure can be reproduced. */
  function* generatedPaths(count: number): Generator<string> {
    let seed = 0x9e3779b9;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    for (let i = 0; i < count; i++) {
      const length = 1 + Math.floor(next() * 6);
      const segments = Array.from({ length }, () => PIECES[Math.floor(next() * PIECES.length)]!);
      yield '/' + segments.join('/');
    }
  }

  it('either refuses a path or returns a canonical one that normalises to itself', () => {
    let accepted = 0;
    for (const raw of generatedPaths(3000)) {
      let once: string;
      try {
        once = normalizePath(raw);
      } catch (error) {
        expect(error, raw).toBeInstanceOf(AmbiguousPath);
        continue;
      }
      accepted++;
      expect(normalizePath(once), raw).toBe(once);
      expect(once.startsWith('/'), raw).toBe(true);
      expect(once, raw).not.toMatch(/\/\/|(^|\/)\.\.?(\/|$)|[\s\\;]/);
    }
    // The generator must exercise the accepted side too, or the check above proves nothing.
    expect(accepted).toBeGreaterThan(300);
  });
});
