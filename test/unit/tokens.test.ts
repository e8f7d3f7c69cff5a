import * as jose from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessTokens, ALG, generateSigningKey, KEY_RELOAD_MS, KeyRing, TOKEN_TYPE, TokenInvalid, type AccessClaims } from '../../src/auth/tokens.js';
import { fixedClock } from '../../src/clock.js';
import { openSqlStore } from '../../src/store/sql-store.js';
import type { SigningKey, Store } from '../../src/store/types.js';

const SECOND = 1_000;
const TRUST_WINDOW = 5 * 60 * SECOND;
const ISSUER = 'https://auth.example';
/** On a whole second, so token times (whole seconds) line up with the clock exactly. */
const T0 = Date.UTC(2026, 0, 1);

const who = { sub: 'user-1', sid: 'session-1', username: 'ann', email: 'ann@example.com', groups: ['admins'] };

const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** A store that counts how often the signing keys are read, i.e. how often a KeyRing reloads. */
function counting(store: Store) {
  const reads = { count: 0 };
  const wrapped: Store = {
    ...store,
    async listSigningKeys() {
      reads.count += 1;
      return store.listSigningKeys();
    },
  };
  return { store: wrapped, reads };
}

/** One gatehouse instance's token machinery over an in-memory database. */
async function instance(options: { store?: Store; clock?: ReturnType<typeof fixedClock> } = {}) {
  let store = options.store;
  if (!store) {
    store = await openSqlStore('file::memory:');
    stores.push(store);
    await store.migrate();
  }
  const clock = options.clock ?? fixedClock(T0);
  const { store: countingStore, reads } = counting(store);
  const keys = new KeyRing(countingStore, clock, TRUST_WINDOW);
  await keys.init();
  const tokens = new AccessTokens(keys, clock, { issuer: ISSUER, audience: ISSUER, lifetimeMs: TRUST_WINDOW });
  return { store, clock, keys, tokens, reads };
}

/** The reason verify gives for refusing a token, or 'valid'. */
async function verdict(tokens: AccessTokens, token: string): Promise<string> {
  try {
    await tokens.verify(token);
    return 'valid';
  } catch (error) {
    if (error instanceof TokenInvalid) return error.code;
    throw error;
  }
}

/** A token exactly as gatehouse would sign it, but with a key from elsewhere. */
async function signedWith(key: SigningKey, now: number): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new jose.SignJWT({ ...who, iat, exp: iat + TRUST_WINDOW / 1000, jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: TOKEN_TYPE })
    .setIssuer(ISSUER)
    .setAudience(ISSUER)
    .sign(await jose.importJWK(JSON.parse(key.privateJwk) as jose.JWK, ALG));
}

const kids = (keys: KeyRing) => keys.jwks().keys.map((key) => key.kid);
const kidOf = (token: string) => jose.decodeProtectedHeader(token).kid;

describe('signing and verifying', () => {
  it('verifies what it signs and returns the claims it signed', async () => {
    const { tokens } = await instance();
    const { token, claims } = await tokens.sign(who);
    expect(claims).toMatchObject({ ...who, iat: T0 / 1000, exp: T0 / 1000 + 300 });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(await tokens.verify(token)).toMatchObject<AccessClaims>(claims);
  });

  it('signs with EdDSA under the current kid and type at+jwt, for its own issuer and audience', async () => {
    const { keys, tokens } = await instance();
    const { token } = await tokens.sign(who);
    expect(jose.decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: keys.signingKey().kid, typ: 'at+jwt' });
    expect(jose.decodeJwt(token)).toMatchObject({ iss: ISSUER, aud: ISSUER });
  });

  it('publishes a public key that verifies the token on its own, without the private part', async () => {
    const { keys, tokens } = await instance();
    const { token } = await tokens.sign(who);
    const [jwk] = keys.jwks().keys;
    expect(jwk).not.toHaveProperty('d');
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: kidOf(token) });
    await expect(jose.jwtVerify(token, await jose.importJWK(jwk!, ALG), { currentDate: new Date(T0) })).resolves.toBeTruthy();
  });

  it('gives every token its own jti', async () => {
    const { tokens } = await instance();
    const [a, b] = await Promise.all([tokens.sign(who), tokens.sign(who)]);
    expect(a.claims.jti).not.toBe(b.claims.jti);
  });

  it('refuses the token of another instance with its own database', async () => {
    const ours = await instance();
    const theirs = await instance();
    expect(await verdict(ours.tokens, (await theirs.tokens.sign(who)).token)).toBe('token_key_unknown');
  });
});

describe('expiry', () => {
  it('keeps a token valid until the last millisecond of the trust window and expires it exactly there', async () => {
    const { clock, tokens } = await instance();
    const { token } = await tokens.sign(who);
    clock.advance(TRUST_WINDOW - 1);
    expect(await verdict(tokens, token)).toBe('valid');
    clock.advance(1);
    expect(await verdict(tokens, token)).toBe('token_expired');
  });

  it('never lets a token signed mid-second outlive the trust window', async () => {
    const { clock, tokens } = await instance();
    clock.advance(999);
    const { token } = await tokens.sign(who);
    clock.advance(TRUST_WINDOW - 999);
    expect(await verdict(tokens, token)).toBe('token_expired');
  });
});

