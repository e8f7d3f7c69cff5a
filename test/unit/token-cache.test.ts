import { afterEach, describe, expect, it, vi } from 'vitest';
import { AccessTokens, KeyRing, TokenInvalid } from '../../src/auth/tokens.js';
import { VerifiedTokens } from '../../src/auth/token-cache.js';
import { fixedClock } from '../../src/clock.js';
import { createMetrics } from '../../src/metrics.js';
import { openSqlStore } from '../../src/store/sql-store.js';
import type { Store } from '../../src/store/types.js';

const LIFETIME = 5 * 60_000;
const ISSUER = 'https://auth.example';
const who = { sub: 'user-1', sid: 'session-1', username: 'ann', email: null, groups: [] };

const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

async function setup() {
  const store = await openSqlStore('file::memory:');
  stores.push(store);
  await store.migrate();
  const clock = fixedClock(Date.UTC(2026, 0, 1));
  const keys = new KeyRing(store, clock, LIFETIME);
  await keys.init();
  const tokens = new AccessTokens(keys, clock, { issuer: ISSUER, audience: ISSUER, lifetimeMs: LIFETIME });
  const signatureChecks = vi.spyOn(tokens, 'verify');
  const cache = new VerifiedTokens(tokens, clock, createMetrics());
  return { clock, tokens, cache, signatureChecks };
}

/** The same token with one character of its payload changed: its signature, and so its last characters, unchanged. */
function tampered(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const flipped = payload.slice(0, 10) + (payload[10] === 'A' ? 'B' : 'A') + payload.slice(11);
  return [header, flipped, signature].join('.');
}

describe('verified-token cache', () => {
  it('checks a signature once per token, then answers from memory', async () => {
    const { tokens, cache, signatureChecks } = await setup();
    const { token, claims } = await tokens.sign(who);
    expect(cache.cached(token)).toBeUndefined();
    await expect(cache.verify(token)).resolves.toMatchObject(claims);
    await expect(cache.verify(token)).resolves.toMatchObject(claims);
    expect(cache.cached(Buffer.from(token).toString())).toMatchObject(claims);
    expect(signatureChecks).toHaveBeenCalledTimes(1);
  });

  it('never serves a cached entry to a different token that ends the same way', async () => {
    const { tokens, cache, signatureChecks } = await setup();
    const { token, claims } = await tokens.sign(who);
    await cache.verify(token);
    const forged = tampered(token);
    expect(forged.slice(-16)).toBe(token.slice(-16));
    expect(cache.cached(forged)).toBeUndefined();
    await expect(cache.verify(forged)).rejects.toBeInstanceOf(TokenInvalid);
    expect(signatureChecks).toHaveBeenCalledTimes(2);
    // The genuine entry is still there.
    expect(cache.cached(token)).toMatchObject(claims);
  });

  it('drops a token when it expires', async () => {
    const { clock, tokens, cache } = await setup();
    const { token } = await tokens.sign(who);
    await cache.verify(token);
    clock.advance(LIFETIME - 1_000);
    expect(cache.cached(token)).toBeDefined();
    clock.advance(1_000);
    expect(cache.cached(token)).toBeUndefined();
    expect(cache.size).toBe(0);
    await expect(cache.verify(token)).rejects.toBeInstanceOf(TokenInvalid);
  });

  it('keeps tokens apart that share a session', async () => {
    const { clock, tokens, cache } = await setup();
    const first = await tokens.sign(who);
    clock.advance(1_000);
    const second = await tokens.sign(who);
    await cache.verify(first.token);
    await cache.verify(second.token);
    expect(cache.cached(first.token)?.jti).toBe(first.claims.jti);
    expect(cache.cached(second.token)?.jti).toBe(second.claims.jti);
    expect(cache.size).toBe(2);
  });
});
