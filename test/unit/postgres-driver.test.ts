/** The PostgreSQL driver's pure parts: placeholders and NOTIFY payloads (the driver itself runs in the store contract suite). */
import { describe, expect, it } from 'vitest';
import { numbered, payloads } from '../../src/store/postgres/db.js';

describe('placeholders', () => {
  it.each([
    ['SELECT 1', 'SELECT 1'],
    ['SELECT * FROM users WHERE id = ?', 'SELECT * FROM users WHERE id = $1'],
    ['UPDATE t SET a = ?, b = ? WHERE c = ? AND d = ?', 'UPDATE t SET a = $1, b = $2 WHERE c = $3 AND d = $4'],
  ])('numbers %j as %j', (sql, expected) => {
    expect(numbered(sql)).toBe(expected);
  });
});

describe('NOTIFY payloads', () => {
  it('keeps a few values in one payload', () => {
    expect(payloads(['a', 'b', 'c'])).toEqual(['a,b,c']);
    expect(payloads([])).toEqual([]);
  });

  it('splits many values into payloads under the 8000-byte limit, losing none', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => `session-${String(i).padStart(20, '0')}`);
    const split = payloads(ids);
    expect(split.length).toBeGreaterThan(1);
    for (const payload of split) expect(Buffer.byteLength(payload)).toBeLessThan(8_000);
    expect(split.flatMap((payload) => payload.split(','))).toEqual(ids);
  });
});
