import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { RevocationList, revocationSyncInterval } from '../../src/auth/revocations.js';
import type { AccessClaims } from '../../src/auth/tokens.js';
import type { ClaimsChange, Store } from '../../src/store/types.js';

describe('the revocation sync interval', () => {
  it.each([
    { window: '5m', trustWindow: 5 * 60_000, every: 5_000 },
    { window: '10s', trustWindow: 10_000, every: 5_000 },
    { window: '2s', trustWindow: 2_000, every: 1_000 },
    { window: '1s', trustWindow: 1_000, every: 500 },
    { window: '100ms', trustWindow: 100, every: 250 },
  ])('is $every ms with a trust_window of $window', ({ trustWindow, every }) => {
    expect(revocationSyncInterval(trustWindow)).toBe(every);
  });
});

describe('RevocationList listeners', () => {
  /** A store whose revocations the test sets. */
  const storeWith = (revoked: string[]) => ({ revokedSessionsSince: async () => revoked, claimsChangedSince: async () => [] }) as unknown as Store;

  it('hear of a revocation made here at once, and of one made elsewhere on the next sync, each once', async () => {
    const revoked: string[] = [];
    const list = new RevocationList(storeWith(revoked), fixedClock(), 60_000);
    const heard: string[][] = [];
    list.onRevoked((ids) => heard.push([...ids]));

    list.add(['here']);
    expect(heard).toEqual([['here']]);
    revoked.push('here', 'elsewhere');
    await list.sync();
    expect(heard).toEqual([['here'], ['elsewhere']]);
    await list.sync();
    expect(heard).toEqual([['here'], ['elsewhere']]);
    expect(list.has('elsewhere')).toBe(true);
  });

  it('hear nothing when nothing was revoked', async () => {
    const list = new RevocationList(storeWith([]), fixedClock(), 60_000);
    const heard: unknown[] = [];
    list.onRevoked((ids) => heard.push(ids));
    list.add([]);
    await list.sync();
    expect(heard).toEqual([]);
  });
});

describe('RevocationList claims changes', () => {
  const T = Date.UTC(2026, 0, 1, 12, 0, 0);
  const claims = (sid: string, iatMs: number) => ({ sid, iat: Math.floor(iatMs / 1000) }) as AccessClaims;
  const changes: ClaimsChange[] = [];
  const store = { revokedSessionsSince: async () => [], claimsChangedSince: async () => changes } as unknown as Store;

  it.each([
    { minted: 'a second before the change', at: T + 400 - 1000, stale: true },
    { minted: 'in the same second, before the change', at: T + 100, stale: true },
    { minted: 'in the same second, after the change', at: T + 900, stale: true },
    { minted: 'in the next second', at: T + 1000, stale: false },
  ])('treats a token minted $minted as stale: $stale', ({ at, stale }) => {
    const list = new RevocationList(store, fixedClock(T), 60_000);
    list.claimsChanged([{ sessionId: 's', at: T + 400 }]);
    expect(list.isStale(claims('s', at))).toBe(stale);
    expect(list.isStale(claims('other', at))).toBe(false);
  });

  it('makes a refresh in the second of the change wait for the next one, and no other', () => {
    const clock = fixedClock(T + 400);
    const list = new RevocationList(store, clock, 60_000);
    list.claimsChanged([{ sessionId: 's', at: T + 400 }]);
    expect(list.mintDelay('s')).toBe(600);
    expect(list.mintDelay('other')).toBe(0);
    clock.advance(600);
    expect(list.mintDelay('s')).toBe(0);
    // A token signed now is trusted: the refresh cannot be refused again.
    expect(list.isStale(claims('s', clock.now()))).toBe(false);
  });

  it('learns of changes made elsewhere on sync, keeps the latest, and forgets them after the trust window', async () => {
    const clock = fixedClock(T);
    const list = new RevocationList(store, clock, 2_000);
    changes.push({ sessionId: 'far', at: T + 3000 }, { sessionId: 'far', at: T });
    await list.sync();
    expect(list.isStale(claims('far', T + 3500))).toBe(true);
    clock.advance(3_000 + 2_000 + 30_000 + 1_001);
    changes.length = 0;
    await list.sync();
    expect(list.isStale(claims('far', T + 3500))).toBe(false);
  });
});
