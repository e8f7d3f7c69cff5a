import { describe, expect, it } from 'vitest';
import { decideAccess, decideRefresh, type RefreshDecision } from '../../src/auth/trust-window.js';
import type { Session, User } from '../../src/store/types.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const limits = { idleTimeoutMs: 7 * DAY, sessionLifetimeMs: 30 * DAY, refreshGraceMs: 10_000 };
const T0 = Date.UTC(2026, 0, 1);

const user: User = {
  id: 'u1',
  username: 'ann',
  email: null,
  groups: [],
  passwordHash: 'x',
  disabled: false,
  createdAt: T0,
  displayName: null,
  emailVerified: false,
  totpSecret: null,
  totpEnabled: false,
};
const session = (overrides: Partial<Session> = {}): Session => ({
  id: 's1',
  userId: 'u1',
  createdAt: T0,
  lastUsedAt: T0,
  refreshHash: 'current',
  prevRefreshHash: 'previous',
  rotatedAt: T0,
  device: null,
  address: null,
  sealedRefresh: 'sealed',
  revokedAt: null,
  ...overrides,
});

describe('decideRefresh', () => {
  const cases: [string, Session | undefined, User | undefined, string, number, RefreshDecision][] = [
    ['rotates the current token of a live session', session(), user, 'current', T0 + 5 * MIN, 'rotate'],
    ['rotates just inside the idle timeout', session(), user, 'current', T0 + 7 * DAY, 'rotate'],
    ['refuses just past the idle timeout', session(), user, 'current', T0 + 7 * DAY + 1, 'idle_timeout'],
    ['measures idleness from the last use', session({ lastUsedAt: T0 + 20 * DAY }), user, 'current', T0 + 26 * DAY, 'rotate'],
    ['ends an active session at its lifetime', session({ lastUsedAt: T0 + 30 * DAY }), user, 'current', T0 + 30 * DAY + 1, 'session_expired'],
    ['lets a racing request replay the previous token inside the grace', session(), user, 'previous', T0 + 10_000, 'grace_replay'],
    ['calls the previous token theft just after the grace', session(), user, 'previous', T0 + 10_001, 'reuse_detected'],
    ['refuses a token it does not know without revoking', session(), user, 'forged', T0, 'token_mismatch'],
    ['refuses any token of a revoked session', session({ revokedAt: T0 }), user, 'current', T0 + 1, 'session_revoked'],
    ['refuses a revoked session before judging reuse', session({ revokedAt: T0 }), user, 'previous', T0 + DAY, 'session_revoked'],
    ['refuses a disabled user', session(), { ...user, disabled: true }, 'current', T0 + 1, 'user_inactive'],
    ['refuses a deleted user', session(), undefined, 'current', T0 + 1, 'user_inactive'],
    ['refuses an unknown session', undefined, user, 'current', T0, 'unknown_session'],
    ['never matches a missing previous token', session({ prevRefreshHash: null, rotatedAt: null }), user, '', T0, 'token_mismatch'],
  ];
  it.each(cases)('%s', (_name, s, u, presented, now, expected) => {
    expect(decideRefresh(s, u, presented, now, limits)).toBe(expected);
  });
});

describe('decideAccess', () => {
  it.each([
    [true, false, false, 'trusted'],
    [true, false, true, 'trusted'],
    [true, true, true, 'refresh'],
    [true, true, false, 'anonymous'],
    [false, false, true, 'refresh'],
    [false, false, false, 'anonymous'],
  ] as const)('valid=%s revoked=%s refresh cookie=%s → %s', (valid, revoked, hasRefresh, expected) => {
    expect(decideAccess(valid, revoked, hasRefresh)).toBe(expected);
  });
});
