import argon2 from 'argon2';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher, NO_PASSWORD, OWASP_PARAMETERS, standardOrder, type PasswordHasher } from '../../src/auth/passwords.js';

const PASSWORD = 'correct horse battery staple';
const WEAK = { memoryCost: 8_192, timeCost: 1, parallelism: 1 };
const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

let hasher: PasswordHasher;
beforeAll(async () => {
  hasher = await createPasswordHasher();
});

describe('hash and verify', () => {
  it('hashes to an argon2id PHC string with the OWASP parameters in m,t,p order', async () => {
    const match = PHC.exec(await hasher.hash(PASSWORD));
    expect(match?.slice(1).map(Number)).toEqual([OWASP_PARAMETERS.memoryCost, OWASP_PARAMETERS.timeCost, OWASP_PARAMETERS.parallelism]);
  });

  it('salts every hash, so one password never hashes the same twice', async () => {
    expect(await hasher.hash(PASSWORD)).not.toBe(await hasher.hash(PASSWORD));
  });

  it('verifies the password a hash was made from', async () => {
    expect(await hasher.verify(await hasher.hash(PASSWORD), PASSWORD)).toBe(true);
  });

  it('refuses a wrong password, including one differing only in case or by a trailing space', async () => {
    const hash = await hasher.hash(PASSWORD);
    for (const wrong of ['wrong password!', PASSWORD.toUpperCase(), `${PASSWORD} `, '']) {
      expect(await hasher.verify(hash, wrong), wrong).toBe(false);
    }
  });

  it('answers false for an unknown user (no hash), whatever the password', async () => {
    expect(await hasher.verify(undefined, PASSWORD)).toBe(false);
    expect(await hasher.verify(undefined, '')).toBe(false);
  });

  it('answers false, without throwing, for a stored value that is not a hash', async () => {
    expect(await hasher.verify('not a hash', PASSWORD)).toBe(false);
    expect(await hasher.verify('', PASSWORD)).toBe(false);
  });

  it('refuses every password for an account without one, after as much argon2 work as for a real hash', async () => {
    const hash = await hasher.hash(PASSWORD);
    const timed = async (stored: string) => {
      const started = performance.now();
      expect(await hasher.verify(stored, PASSWORD)).toBe(stored === hash);
      return performance.now() - started;
    };
    const fastest = async (stored: string) => Math.min(await timed(stored), await timed(stored), await timed(stored));
    for (const guess of [PASSWORD, '', NO_PASSWORD]) expect(await hasher.verify(NO_PASSWORD, guess)).toBe(false);
    // A refusal without argon2 would take microseconds and tell which accounts have no password.
    expect(await fastest(NO_PASSWORD)).toBeGreaterThan((await fastest(hash)) * 0.3);
  });

  it('verifies a hash written by npm argon2 in its own m,p,t order', async () => {
    const npmOrder = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...OWASP_PARAMETERS });
    expect(npmOrder).toMatch(/\$m=\d+,p=\d+,t=\d+\$/);
    expect(await hasher.verify(npmOrder, PASSWORD)).toBe(true);
  });
});

describe('needsRehash', () => {
  it('is true for a hash made with weaker parameters', async () => {
    const weak = await createPasswordHasher({ parameters: WEAK });
    expect(hasher.needsRehash(await weak.hash(PASSWORD))).toBe(true);
  });

  it('is true when only the memory or only the time cost is lower', async () => {
    const lessMemory = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...OWASP_PARAMETERS, memoryCost: OWASP_PARAMETERS.memoryCost - 1024 });
    const fewerPasses = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...OWASP_PARAMETERS, timeCost: OWASP_PARAMETERS.timeCost - 1 });
    expect(hasher.needsRehash(standardOrder(lessMemory))).toBe(true);
    expect(hasher.needsRehash(standardOrder(fewerPasses))).toBe(true);
  });

  it('is true for argon2i and argon2d hashes, and for anything that is not a PHC string', async () => {
    expect(hasher.needsRehash(await argon2.hash(PASSWORD, { type: argon2.argon2i }))).toBe(true);
    expect(hasher.needsRehash(await argon2.hash(PASSWORD, { type: argon2.argon2d }))).toBe(true);
    expect(hasher.needsRehash('$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234')).toBe(true);
    expect(hasher.needsRehash('')).toBe(true);
  });

  it('is false for a hash made with the current parameters', async () => {
    expect(hasher.needsRehash(await hasher.hash(PASSWORD))).toBe(false);
  });

  it('is false for a hash made with stronger parameters, in either parameter order', async () => {
    const strong = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 32_768, timeCost: 3, parallelism: 2 });
    expect(hasher.needsRehash(strong)).toBe(false);
    expect(hasher.needsRehash(standardOrder(strong))).toBe(false);
  });

  it('compares against the parameters the hasher was made with', async () => {
    const weak = await createPasswordHasher({ parameters: WEAK });
    expect(weak.needsRehash(await weak.hash(PASSWORD))).toBe(false);
    expect(weak.needsRehash(await hasher.hash(PASSWORD))).toBe(false);
  });
});

describe('standardOrder', () => {
  it('reorders m,p,t into m,t,p and keeps everything else', () => {
    expect(standardOrder('$argon2id$v=19$m=65536,p=4,t=3$c2FsdHNhbHQ$aGFzaGhhc2g')).toBe('$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g');
  });

  it('leaves a string already in m,t,p order unchanged', () => {
    const standard = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';
    expect(standardOrder(standard)).toBe(standard);
  });

  it('turns what npm argon2 writes into a hash npm argon2 still verifies', async () => {
    const npmOrder = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...WEAK });
    const standard = standardOrder(npmOrder);
    expect(standard).toMatch(PHC);
    expect(standard).not.toBe(npmOrder);
    expect(await argon2.verify(standard, PASSWORD)).toBe(true);
  });
});

describe('a pepper', () => {
  it('verifies a hash made with the same pepper', async () => {
    const peppered = await createPasswordHasher({ pepper: 'server-side secret' });
    expect(await peppered.verify(await peppered.hash(PASSWORD), PASSWORD)).toBe(true);
  });

  it('does not verify a hash made without the pepper, nor the other way round', async () => {
    const peppered = await createPasswordHasher({ pepper: 'server-side secret' });
    expect(await peppered.verify(await hasher.hash(PASSWORD), PASSWORD)).toBe(false);
    expect(await hasher.verify(await peppered.hash(PASSWORD), PASSWORD)).toBe(false);
  });

  it('does not verify a hash made with another pepper', async () => {
    const one = await createPasswordHasher({ pepper: 'pepper one' });
    const two = await createPasswordHasher({ pepper: 'pepper two' });
    expect(await two.verify(await one.hash(PASSWORD), PASSWORD)).toBe(false);
  });
});