describe('key rotation', () => {
  async function rotated() {
    const one = await instance();
    const oldKid = one.keys.signingKey().kid;
    const { token: oldToken } = await one.tokens.sign(who);
    // Keys are ordered by creation time: the new one is made a minute after the first.
    one.clock.advance(60 * SECOND);
    const rotatedAt = one.clock.now();
    const newKey = await generateSigningKey(rotatedAt);
    await one.store.addSigningKey(newKey);
    await one.keys.reload();
    return { ...one, oldKid, oldToken, newKey, rotatedAt };
  }

  it('signs new tokens with the new key while tokens of the old key still verify', async () => {
    const { tokens, oldKid, oldToken, newKey } = await rotated();
    const { token } = await tokens.sign(who);
    expect(kidOf(token)).toBe(newKey.kid);
    expect(newKey.kid).not.toBe(oldKid);
    expect(await verdict(tokens, token)).toBe('valid');
    expect(await verdict(tokens, oldToken)).toBe('valid');
  });

  it('publishes both keys after the rotation', async () => {
    const { keys, oldKid, newKey } = await rotated();
    expect(kids(keys).sort()).toEqual([oldKid, newKey.kid].sort());
  });

  it('keeps signing with the old key until it reloads, as a replica between reloads does', async () => {
    const one = await instance();
    const { token } = await one.tokens.sign(who);
    one.clock.advance(60 * SECOND);
    await one.store.addSigningKey(await generateSigningKey(one.clock.now()));
    expect(kidOf((await one.tokens.sign(who)).token)).toBe(kidOf(token));
  });

  it('drops the old key from the JWKS once trust_window + KEY_RELOAD_MS have passed since the rotation, not earlier', async () => {
    const { clock, keys, oldKid, newKey, rotatedAt } = await rotated();
    clock.advance(rotatedAt + TRUST_WINDOW + KEY_RELOAD_MS - 1 - clock.now());
    await keys.reload();
    expect(kids(keys)).toContain(oldKid);
    clock.advance(1);
    await keys.reload();
    expect(kids(keys)).toEqual([newKey.kid]);
  });

  it('keeps verifying, until it expires, the last token a lagging replica signs with the old key', async () => {
    const one = await instance();
    // Another instance on the same database, loaded before the rotation, that has not reloaded since.
    const lagging = await instance({ store: one.store, clock: one.clock });
    const oldKid = one.keys.signingKey().kid;
    one.clock.advance(60 * SECOND);
    const rotatedAt = one.clock.now();
    await one.store.addSigningKey(await generateSigningKey(rotatedAt));
    await one.keys.reload();
    // Its timer fires by KEY_RELOAD_MS after the rotation: this is the last moment it still signs with the old key.
    one.clock.advance(KEY_RELOAD_MS);
    const { token } = await lagging.tokens.sign(who);
    expect(kidOf(token)).toBe(oldKid);
    one.clock.advance(TRUST_WINDOW - 1);
    await one.keys.reload();
    expect(await verdict(one.tokens, token)).toBe('valid');
    one.clock.advance(1);
    await one.keys.reload();
    expect(kids(one.keys)).not.toContain(oldKid);
    expect(await verdict(one.tokens, token)).not.toBe('valid');
  });
});

describe('a kid it does not know', () => {
  async function withForeignKey() {
    const one = await instance();
    const foreign = await generateSigningKey(one.clock.now());
    return { ...one, foreign, token: await signedWith(foreign, one.clock.now()) };
  }

  it('is refused as an unknown key', async () => {
    const { tokens, token } = await withForeignKey();
    expect(await verdict(tokens, token)).toBe('token_key_unknown');
  });

  it('does not reload the keys when they were loaded less than 5 s ago', async () => {
    const { clock, tokens, token, reads } = await withForeignKey();
    const before = reads.count;
    await Promise.all(Array.from({ length: 10 }, () => verdict(tokens, token)));
    clock.advance(4_999);
    await Promise.all(Array.from({ length: 10 }, () => verdict(tokens, token)));
    expect(reads.count - before).toBe(0);
  });

  it('reloads the keys at most once per 5 s however many such tokens arrive', async () => {
    const { clock, tokens, token, reads } = await withForeignKey();
    const burst = () => Promise.all(Array.from({ length: 20 }, () => verdict(tokens, token)));
    const before = reads.count;
    clock.advance(5_001);
    expect(new Set(await burst())).toEqual(new Set(['token_key_unknown']));
    expect(reads.count - before).toBe(1);
    await burst();
    clock.advance(4_000);
    await burst();
    expect(reads.count - before).toBe(1);
    clock.advance(1_001);
    await burst();
    expect(reads.count - before).toBe(2);
  });

  it('is found by that reload when another instance added the key meanwhile', async () => {
    const { store, clock, tokens, foreign, token } = await withForeignKey();
    await store.addSigningKey(foreign);
    expect(await verdict(tokens, token)).toBe('token_key_unknown');
    clock.advance(5_001);
    expect(await verdict(tokens, token)).toBe('valid');
  });

  it('lets every token of a burst through when the key was added meanwhile, not only the first', async () => {
    const { store, clock, tokens, foreign, token } = await withForeignKey();
    await store.addSigningKey(foreign);
    clock.advance(5_001);
    const verdicts = await Promise.all(Array.from({ length: 10 }, () => verdict(tokens, token)));
    expect(verdicts).toEqual(Array(10).fill('valid'));
  });
});
