import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { RevocationList, revocationSyncInterval } from '../../src/auth/revocations.js';
import type { Store } from '../../src/store/types.js';

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
  const storeWith = (revoked: string[]) => ({ revokedSessionsSince: async () => revoked }) as unknown as Store;

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
