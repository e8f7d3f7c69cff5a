/** The claims a logout token must and must not carry (OpenID Connect Back-Channel Logout 1.0, section 2.6). */
import { describe, expect, it } from 'vitest';
import { logoutClaimsProblem } from '../../src/oidc/logout-token.js';

const EVENT = { 'http://schemas.openid.net/event/backchannel-logout': {} };

describe('the claims of a logout token', () => {
  it.each([
    ['a session id', { sid: 'abc', events: EVENT }],
    ['a subject', { sub: 'alice', events: EVENT }],
    ['both', { sub: 'alice', sid: 'abc', events: EVENT }],
  ])('are enough with %s and the logout event', (_what, payload) => {
    expect(logoutClaimsProblem(payload)).toBeUndefined();
  });

  it.each([
    ['no events', { sid: 'abc' }, 'no_logout_event'],
    ['another event', { sid: 'abc', events: { 'https://example.com/other': {} } }, 'no_logout_event'],
    ['the event as a string', { sid: 'abc', events: { 'http://schemas.openid.net/event/backchannel-logout': 'yes' } }, 'no_logout_event'],
    ['neither sub nor sid', { events: EVENT }, 'neither_sub_nor_sid'],
    ['an empty sid', { sid: '', events: EVENT }, 'neither_sub_nor_sid'],
    ['a nonce (an ID token passed off as a logout token)', { sid: 'abc', nonce: 'n', events: EVENT }, 'nonce_present'],
  ])('are refused with %s', (_what, payload, problem) => {
    expect(logoutClaimsProblem(payload)).toBe(problem);
  });
});
