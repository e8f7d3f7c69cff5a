import { parseCookie } from 'cookie';
import { describe, expect, it } from 'vitest';
import { readSessionCookie, sessionCookieValue } from '../../src/auth/cookies.js';

describe('reading the session cookie', () => {
  it.each([
    ['the cookie alone', 'gatehouse_session=a.b.c~r1', 'a.b.c~r1'],
    ['the cookie after others', 'theme=dark; gatehouse_session=a.b.c~r1', 'a.b.c~r1'],
    ['the cookie before others', 'gatehouse_session=a.b.c~r1; theme=dark', 'a.b.c~r1'],
    ['no space after the semicolon', 'theme=dark;gatehouse_session=tok', 'tok'],
    ['blanks around the name and value', 'theme=dark;  gatehouse_session \t=  tok  ; x=1', 'tok'],
    ['a percent-encoded value', 'gatehouse_session=a%7Eb', 'a~b'],
    ['a malformed percent-encoding, kept as sent', 'gatehouse_session=a%E0%A4%A', 'a%E0%A4%A'],
    ['the first of two', 'gatehouse_session=first; gatehouse_session=second', 'first'],
    ['the name inside another cookie, then the cookie', 'x=gatehouse_session=evil; gatehouse_session=real', 'real'],
    ['only the name inside another cookie', 'x=gatehouse_session=evil', undefined],
    ['a longer name that starts the same', 'gatehouse_session_old=stale; other=1', undefined],
    ['a longer name, then the cookie', 'gatehouse_session_old=stale; gatehouse_session=tok', 'tok'],
    ['a name that ends the same', 'my_gatehouse_session=theirs', undefined],
    ['the name without a value', 'gatehouse_session; a=b', undefined],
    ['an empty value', 'gatehouse_session=', ''],
    ['no session cookie', 'theme=dark; lang=en', undefined],
    ['an empty header', '', undefined],
  ])('reads %s as the cookie package does', (_shape, header, expected) => {
    expect(sessionCookieValue(header)).toBe(expected);
    expect(parseCookie(header)['gatehouse_session']).toBe(expected);
  });

  it('agrees with the cookie package on thousands of mangled headers', () => {
    const pieces = ['gatehouse_session', '=', ';', ' ', '\t', 'tok', '~', '%7E', '%', 'x', 'gatehouse_session=', '; ', 'a=b'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % pieces.length;
    for (let i = 0; i < 20_000; i++) {
      let header = '';
      const length = 1 + (i % 12);
      for (let k = 0; k < length; k++) header += pieces[next()];
      expect(sessionCookieValue(header), header).toBe(parseCookie(header)['gatehouse_session']);
    }
  });

  it('splits the value into access and refresh token', () => {
    expect(readSessionCookie('gatehouse_session=acc~ref')).toEqual({ access: 'acc', refresh: 'ref' });
    expect(readSessionCookie('gatehouse_session=acc')).toEqual({ access: 'acc', refresh: undefined });
    expect(readSessionCookie('gatehouse_session=~ref')).toEqual({ access: undefined, refresh: 'ref' });
  });

  it('yields nothing for a value with more than two parts, or no header', () => {
    expect(readSessionCookie('gatehouse_session=a~b~c')).toEqual({});
    expect(readSessionCookie(undefined)).toEqual({});
    expect(readSessionCookie('other=1')).toEqual({});
  });
});
